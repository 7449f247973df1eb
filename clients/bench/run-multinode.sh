#!/usr/bin/env bash
# run-multinode.sh — evbridged on PostgreSQL with 1, 2 and 3 nodes on one database, and the
# embedded SQLite store as the reference, in one run on one machine (issue 9).
#
# For each layout: a fresh database on a throwaway PostgreSQL cluster (scripts/pg-cluster.sh,
# PostgreSQL's default durability: fsync on, synchronous_commit on), N evbridged nodes with
# --store postgres://..., and N evb-bench processes started together, one per node, each with
# a connector of its own. Publish only (PutEvents, batch 10 × ~1 KiB, validation on), then
# publish + deliver (each bench's HTTP receiver as an action; any node may deliver). The
# figures are the sums over the bench processes; every process — clients, nodes and
# PostgreSQL — shares this machine's CPUs, so read them as ratios between layouts, not as
# what N machines would do. Writes a section into docs/benchmarks.md between
# <!-- multinode:begin --> and <!-- multinode:end --> unless --no-docs.
#
# usage: clients/bench/run-multinode.sh [--build-dir DIR] [--seconds S] [--nodes "1 2 3"]
#                                       [--no-docs] [--out DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
seconds=10
layouts="1 2 3"
write_docs=1
out=""
docs="$root/docs/benchmarks.md"

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --nodes) layouts="$2"; shift 2 ;;
    --no-docs) write_docs=0; shift ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-multinode.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

bin="$build/bin"
. "$here/bench-lib.sh"
bench_setup
pgdir=$(mktemp -d /tmp/evb-pg-XXXXXX) # beside, not inside $tmp: the postgres user must reach it
bench_cleanup_extra() { "$root/scripts/pg-cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true; }

bench_build RelWithDebInfo -- evbridged evb-bench
res="${out:-$tmp/results}"
mkdir -p "$res"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

base_url=$("$root/scripts/pg-cluster.sh" start "$pgdir")
pg_admin() { psql "$base_url" -qAt -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }

# start_node NAME STORE: a node; sets $addr (and $keyfile for the node that made the key).
start_node() {
    local d="$tmp/$1"
    mkdir -p "$d"
    "$bin/evbridged" --listen 127.0.0.1:0 --data-dir "$d" --store "$2" --port-file "$d/port" \
        --allow-target-cidr 127.0.0.0/8 --admin-listen off --log-level warn >"$d/log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 150); do
        [ -s "$d/port" ] && break
        sleep 0.1
    done
    [ -s "$d/port" ] || { echo "run-multinode.sh: evbridged $1 did not start:" >&2; cat "$d/log" >&2; exit 1; }
    addr="127.0.0.1:$(cat "$d/port")"
}

stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}

# layout NAME STORE N MODE: N nodes (the first makes the admin key), N benches at once.
layout() {
    local name=$1 store=$2 n=$3 mode=$4 addrs=() keyfile
    for i in $(seq 1 "$n"); do
        start_node "$name-n$i" "$store"
        addrs+=("$addr")
        [ "$i" = 1 ] && keyfile="$tmp/$name-n1/admin.key"
    done
    local extra=()
    [ "$mode" = deliver ] && extra=(--deliver --drain 60)
    local bpids=()
    for i in $(seq 1 "$n"); do
        "$bin/evb-bench" --addr "${addrs[$((i - 1))]}" --admin-key-file "$keyfile" \
            --duration "$seconds" --warmup 2 --threads 1 --connections 1 --batch 10 \
            --concurrency 16 --connector "bench-$name-$i" --isv "bench$i" \
            --label "$name-$i" "${extra[@]}" >"$res/$name-$mode-$i.txt" 2>&1 &
        bpids+=("$!")
    done
    for p in "${bpids[@]}"; do wait "$p" || echo "run-multinode.sh: a bench of $name exited $?" >&2; done
    for i in $(seq 1 "$n"); do tail -n 1 "$res/$name-$mode-$i.txt" >"$res/$name-$mode-$i.json"; done
    stop_all
    echo "run-multinode.sh: $name $mode done" >&2
}

for mode in publish deliver; do
    layout "sqlite-$mode" sqlite 1 "$mode"
    for n in $layouts; do
        db="evb_n${n}_$mode"
        pg_admin "CREATE DATABASE $db"
        layout "pg$n-$mode" "${base_url%/*}/$db" "$n" "$mode"
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
pgver=$(psql "$base_url" -qAt -c "SHOW server_version" 2>/dev/null || echo "?")

python3 - "$res" "$started" "$load_before" "$load_after" "$root" "$seconds" "$layouts" "$pgver" \
    >"$tmp/section.md" <<'EOF'
import glob, json, os, subprocess, sys
res, started, lb, la, root, seconds, layouts, pgver = sys.argv[1:]
def runs(name, mode):
    out = []
    for f in sorted(glob.glob(os.path.join(res, f"{name}-{mode}-*.json"))):
        try:
            out.append(json.load(open(f)))
        except Exception:
            pass
    return out
def tot(rs, k):
    return sum(r.get(k, 0) or 0 for r in rs)
def worst(rs, k):
    v = [r.get(k) for r in rs if isinstance(r.get(k), (int, float))]
    return max(v) if v else None
def n(x, d=0):
    return f"{x:,.{d}f}" if isinstance(x, (int, float)) else "–"
try:
    rev = subprocess.check_output(["git", "-C", root, "rev-parse", "--short", "HEAD"], text=True).strip()
except Exception:
    rev = "?"
p = print
p(f"Measured {started} by `clients/bench/run-multinode.sh --seconds {seconds}` (evbridge `{rev}`, "
  f"PostgreSQL {pgver} on a throwaway cluster with its default durability, {os.cpu_count()} CPUs "
  f"shared by every client, node and the database; load average before {lb}, after {la}).")
p()
p("Each node gets its own evb-bench (batch 10 × ~1 KiB, 16 unary calls in flight, its own "
  "connector); figures are sums over the benches, latencies the worst bench's.")
p()
p("| store | nodes | published events/s | p99 ms | delivered events/s (publish + deliver) | e2e p99 ms | all delivered |")
p("|---|---:|---:|---:|---:|---:|---|")
rows = [("SQLite (reference)", "sqlite", "1")] + [("PostgreSQL", f"pg{k}", k) for k in layouts.split()]
base = None
for label, name, k in rows:
    pub, dl = runs(f"{name}-publish", "publish"), runs(f"{name}-deliver", "deliver")
    ev = tot(pub, "events_per_sec")
    if name == "pg1":
        base = ev
    p(f"| {label} | {k} | {n(ev)} | {n(worst(pub, 'p99_ms'), 1)} | {n(tot(dl, 'delivered_per_sec'))} | "
      f"{n(worst(dl, 'e2e_p99_ms'), 1)} | {'yes' if dl and all(r.get('delivered_all') for r in dl) else 'no'} |")
p()
if base:
    rat = []
    for k in layouts.split():
        ev = tot(runs(f"pg{k}-publish", "publish"), "events_per_sec")
        rat.append(f"{k} node{'s' if k != '1' else ''} {ev / base:.2f}×")
    p("Publish throughput relative to one PostgreSQL node: " + ", ".join(rat) + ".")
EOF
cat "$tmp/section.md"

if [ "$write_docs" = 1 ]; then
    "$here/docs-section.sh" "$docs" multinode "Several nodes on PostgreSQL" "$tmp/section.md"
fi
