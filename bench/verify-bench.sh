#!/usr/bin/env bash
# sigil-verify benchmark: ROUNDS (default 3) back-to-back criterion runs, each measuring, per
# algorithm, a warm-cache verification through sigil_verify::Verifier, raw aws-lc-rs and
# jsonwebtoken side by side, and an axum route with and without VerifyLayer; prints median ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
for i in $(seq 1 "$ROUNDS"); do
  cargo bench -p sigil-verify --bench verify -- --save-baseline "round$i" --noplot >/dev/null
done
python3 bench/verify_ratios.py "$ROUNDS"
