#!/bin/sh
# Generates the evbridge message classes for Python with the system protoc
# (Debian: protobuf-compiler, libprotobuf-dev for the well-known types).
#
#   ./gen.sh [OUT_DIR]        default: ./gen  (then PYTHONPATH=gen, or let the examples find it)
#
# protoc names the CloudEvents package "io" and the health package "grpc"; both would be
# shadowed by (or shadow) Python's own io module and the grpcio package. So everything is
# generated under a private package, evbpb, and the generated imports are rewritten:
#   from evbridge.v1 import common_pb2   ->   from evbpb.evbridge.v1 import common_pb2
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto=${EVB_PROTO_DIR:-$here/../../../proto}
out=${1:-$here/gen}
wkt=${EVB_WKT_DIR:-/usr/include}

[ -f "$wkt/google/protobuf/timestamp.proto" ] || {
    echo "gen.sh: $wkt/google/protobuf/timestamp.proto not found (install libprotobuf-dev)" >&2
    exit 1
}
files=$(cd "$proto" && find evbridge io grpc -name '*.proto' | sort)

rm -rf "$out/evbpb"
mkdir -p "$out/evbpb"
protoc -I "$proto" -I "$wkt" --python_out="$out/evbpb" $files
find "$out/evbpb" -type d -exec touch {}/__init__.py \;
find "$out/evbpb" -name '*_pb2.py' -exec sed -i -E 's/^from (evbridge|io|grpc)\./from evbpb.\1./' {} +
echo "generated $(find "$out/evbpb" -name '*_pb2.py' | wc -l) modules in $out/evbpb"
