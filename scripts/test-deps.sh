#!/bin/sh
# Installs the npm packages the integration tests use (from the checked-in lock files),
# only when they are missing or older than the lock file: tests/integration/node (the Node
# test clients and receivers) and clients/examples/node (the Node client examples that
# tests/integration/python/test_examples.py runs). Needs the npm registry the first time.
set -eu
root=$(dirname "$0")/..
for rel in tests/integration/node clients/examples/node; do
    dir=$root/$rel
    [ -f "$dir/package.json" ] || continue
    if [ ! -d "$dir/node_modules/@grpc/grpc-js" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        echo "test-deps: npm ci in $rel"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
done
