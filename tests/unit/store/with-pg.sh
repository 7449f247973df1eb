#!/bin/sh
# Runs a store test binary on the throwaway PostgreSQL cluster of the CTest fixture store_pg
# (CMakeLists.txt here): EVB_TEST_PG_URL is read from the URL file scripts/pg-cluster.sh
# wrote, so the binary's tests run on PostgreSQL (store_test_util.c: a schema per test).
#   with-pg.sh URLFILE BINARY [ARGS...]
set -eu
[ $# -ge 2 ] || { echo "usage: $0 URLFILE BINARY [ARGS...]" >&2; exit 64; }
urlfile=$1
shift
if [ ! -s "$urlfile" ]; then
    echo "with-pg: no $urlfile: the PostgreSQL cluster of the fixture store_pg did not start" >&2
    exit 1
fi
EVB_TEST_PG_URL=$(cat "$urlfile")
# The cluster trusts loopback logins: no GSSAPI attempt (libkrb5's exit handlers abort
# when a FATAL assertion left a store's threads running at exit).
PGGSSENCMODE=disable
export EVB_TEST_PG_URL PGGSSENCMODE
exec "$@"
