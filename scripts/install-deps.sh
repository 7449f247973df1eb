#!/bin/sh
# Installs the Debian packages evbridge needs to build and test, only those missing.
# Safe to run repeatedly; does nothing (and needs no network) when all are present.
set -eu
# prometheus: only for its promtool, which checks the /metrics exposition in tests
PKGS="build-essential cmake pkg-config clang libclang-rt-dev \
libgrpc-dev protobuf-compiler libprotobuf-dev protobuf-c-compiler libprotobuf-c-dev nanopb libnanopb-dev \
libsqlite3-dev libjansson-dev libpcre2-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev \
libcunit1-dev python3-grpcio python3-protobuf openssl \
prometheus"
PKGS="$PKGS libyaml-dev" # evbctl: YAML input files and apply
PKGS="$PKGS libpq-dev postgresql" # the PostgreSQL store backend; tests run a throwaway cluster
# Node.js with npm may come from another source (e.g. NodeSource, which conflicts with
# Debian's npm package): only ask Debian for them when the commands are absent.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
