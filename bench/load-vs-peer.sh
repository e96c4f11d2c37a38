#!/usr/bin/env bash
# DESIGN §8 load figures, side by side: the Node peer (Better Auth 1.7.25 with its JWT and bearer
# plugins on SQLite, bench/peer/) and `sigil serve` (release build, SQLite, production mode), one
# after the other, measured the same way: per alg and run a fresh database, cold start (spawn to
# the first 200 on /ok), bench/peer/check.mjs (sign-up, sessions, /token, /jwks, jose), an
# unrecorded wrk warm-up per endpoint, then wrk per endpoint and concurrency, RSS and peak RSS.
# Prints req/s and memory ratios (bench/load_ratios.py). Installs the peer's pinned npm packages
# (npm ci into bench/peer/node_modules) and Debian's wrk if missing.
# Loopback only; every wrk run stops by itself. Defaults are a quick pass (~5 min):
#   RUNS=1 DURATION=5s WARMUP=2s ALGS=EdDSA bash bench/load-vs-peer.sh
# Other knobs: CONNS ("32 1"), THREADS (2; 1 when conns=1), PORT (3000),
# ENDPOINTS ("jwks token-bearer token-cookie get-session-cookie"; also ok, get-session-bearer),
# SERVERS ("peer sigil"; add "baseline" with SIGIL_BASELINE=/path/to/an/older/sigil to measure an
# earlier build in the same run, e.g. before and after a change), WORK_DIR (results; default a new
# temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEER=$ROOT/bench/peer
RUNS=${RUNS:-1}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
ALGS=${ALGS:-EdDSA}
CONNS=${CONNS:-"32 1"}
THREADS=${THREADS:-2}
PORT=${PORT:-3000}
ENDPOINTS=${ENDPOINTS:-"jwks token-bearer token-cookie get-session-cookie"}
SERVERS=${SERVERS:-"peer sigil"}
WORK=${WORK_DIR:-$(mktemp -d)}
BASE_URL=http://127.0.0.1:$PORT
API=$BASE_URL/api/auth
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# ---------------------------------------------------------------- tools
if [[ ! -d "$PEER/node_modules/better-auth" || ! -d "$PEER/node_modules/better-sqlite3" ]]; then
  echo "== npm ci (bench/peer)"
  (cd "$PEER" && npm ci --no-audit --no-fund)
fi
if ! command -v wrk >/dev/null; then
  echo "== apt-get install wrk"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -p sigil-cli
SIGIL=$ROOT/target/release/sigil
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')

# ---------------------------------------------------------------- one server process
PID=""
stop() {
  [[ -n "$PID" ]] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}
trap stop EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# start KIND ALG DB LOG: spawns the server and waits for /ok; sets PID and COLD_MS.
start() {
  local kind=$1 alg=$2 db=$3 log=$4 t0 code=000
  if curl -s -o /dev/null --max-time 1 "$API/ok"; then
    echo "something already answers on $BASE_URL; refusing to measure it" >&2
    exit 2
  fi
  t0=$(now_ms)
  case $kind in
    peer)
      env NODE_ENV=production PORT="$PORT" ALG="$alg" DB_PATH="$db" SECRET="$SECRET" \
        node "$PEER/server.mjs" >"$log" 2>&1 &
      ;;
    sigil | baseline)
      local binary=$SIGIL
      [[ $kind == baseline ]] && binary=$SIGIL_BASELINE
      env SIGIL_LISTEN="127.0.0.1:$PORT" SIGIL_BASE_URL="$BASE_URL" SIGIL_JWT_ALG="$alg" \
        SIGIL_DATABASE_URL="sqlite://$db" SIGIL_SECRET="$SECRET" SIGIL_MODE=production \
        SIGIL_RATE_LIMIT=false "$binary" serve >"$log" 2>&1 &
      ;;
  esac
  PID=$!
  while (( $(now_ms) - t0 < 60000 )); do
    kill -0 "$PID" 2>/dev/null || { echo "$kind exited early:" >&2; cat "$log" >&2; exit 2; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$API/ok" || true)
    [[ $code == 200 ]] && break
    sleep 0.005
  done
  [[ $code == 200 ]] || { echo "$kind not ready after 60 s" >&2; exit 2; }
  COLD_MS=$(( $(now_ms) - t0 ))
}

rss_kb() { ps -o rss= -p "$PID" | tr -d ' '; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$PID/status"; }

# load OUT LABEL ALG RUN ENDPOINT CONNS DURATION [warmup]: one wrk run; a row of load.tsv.
load() {
  local out=$1 label=$2 alg=$3 run=$4 ep=$5 c=$6 duration=$7 warmup=${8:-} url header=() t=$THREADS
  local creds=$out/$label-r$run
  case $ep in
    ok) url=$API/ok ;;
    jwks) url=$API/jwks ;;
    token-bearer) url=$API/token; header=(-H "Authorization: Bearer $(cat "$creds.bearer")") ;;
    token-cookie) url=$API/token; header=(-H "Cookie: $(cat "$creds.cookie")") ;;
    get-session-cookie) url=$API/get-session; header=(-H "Cookie: $(cat "$creds.cookie")") ;;
    get-session-bearer) url=$API/get-session; header=(-H "Authorization: Bearer $(cat "$creds.bearer")") ;;
    *) echo "unknown endpoint $ep" >&2; exit 2 ;;
  esac
  (( c < t )) && t=$c
  local raw=$out/wrk/$label-r$run-$ep-c$c${warmup:+-warmup}.txt seconds=${duration%s}
  timeout $(( ${seconds%.*} + 30 )) wrk -t"$t" -c"$c" -d"$duration" --timeout 5s --latency \
    -s "$PEER/wrk-tsv.lua" "${header[@]}" "$url" >"$raw" 2>&1 || true
  local result
  result=$(awk -F'\t' '$1 == "RESULT" {print; exit}' "$raw")
  if [[ -z "$result" ]]; then
    echo "   wrk failed for $ep c=$c (see $raw)"
    return
  fi
  # RESULT rps p50 p90 p99 max requests non2xx socket_errors
  IFS=$'\t' read -r _ rps p50 p90 p99 max requests non2xx sockerr <<<"$result"
  if [[ -n "$warmup" ]]; then
    echo "   (warm-up $ep: ${rps%.*} req/s, non-2xx $non2xx)"
    return
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$alg" "$run" "$ep" "$c" \
    "$t" "${rps%.*}" "$p50" "$p90" "$p99" "$max" "$requests" "$non2xx" "$sockerr" >>"$out/load.tsv"
  echo "   $ep c=$c: ${rps%.*} req/s  p50 $p50 ms  p99 $p99 ms  non-2xx $non2xx  socket errors $sockerr"
  sleep 1
}

# measure KIND OUT: every alg and run of one server.
measure() {
  local kind=$1 out=$2 alg run db cold idle checked after peak
  mkdir -p "$out/wrk" "$out/logs"
  printf 'label\talg\trun\tendpoint\tconns\tthreads\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\trequests\tnon2xx\tsock_err\n' >"$out/load.tsv"
  printf 'label\talg\trun\tcold_start_ms\trss_idle_kb\trss_after_check_kb\trss_after_load_kb\thwm_kb\n' >"$out/server.tsv"
  for alg in $ALGS; do
    db=$out/$alg.db
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
    if [[ $kind == peer ]]; then
      (cd "$out" && DB_PATH="$db" ALG="$alg" PORT="$PORT" node "$PEER/server.mjs" migrate)
    fi
    for run in $(seq "$RUNS"); do
      start "$kind" "$alg" "$db" "$out/logs/server-$alg-r$run.log"
      cold=$COLD_MS
      idle=$(rss_kb)
      echo "== $kind $alg run $run: pid $PID, cold start $cold ms"
      if ! BASE_URL="$BASE_URL" ALG="$alg" CREDENTIALS="$out/$alg-r$run" \
        node "$PEER/check.mjs" >"$out/logs/check-$alg-r$run.txt" 2>&1; then
        echo "   checks failed:"
        grep -v '^ok' "$out/logs/check-$alg-r$run.txt" | sed 's/^/     /'
        exit 1
      fi
      echo "   checks: $(tail -n 1 "$out/logs/check-$alg-r$run.txt")"
      checked=$(rss_kb)
      if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        for ep in $ENDPOINTS; do load "$out" "$alg" "$alg" "$run" "$ep" 32 "$WARMUP" warmup; done
      fi
      for ep in $ENDPOINTS; do
        for c in $CONNS; do load "$out" "$alg" "$alg" "$run" "$ep" "$c" "$DURATION"; done
      done
      after=$(rss_kb)
      peak=$(hwm_kb)
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$alg" "$alg" "$run" "$cold" "$idle" "$checked" \
        "$after" "$peak" >>"$out/server.tsv"
      echo "   RSS idle $idle KiB, after checks $checked KiB, after load $after KiB, peak $peak KiB"
      stop
    done
  done
}

{
  echo "date: $(date -u +%FT%TZ)  cpus: $(nproc)  kernel: $(uname -r)"
  echo "node: $(node -v)  better-auth: $(node -p "require('$PEER/node_modules/better-auth/package.json').version")"
  echo "wrk: $(wrk -v 2>&1 | head -n 1)"
  echo "load: wrk -t$THREADS conns=[$CONNS] duration=$DURATION warmup=$WARMUP runs=$RUNS algs=[$ALGS]"
  echo "endpoints: $ENDPOINTS"
} | tee "$WORK/env.txt"

for kind in $SERVERS; do
  case $kind in
    peer) echo "== Better Auth (Node, bench/peer)" ;;
    sigil) echo "== sigil serve" ;;
    baseline)
      [[ -x ${SIGIL_BASELINE:-} ]] || { echo "baseline needs SIGIL_BASELINE=/path/to/sigil" >&2; exit 2; }
      echo "== sigil serve, baseline build ($SIGIL_BASELINE)"
      ;;
    *) echo "SERVERS: unknown $kind (peer, sigil, baseline)" >&2; exit 2 ;;
  esac
  measure "$kind" "$WORK/out-$kind"
done

if [[ -d "$WORK/out-peer" && -d "$WORK/out-sigil" ]]; then
  python3 bench/load_ratios.py "$WORK/out-peer" "$WORK/out-sigil"
fi
if [[ -d "$WORK/out-peer" && -d "$WORK/out-baseline" ]]; then
  echo "== the baseline build against the peer"
  python3 bench/load_ratios.py "$WORK/out-peer" "$WORK/out-baseline"
fi
echo "results: $WORK"
