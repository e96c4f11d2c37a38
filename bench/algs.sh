#!/usr/bin/env bash
# What several algorithms at once cost `/token`: `sigil serve` (release, SQLite, production mode,
# rate limit off) with `[jwt] alg = EdDSA` alone, and with `algs = EdDSA,RS256` asked for its
# default (EdDSA) and for `?alg=RS256`, side by side in alternating rounds on one machine, so
# that drift hits every configuration alike. Each slot: a fresh data folder, one user signed up,
# a wrk warm-up, then wrk on /token (bearer) for DURATION at CONNS connections. Prints req/s per
# round and the medians, and the ratio of the two EdDSA configurations (1.00: no cost).
#
#   bash bench/algs.sh                 # ~3 min after the release build
#   ROUNDS=5 DURATION=10s bash bench/algs.sh
#
# Installs Debian's wrk when missing (root). Loopback only; every run has a fixed duration.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
PORT=${PORT:-3411}
BASE="http://127.0.0.1:$PORT"

if ! command -v wrk >/dev/null 2>&1; then
  if [[ $(id -u) != 0 ]]; then echo "wrk is missing (as root: apt-get install wrk)" >&2; exit 2; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --quiet --release --bin sigil
SIGIL="${CARGO_TARGET_DIR:-$ROOT/target}/release/sigil"
WORK=$(mktemp -d)
SERVER=
cleanup() {
  if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# slot NAME ALGS QUERY: one measurement; prints req/s.
slot() {
  local name=$1 algs=$2 query=$3 data
  data=$(mktemp -d -p "$WORK")
  SIGIL_JWT_ALGS=$algs "$SIGIL" serve --listen "127.0.0.1:$PORT" --data-dir "$data" \
    --rate-limit false >"$data/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -fsS "$BASE/api/auth/ok" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local session
  session=$(curl -fsS -D - -o /dev/null -X POST "$BASE/api/auth/sign-up/email" \
    -H 'content-type: application/json' -H "origin: $BASE" \
    -d '{"name":"Bench","email":"bench@example.com","password":"correct horse battery"}' |
    tr -d '\r' | awk -F': ' 'tolower($1)=="set-auth-token"{print $2}')
  local url="$BASE/api/auth/token$query"
  # The configuration answers what it is asked for (the algorithm in the token's header).
  local alg
  alg=$(curl -fsS "$url" -H "authorization: Bearer $session" |
    python3 -c 'import base64,json,sys; t=json.load(sys.stdin)["token"]; print(json.loads(base64.urlsafe_b64decode(t.split(".")[0]+"=="))["alg"])')
  timeout 60 wrk -t2 -c"$CONNS" -d"$WARMUP" -H "authorization: Bearer $session" "$url" >/dev/null
  local rps
  rps=$(timeout 120 wrk -t2 -c"$CONNS" -d"$DURATION" -H "authorization: Bearer $session" "$url" |
    awk '/Requests\/sec/{print $2}')
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=
  printf '%-28s %-6s %10s req/s\n' "$name" "$alg" "$rps" >&2
  echo "$rps"
}

declare -A RESULTS
NAMES=("EdDSA alone" "EdDSA,RS256 default" "EdDSA,RS256 ?alg=RS256")
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round" >&2
  RESULTS["EdDSA alone"]+=" $(slot "EdDSA alone" EdDSA "")"
  RESULTS["EdDSA,RS256 default"]+=" $(slot "EdDSA,RS256 default" EdDSA,RS256 "")"
  RESULTS["EdDSA,RS256 ?alg=RS256"]+=" $(slot "EdDSA,RS256 ?alg=RS256" EdDSA,RS256 "?alg=RS256")"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "== /token (bearer), c=$CONNS, $ROUNDS rounds of $DURATION, medians"
for name in "${NAMES[@]}"; do
  printf '%-28s %10s req/s   (rounds:%s)\n' "$name" "$(echo "${RESULTS[$name]}" | median)" "${RESULTS[$name]}"
done
alone=$(echo "${RESULTS["EdDSA alone"]}" | median)
both=$(echo "${RESULTS["EdDSA,RS256 default"]}" | median)
python3 -c "print(f'ratio EdDSA with two algorithms / EdDSA alone: {float($both)/float($alone):.3f}')"
