#!/usr/bin/env bash
# The fleet scenario of issue 12, one command: three `sigil serve` instances on one throwaway
# PostgreSQL cluster behind nginx (deploy/nginx/sigil.conf, as documented, only the ports
# changed), a steady token load through the balancer with every JWT verified by sigil-verify
# (sigil-fleet load), and faults one after the other: a key rotation, an instance killed and
# restarted, a PostgreSQL restart, PostgreSQL frozen (SIGSTOP) for a while, a sign-out probe across
# instances, `sigil keys rotate --now`, and the revocation of the signing key. Then
# `sigil-fleet summarize` prints the verdict and exits non-zero when a promise is broken.
#
#   bash bench/fleet.sh            # full: release build, ~2.5 min after the build; writes the
#                                  # FLEET section of BENCHMARKS.md
#   SMOKE=1 bash bench/fleet.sh    # CI: debug build, compressed waits, ~80 s; writes nothing. The
#                                  # database stays frozen 7 s, past its 5 s timeout, so the 503 path runs
#
# Knobs: SESSIONS CONCURRENCY PAUSE (between faults, s) DOWN (instance down, s) BLOCK (database
# frozen, s) SIGNOUT_ROUNDS PROFILE WORK_DIR WRITE (1 in full mode: write BENCHMARKS.md)
# SIGNOUT_BOUND_MS KEY_BOUND_MS. Loopback only; every wait has a timeout; a trap always thaws and
# stops the database cluster, nginx and the instances. Installs Debian's nginx (and, through
# scripts/test-postgres.sh, postgresql) when missing (root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SMOKE=${SMOKE:-0}
if [[ $SMOKE == 1 ]]; then
  SESSIONS=${SESSIONS:-20} CONCURRENCY=${CONCURRENCY:-4} PAUSE=${PAUSE:-2} DOWN=${DOWN:-2}
  BLOCK=${BLOCK:-7} SIGNOUT_ROUNDS=${SIGNOUT_ROUNDS:-6} WRITE=${WRITE:-0}
fi
SESSIONS=${SESSIONS:-100}
CONCURRENCY=${CONCURRENCY:-16}
PAUSE=${PAUSE:-8}
DOWN=${DOWN:-3}
BLOCK=${BLOCK:-10}
SIGNOUT_ROUNDS=${SIGNOUT_ROUNDS:-20}
WRITE=${WRITE:-1}
SIGNOUT_BOUND_MS=${SIGNOUT_BOUND_MS:-1000}
KEY_BOUND_MS=${KEY_BOUND_MS:-1000}
PROFILE=${PROFILE:-$([[ $SMOKE == 1 ]] && echo debug || echo release)}
# The JWKS max-age of the instances: sigil-verify clamps any max-age to at least 60 s, so a
# verifier's revocation bound is 60 s at best; a larger one would make the run longer.
JWKS_MAX_AGE=60s
WORK=${WORK_DIR:-$(mktemp -d /tmp/sigil-fleet.XXXXXX)}
mkdir -p "$WORK/logs" "$WORK/probes" "$WORK/nginx/tmp" "$WORK/data"
WORK=$(cd "$WORK" && pwd)
T0=$(date +%s)
COMMAND="bash bench/fleet.sh"
if [[ $SMOKE == 1 ]]; then COMMAND="SMOKE=1 $COMMAND"; fi

# pause SECONDS: a sleep that a signal interrupts at once (bash runs traps only between
# foreground commands, but at once during `wait`).
pause() {
  sleep "$1" &
  wait $! || true
}
say() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
# event LABEL: what happened when, for the summary's timeline.
event() { echo "$(($(date +%s%N) / 1000000)) $*" >>"$WORK/events"; }

# ---------------------------------------------------------------- tools and build
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  if [[ $(id -u) != 0 ]]; then echo "nginx is missing (as root: apt-get install nginx)" >&2; exit 2; fi
  say "apt-get install nginx"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  # The package may start the system's nginx on port 80; this run starts its own.
  (service nginx stop || nginx -s quit) >/dev/null 2>&1 || true
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ $PROFILE == release ]]; then
  say "cargo build --release (sigil, sigil-fleet)"
  cargo build --release -q -p sigil-cli -p sigil-bench --bin sigil --bin sigil-fleet
else
  say "cargo build (debug: sigil, sigil-fleet)"
  cargo build -q -p sigil-cli -p sigil-bench --bin sigil --bin sigil-fleet
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
SIGIL=$TARGET/$PROFILE/sigil
FLEET=$TARGET/$PROFILE/sigil-fleet

# ---------------------------------------------------------------- cleanup
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
AS_PG=()
if [[ $(id -u) == 0 ]]; then AS_PG=(runuser -u postgres --); fi
PGDATA_DIR=""
FROZEN=""
NGINX_PID=""
LOAD_PID=""
PROBE_PID=""
PIDS=("" "" "")
kill_wait() { # PID: TERM, up to 5 s, then KILL
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  set +e
  # A frozen cluster cannot stop: thaw it first.
  if [[ -n $FROZEN ]]; then kill -CONT $FROZEN 2>/dev/null; fi
  kill_wait "$PROBE_PID"
  kill_wait "$LOAD_PID"
  kill_wait "$NGINX_PID"
  for pid in "${PIDS[@]}"; do kill_wait "$pid"; done
  if [[ -n $PGDATA_DIR ]]; then bash "$ROOT/scripts/test-postgres.sh" stop "$PGDATA_DIR"; fi
  if [[ $status != 0 ]]; then
    for i in 0 1 2; do
      echo "---- tail of $WORK/logs/sigil-$i.log"
      tail -n 15 "$WORK/logs/sigil-$i.log" 2>/dev/null
    done
    echo "---- tail of $WORK/logs/load.log"
    tail -n 15 "$WORK/logs/load.log" 2>/dev/null
    echo "---- tail of $WORK/logs/nginx-error.log"
    tail -n 15 "$WORK/logs/nginx-error.log" 2>/dev/null
  fi
  say "done (exit $status); logs and results in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- ports
CHOSEN=" "
free_port() {
  local p
  while :; do
    # Below Linux's ephemeral range (32768 and up), so that no outgoing connection holds a port
    # an instance or the database binds again after a restart.
    p=$((20000 + RANDOM % 12000))
    [[ $CHOSEN == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}
PORTS=()
for i in 0 1 2; do
  p=$(free_port)
  CHOSEN+="$p "
  PORTS+=("$p")
done
LB_PORT=$(free_port)
while [[ " ${PORTS[*]} " == *" $LB_PORT "* ]]; do LB_PORT=$(free_port); done
CHOSEN+="$LB_PORT "
PG_PORT=$(free_port)
LB=http://127.0.0.1:$LB_PORT
INSTANCES="http://127.0.0.1:${PORTS[0]},http://127.0.0.1:${PORTS[1]},http://127.0.0.1:${PORTS[2]}"

# wait_ok URL SECONDS: until URL/api/auth/ok answers 200.
wait_ok() {
  local url=$1 secs=$2 end
  end=$(($(date +%s) + secs))
  while (($(date +%s) < end)); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url/api/auth/ok" || true) == 200 ]]; then
      return 0
    fi
    sleep 0.05
  done
  echo "$url did not answer /api/auth/ok within $secs s" >&2
  return 1
}

# ---------------------------------------------------------------- PostgreSQL
say "PostgreSQL (throwaway cluster, scripts/test-postgres.sh)"
eval "$(SIGIL_TEST_PGPORT=$PG_PORT bash scripts/test-postgres.sh start)"
PGDATA_DIR=$SIGIL_TEST_PGDATA
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
psql "$SIGIL_TEST_POSTGRES_URL" -qAtc 'create database sigil_fleet' >/dev/null
DB_URL=${SIGIL_TEST_POSTGRES_URL%/*}/sigil_fleet

# The instances' shared configuration, exported so that `sigil keys …` (run by the key probe)
# sees the same database and secret.
export SIGIL_DATABASE_URL=$DB_URL
export SIGIL_SECRET
SIGIL_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
export SIGIL_BASE_URL=$LB
export SIGIL_MODE=production
export SIGIL_RATE_LIMIT=false
export SIGIL_TRUSTED_PROXIES=127.0.0.1
export SIGIL_JWKS_MAX_AGE=$JWKS_MAX_AGE
export SIGIL_DATA_DIR=$WORK/data
unset SIGIL_LISTEN

start_instance() { # I
  local i=$1
  SIGIL_LISTEN=127.0.0.1:${PORTS[$i]} "$SIGIL" serve >>"$WORK/logs/sigil-$i.log" 2>&1 &
  PIDS[i]=$!
}

say "3 instances on ${PORTS[*]} (started at once on an empty database), base URL $LB"
for i in 0 1 2; do start_instance "$i"; done
for i in 0 1 2; do wait_ok "http://127.0.0.1:${PORTS[$i]}" 60; done

# ---------------------------------------------------------------- nginx
say "nginx $("$NGINX" -v 2>&1 | cut -d/ -f2) on $LB_PORT (deploy/nginx/sigil.conf, ports replaced)"
sed -e "s/127\.0\.0\.1:3001/127.0.0.1:${PORTS[0]}/" -e "s/127\.0\.0\.1:3002/127.0.0.1:${PORTS[1]}/" \
  -e "s/127\.0\.0\.1:3003/127.0.0.1:${PORTS[2]}/" -e "s/listen 8080;/listen 127.0.0.1:$LB_PORT;/" \
  deploy/nginx/sigil.conf >"$WORK/nginx/sigil.conf"
{
  # nginx's workers run as nobody unless told; as root they run as root here (the temp paths
  # are in this folder).
  if [[ $(id -u) == 0 ]]; then echo "user root;"; fi
  cat <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    include $WORK/nginx/sigil.conf;
}
EOF
} >"$WORK/nginx/nginx.conf"
"$NGINX" -t -q -p "$WORK/nginx" -e "$WORK/logs/nginx-error.log" -c "$WORK/nginx/nginx.conf"
"$NGINX" -p "$WORK/nginx" -e "$WORK/logs/nginx-error.log" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
wait_ok "$LB" 20

# ---------------------------------------------------------------- load
say "load: $SESSIONS sessions, $CONCURRENCY workers through $LB"
: >"$WORK/revoked"
"$FLEET" load --base "$LB" --sessions "$SESSIONS" --concurrency "$CONCURRENCY" \
  --stop-file "$WORK/stop" --max-seconds "$([[ $SMOKE == 1 ]] && echo 170 || echo 600)" \
  --request-timeout 12 --out "$WORK/load.json" --revoked-file "$WORK/revoked" \
  --progress-file "$WORK/progress" >"$WORK/logs/load.log" 2>&1 &
LOAD_PID=$!
end=$(($(date +%s) + 120))
until grep -q 'sessions signed up' "$WORK/logs/load.log"; do
  kill -0 "$LOAD_PID" 2>/dev/null || { echo "the load exited:" >&2; cat "$WORK/logs/load.log" >&2; exit 2; }
  (($(date +%s) < end)) || { echo "the load did not start within 120 s" >&2; exit 2; }
  sleep 0.2
done
pause "$PAUSE"

# Steady state: database transactions per token over a quiet window (every transaction counts:
# the instances' key watch and heartbeats too).
xacts() { psql "$DB_URL" -qAtc "select xact_commit + xact_rollback from pg_stat_database where datname = 'sigil_fleet'"; }
WINDOW=$([[ $SMOKE == 1 ]] && echo 3 || echo 10)
read -r TOKENS0 _ <"$WORK/progress"
X0=$(xacts)
pause "$WINDOW"
read -r TOKENS1 _ <"$WORK/progress"
X1=$(xacts)
awk -v t=$((TOKENS1 - TOKENS0)) -v x=$((X1 - X0)) -v w="$WINDOW" 'BEGIN {
  printf "== database load in steady state (%s s window, all instances)\n  %d tokens (%.0f/s), %d database transactions (%.1f/s): %.5f per token\n", w, t, t / w, x, x / w, (t > 0 ? x / t : 0)
}' >"$WORK/dbload.txt"
cat "$WORK/dbload.txt"

probe() { # SECONDS ARGS...: a probe bounded in time; its failure is recorded, not fatal
  local secs=$1
  shift
  timeout "$secs" "$FLEET" "$@" 2>>"$WORK/logs/probes.log" &
  PROBE_PID=$!
  if ! wait "$PROBE_PID"; then
    say "   probe failed or timed out ($*); see $WORK/logs/probes.log"
  fi
  PROBE_PID=""
  tail -n 1 "$WORK/logs/probes.log" | sed 's/^/         /'
  event "   probe done"
}

# ---------------------------------------------------------------- faults
say "fault 1: sigil keys rotate"
event "fault 1: sigil keys rotate"
probe 60 key-probe --instances "$INSTANCES" --origin "$LB" --sigil "$SIGIL" --mode rotate \
  --out "$WORK/probes/key-rotate.json"
pause "$PAUSE"

say "fault 2: SIGKILL instance 1 (:${PORTS[1]}), down ${DOWN} s, restart"
event "fault 2: SIGKILL instance 1 (:${PORTS[1]}), down ${DOWN} s, restart"
kill -KILL "${PIDS[1]}"
wait "${PIDS[1]}" 2>/dev/null || true
PIDS[1]=""
pause "$DOWN"
event "instance 1 restarting"
start_instance 1
wait_ok "http://127.0.0.1:${PORTS[1]}" 60
event "instance 1 answers again"
pause "$PAUSE"

say "fault 3: PostgreSQL restart (pg_ctl restart -m fast)"
event "fault 3: PostgreSQL restart (pg_ctl restart -m fast)"
timeout 60 "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w restart >/dev/null
event "PostgreSQL restarted (pg_ctl returned)"
pause "$PAUSE"

say "fault 4: PostgreSQL frozen (SIGSTOP of the postmaster and its children) for ${BLOCK} s"
event "fault 4: PostgreSQL frozen (SIGSTOP of the postmaster and its children) for ${BLOCK} s"
PM=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
# The postmaster first (it forks no new backend while stopped), then its children; a backend
# that exits in between is no failure.
FROZEN=$PM
kill -STOP "$PM"
FROZEN="$PM $(pgrep -P "$PM" | tr '\n' ' ')"
kill -STOP $FROZEN 2>/dev/null || true
pause "$BLOCK"
kill -CONT $FROZEN 2>/dev/null || true
FROZEN=""
event "PostgreSQL thawed"
pause "$PAUSE"

say "fault 5: sign-out probe, $SIGNOUT_ROUNDS rounds (directly on the instances)"
event "fault 5: sign-out probe, $SIGNOUT_ROUNDS rounds (directly on the instances)"
probe 180 signout-probe --instances "$INSTANCES" --origin "$LB" --rounds "$SIGNOUT_ROUNDS" \
  --out "$WORK/probes/signout.json"
pause "$PAUSE"

say "fault 6: sigil keys rotate --now"
event "fault 6: sigil keys rotate --now"
probe 60 key-probe --instances "$INSTANCES" --origin "$LB" --sigil "$SIGIL" --mode rotate-now \
  --out "$WORK/probes/key-rotate-now.json"
pause "$PAUSE"

say "fault 7: sigil keys revoke <the signing key> (up to the verifiers' JWKS max-age + 30 s)"
event "fault 7: sigil keys revoke <the signing key> (up to the verifiers' JWKS max-age + 30 s)"
probe 150 key-probe --instances "$INSTANCES" --origin "$LB" --sigil "$SIGIL" --mode revoke \
  --out "$WORK/probes/key-revoke.json" --revoked-file "$WORK/revoked"
pause "$PAUSE"

# ---------------------------------------------------------------- verdict
say "stopping the load"
event "load stop requested"
touch "$WORK/stop"
end=$(($(date +%s) + 30))
while kill -0 "$LOAD_PID" 2>/dev/null && (($(date +%s) < end)); do sleep 0.2; done
LOAD_STATUS=0
wait "$LOAD_PID" || LOAD_STATUS=$?
LOAD_PID=""
tail -n 1 "$WORK/logs/load.log" | sed 's/^/         /'
[[ $LOAD_STATUS == 0 ]] || say "   the load exited with $LOAD_STATUS"
psql "$DB_URL" -qAt -F '|' \
  -c 'select id, "createdAt", "expiresAt", alg from jwks order by "createdAt", id' >"$WORK/jwks.txt"

WALL=$(($(date +%s) - T0))
TITLE="Run $(date -u +%F) — \`$COMMAND\` ($PROFILE build, $(nproc) cores, nginx $("$NGINX" -v 2>&1 | cut -d/ -f2), PostgreSQL $(psql "$DB_URL" -qAtc 'show server_version' | cut -d' ' -f1), sigil $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' modified'), ${WALL} s wall until the verdict; $SESSIONS sessions, $CONCURRENCY workers, instance down ${DOWN} s, database frozen ${BLOCK} s, $SIGNOUT_ROUNDS sign-out rounds, JWKS max-age $JWKS_MAX_AGE)"
say "summary"
VERDICT=0
"$FLEET" summarize --load "$WORK/load.json" --probes "$WORK/probes" --jwks-table "$WORK/jwks.txt" \
  --signout-bound-ms "$SIGNOUT_BOUND_MS" --key-bound-ms "$KEY_BOUND_MS" \
  --events "$WORK/events" --markdown "$WORK/summary.md" --title "$TITLE" || VERDICT=$?
cat "$WORK/dbload.txt"

if [[ $WRITE == 1 && $SMOKE != 1 ]]; then
  {
    echo "<!-- fleet:begin -->"
    echo "## Fleet scenario (issue 12)"
    echo
    echo "Three \`sigil serve\` instances on one PostgreSQL behind nginx (\`deploy/nginx/sigil.conf\`),"
    echo "token load through the balancer with every JWT verified by \`sigil-verify\`, and faults in turn:"
    echo "key rotation, an instance SIGKILLed and restarted, a PostgreSQL restart, PostgreSQL frozen"
    echo "(SIGSTOP), a sign-out probe across instances, \`sigil keys rotate --now\`, and the revocation"
    echo "of the signing key. \`BROKEN\` lines are promises the run saw broken (the script exits 1)."
    echo
    cat "$WORK/summary.md"
    echo
    echo '```'
    cat "$WORK/dbload.txt"
    echo '```'
    echo "<!-- fleet:end -->"
  } >"$WORK/section.md"
  if grep -q '<!-- fleet:begin -->' BENCHMARKS.md; then
    awk -v f="$WORK/section.md" '
      /<!-- fleet:begin -->/ { while ((getline l < f) > 0) print l; skip = 1; next }
      /<!-- fleet:end -->/ { skip = 0; next }
      !skip' BENCHMARKS.md >"$WORK/BENCHMARKS.md"
    cat "$WORK/BENCHMARKS.md" >BENCHMARKS.md
  else
    { echo; cat "$WORK/section.md"; } >>BENCHMARKS.md
  fi
  say "wrote the FLEET section of BENCHMARKS.md"
fi
exit "$VERDICT"
