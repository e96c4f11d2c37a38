#!/usr/bin/env bash
# What the Prometheus metrics cost on the hottest route: `sigil serve` (release, SQLite, EdDSA)
# with and without `SIGIL_METRICS_LISTEN`, alternating in one run (ROUNDS pairs, the order
# swapped every round), wrk on GET /token with a bearer (32 connections), the metrics endpoint
# scraped once a second during the metrics-on runs as Prometheus would. Prints the medians and
# their ratio; with WRITE=1 replaces the section between <!-- metrics:begin --> and
# <!-- metrics:end --> in BENCHMARKS.md. Loopback only; every run stops by itself.
#   bash bench/metrics-cost.sh            # ROUNDS=5 DURATION=5s WARMUP=2s CONNS=32 WRITE=1
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
WRITE=${WRITE:-1}
PORT=${PORT:-23000}
METRICS_PORT=${METRICS_PORT:-23464}
WORK=$(mktemp -d /tmp/sigil-metrics-cost.XXXXXX)
SERVER_PID=""
SCRAPER_PID=""
cleanup() {
  [[ -n $SCRAPER_PID ]] && kill "$SCRAPER_PID" 2>/dev/null || true
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 2; }

cargo build --release -q -p sigil-cli --bin sigil
SIGIL=${CARGO_TARGET_DIR:-target}/release/sigil
API=http://127.0.0.1:$PORT/api/auth
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')

# run MODE ROUND: one server (fresh database), a bearer, a warm-up, then the measured wrk run.
run() {
  local mode=$1 round=$2 env=() bearer
  if [[ $mode == on ]]; then env=(SIGIL_METRICS_LISTEN=127.0.0.1:$METRICS_PORT); fi
  rm -rf "$WORK/data"
  env "${env[@]}" SIGIL_LISTEN=127.0.0.1:$PORT SIGIL_DATA_DIR="$WORK/data" SIGIL_SECRET="$SECRET" \
    SIGIL_RATE_LIMIT=false "$SIGIL" serve >"$WORK/serve-$mode-$round.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "$API/ok" >/dev/null && break; sleep 0.05; done
  bearer=$(curl -s -D - -o /dev/null -H "origin: http://127.0.0.1:$PORT" -H 'content-type: application/json' \
    -d '{"name":"B","email":"b@b.co","password":"correct horse"}' "$API/sign-up/email" |
    grep -i '^set-auth-token:' | cut -d' ' -f2 | tr -d '\r')
  [[ -n $bearer ]] || { echo "no bearer ($mode)" >&2; exit 1; }
  wrk -t2 -c"$CONNS" -d"$WARMUP" -H "authorization: Bearer $bearer" "$API/token" >/dev/null
  if [[ $mode == on ]]; then
    (while :; do curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null; sleep 1; done) &
    SCRAPER_PID=$!
  fi
  wrk -t2 -c"$CONNS" -d"$DURATION" -H "authorization: Bearer $bearer" "$API/token" |
    awk -v m="$mode" '/^Requests\/sec/ { print m, $2 }' >>"$WORK/results"
  if [[ $mode == on ]]; then
    curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | grep -c '^sigil_' >"$WORK/samples"
    kill "$SCRAPER_PID" 2>/dev/null || true
    wait "$SCRAPER_PID" 2>/dev/null || true
    SCRAPER_PID=""
  fi
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then order="off on"; else order="on off"; fi
  for mode in $order; do
    run "$mode" "$round"
    echo "round $round, metrics $mode: $(tail -n 1 "$WORK/results" | cut -d' ' -f2) req/s"
  done
done

SUMMARY=$(python3 - "$WORK/results" "$(cat "$WORK/samples")" <<'EOF'
import statistics, sys
runs = {"on": [], "off": []}
for line in open(sys.argv[1]):
    mode, rate = line.split()
    runs[mode].append(float(rate))
spread = lambda xs: (max(xs) - min(xs)) / statistics.median(xs) * 100
print(f"| metrics | /token req/s (median of {len(runs['on'])}) | runs | spread (max-min)/median |")
print("|---|---|---|---|")
for mode in ("off", "on"):
    xs = runs[mode]
    print(f"| {mode} | {statistics.median(xs):,.0f} | {', '.join(f'{x:,.0f}' for x in xs)} | {spread(xs):.1f} % |")
print()
print(f"Metrics on / off: **{statistics.median(runs['on']) / statistics.median(runs['off']):.3f}** "
      f"({(statistics.median(runs['on']) / statistics.median(runs['off']) - 1) * 100:+.1f} %); "
      f"{sys.argv[2]} sample lines exposed, scraped every second during the runs.")
EOF
)
echo "$SUMMARY"
if [[ $WRITE == 1 ]]; then
  {
    echo "<!-- metrics:begin -->"
    echo "## What metrics cost (issue 13)"
    echo
    echo "Run $(date -u +%F) — \`bash bench/metrics-cost.sh\` (release, SQLite, EdDSA, GET /token with a bearer, $CONNS connections, $ROUNDS rounds of $DURATION each way, order alternating, $(nproc) cores shared with wrk; sigil $(git rev-parse --short HEAD)):"
    echo
    echo "$SUMMARY"
    echo "<!-- metrics:end -->"
  } >"$WORK/section.md"
  if grep -q '<!-- metrics:begin -->' BENCHMARKS.md; then
    awk -v f="$WORK/section.md" '
      /<!-- metrics:begin -->/ { while ((getline l < f) > 0) print l; skip = 1; next }
      /<!-- metrics:end -->/ { skip = 0; next }
      !skip' BENCHMARKS.md >"$WORK/BENCHMARKS.md"
    cat "$WORK/BENCHMARKS.md" >BENCHMARKS.md
  else
    { echo; cat "$WORK/section.md"; } >>BENCHMARKS.md
  fi
  echo "wrote the metrics section of BENCHMARKS.md"
fi
