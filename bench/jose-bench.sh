#!/usr/bin/env bash
# sigil-jose sign/verify benchmark: ROUNDS (default 3) back-to-back criterion runs, each measuring
# raw aws-lc-rs, sigil-jose and jsonwebtoken side by side; prints the median ratio per cell.
# This machine is shared and noisy (±10% between identical measurements), hence the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
for i in $(seq 1 "$ROUNDS"); do
  cargo bench -p sigil-jose --bench sign_verify -- --save-baseline "round$i" --noplot >/dev/null
done
python3 bench/jose_ratios.py "$ROUNDS"
