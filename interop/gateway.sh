#!/usr/bin/env bash
# Sigil behind an off-the-shelf API gateway: Apache httpd with mod_auth_openidc (Debian 12:
# 2.4.12.3, cjose 0.6.2.1) as an OAuth 2.0 resource server in front of a small backend
# (gateway/backend.py). The gateway finds Sigil's keys through the discovery document and checks
# each bearer token itself; the backend only sees requests it let through, with the `sub` claim.
#
# Checks: for each of RS256 PS256 ES256 ES512 a token passes and the backend sees its `sub`; an
# EdDSA token is refused (cjose has no Ed25519: 401) while the Ed25519 key in the same JWKS
# breaks nothing else; a token for another audience, a token with a changed signature byte and
# no token are refused; claim headers a client sends itself do not reach the backend; after
# `sigil keys rotate --now` the new keys' tokens pass (an unknown kid makes mod_auth_openidc
# fetch the JWKS again) and the old ones still do. Then discovery.mjs (express-oauth2-jwt-bearer,
# given only the issuer) verifies a token of every algorithm, EdDSA included.
#
# Installs what it needs: apache2 and libapache2-mod-auth-openidc with apt (as root, only when
# missing), npm ci. Apache runs from a config generated in a temporary folder (its own port,
# pid file and logs), never the system's config or service.
#
# Env: SIGIL_BIN (default: built with cargo into ${CARGO_TARGET_DIR:-target}/debug/sigil),
# KEEP_TMP=1 keeps the temporary folder (logs, httpd.conf).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
GATEWAY_ALGS=(RS256 PS256 ES256 ES512)
export SIGIL_JWT_ALGS="RS256,PS256,ES256,ES512,EdDSA"
OTHER_AUDIENCE=https://elsewhere.example
export SIGIL_JWT_ALLOWED_AUDIENCES=$OTHER_AUDIENCE
T0=$(date +%s)
say() { printf '[%3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }

PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
SUMMARIZED=0
summary() {
  SUMMARIZED=1
  echo "== gateway: $PASSED passed, $FAILED failed"
}

# ---------------------------------------------------------------- tools
PACKAGES=()
[[ -x /usr/sbin/apache2 ]] || PACKAGES+=(apache2)
[[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ]] || PACKAGES+=(libapache2-mod-auth-openidc)
command -v openssl >/dev/null || PACKAGES+=(openssl)
if ((${#PACKAGES[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "missing: ${PACKAGES[*]} (as root: apt-get install ${PACKAGES[*]})" >&2
    exit 2
  fi
  say "apt-get install ${PACKAGES[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
  # The package may start the system's Apache on port 80; this run starts its own.
  (service apache2 stop || apache2ctl stop) >/dev/null 2>&1 || true
fi
APACHE=/usr/sbin/apache2
MODULES=/usr/lib/apache2/modules
[[ -d $HERE/node_modules/express-oauth2-jwt-bearer ]] || (cd "$HERE" && npm ci --no-audit --no-fund)
if [[ -z ${SIGIL_BIN:-} ]]; then
  say "cargo build (sigil)"
  cargo build --quiet --bin sigil --manifest-path "$ROOT/Cargo.toml"
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  [[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
  SIGIL_BIN=$TARGET/debug/sigil
fi

# ---------------------------------------------------------------- processes and cleanup
TMP=$(mktemp -d /tmp/sigil-gateway.XXXXXX)
chmod 755 "$TMP"
PIDS=()
show_logs() {
  for f in "$TMP"/sigil.log "$TMP"/sigil-other-issuer.log "$TMP"/error.log "$TMP"/backend.log; do
    [[ -s $f ]] || continue
    echo "--- $(basename "$f") (last 40 lines)"
    tail -n 40 "$f"
  done
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if ((status != 0 && SUMMARIZED == 0)); then
    fail "stopped early (exit status $status; the command that failed is above)"
    summary
  fi
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if ((status != 0 || FAILED > 0)); then show_logs; fi
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# fatal MESSAGE: a step the remaining checks depend on failed.
fatal() {
  fail "$*"
  summary
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# wait_for URL SECONDS [PID]: until URL answers (any HTTP status), at most SECONDS (or until PID exits).
wait_for() {
  local deadline=$(($(date +%s) + $2))
  until curl -s -o /dev/null -m 2 "$1"; do
    (($(date +%s) < deadline)) || return 1
    [[ -z ${3:-} ]] || kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
}
# json EXPR: evaluates the Python expression EXPR on the JSON document on stdin (as `d`).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# claim TOKEN header|payload NAME: one member of a JWT's header or payload.
claim() {
  python3 -c 'import base64,json,sys
part = sys.argv[1].split(".")[0 if sys.argv[2] == "header" else 1]
print(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))).get(sys.argv[3]))' "$1" "$2" "$3"
}
# tamper TOKEN: the token with one byte of its signature changed.
tamper() {
  python3 -c 'import base64,sys
h, p, s = sys.argv[1].split(".")
b = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
b[len(b) // 2] ^= 1
print(h + "." + p + "." + base64.urlsafe_b64encode(bytes(b)).decode().rstrip("="))' "$1"
}

# ---------------------------------------------------------------- Sigil
SIGIL_PORT=$(free_port)
BASE="http://127.0.0.1:$SIGIL_PORT"
DATA=$TMP/data
mkdir -m 700 "$DATA"
say "sigil serve on $BASE (SIGIL_JWT_ALGS=$SIGIL_JWT_ALGS)"
"$SIGIL_BIN" serve --listen "127.0.0.1:$SIGIL_PORT" --data-dir "$DATA" --rate-limit false >"$TMP/sigil.log" 2>&1 &
SIGIL_PID=$!
PIDS+=("$SIGIL_PID")
wait_for "$BASE/api/auth/ok" 30 "$SIGIL_PID" || fatal "sigil serve answers on $BASE within 30 s"

DISCOVERY=$(curl -fsS -m 10 "$BASE/.well-known/openid-configuration") || fatal "GET /.well-known/openid-configuration"
check "discovery: issuer is $BASE" test "$(json 'd.get("issuer")' <<<"$DISCOVERY")" = "$BASE"
JWKS_URI=$(json 'd.get("jwks_uri")' <<<"$DISCOVERY")
check "discovery: jwks_uri ($JWKS_URI) serves a JWKS" \
  bash -c 'curl -fsS -m 10 "$1" | python3 -c "import json,sys; assert json.load(sys.stdin)[\"keys\"]"' _ "$JWKS_URI"
check "discovery: id_token_signing_alg_values_supported lists $SIGIL_JWT_ALGS" \
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); want=sys.argv[2].split(","); got=d.get("id_token_signing_alg_values_supported") or []; sys.exit(0 if set(want) <= set(got) else "got %r" % got)' \
  "$DISCOVERY" "$SIGIL_JWT_ALGS"

SIGNUP=$(curl -fsS -m 10 -D "$TMP/signup.headers" -X POST "$BASE/api/auth/sign-up/email" -H 'content-type: application/json' \
  -d '{"name":"Gateway","email":"gateway@example.com","password":"correct horse battery"}') || fatal "sign up"
SESSION=$(tr -d '\r' <"$TMP/signup.headers" | awk -F': ' 'tolower($1)=="set-auth-token"{print $2}')
USER_ID=$(json 'd["user"]["id"]' <<<"$SIGNUP")
[[ -n $SESSION && -n $USER_ID ]] || fatal "sign up returns a session (set-auth-token) and a user id"

# token ALG [QUERY]: a JWT from GET /api/auth/token?alg=ALG&QUERY.
token() {
  curl -fsS -m 10 "$BASE/api/auth/token?alg=$1${2:+&$2}" -H "authorization: Bearer $SESSION" | json 'd["token"]'
}

# ---------------------------------------------------------------- backend and Apache
BACKEND_PORT=$(free_port)
python3 "$HERE/gateway/backend.py" "$BACKEND_PORT" >"$TMP/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
# Two gateways, one Apache: the same protected location, the keys found two ways.
#  discovery: OIDCOAuthServerMetadataURL, Sigil's discovery document (its jwks_uri), over http.
#  jwks_uri:  OIDCOAuthVerifyJwksUri, Sigil's JWKS URL. The module accepts only an https URL there
#             (http:// is a config error), so a TLS virtual host of the same Apache forwards to
#             Sigil, with a throwaway certificate that OIDCCABundlePath makes trusted.
DISCOVERY_PORT=$(free_port)
JWKS_PORT=$(free_port)
TLS_PORT=$(free_port)
GATEWAY_NAMES=(discovery jwks_uri)
declare -A GATEWAYS=([discovery]="http://127.0.0.1:$DISCOVERY_PORT" [jwks_uri]="http://127.0.0.1:$JWKS_PORT")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >"$TMP/openssl.log" 2>&1 \
  || { cat "$TMP/openssl.log"; fatal "openssl makes a certificate for the TLS virtual host"; }
APACHE_USER=www-data
id -u "$APACHE_USER" >/dev/null 2>&1 || APACHE_USER=nobody
APACHE_GROUP=$(id -gn "$APACHE_USER")
# The location both gateways guard (the module checks the signature and exp, but neither iss nor
# aud: both are required here), passed on to the backend.
protected="  <Location />
    AuthType oauth20
    <RequireAll>
      Require claim iss:$BASE
      Require claim aud:$BASE
    </RequireAll>
    ProxyPass http://127.0.0.1:$BACKEND_PORT/
  </Location>"
cat >"$TMP/httpd.conf" <<CONF
ServerRoot $TMP
ServerName 127.0.0.1
Listen 127.0.0.1:$DISCOVERY_PORT
Listen 127.0.0.1:$JWKS_PORT
Listen 127.0.0.1:$TLS_PORT
PidFile $TMP/httpd.pid
DefaultRuntimeDir $TMP
ErrorLog $TMP/error.log
LogLevel warn auth_openidc:info
LogFormat "%h %u \"%r\" %>s %b" gateway
CustomLog $TMP/access.log gateway
User $APACHE_USER
Group $APACHE_GROUP
# mod_unixd (User, Group) and mod_log_config are built in.
LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule authn_core_module $MODULES/mod_authn_core.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule proxy_module $MODULES/mod_proxy.so
LoadModule proxy_http_module $MODULES/mod_proxy_http.so
LoadModule socache_shmcb_module $MODULES/mod_socache_shmcb.so
LoadModule ssl_module $MODULES/mod_ssl.so
LoadModule auth_openidc_module $MODULES/mod_auth_openidc.so

# Required by the module even with no sessions (it encrypts its cache entries).
OIDCCryptoPassphrase gateway-$RANDOM$RANDOM
# REMOTE_USER is the sub claim; claims go to the backend as OIDC_CLAIM_* request headers (the
# module removes such headers when a client sends them) and REMOTE_USER as X-Remote-User.
OIDCOAuthRemoteUserClaim sub
OIDCPassClaimsAs headers
OIDCAuthNHeader X-Remote-User
# The JWKS is cached for OIDCJWKSRefreshInterval (default 3600 s), the metadata document for a
# day; a token naming a kid the cached JWKS lacks makes the module fetch the JWKS again at once.
# (Each setting sits in its own virtual host: a server-wide OIDCOAuthServerMetadataURL would be
# inherited by the jwks_uri host, and its document's jwks_uri would win there.)

<VirtualHost 127.0.0.1:$DISCOVERY_PORT>
  # Allowed over http, with a warning at start-up. Only jwks_uri is read from the document.
  OIDCOAuthServerMetadataURL $BASE/.well-known/openid-configuration
$protected
</VirtualHost>

<VirtualHost 127.0.0.1:$JWKS_PORT>
  OIDCOAuthVerifyJwksUri https://127.0.0.1:$TLS_PORT${JWKS_URI#"$BASE"}
  OIDCCABundlePath $TMP/tls.crt
$protected
</VirtualHost>

<VirtualHost 127.0.0.1:$TLS_PORT>
  ServerName 127.0.0.1
  SSLEngine on
  SSLCertificateFile $TMP/tls.crt
  SSLCertificateKeyFile $TMP/tls.key
  ProxyPass / $BASE/
</VirtualHost>
CONF
"$APACHE" -t -f "$TMP/httpd.conf" >"$TMP/configtest.log" 2>&1 || { cat "$TMP/configtest.log"; fatal "apache2 -t accepts the generated config"; }
say "apache2 (mod_auth_openidc): gateway[discovery] ${GATEWAYS[discovery]}, gateway[jwks_uri] ${GATEWAYS[jwks_uri]}, backend 127.0.0.1:$BACKEND_PORT"
"$APACHE" -f "$TMP/httpd.conf" -DFOREGROUND >>"$TMP/error.log" 2>&1 &
APACHE_PID=$!
PIDS+=("$APACHE_PID")
for name in "${GATEWAY_NAMES[@]}"; do
  wait_for "${GATEWAYS[$name]}/" 15 "$APACHE_PID" || fatal "apache2 answers on ${GATEWAYS[$name]} within 15 s"
done
wait_for "http://127.0.0.1:$BACKEND_PORT/" 10 "$BACKEND_PID" || fatal "the backend answers within 10 s"
check "the TLS virtual host serves Sigil's JWKS (https, certificate trusted)" \
  curl -fsS -m 10 -o /dev/null --cacert "$TMP/tls.crt" "https://127.0.0.1:$TLS_PORT${JWKS_URI#"$BASE"}"

# call GATEWAY TOKEN [CURL ARGS...]: GET /whoami through a gateway; the body in $TMP/body, prints the status.
call() {
  local url=$1 token=$2
  shift 2
  curl -s -m 10 -o "$TMP/body" -w '%{http_code}' ${token:+-H "authorization: Bearer $token"} "$@" "$url/whoami"
}
# passes NAME TOKEN: each gateway lets TOKEN through and the backend sees its sub as OIDC_CLAIM_sub and REMOTE_USER.
passes() {
  local status sub gw
  sub=$(claim "$2" payload sub)
  for gw in "${GATEWAY_NAMES[@]}"; do
    status=$(call "${GATEWAYS[$gw]}" "$2")
    if [[ $status == 200 ]] && [[ $(json '(d["sub"], d["remote_user"])' <"$TMP/body") == "('$sub', '$sub')" ]]; then
      ok "gateway[$gw]: $1: 200, the backend sees sub $sub"
    else
      fail "gateway[$gw]: $1: got $status $(head -c 300 "$TMP/body"), wanted 200 with sub $sub"
    fi
  done
}
# refused NAME TOKEN [STATUS...]: each gateway answers one of STATUS (default 401), the backend is not reached.
refused() {
  local name=$1 token=$2
  shift 2
  local want=("${@:-401}") status before after gw
  for gw in "${GATEWAY_NAMES[@]}"; do
    before=$(grep -c . "$TMP/backend.log" || true)
    status=$(call "${GATEWAYS[$gw]}" "$token")
    after=$(grep -c . "$TMP/backend.log" || true)
    if [[ " ${want[*]} " == *" $status "* && $before == "$after" ]]; then
      ok "gateway[$gw]: $name: $status"
    else
      fail "gateway[$gw]: $name: got $status (backend log lines $before -> $after), wanted ${want[*]}"
    fi
  done
}

# ---------------------------------------------------------------- through the gateway
declare -A TOKENS KIDS
for alg in "${GATEWAY_ALGS[@]}" EdDSA; do
  TOKENS[$alg]=$(token "$alg") || fatal "GET /api/auth/token?alg=$alg"
  KIDS[$alg]=$(claim "${TOKENS[$alg]}" header kid)
  check "token?alg=$alg is signed with $alg (kid ${KIDS[$alg]})" test "$(claim "${TOKENS[$alg]}" header alg)" = "$alg"
done
check "the token's sub is the user's id ($USER_ID)" test "$(claim "${TOKENS[ES256]}" payload sub)" = "$USER_ID"
for alg in "${GATEWAY_ALGS[@]}"; do passes "$alg" "${TOKENS[$alg]}"; done
refused "EdDSA (cjose has no Ed25519) is refused" "${TOKENS[EdDSA]}"
check "the EdDSA refusals are cjose's (error log: cjose_jws_import failed)" grep -q 'cjose_jws_import failed' "$TMP/error.log"
for alg in "${GATEWAY_ALGS[@]}"; do
  refused "$alg with a changed signature byte is refused" "$(tamper "${TOKENS[$alg]}")"
done
OTHER=$(token ES256 "audience=$OTHER_AUDIENCE") || fatal "GET /api/auth/token?alg=ES256&audience=$OTHER_AUDIENCE"
check "token?audience=$OTHER_AUDIENCE has aud $OTHER_AUDIENCE" test "$(claim "$OTHER" payload aud)" = "$OTHER_AUDIENCE"
refused "a token for another audience (same issuer and key) is refused" "$OTHER" 401 403
# Another issuer, same keys and audience: a second `sigil serve` on the same data dir with
# SIGIL_JWT_ISSUER set (and SIGIL_BASE_URL, so that the audience stays $BASE), stopped at once.
OTHER_ISSUER=https://other-issuer.example
OTHER_PORT=$(free_port)
SIGIL_BASE_URL=$BASE SIGIL_JWT_ISSUER=$OTHER_ISSUER "$SIGIL_BIN" serve --listen "127.0.0.1:$OTHER_PORT" --data-dir "$DATA" \
  --rate-limit false >"$TMP/sigil-other-issuer.log" 2>&1 &
OTHER_PID=$!
PIDS+=("$OTHER_PID")
FOREIGN=
if wait_for "http://127.0.0.1:$OTHER_PORT/api/auth/ok" 30 "$OTHER_PID"; then
  FOREIGN=$(curl -fsS -m 10 "http://127.0.0.1:$OTHER_PORT/api/auth/token?alg=ES256" -H "authorization: Bearer $SESSION" | json 'd["token"]') || true
fi
kill -TERM "$OTHER_PID" 2>/dev/null || true
if [[ -n $FOREIGN && $(claim "$FOREIGN" payload iss) == "$OTHER_ISSUER" && $(claim "$FOREIGN" payload aud) == "$BASE" ]]; then
  ok "a second sigil serve on the same data dir issues a token with iss $OTHER_ISSUER, aud $BASE"
  refused "a token from another issuer (same key and audience) is refused" "$FOREIGN" 401 403
else
  fail "a second sigil serve on the same data dir (SIGIL_JWT_ISSUER=$OTHER_ISSUER) issues a token for the same session (see sigil-other-issuer.log)"
fi
refused "no token is refused" ""
refused "a token that is not a JWT is refused" "not-a-jwt"
for gw in "${GATEWAY_NAMES[@]}"; do
  status=$(call "${GATEWAYS[$gw]}" "${TOKENS[RS256]}" -H 'OIDC_CLAIM_sub: admin' -H 'X-Remote-User: admin')
  check "gateway[$gw]: claim headers sent by the client do not reach the backend" \
    test "$status $(json '(d["sub"], d["remote_user"])' <"$TMP/body")" = "200 ('$USER_ID', '$USER_ID')"
done
BEFORE_ROTATION=$(grep -c 'doing a forced refresh' "$TMP/error.log" || true)

# ---------------------------------------------------------------- rotation
say "sigil keys --data-dir DIR rotate --now"
"$SIGIL_BIN" keys --data-dir "$DATA" rotate --now >"$TMP/rotate.log" 2>&1 || { cat "$TMP/rotate.log"; fatal "sigil keys rotate --now"; }
# The new keys sign after a 2 s settle: ask for tokens until every algorithm's kid changed (at most 15 s).
declare -A NEW
deadline=$(($(date +%s) + 15))
for alg in "${GATEWAY_ALGS[@]}" EdDSA; do
  while :; do
    NEW[$alg]=$(token "$alg") || fatal "GET /api/auth/token?alg=$alg after the rotation"
    [[ $(claim "${NEW[$alg]}" header kid) != "${KIDS[$alg]}" ]] && break
    (($(date +%s) < deadline)) || break
    sleep 0.5
  done
  check "rotation: $alg tokens have a new kid ($(claim "${NEW[$alg]}" header kid))" \
    test "$(claim "${NEW[$alg]}" header kid)" != "${KIDS[$alg]}"
done
say "new keys sign"
for alg in "${GATEWAY_ALGS[@]}"; do passes "after rotation: new $alg token" "${NEW[$alg]}"; done
check "after rotation: the unknown kids made both gateways fetch the JWKS again (error log: doing a forced refresh)" \
  test "$(grep -c 'doing a forced refresh' "$TMP/error.log" || true)" -ge "$((BEFORE_ROTATION + 2))"
for alg in "${GATEWAY_ALGS[@]}"; do passes "after rotation: the old $alg token still" "${TOKENS[$alg]}"; done
refused "after rotation: new EdDSA token is refused" "${NEW[EdDSA]}"

# ---------------------------------------------------------------- discovery-only consumer
say "discovery.mjs (express-oauth2-jwt-bearer, issuer only)"
args=()
for alg in "${GATEWAY_ALGS[@]}" EdDSA; do args+=("$alg=${NEW[$alg]}"); done
args+=(--reject "another audience=$OTHER")
[[ -z $FOREIGN ]] || args+=(--reject "another issuer=$FOREIGN")
lines=0
while IFS= read -r line; do
  lines=$((lines + 1))
  case $line in
    "ok   "*) ok "${line#ok   }" ;;
    *) fail "${line#FAIL }" ;;
  esac
done < <(cd "$HERE" && BASE_URL=$BASE node discovery.mjs "${args[@]}" 2>&1 || true)
((lines > 0)) || fail "discovery.mjs printed nothing"

summary
say "done"
((FAILED == 0))
