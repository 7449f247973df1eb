#!/usr/bin/env bash
# profile-put.sh — instructions per published event on evbridged's PutEvents path, by stage
# (docs/benchmarks.md, "PutEvents path profile"). evbridged runs under valgrind's callgrind
# with a fresh data directory; evb-bench publishes a warm-up of --warmup-count events, the
# counters are zeroed, evb-bench publishes --count events, the counters are dumped and
# divided by --count. Instruction counts are repeatable on a busy shared machine where
# wall-clock figures are not (two runs of one build differ by < 0.1 % with --concurrency 1,
# where every group commit holds one request: the store's work per event then does not
# depend on how valgrind schedules the threads).
#
# usage: clients/bench/profile-put.sh [--build-dir DIR] [--count N] [--warmup-count N]
#            [--concurrency N] [--deliver] [--pattern JSON] [--out PREFIX]
#   --concurrency 1 (default): one request in flight, comparable across builds;
#   --concurrency 32: the load of run-all.sh (commit batches then vary from run to run).
#   --pattern JSON (implies --deliver): the connection's event pattern, e.g.
#     '{"data":{"id":[{"exists":true}]}}' (matches every bench event: routing parses data).
#   --out PREFIX keeps PREFIX.cg (callgrind_annotate it for more).
# Prints the total and a table of stages (inclusive instructions per event).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
count=20000
warm=2000
conc=1
deliver=()
pattern=()
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    --warmup-count) warm="$2"; shift 2 ;;
    --concurrency) conc="$2"; shift 2 ;;
    --deliver) deliver=(--deliver --drain 120); shift ;;
    --pattern) deliver=(--deliver --drain 120); pattern=(--pattern "$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile-put.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
    { echo "profile-put.sh: needs valgrind (callgrind_control, callgrind_annotate)" >&2; exit 2; }
bin="$build/bin"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cg="${out:-$tmp/put}.cg"
threads=1
[ "$conc" -gt 1 ] && threads=2

valgrind --tool=callgrind --callgrind-out-file="$cg" "$bin/evbridged" --listen 127.0.0.1:0 \
    --data-dir "$tmp/data" --port-file "$tmp/port" --admin-listen 127.0.0.1:0 \
    --allow-target-cidr 127.0.0.0/8 --log-level warn >"$tmp/log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
    [ -s "$tmp/port" ] && [ -s "$tmp/data/admin.key" ] && break
    sleep 0.1
done
[ -s "$tmp/port" ] || { echo "profile-put.sh: evbridged did not start:" >&2; cat "$tmp/log" >&2; exit 1; }
bench=("$bin/evb-bench" --addr "127.0.0.1:$(cat "$tmp/port")" --admin-key-file "$tmp/data/admin.key"
       --warmup 0 --threads "$threads" --connections "$threads" --batch 10
       --concurrency "$conc" --deadline-ms 120000 "${deliver[@]}" "${pattern[@]}")
"${bench[@]}" --count "$warm" --label warm >"$tmp/warm.txt" 2>&1 ||
    { echo "profile-put.sh: warm-up failed:" >&2; tail -5 "$tmp/warm.txt" >&2; exit 1; }
callgrind_control -z "$server_pid" >/dev/null 2>&1
"${bench[@]}" --count "$count" --label profile >"$tmp/run.txt" 2>&1 ||
    { echo "profile-put.sh: run failed:" >&2; tail -5 "$tmp/run.txt" >&2; exit 1; }
callgrind_control -d "$server_pid" >/dev/null 2>&1
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
dump="$cg.1"
[ -f "$dump" ] || { echo "profile-put.sh: no callgrind dump" >&2; exit 1; }
[ -n "$out" ] && mv "$dump" "$out.cg" && dump="$out.cg"

# --auto=no: with the sources at hand, the annotated source's call-site lines ("=> file:fn")
# would match the pattern below too and be added to the functions' totals.
callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$dump" 2>/dev/null | python3 -c '
import re, sys
n = int(sys.argv[1])
tot, d = 0, {}
for line in sys.stdin:
    if "PROGRAM TOTALS" in line:
        tot = int(line.split()[0].replace(",", ""))
        continue
    # "N (p%)  file:function [object]"; with the sources at hand callgrind_annotate also
    # lists "N (p%)  /abs/file:function" (no object) for the same cost: skip those
    m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+.*?:(\S+) \[", line)
    if m:
        d[m.group(2)] = d.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
def g(*fs):
    return sum(-d.get(f[1:], 0) if f[0] == "-" else d.get(f, 0) for f in fs)
rows = [
    ("JSON Schema validation (evb_model_validate[_keep])", g("evb_model_validate", "evb_model_validate_keep"), 1),
    ("  of which JSON parse (evb_json_parse)", g("evb_json_parse"), 0),
    ("store writer thread except the PutEvents completion", g("writer_main", "-put_complete"), 1),
    ("PutEvents completion on the writer (reply, free)", g("put_complete"), 1),
    ("entry -> CloudEvent (evb_ingest_build_event)", g("evb_ingest_build_event"), 1),
    ("connector lookup (check_request)", g("check_request.constprop.0", "check_request"), 1),
    ("request decode (protobuf-c unpack)", g("evbridge__v1__put_events_request__unpack"), 1),
    ("store submission on the worker (evb_store_put_events)", g("evb_store_put_events"), 1),
    ("routing at ingest (evb_router_route)", g("evb_router_route"), 1),
    ("NUL scan (evb_pb_nul_path)", g("evb_pb_nul_path"), 1),
    ("authentication (evb_svc_auth)", g("evb_svc_auth"), 1),
    ("gRPC completion queue + request copy", g("grpc_completion_queue_next", "rpc_bb_read"), 1),
    ("delivery threads: dispatcher, claimer, stream hub", g("run", "claimer_main"), 1),
]
print("instructions per event: %.1fk (%d events)" % (tot / n / 1000, n))
rest = tot
for name, v, top in rows:
    rest -= v if top else 0
    print("  %-58s %8.1fk %5.1f%%" % (name, v / n / 1000, 100.0 * v / tot if tot else 0))
print("  %-58s %8.1fk %5.1f%%" % ("everything else", rest / n / 1000, 100.0 * rest / tot if tot else 0))
' "$count"
tail -n 1 "$tmp/run.txt" | python3 -c 'import json, sys; s = json.loads(sys.stdin.read()); print("evb-bench under valgrind: %d events, %d rejected (rates meaningless under valgrind)" % (s["events"], s.get("rejected", 0)))'
