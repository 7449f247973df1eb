#!/bin/sh
# A throwaway PostgreSQL cluster for tests and benchmarks, from the Debian packages.
#   scripts/pg-cluster.sh start DIR   initdb into DIR (a new or empty directory), start the
#                                     server on 127.0.0.1 at a free port with its socket in
#                                     DIR, create database "evb", write the connection URI to
#                                     DIR/url and print it.
#   scripts/pg-cluster.sh stop DIR    stop it (fast shutdown) and remove DIR.
# As root the cluster runs as the "postgres" user (initdb refuses root). Durability settings
# are PostgreSQL's defaults (fsync on, synchronous_commit on): benchmarks measure the real
# thing. Exit status 2 when PostgreSQL is not installed.
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 64; }

bindir=""
for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && bindir=$d
done
if [ -z "$bindir" ]; then
    echo "pg-cluster: PostgreSQL server binaries not found (Debian package postgresql)" >&2
    exit 2
fi

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "$cmd" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    chmod 0700 "$dir"
    if ! as_pg test -w "$dir"; then
        echo "pg-cluster: the postgres user cannot write $dir (is a parent directory private?)" >&2
        exit 1
    fi
    as_pg "$bindir/initdb" -D "$dir/data" -U evb -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # A free port: ask the kernel for one (a tiny race with other starters; retried below).
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" \
            start >/dev/null 2>&1; then
            break
        fi
        port=""
    done
    [ -n "$port" ] || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U evb evb
    url="postgres://evb@127.0.0.1:$port/evb"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 64
    ;;
esac
