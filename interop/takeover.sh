#!/usr/bin/env bash
# A team on Better Auth puts Sigil on the same database and loses nothing, then runs both at once:
# Better Auth 1.7.25 (Node) and `sigil serve` on one SQLite file or one PostgreSQL database, for
# each engine and alg (takeover/scenario.mjs says what is checked). Prints `ok …` / `FAIL …` lines
# and a count; exits non-zero on any failure.
#
#   bash interop/takeover.sh
#   ENGINES=sqlite ALGS=EdDSA bash interop/takeover.sh     # a subset
# PostgreSQL: SIGIL_TEST_POSTGRES_URL (a superuser URL; a fresh database per scenario), or a
# throwaway cluster started here (scripts/test-postgres.sh) and stopped on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
ENGINES=${ENGINES:-sqlite postgres}
ALGS=${ALGS:-EdDSA RS256}
HARD_ALGS=${HARD_ALGS:-EdDSA}

cd "$HERE"
[ -d node_modules/better-sqlite3 ] && [ -d node_modules/pg ] && [ -d node_modules/better-auth ] \
  || npm ci --no-audit --no-fund
cargo build --quiet --bin sigil --manifest-path "$ROOT/Cargo.toml"
export SIGIL="$TARGET/debug/sigil"

umask 077 # the databases hold password hashes, sessions and keys
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sigil-takeover.XXXXXX")
STARTED_PG=
SCENARIO=
cleanup() {
  local rc=$?
  # The scenario stops its own servers when it ends or is stopped.
  if [ -n "$SCENARIO" ]; then kill "$SCENARIO" 2>/dev/null || true; wait "$SCENARIO" 2>/dev/null || true; fi
  if [ -n "$STARTED_PG" ]; then bash "$ROOT/scripts/test-postgres.sh" stop "$SIGIL_TEST_PGDATA" || true; fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case " $ENGINES " in
  *" postgres "*)
    if [ -z "${SIGIL_TEST_POSTGRES_URL:-}" ]; then
      eval "$(bash "$ROOT/scripts/test-postgres.sh" start)"
      STARTED_PG=1
    fi
    ;;
esac

PASSED=0
FAILED=0
run() { # engine alg mode
  local work="$TMP/$1-$2-$3" counts
  mkdir -p "$work"
  echo "== $1 $2 $3"
  # In the background, so that a signal to this script stops it at once (through cleanup).
  ENGINE=$1 ALG=$2 WORK=$work COUNTS="$work/counts" node "$HERE/takeover/scenario.mjs" "$3" &
  SCENARIO=$!
  wait "$SCENARIO" || true
  SCENARIO=
  counts=$(cat "$work/counts" 2>/dev/null || true)
  if [ -z "$counts" ]; then
    echo "FAIL $1 $2 $3: the scenario ended without a count"
    FAILED=$((FAILED + 1))
  else
    PASSED=$((PASSED + ${counts% *}))
    FAILED=$((FAILED + ${counts#* }))
  fi
}
START=$SECONDS
for ENGINE in $ENGINES; do
  for ALG in $ALGS; do
    run "$ENGINE" "$ALG" fleet
    case " $HARD_ALGS " in *" $ALG "*) run "$ENGINE" "$ALG" hard ;; esac
  done
done
echo "== takeover: $PASSED passed, $FAILED failed ($((SECONDS - START)) s)"
[ "$FAILED" -eq 0 ]
