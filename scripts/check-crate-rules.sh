#!/usr/bin/env bash
# The workspace's dependency rules, checked on the resolved graph (`cargo tree`, normal and build
# dependencies, direct and transitive, all features, every target platform):
#   1. sigil-jose has no HTTP, database or async-runtime crate below it (it does no I/O), and
#      its direct dependencies are the reviewed list below (a new one is added here on purpose,
#      which catches an I/O crate the forbidden-name list does not know).
#   2. sigil-proto depends on no other sigil crate (it is the contract both sides share).
#   3. No crate but sigil-cli depends on sigil-server: sigil-verify and any client crate stay
#      usable without the server.
# Dev-dependencies are not rules' business (tests may start a server). Exits 1, naming the rule,
# the offending crates and the path to them, when a rule is broken.
set -euo pipefail
cd "$(dirname "$0")/.."

# Crate names (exact, or a prefix ending in `-*`) that rule 1 forbids below sigil-jose.
FORBIDDEN_IN_JOSE=(
  # async runtimes and their I/O layers
  tokio 'tokio-*' async-std async-io async-executor smol mio
  # HTTP stacks, clients and servers
  http http-body http-body-util httparse 'hyper' 'hyper-*' h2 'tower' 'tower-*' 'axum' 'axum-*'
  reqwest ureq isahc 'actix-*' warp poem rocket
  # databases and their drivers
  'sqlx' 'sqlx-*' rusqlite libsqlite3-sys postgres tokio-postgres 'diesel' 'diesel-*' 'sea-orm'
  redis mysql_async
)
# sigil-jose's direct dependencies (rule 1): crypto, key encodings, JSON, errors, zeroing.
JOSE_DIRECT=(aws-lc-rs base64 serde serde_json thiserror pkcs1 pkcs8 spki pem-rfc7468 zeroize)
# The only crates allowed to depend on sigil-server (rule 3).
SERVER_USERS=(sigil-server sigil-cli)

failures=0
fail() {
  failures=$((failures + 1))
  printf 'crate rule broken: %s\n' "$1" >&2
}

# deps CRATE: "name version" of every crate CRATE depends on (itself excluded), one per line.
deps() {
  cargo tree --quiet -p "$1" -e normal,build --all-features --target all \
    --prefix none --format '{p}' |
    awk -v self="$1" 'NF && $1 != self {print $1, $2}' | sort -u
}

# path_to CRATE DEP: how CRATE reaches DEP (cargo tree's inverted view, trimmed).
path_to() {
  cargo tree --quiet -p "$1" -e normal,build --all-features --target all \
    -i "$2" --format '{p}' 2>/dev/null | sed 's/ (\/.*)$//; s/^/      /' | head -n 12 || true
}

matches_forbidden() {
  local name=$1 pattern
  for pattern in "${FORBIDDEN_IN_JOSE[@]}"; do
    # shellcheck disable=SC2254 # the pattern is meant to glob
    case $name in $pattern) return 0 ;; esac
  done
  return 1
}

# Workspace members: the roots `cargo tree --workspace --depth 0` prints.
mapfile -t members < <(cargo tree --quiet --workspace -e normal --depth 0 \
  --prefix none --format '{p}' | awk 'NF {print $1}' | sort -u)
[[ ${#members[@]} -gt 0 ]] || { echo "no workspace members found" >&2; exit 2; }
for required in sigil-jose sigil-proto sigil-server; do
  printf '%s\n' "${members[@]}" | grep -qx "$required" ||
    { echo "workspace member $required not found" >&2; exit 2; }
done

# Rule 1
jose_deps=$(deps sigil-jose)
bad=()
while read -r name version; do
  [[ -n "$name" ]] && matches_forbidden "$name" && bad+=("$name $version")
done <<<"$jose_deps"
if [[ ${#bad[@]} -gt 0 ]]; then
  fail "sigil-jose must not depend on HTTP, database or async-runtime crates; it pulls in: ${bad[*]}"
  for entry in "${bad[@]}"; do
    echo "    path to ${entry%% *}:" >&2
    path_to sigil-jose "${entry%% *}" >&2
  done
else
  echo "ok: sigil-jose: none of its $(wc -l <<<"$jose_deps") dependencies is an HTTP, database or async-runtime crate"
fi

direct=$(cargo tree --quiet -p sigil-jose -e normal,build --all-features --target all --depth 1 \
  --prefix none --format '{p}' | awk 'NF && $1 != "sigil-jose" {print $1}' | sort -u)
unexpected=()
while read -r name; do
  [[ -z "$name" ]] && continue
  printf '%s\n' "${JOSE_DIRECT[@]}" | grep -qx "$name" || unexpected+=("$name")
done <<<"$direct"
if [[ ${#unexpected[@]} -gt 0 ]]; then
  fail "sigil-jose has direct dependencies outside its reviewed list (JOSE_DIRECT): ${unexpected[*]}"
else
  echo "ok: sigil-jose's direct dependencies are the reviewed ones"
fi

# Rule 2
proto_sigil=$(deps sigil-proto | awk '$1 ~ /^sigil-/' || true)
if [[ -n "$proto_sigil" ]]; then
  fail "sigil-proto must not depend on other sigil crates; it depends on: $(paste -sd ' ' <<<"$proto_sigil")"
else
  echo "ok: sigil-proto depends on no other sigil crate"
fi

# Rule 3
for member in "${members[@]}"; do
  printf '%s\n' "${SERVER_USERS[@]}" | grep -qx "$member" && continue
  if deps "$member" | awk '{print $1}' | grep -qx sigil-server; then
    fail "$member must not depend on sigil-server (only ${SERVER_USERS[*]} may)"
    echo "    path to sigil-server:" >&2
    path_to "$member" sigil-server >&2
  else
    echo "ok: $member does not depend on sigil-server"
  fi
done

if [[ $failures -gt 0 ]]; then
  echo "check-crate-rules: $failures rule(s) broken (see scripts/check-crate-rules.sh)" >&2
  exit 1
fi
echo "check-crate-rules: all rules hold"
