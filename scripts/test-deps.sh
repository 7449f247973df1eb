#!/bin/sh
# Installs the npm packages the integration tests use (from the checked-in lock file),
# only when they are missing. Needs the npm registry the first time.
set -eu
dir=$(dirname "$0")/../tests/integration/node
[ -f "$dir/package.json" ] || exit 0
if [ ! -d "$dir/node_modules/@grpc/grpc-js" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "test-deps: npm ci in tests/integration/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
