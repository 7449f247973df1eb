#!/bin/sh
# The CTest fixture store_pg (CMakeLists.txt here): one throwaway PostgreSQL cluster for the
# PostgreSQL runs of the store tests (the *_pg tests), from scripts/pg-cluster.sh.
#   pg-fixture.sh start DIR   stops a cluster a killed run left in DIR, then initdb into DIR,
#                             start on a free loopback port, DIR/url = the connection URI
#   pg-fixture.sh stop DIR    stop it and remove DIR (runs even when tests failed)
# Without the PostgreSQL server binaries start fails (make test installs them).
set -eu
[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 64; }
cluster="$(dirname "$0")/../../../scripts/pg-cluster.sh"
case "$1" in
start)
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        echo "pg-fixture: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin):" \
            "install the Debian package postgresql (scripts/install-deps.sh, which make test" \
            "runs); the *_pg store tests need them" >&2
        exit 1
    fi
    sh "$cluster" stop "$2"
    sh "$cluster" start "$2"
    ;;
stop)
    sh "$cluster" stop "$2"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 64
    ;;
esac
