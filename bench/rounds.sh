#!/usr/bin/env bash
# Runs one criterion benchmark ROUNDS times back to back (default 3), each round saved as a
# baseline "roundN", then prints RATIOS.py's table of median per-round ratios. This machine is
# shared and noisy (±10% between identical measurements), hence the rounds.
#   bash bench/rounds.sh PACKAGE BENCH RATIOS.py
set -euo pipefail
cd "$(dirname "$0")/.."
package=$1 bench=$2 ratios=$3
ROUNDS=${ROUNDS:-3}
for i in $(seq 1 "$ROUNDS"); do
  cargo bench -p "$package" --bench "$bench" -- --save-baseline "round$i" --noplot >/dev/null
done
python3 "$ratios" "$ROUNDS"
