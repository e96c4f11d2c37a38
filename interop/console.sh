#!/usr/bin/env bash
# The console page in a real browser: Debian's chromium driven by playwright-core (console.mjs)
# against a `sigil serve` in dev mode (where the console is on by default), once per algorithm.
# Screenshots at desktop and phone width go to $SHOTS (default: a temporary folder, printed).
#
# Installs what it needs: chromium with apt (as root, only when missing), npm ci.
# SIGIL_BIN: a sigil binary to use (default: built with cargo).
#   ALGS="EdDSA RS256" SHOTS=/tmp/shots bash interop/console.sh   (default: all five algorithms)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$HERE"

if ! command -v chromium >/dev/null 2>&1; then
  if [[ $(id -u) != 0 ]]; then echo "chromium is missing (as root: apt-get install chromium)" >&2; exit 2; fi
  echo "== apt-get install chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[[ -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund
if [[ -z ${SIGIL_BIN:-} ]]; then
  cargo build --quiet --bin sigil --manifest-path "$ROOT/Cargo.toml"
  SIGIL_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/sigil
fi
SHOTS=${SHOTS:-$(mktemp -d)}
echo "screenshots: $SHOTS"

SERVER=
DATA=
cleanup() {
  if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [[ -n $DATA ]]; then rm -rf "$DATA"; fi
  SERVER=
  DATA=
}
trap cleanup EXIT

STATUS=0
for ALG in ${ALGS:-EdDSA ES256 ES512 PS256 RS256}; do
  DATA=$(mktemp -d)
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  BASE_URL="http://127.0.0.1:$PORT"
  SIGIL_JWT_ALG=$ALG SIGIL_JWT_ALLOWED_AUDIENCES=billing "$SIGIL_BIN" serve --mode dev --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
    >"$DATA/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -fsS "$BASE_URL/api/auth/ok" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
  done
  echo "== console, $ALG"
  if ! BASE_URL=$BASE_URL ALG=$ALG SHOTS=$SHOTS SIGIL_BIN=$SIGIL_BIN DATA=$DATA timeout 120 node console.mjs; then
    STATUS=1
    echo "--- server log"
    tail -n 40 "$DATA/server.log"
  fi
  cleanup
done
exit $STATUS
