#!/usr/bin/env bash
# Runs the interop tests against real `sigil serve` processes, one per signing algorithm: the
# official Better Auth client, jose, jsonwebtoken + jwks-rsa (Node's test runner), PyJWT, and the
# Rust path (sigil-client gets a token, sigil-verify checks it).
# Installs what it needs (npm ci; PyJWT with pip into a private folder).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$HERE"
[ -d node_modules/jose ] || npm ci --no-audit --no-fund
PYDEPS="$HERE/.pydeps"
if ! PYTHONPATH="$PYDEPS" python3 -c 'import jwt, cryptography' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$PYDEPS" 'PyJWT[crypto]==2.15.1'
fi
cargo build --quiet --bin sigil --manifest-path "$ROOT/Cargo.toml"
cargo build --quiet -p sigil-client --example interop --manifest-path "$ROOT/Cargo.toml"

SERVER=
DATA=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -n "$DATA" ]; then rm -rf "$DATA"; fi
}
trap cleanup EXIT

for ALG in ${ALGS:-EdDSA ES256 ES512 PS256 RS256}; do
  DATA=$(mktemp -d)
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  export BASE_URL="http://127.0.0.1:$PORT" ALG
  SIGIL_JWT_ALG=$ALG "${CARGO_TARGET_DIR:-$ROOT/target}/debug/sigil" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
    --rate-limit false >"$DATA/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -fsS "$BASE_URL/api/auth/ok" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "== $ALG"
  node --test ./*.test.mjs || { echo "--- server log"; cat "$DATA/server.log"; exit 1; }
  SESSION=$(curl -fsS -D - -o /dev/null -X POST "$BASE_URL/api/auth/sign-up/email" -H 'content-type: application/json' \
    -d "{\"name\":\"Py\",\"email\":\"py-$ALG@example.com\",\"password\":\"correct horse battery\"}" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="set-auth-token"{print $2}')
  TOKEN=$(curl -fsS "$BASE_URL/api/auth/token" -H "authorization: Bearer $SESSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  TOKEN=$TOKEN PYTHONPATH="$PYDEPS" python3 pyjwt_check.py
  "${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/interop" || { echo "--- server log"; cat "$DATA/server.log"; exit 1; }
  cleanup
  SERVER=
  DATA=
done
