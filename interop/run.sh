#!/usr/bin/env bash
# Runs the interop tests: builds `sigil`, starts it on a free loopback port with a throwaway data
# directory, runs every *.test.mjs with Node's test runner, stops the server.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$HERE"
[ -d node_modules/better-auth ] || npm ci --no-audit --no-fund
cargo build --quiet -p sigil-cli --manifest-path "$ROOT/Cargo.toml"
DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export BASE_URL="http://127.0.0.1:$PORT"
"$ROOT/target/debug/sigil" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "$BASE_URL/api/auth/ok" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$BASE_URL/api/auth/ok" >/dev/null || { cat "$DATA/server.log"; exit 1; }
node --test ./*.test.mjs || { echo "--- server log"; cat "$DATA/server.log"; exit 1; }
