# Sourced: a private PostgreSQL 15 cluster for tests and the dev stack. Postgres refuses to run as root,
# so the cluster lives in a directory the `postgres` user owns and its commands run as that user.
# pg_start exports DATABASE_URL (trust auth on loopback, superuser `postgres`); pg_stop removes it all.
# shellcheck shell=bash
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/compute-escrow-pg.XXXXXX")
    [[ $(id -u) == 0 ]] && chown postgres: "$PG_DIR"
    PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200 -c fsync=${PG_FSYNC:-on}" start >/dev/null \
        || { cat "$PG_DIR/server.log" >&2; return 1; }
    export PG_DIR PG_PORT
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "[pg] PostgreSQL on 127.0.0.1:$PG_PORT ($PG_DIR)"
}

pg_stop() {
    [[ -n ${PG_DIR:-} && -d $PG_DIR ]] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    unset PG_DIR
}
