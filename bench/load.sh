#!/usr/bin/env bash
# The load benchmark of issue 11, one command: Better Auth 1.7.25 (bench/peer/), `sigil serve` on
# SQLite and on PostgreSQL (release build, production mode, rate limit off as for the peer) and
# the bare axum route (sigil-ceiling, fed the /jwks body sigil served), one at a time, alternating
# per round and alg (peer, sigil-sqlite, sigil-postgres, ceiling, then again) so machine drift hits
# all of them. Per server slot: a fresh database (a new SQLite file, a new PostgreSQL database),
# cold start (spawn to the first 200 on /ok), bench/peer/check.mjs (sign-up, sign-in, sessions,
# /token, /jwks, jose), unrecorded wrk warm-ups, then wrk per endpoint (jwks, token-bearer,
# token-cookie, get-session, sign-in) at each concurrency: req/s, p50, p99, non-2xx and socket
# errors; RSS after the load. In the first alg's slot of each round, the peer and sigil-sqlite also
# take a sign-in flood (32 connections) while two small wrk runs measure /jwks and /token. After the
# rounds, a soak: sigil-sqlite /token (bearer) at 32 connections for SOAK seconds, RSS every
# second. In the same run: the scrypt ceiling (cores / one hash) and the raw signing ceiling per
# alg (sigil-scrypt-ceiling, sigil-sign-ceiling). bench/load_report.py prints every issue-11
# target as met or missed and, in full mode, writes the tables into BENCHMARKS.md between
# <!-- load:begin --> and <!-- load:end -->.
#
#   bash bench/load.sh            # full: ~20-25 min after the build
#   SMOKE=1 bash bench/load.sh    # ~1 min: one round, EdDSA, 1 s cells; fails on any error
#
# Knobs (full defaults): ROUNDS=2 DURATION=5s SIGNIN_DURATION=3s PEER_SIGNIN_DURATION=12s (Better
# Auth's sign-in cells at more than one connection) WARMUP=2s ALGS="EdDSA ES256
# RS256" CONNS="32 1" FLOOD_DURATION=5s PROBE_DELAY_MS=2 (the flood's probes: each of their 4
# connections pauses this long between requests) SOAK=60 SOAK_SETTLE=10 PAUSE=0.5 PORT=3000
# SERVERS="peer sigil-sqlite sigil-postgres ceiling" CEILING_ALGS (the first alg) WORK_DIR
# (results; default a new temporary folder) WRITE (1 in full mode: write BENCHMARKS.md).
# Installs the peer's pinned npm packages (npm ci), Debian's wrk and PostgreSQL when missing
# (root). Loopback only; every wrk run has a fixed duration and a timeout around it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEER=$ROOT/bench/peer
SMOKE=${SMOKE:-0}
CUSTOM=""
for knob in ROUNDS DURATION SIGNIN_DURATION PEER_SIGNIN_DURATION WARMUP ALGS CONNS FLOOD_DURATION \
  SOAK SOAK_SETTLE PAUSE SERVERS CEILING_ALGS PROBE_DELAY_MS PROFILE; do
  if [[ -n ${!knob:-} ]]; then CUSTOM+=" $knob"; fi
done
if [[ $SMOKE == 1 ]]; then
  ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-1s} SIGNIN_DURATION=${SIGNIN_DURATION:-2s}
  PEER_SIGNIN_DURATION=${PEER_SIGNIN_DURATION:-2s}
  WARMUP=${WARMUP:-0} ALGS=${ALGS:-EdDSA} FLOOD_DURATION=${FLOOD_DURATION:-2s}
  SOAK=${SOAK:-4} SOAK_SETTLE=${SOAK_SETTLE:-1} PAUSE=${PAUSE:-0} WRITE=${WRITE:-0}
fi
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5s}
SIGNIN_DURATION=${SIGNIN_DURATION:-3s}
PEER_SIGNIN_DURATION=${PEER_SIGNIN_DURATION:-12s}
WARMUP=${WARMUP:-2s}
ALGS=${ALGS:-"EdDSA ES256 RS256"}
CONNS=${CONNS:-"32 1"}
FLOOD_DURATION=${FLOOD_DURATION:-5s}
PROBE_DELAY_MS=${PROBE_DELAY_MS:-2}
SOAK=${SOAK:-60}
SOAK_SETTLE=${SOAK_SETTLE:-10}
PAUSE=${PAUSE:-0.5}
PORT=${PORT:-3000}
SERVERS=${SERVERS:-"peer sigil-sqlite sigil-postgres ceiling"}
FIRST_ALG=${ALGS%% *}
CEILING_ALGS=${CEILING_ALGS:-$FIRST_ALG}
WRITE=${WRITE:-1}
# release, or debug (the smoke's default: see the build below)
PROFILE=${PROFILE:-$([[ $SMOKE == 1 ]] && echo debug || echo release)}
ENDPOINTS="jwks token-bearer token-cookie get-session sign-in"
CEILING_ENDPOINTS="jwks ok"
WORK=${WORK_DIR:-$(mktemp -d /tmp/sigil-load.XXXXXX)}
BASE_URL=http://127.0.0.1:$PORT
API=$BASE_URL/api/auth
mkdir -p "$WORK/wrk" "$WORK/logs" "$WORK/db"
WORK=$(cd "$WORK" && pwd)
T0=$(date +%s)

for kind in $SERVERS; do
  case $kind in
    peer | sigil-sqlite | sigil-postgres | ceiling) ;;
    *) echo "SERVERS: unknown $kind (peer sigil-sqlite sigil-postgres ceiling)" >&2; exit 2 ;;
  esac
done

# ---------------------------------------------------------------- tools
if [[ ! -d "$PEER/node_modules/better-auth" || ! -d "$PEER/node_modules/better-sqlite3" ]]; then
  echo "== npm ci (bench/peer)"
  (cd "$PEER" && npm ci --no-audit --no-fund)
fi
if ! command -v wrk >/dev/null; then
  echo "== apt-get install wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
# The smoke only checks that everything runs and answers without errors: it takes the debug
# build the test suite has already made (a release build would add minutes to CI); figures come
# from release builds only.
if [[ $PROFILE == release ]]; then
  echo "== cargo build --release (sigil, sigil-ceiling, sigil-scrypt-ceiling, sigil-sign-ceiling)"
  cargo build --release -q -p sigil-cli -p sigil-bench
else
  echo "== cargo build (debug: smoke only; sigil, sigil-ceiling, sigil-scrypt-ceiling, sigil-sign-ceiling)"
  cargo build -q -p sigil-cli -p sigil-bench
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
SIGIL=$TARGET/$PROFILE/sigil
CEILING=$TARGET/$PROFILE/sigil-ceiling
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
T_BUILT=$(date +%s)

# ---------------------------------------------------------------- cleanup
PID=""
PGDATA_DIR=""
stop() {
  [[ -n "$PID" ]] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}
cleanup() {
  stop
  if [[ -n "$PGDATA_DIR" ]]; then bash "$ROOT/scripts/test-postgres.sh" stop "$PGDATA_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILURES=()
fail_later() { FAILURES+=("$1"); echo "   ERROR: $1"; }

if [[ " $SERVERS " == *" sigil-postgres "* ]]; then
  echo "== PostgreSQL (throwaway cluster, scripts/test-postgres.sh)"
  eval "$(bash scripts/test-postgres.sh start)"
  PGDATA_DIR=$SIGIL_TEST_PGDATA
  PG_URL=${SIGIL_TEST_POSTGRES_URL%/*}
fi

# ---------------------------------------------------------------- environment and ceilings
{
  printf 'date\t%s\n' "$(date -u +%FT%TZ)"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'memory\t%s\n' "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'loadavg_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'rustc\t%s\n' "$(rustc -V)"
  printf 'node\t%s\n' "$(node -v)"
  printf 'better-auth\t%s\n' "$(node -p "require('$PEER/node_modules/better-auth/package.json').version")"
  printf 'wrk\t%s\n' "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
  if [[ -n "$PGDATA_DIR" ]]; then
    printf 'postgres\t%s\n' "$(psql "$SIGIL_TEST_POSTGRES_URL" -Atc 'show server_version')"
  fi
  printf 'sigil\t%s\n' "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (modified)')"
  printf 'custom\t%s\n' "${CUSTOM# }"
  printf 'knobs\tROUNDS=%s DURATION=%s SIGNIN_DURATION=%s PEER_SIGNIN_DURATION=%s WARMUP=%s ALGS="%s" CONNS="%s" FLOOD_DURATION=%s PROBE_DELAY_MS=%s SOAK=%s SOAK_SETTLE=%s SMOKE=%s PROFILE=%s\n' \
    "$ROUNDS" "$DURATION" "$SIGNIN_DURATION" "$PEER_SIGNIN_DURATION" "$WARMUP" "$ALGS" "$CONNS" "$FLOOD_DURATION" "$PROBE_DELAY_MS" "$SOAK" \
    "$SOAK_SETTLE" "$SMOKE" "$PROFILE"
} >"$WORK/env.tsv"
sed 's/\t/: /' "$WORK/env.tsv"

echo "== ceilings: scrypt (one hash, one thread) and raw signing per alg (aws-lc-rs)"
{
  "$TARGET/$PROFILE/sigil-scrypt-ceiling" "$([[ $SMOKE == 1 ]] && echo 3 || echo 10)"
  "$TARGET/$PROFILE/sigil-sign-ceiling" "$([[ $SMOKE == 1 ]] && echo 200 || echo 2000)"
} >"$WORK/ceilings.tsv"
sed 's/\t/ /g; s/^/   /' "$WORK/ceilings.tsv"

printf 'server\talg\tround\tendpoint\tconns\tthreads\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\trequests\tnon2xx\tsock_err\n' >"$WORK/load.tsv"
printf 'server\talg\tround\tendpoint\tconns\tthreads\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\trequests\tnon2xx\tsock_err\n' >"$WORK/flood.tsv"
printf 'server\talg\tround\tcold_start_ms\trss_idle_kb\trss_before_signin_kb\trss_after_load_kb\thwm_kb\n' >"$WORK/server.tsv"

# ---------------------------------------------------------------- one server process
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
    sigil-sqlite | sigil-postgres)
      env SIGIL_LISTEN="127.0.0.1:$PORT" SIGIL_BASE_URL="$BASE_URL" SIGIL_JWT_ALG="$alg" \
        SIGIL_DATABASE_URL="$db" SIGIL_SECRET="$SECRET" SIGIL_MODE=production \
        SIGIL_RATE_LIMIT=false "$SIGIL" serve >"$log" 2>&1 &
      ;;
    ceiling)
      "$CEILING" "127.0.0.1:$PORT" "$db" >"$log" 2>&1 &
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

# wrk_args ENDPOINT CREDS: sets URL and ARGS (headers; sign-in: POST with the user's JSON body).
wrk_args() {
  local ep=$1 creds=$2
  ARGS=()
  unset WRK_METHOD WRK_BODY
  case $ep in
    ok) URL=$API/ok ;;
    jwks) URL=$API/jwks ;;
    token-bearer) URL=$API/token; ARGS=(-H "Authorization: Bearer $(cat "$creds.bearer")") ;;
    token-cookie) URL=$API/token; ARGS=(-H "Cookie: $(cat "$creds.cookie")") ;;
    get-session) URL=$API/get-session; ARGS=(-H "Cookie: $(cat "$creds.cookie")") ;;
    sign-in)
      URL=$API/sign-in/email
      ARGS=(-H "Content-Type: application/json" -H "Origin: $BASE_URL")
      export WRK_METHOD=POST WRK_BODY
      WRK_BODY=$(cat "$creds.signin")
      ;;
    *) echo "unknown endpoint $ep" >&2; exit 2 ;;
  esac
}

# wrk_run RAW CONNS THREADS DURATION: one wrk run of URL/ARGS; sets RESULT (empty on failure).
wrk_run() {
  local raw=$1 c=$2 t=$3 duration=$4 seconds
  seconds=${duration%s}
  timeout $(( ${seconds%.*} + 40 )) wrk -t"$t" -c"$c" -d"$duration" --timeout 20s --latency \
    -s "$PEER/wrk-tsv.lua" "${ARGS[@]}" "$URL" >"$raw" 2>&1 || true
  RESULT=$(awk -F'\t' '$1 == "RESULT" {print; exit}' "$raw")
}

# row FILE SERVER ALG ROUND ENDPOINT CONNS THREADS: appends RESULT as a row; flags errors.
row() {
  local file=$1 server=$2 alg=$3 round=$4 ep=$5 c=$6 t=$7
  # RESULT rps p50 p90 p99 max requests non2xx socket_errors
  IFS=$'\t' read -r _ rps p50 p90 p99 max requests non2xx sockerr <<<"$RESULT"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$alg" "$round" \
    "$ep" "$c" "$t" "${rps%.*}" "$p50" "$p90" "$p99" "$max" "$requests" "$non2xx" "$sockerr" >>"$file"
  printf '   %-16s c=%-3s %7s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s  socket errors %s\n' \
    "$ep" "$c" "${rps%.*}" "$p50" "$p99" "$non2xx" "$sockerr"
  if [[ $non2xx != 0 || $sockerr != 0 ]]; then
    fail_later "$server $alg round $round $ep c=$c: non-2xx $non2xx, socket errors $sockerr"
  fi
  # Expected: Better Auth completes no sign-in within a short cell at 32 connections (they share
  # its one thread and finish together), nor, sometimes, a probe while a sign-in flood runs.
  if [[ $requests == 0 && ! ($server == peer && ($ep == sign-in || $file == "$WORK/flood.tsv")) ]]; then
    fail_later "$server $alg round $round $ep c=$c: no request completed"
  fi
}

# load SERVER ALG ROUND ENDPOINT CONNS DURATION [warmup]: one measured (or warm-up) wrk run.
load() {
  local server=$1 alg=$2 round=$3 ep=$4 c=$5 duration=$6 warmup=${7:-} t=2
  wrk_args "$ep" "$WORK/creds/$server-$alg-r$round"
  (( c < t )) && t=$c
  local raw=$WORK/wrk/$server-$alg-r$round-$ep-c$c${warmup:+-warmup}.txt
  wrk_run "$raw" "$c" "$t" "$duration"
  if [[ -z "$RESULT" ]]; then
    fail_later "$server $alg round $round: wrk failed for $ep c=$c (see $raw)"
    return
  fi
  if [[ -z "$warmup" ]]; then
    row "$WORK/load.tsv" "$server" "$alg" "$round" "$ep" "$c" "$t"
    sleep "$PAUSE"
  fi
}

# drain CREDS: one more sign-in, which completes once the sign-ins still queued from a cell have.
drain() {
  curl -s -o /dev/null --max-time 60 -X POST -H "Content-Type: application/json" \
    -H "Origin: $BASE_URL" --data "$(cat "$1.signin")" "$API/sign-in/email" || true
}

# flood SERVER ALG ROUND: sign-in at 32 connections; meanwhile /jwks and /token (bearer) at 4.
flood() {
  local server=$1 alg=$2 round=$3 creds=$WORK/creds/$1-$2-r$3 seconds=${FLOOD_DURATION%s}
  local base=$WORK/wrk/$server-$alg-r$round-flood
  drain "$creds"
  echo "   sign-in flood (32 connections, ${seconds}+2 s) with /jwks and /token probes (4 connections, $seconds s):"
  wrk_args sign-in "$creds"
  wrk_run "$base-sign-in.txt" 32 1 "$(( seconds + 2 ))s" &
  local flooder=$!
  sleep 1
  # The probes are steady traffic (each connection pauses PROBE_DELAY_MS after a response, at
  # most ~4 x 1000/PROBE_DELAY_MS req/s), not a second load: they measure what ordinary requests
  # meet while the flood runs, not the server saturated by the probes themselves.
  (unset WRK_METHOD WRK_BODY; export WRK_DELAY_MS=$PROBE_DELAY_MS; wrk_args jwks "$creds"; wrk_run "$base-jwks.txt" 4 1 "${seconds}s") &
  local a=$!
  (unset WRK_METHOD WRK_BODY; export WRK_DELAY_MS=$PROBE_DELAY_MS; wrk_args token-bearer "$creds"; wrk_run "$base-token-bearer.txt" 4 1 "${seconds}s") &
  local b=$!
  wait "$a" "$b" "$flooder"
  unset WRK_METHOD WRK_BODY
  local ep c
  for ep in sign-in jwks token-bearer; do
    c=4; [[ $ep == sign-in ]] && c=32
    RESULT=$(awk -F'\t' '$1 == "RESULT" {print; exit}' "$base-$ep.txt")
    if [[ -z "$RESULT" ]]; then fail_later "$server flood: wrk failed for $ep (see $base-$ep.txt)"; continue; fi
    row "$WORK/flood.tsv" "$server" "$alg" "$round" "$ep" "$c" 1
  done
}

# database KIND ALG ROUND: a fresh database for one slot; prints its path or URL.
database() {
  local kind=$1 alg=$2 round=$3 name
  case $kind in
    peer)
      echo "$WORK/db/peer-$alg-r$round.db"
      ;;
    sigil-sqlite)
      echo "sqlite://$WORK/db/sigil-$alg-r$round.db"
      ;;
    sigil-postgres)
      name=$(echo "sigil_${alg}_r${round}_$$" | tr '[:upper:]' '[:lower:]')
      psql "$SIGIL_TEST_POSTGRES_URL" -q -c "create database $name" >/dev/null
      echo "$PG_URL/$name"
      ;;
    ceiling)
      echo "$WORK/jwks-$alg.json"
      ;;
  esac
}

# slot KIND ALG ROUND: one server, fresh database, checks, warm-ups, every cell, RSS.
slot() {
  local kind=$1 alg=$2 round=$3 db idle before_signin="" after peak ep c endpoints=$ENDPOINTS
  local creds=$WORK/creds/$kind-$alg-r$round
  db=$(database "$kind" "$alg" "$round")
  if [[ $kind == peer ]]; then
    (cd "$WORK/db" && DB_PATH="$db" ALG="$alg" PORT="$PORT" node "$PEER/server.mjs" migrate >/dev/null)
  fi
  if [[ $kind == ceiling ]]; then
    [[ -s $db ]] || { echo "ceiling: no /jwks body of sigil for $alg (run sigil-sqlite first)" >&2; exit 2; }
    endpoints=$CEILING_ENDPOINTS
  fi
  start "$kind" "$alg" "$db" "$WORK/logs/$kind-$alg-r$round.log"
  local cold=$COLD_MS
  idle=$(rss_kb)
  echo "== round $round, $alg, $kind: pid $PID, cold start $cold ms"
  if [[ $kind != ceiling ]]; then
    mkdir -p "$WORK/creds"
    if ! BASE_URL="$BASE_URL" ALG="$alg" CREDENTIALS="$creds" \
      node "$PEER/check.mjs" >"$WORK/logs/check-$kind-$alg-r$round.txt" 2>&1; then
      echo "   checks failed:"
      grep -v '^ok' "$WORK/logs/check-$kind-$alg-r$round.txt" | sed 's/^/     /'
      exit 1
    fi
    echo "   checks: $(tail -n 1 "$WORK/logs/check-$kind-$alg-r$round.txt")"
    if [[ $kind == sigil-sqlite ]]; then curl -s --max-time 5 "$API/jwks" >"$WORK/jwks-$alg.json"; fi
  fi
  if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
    for ep in $endpoints; do
      [[ $ep == sign-in ]] && continue
      load "$kind" "$alg" "$round" "$ep" 32 "$WARMUP" warmup
    done
  fi
  # Sign-in comes last, at the fewest connections first: sign-ins still queued when a cell ends
  # would otherwise slow the next cell down.
  local ascending
  ascending=$(tr ' ' '\n' <<<"$CONNS" | sort -n | tr '\n' ' ')
  for ep in $endpoints; do
    if [[ $ep == sign-in ]]; then
      before_signin=$(rss_kb)
      for c in $ascending; do
        if [[ $kind == peer && $c -gt 1 ]]; then
          load "$kind" "$alg" "$round" "$ep" "$c" "$PEER_SIGNIN_DURATION"
        else
          load "$kind" "$alg" "$round" "$ep" "$c" "$SIGNIN_DURATION"
        fi
      done
      continue
    fi
    for c in $CONNS; do load "$kind" "$alg" "$round" "$ep" "$c" "$DURATION"; done
  done
  after=$(rss_kb)
  peak=$(hwm_kb)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$alg" "$round" "$cold" "$idle" \
    "$before_signin" "$after" "$peak" >>"$WORK/server.tsv"
  echo "   RSS idle $idle KiB, before sign-in ${before_signin:-–} KiB, after load $after KiB, peak $peak KiB"
  if [[ $alg == "$FIRST_ALG" && ($kind == peer || $kind == sigil-sqlite) ]]; then
    flood "$kind" "$alg" "$round"
  fi
  stop
}

# ---------------------------------------------------------------- rounds: A B C D, A B C D
for round in $(seq "$ROUNDS"); do
  for alg in $ALGS; do
    for kind in $SERVERS; do
      if [[ $kind == ceiling && " $CEILING_ALGS " != *" $alg "* ]]; then continue; fi
      slot "$kind" "$alg" "$round"
    done
  done
done

# ---------------------------------------------------------------- soak
if [[ " $SERVERS " == *" sigil-sqlite "* && $SOAK != 0 ]]; then
  db=$(database sigil-sqlite "$FIRST_ALG" soak)
  start sigil-sqlite "$FIRST_ALG" "$db" "$WORK/logs/soak.log"
  echo "== soak: sigil-sqlite $FIRST_ALG, /token (bearer), 32 connections, $SOAK s; RSS every second"
  mkdir -p "$WORK/creds"
  BASE_URL="$BASE_URL" ALG="$FIRST_ALG" CREDENTIALS="$WORK/creds/soak" \
    node "$PEER/check.mjs" >"$WORK/logs/check-soak.txt" 2>&1 || { echo "soak: checks failed" >&2; exit 1; }
  wrk_args token-bearer "$WORK/creds/soak"
  wrk_run "$WORK/wrk/soak.txt" 32 2 "${SOAK}s" &
  soaker=$!
  printf 'second\trss_kb\n' >"$WORK/soak.tsv"
  soak_t0=$(now_ms)
  for s in $(seq "$SOAK"); do
    while (( $(now_ms) - soak_t0 < s * 1000 )); do sleep 0.05; done
    printf '%s\t%s\n' "$s" "$(rss_kb)" >>"$WORK/soak.tsv"
  done
  wait "$soaker"
  RESULT=$(awk -F'\t' '$1 == "RESULT" {print; exit}' "$WORK/wrk/soak.txt")
  printf 'server\talg\tround\tendpoint\tconns\tthreads\trps\tp50_ms\tp90_ms\tp99_ms\tmax_ms\trequests\tnon2xx\tsock_err\n' >"$WORK/soak-load.tsv"
  if [[ -z "$RESULT" ]]; then
    fail_later "soak: wrk failed (see $WORK/wrk/soak.txt)"
  else
    row "$WORK/soak-load.tsv" sigil-sqlite "$FIRST_ALG" soak token-bearer 32 2
  fi
  printf 'settle\t%s\n' "$SOAK_SETTLE" >>"$WORK/env.tsv"
  echo "   RSS at ${SOAK_SETTLE} s $(awk -v s="$SOAK_SETTLE" '$1 == s {print $2}' "$WORK/soak.tsv") KiB, at the end $(tail -n 1 "$WORK/soak.tsv" | cut -f2) KiB"
  stop
fi

# ---------------------------------------------------------------- report
T_END=$(date +%s)
printf 'wall_s\t%s\n' "$(( T_END - T_BUILT ))" >>"$WORK/env.tsv"
printf 'loadavg_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/env.tsv"
report_args=("$WORK")
if [[ $SMOKE != 1 && $WRITE == 1 ]]; then report_args+=(--write "$ROOT/BENCHMARKS.md"); fi
python3 bench/load_report.py "${report_args[@]}"
echo "wall time: $(( T_END - T_BUILT )) s after the build ($(( T_END - T0 )) s in all); results: $WORK"
if (( ${#FAILURES[@]} > 0 )); then
  echo "${#FAILURES[@]} error(s):"
  printf '  %s\n' "${FAILURES[@]}"
  if [[ $SMOKE == 1 ]]; then exit 1; fi
fi
