#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests and prints the URL to export as
# SIGIL_TEST_POSTGRES_URL. Installs Debian's postgresql package when it is missing (root only).
#   eval "$(bash scripts/test-postgres.sh start)"   # sets SIGIL_TEST_POSTGRES_URL and SIGIL_TEST_PGDATA
#   bash scripts/test-postgres.sh stop "$SIGIL_TEST_PGDATA"
set -euo pipefail
# Below Linux's ephemeral range, so that a restart (bench/fleet.sh) can bind it again.
PORT=${SIGIL_TEST_PGPORT:-$((20000 + RANDOM % 12000))}

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    if [ -z "$(pg_bin)" ]; then
      echo "installing postgresql (Debian package)" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    BIN=$(pg_bin)
    DATA=$(mktemp -d /tmp/sigil-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$DATA"
    as_postgres "$BIN/initdb" -D "$DATA" -A trust -U sigil >/dev/null
    as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$DATA/log" -w \
      -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    echo "export SIGIL_TEST_POSTGRES_URL=postgres://sigil@127.0.0.1:$PORT/postgres"
    echo "export SIGIL_TEST_PGDATA=$DATA"
    ;;
  stop)
    DATA=${2:?usage: stop PGDATA}
    as_postgres "$(pg_bin)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
    rm -rf "$DATA"
    ;;
  *)
    echo "usage: $0 start|stop PGDATA" >&2
    exit 2
    ;;
esac
