#!/usr/bin/env bash
# DESIGN §8 load figures, side by side: the Node peer (Better Auth 1.7.25, ../shared/anchors/
# better-auth) and `sigil serve` (release build, SQLite), one after the other in one invocation,
# each through the peer's own measure.sh (same client checks, same wrk settings, same endpoints);
# prints req/s and RSS ratios. Installs the peer's npm packages and wrk (apt) if missing.
# Loopback only; every wrk run stops by itself. Defaults are a quick pass (~5 min):
#   RUNS=1 DURATION=5s WARMUP=2s ALGS=EdDSA bash bench/load-vs-peer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SIGIL_SHARED_DIR:-../shared}
PEER=$(cd "$SHARED/anchors/better-auth" && pwd)
WORK=${WORK_DIR:-$(mktemp -d)}
mkdir -p "$WORK"
export RUNS=${RUNS:-1} DURATION=${DURATION:-5s} WARMUP=${WARMUP:-2s} ALGS=${ALGS:-EdDSA} CHECK_ALGS=
export PORT=${PORT:-3000}

cargo build --release -p sigil-cli
SIGIL=$PWD/target/release/sigil

echo "== Better Auth (Node)"
OUT_DIR="$WORK/out-peer" WORK_DIR="$WORK/peer" bash "$PEER/measure.sh"

echo "== sigil serve"
# measure.sh starts SERVER_CMD with PORT, ALG, DB_PATH and BASE_URL in its environment.
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
SERVER_CMD="env SIGIL_LISTEN=127.0.0.1:\$PORT SIGIL_JWT_ALG=\$ALG SIGIL_DATABASE_URL=sqlite://\$DB_PATH \
SIGIL_BASE_URL=\$BASE_URL SIGIL_RATE_LIMIT=false SIGIL_SECRET=$SECRET SIGIL_MODE=production $SIGIL serve" \
MIGRATE_CMD= OUT_DIR="$WORK/out-sigil" WORK_DIR="$WORK/peer" bash "$PEER/measure.sh"

python3 bench/load_ratios.py "$WORK/out-peer" "$WORK/out-sigil"
