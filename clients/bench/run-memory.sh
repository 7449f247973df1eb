#!/usr/bin/env bash
# run-memory.sh — evbridged's memory against issue 7's goals ("RSS < 64 MiB idle and
# < 256 MiB with 100,000 deliveries pending; bounded queues with RESOURCE_EXHAUSTED
# back-pressure instead of growth"), read from /proc/PID/status of a fresh evbridged
# (temporary data directory, 127.0.0.1, ephemeral ports):
#   1. idle: right after start (port file and admin key written) and 5 s later;
#   2. backlog (the same server): evb-bench --backlog --hold-file publishes --count events
#      (default 100,000), one HTTP delivery each to its receiver, with the connection
#      paused; with all of them held, the server's own count (evb_deliveries_held +
#      evb_deliveries_pending on /metrics) is checked against --count; then the connection
#      is resumed, memory and the pending count are sampled every 0.25 s while the backlog
#      drains, and read again once it drained and 5 s later;
#   3. overload, a fresh server each, --seconds S (default 15) each: PutEvents with 2,000
#      calls in flight on 2 connections (batch 100, ~120 KB per call), the same on 16
#      connections, PublishStream with 400 streams x 64 requests on 4 connections: peak
#      RSS, and how calls ended (RESOURCE_EXHAUSTED as counted by the server's
#      evb_rpc_handled_total / evb_events_rejected_total, failures seen by evb-bench);
#   4. a Subscribe stream that never reads (stalled_subscriber.py, max_in_flight 1000)
#      while 20,000 events route to its connection: RSS before and after, deliveries in
#      flight to it and pending in the store.
# VmRSS counts file-backed pages too (the binary and shared libraries; SQLite's database
# file only if it were memory-mapped, which evbridged does not do: mmap_size 0), so RssAnon
# (heap, stacks) and RssFile are reported apart; VmHWM is the peak VmRSS so far.
# Prints a table and, as the last line, a JSON summary; writes the figures into
# docs/benchmarks.md between <!-- memory:begin --> and <!-- memory:end --> (section
# "Memory") unless --no-docs. Raw outputs stay in --out DIR when given.
#
# usage: clients/bench/run-memory.sh [--build-dir DIR] [--count N] [--seconds S]
#                                    [--out DIR] [--no-docs]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
count=100000
seconds=15
out=""
write_docs=1
docs="$root/docs/benchmarks.md"

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
    --count) count="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-docs) write_docs=0; shift ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-memory.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

bin="$build/bin"
. "$here/bench-lib.sh"
bench_setup

bench_build RelWithDebInfo -- evbridged evb-bench
res="${out:-$tmp/results}"
mkdir -p "$res"
: >"$res/snaps.jsonl"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# start_server NAME: a fresh evbridged; sets $server_pid, $addr, $keyfile, $admin, $data.
start_server() {
    data="$tmp/$1"
    mkdir -p "$data"
    "$bin/evbridged" --listen 127.0.0.1:0 --data-dir "$data" --port-file "$data/port" \
        --allow-target-cidr 127.0.0.0/8 --admin-listen 127.0.0.1:0 \
        --admin-port-file "$data/admin.port" --log-level warn >"$data/log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 1 200); do
        [ -s "$data/port" ] && [ -s "$data/admin.key" ] && [ -s "$data/admin.port" ] && break
        sleep 0.05
    done
    [ -s "$data/admin.port" ] ||
        { echo "run-memory.sh: evbridged did not start:" >&2; cat "$data/log" >&2; exit 1; }
    addr="127.0.0.1:$(cat "$data/port")"
    admin="127.0.0.1:$(cat "$data/admin.port")"
    keyfile="$data/admin.key"
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# kB of one /proc/PID/status field.
field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# metric PREFIX [CONTAINS]: the sum of the server's /metrics samples whose line starts with
# PREFIX (and contains CONTAINS).
metric() {
    python3 - "http://$admin/metrics" "$1" "${2:-}" <<'EOF'
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
print(int(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
              if l.startswith(sys.argv[2]) and sys.argv[3] in l)))
EOF
}

# snap LABEL [KEY=VALUE...]: the server's memory now, one JSON line in snaps.jsonl.
snap() {
    local label=$1
    shift
    local extra=""
    for kv in "$@"; do extra="$extra,\"${kv%%=*}\":${kv#*=}"; done
    printf '{"label":"%s","rss_kb":%s,"hwm_kb":%s,"anon_kb":%s,"file_kb":%s,"threads":%s%s}\n' \
        "$label" "$(field "$server_pid" VmRSS)" "$(field "$server_pid" VmHWM)" \
        "$(field "$server_pid" RssAnon)" "$(field "$server_pid" RssFile)" \
        "$(field "$server_pid" Threads)" "$extra" >>"$res/snaps.jsonl"
}

# sampler FILE [pending]: VmRSS and RssAnon (and the pending count) every 0.25 s until killed.
sampler() {
    local f=$1 with_pending=${2:-}
    while kill -0 "$server_pid" 2>/dev/null; do
        local p=-1
        [ -n "$with_pending" ] && p=$(metric evb_deliveries_pending 2>/dev/null || echo -1)
        echo "$(field "$server_pid" VmRSS) $(field "$server_pid" RssAnon) $p" >>"$f"
        sleep 0.25
    done
}

# wait_line FILE REGEX PID SECONDS: until a line of FILE matches (0) or PID ends / time out (1).
wait_line() {
    local t=0
    while ! grep -qE "$2" "$1" 2>/dev/null; do
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.2
        t=$((t + 1))
        [ "$t" -lt "$(($4 * 5))" ] || return 1
    done
}

# 1. idle
echo "run-memory.sh: 1. idle" >&2
start_server main
snap idle-start
sleep 5
snap idle-5s

# 2. backlog
echo "run-memory.sh: 2. $count deliveries held, then draining" >&2
hold="$tmp/resume"
"$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" --count "$count" --warmup 0 \
    --batch 10 --concurrency 32 --hold-file "$hold" --drain 600 --deadline-ms 60000 \
    --label backlog >"$res/backlog.txt" 2>&1 &
bench_pid=$!
pids+=("$bench_pid")
if ! wait_line "$res/backlog.txt" '^holding:' "$bench_pid" "$((count / 500 + 300))"; then
    echo "run-memory.sh: evb-bench --backlog did not reach the hold:" >&2
    tail -5 "$res/backlog.txt" >&2
    exit 1
fi
sleep 1
held=$(metric evb_deliveries_held)
pending=$(metric evb_deliveries_pending)
db_kb=$(du -sk "$data" | cut -f1)
snap backlog-held held="$held" pending="$pending" db_kb="$db_kb"
sampler "$res/drain.samples" pending &
sampler_pid=$!
pids+=("$sampler_pid")
touch "$hold"
wait "$bench_pid" || echo "run-memory.sh: evb-bench --backlog exited $?" >&2
stop_pid "$sampler_pid"
tail -n 1 "$res/backlog.txt" >"$res/backlog.json"
snap drained pending="$(metric evb_deliveries_pending)" held="$(metric evb_deliveries_held)" \
    delivered="$(metric 'evb_deliveries_total{kind="http",outcome="delivered"}')"
sleep 5
snap drained-5s
stop_pid "$server_pid"

# 3. overload
overload() {
    local name=$1
    shift
    echo "run-memory.sh: 3. overload: $name: $*" >&2
    start_server "$name"
    snap "$name-before"
    sampler "$res/$name.samples" &
    sampler_pid=$!
    pids+=("$sampler_pid")
    "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" --duration "$seconds" \
        --warmup 0 --label "$name" "$@" >"$res/$name.txt" 2>&1 ||
        echo "run-memory.sh: $name: evb-bench exited $?" >&2
    tail -n 1 "$res/$name.txt" >"$res/$name.json"
    local calls='evb_rpc_handled_total{method="/evbridge.v1.EventService/'
    snap "$name-end" re_calls="$(metric "$calls" 'code="RESOURCE_EXHAUSTED"')" \
        re_entries="$(metric evb_events_rejected_total RESOURCE_EXHAUSTED)" \
        ok_calls="$(metric "${calls}P" 'code="OK"')" \
        published="$(metric evb_events_published_total)"
    stop_pid "$sampler_pid"
    stop_pid "$server_pid"
}
overload put-2conn --batch 100 --concurrency 2000 --connections 2
overload put-16conn --batch 100 --concurrency 3200 --connections 16
overload stream-4conn --batch 100 --stream --concurrency 400 --window 64 --connections 4

# 4. a subscriber that does not read
echo "run-memory.sh: 4. a Subscribe stream that never reads" >&2
start_server stalled
snap stalled-before
shold="$tmp/stalled.done"
/usr/bin/python3 "$here/stalled_subscriber.py" --addr "$addr" --admin-key-file "$keyfile" \
    --hold-file "$shold" --events 20000 --max-in-flight 1000 >"$res/stalled.txt" 2>&1 &
sub_pid=$!
pids+=("$sub_pid")
if wait_line "$res/stalled.txt" '^subscribed' "$sub_pid" 120; then
    snap stalled-subscribed
    if wait_line "$res/stalled.txt" '^published' "$sub_pid" 300; then
        sleep 2
        snap stalled-published in_flight="$(metric evb_stream_in_flight)" \
            pending="$(metric evb_deliveries_pending)"
    fi
fi
touch "$shold"
wait "$sub_pid" || echo "run-memory.sh: stalled_subscriber.py exited $? (see $res/stalled.txt)" >&2
stop_pid "$server_pid"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# summary
python3 - "$res" "$started" "$load_before" "$load_after" "$root" "$build" "$count" "$seconds" \
    "$tmp/summary.json" >"$tmp/section.md" <<'EOF'
import json, os, platform, subprocess, sys
res, started, lb, la, root, build, count, seconds, summary_path = sys.argv[1:]
count = int(count)
snaps = {}
with open(os.path.join(res, "snaps.jsonl")) as f:
    for line in f:
        s = json.loads(line)
        snaps[s["label"]] = s
def j(name):
    try:
        with open(os.path.join(res, name + ".json")) as f:
            return json.loads(f.read())
    except Exception:
        return {}
def samples(name):
    rows = []
    try:
        with open(os.path.join(res, name + ".samples")) as f:
            for line in f:
                p = line.split()
                if len(p) == 3:
                    rows.append([int(p[0]), int(p[1]), int(p[2])])
    except FileNotFoundError:
        pass
    return rows
def sh(cmd):
    try:
        return subprocess.check_output(cmd, shell=True, text=True, stderr=subprocess.DEVNULL).strip()
    except Exception:
        return "?"
def mib(kb):
    return f"{kb / 1024:.1f}" if isinstance(kb, (int, float)) else "–"
def g(label, key="rss_kb"):
    return snaps.get(label, {}).get(key)
MiB = 1024
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
rev = os.environ.get("BENCH_REV") or sh(f"git -C {root} rev-parse --short HEAD")
bt = sh(f"grep -m1 CMAKE_BUILD_TYPE: {build}/CMakeCache.txt | cut -d= -f2")
glibc = sh("ldd --version | head -1 | awk '{print $NF}'")
mem_total = sh("awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo")

drain = samples("drain")
drain_pending = [r for r in drain if r[2] > 0]
drain_max = max((r[0] for r in drain_pending), default=None)
drain_max_anon = max((r[1] for r in drain_pending), default=None)
max_pending = max((r[2] for r in drain), default=None)
held = (g("backlog-held", "held") or 0) + (g("backlog-held", "pending") or 0)
bl = j("backlog")

p = print
p(f"Measured {started} by `clients/bench/run-memory.sh` (--count {count:,}, --seconds {seconds}).")
p()
p(f"- Machine: {cpu}, {os.cpu_count()} CPUs, {mem_total} MiB RAM, Linux {platform.release()}, "
  f"glibc {glibc}; load average before {lb}, after {la} (shared machine: memory figures do not "
  f"depend on it, throughput and hence the overload dynamics do).")
p(f"- evbridge `{rev}`, build type {bt}; server defaults (worker threads = cores, "
  f"--max-deliveries 256, write queue 4,096 jobs / 32 MiB of events, 100 calls per connection).")
p("- From `/proc/PID/status`: VmRSS (resident), RssAnon (heap, stacks: what the server "
  "allocated), RssFile (mapped files: the binary and shared libraries; the database is not "
  "memory-mapped), VmHWM (peak VmRSS since start). MiB = 1,048,576 bytes.")
p()
p("| # | state | VmRSS MiB | RssAnon MiB | RssFile MiB | VmHWM MiB | notes |")
p("|---|---|---:|---:|---:|---:|---|")
def row(i, what, label, notes=""):
    s = snaps.get(label, {})
    p(f"| {i} | {what} | {mib(s.get('rss_kb'))} | {mib(s.get('anon_kb'))} | {mib(s.get('file_kb'))} | "
      f"{mib(s.get('hwm_kb'))} | {notes} |")
row(1, "idle, right after start", "idle-start", f"{g('idle-start', 'threads')} threads")
row(1, "idle, 5 s later", "idle-5s")
db = g("backlog-held", "db_kb")
row(2, f"{held:,} deliveries held (connection paused)", "backlog-held",
    f"server's count: {g('backlog-held', 'held') or 0:,} held + {g('backlog-held', 'pending') or 0:,} "
    f"pending; data directory {mib(db)} MiB; VmHWM includes publishing them "
    f"({bl.get('events_per_sec', 0):,.0f} events/s)")
p(f"| 2 | draining (resumed; sampled every 0.25 s while deliveries were pending) | "
  f"max {mib(drain_max)} | max {mib(drain_max_anon)} | – | – | {len(drain_pending)} samples, "
  f"at most {max_pending if max_pending is not None else '–':,} pending; drained at "
  f"{bl.get('delivered_per_sec', 0):,.0f} deliveries/s |")
row(2, "drained", "drained", f"{g('drained', 'delivered') or 0:,} delivered, "
    f"{g('drained', 'pending') or 0} pending")
row(2, "drained, 5 s later", "drained-5s")
over = []
for name, what in (("put-2conn", "PutEvents, 2,000 calls in flight on 2 connections, batch 100"),
                   ("put-16conn", "PutEvents, 3,200 calls in flight on 16 connections, batch 100"),
                   ("stream-4conn", "PublishStream, 400 streams × 64 requests on 4 connections, batch 100")):
    b, e = snaps.get(f"{name}-before", {}), snaps.get(f"{name}-end", {})
    r = j(name)
    smp = samples(name)
    peak = max((x[0] for x in smp), default=None)
    notes = (f"{r.get('events_per_sec', 0):,.0f} events/s published; server: "
             f"{e.get('re_calls', 0):,} calls and {e.get('re_entries', 0):,} entries answered "
             f"RESOURCE_EXHAUSTED, {e.get('ok_calls', 0):,} calls OK; client: "
             f"{r.get('failed_calls', 0):,} failed calls")
    row(3, f"{what}, {seconds} s: end", f"{name}-end", notes)
    over.append({"name": name, "peak_rss_kb": e.get("hwm_kb"), "end_rss_kb": e.get("rss_kb"),
                 "end_anon_kb": e.get("anon_kb"), "resource_exhausted_calls": e.get("re_calls"),
                 "resource_exhausted_entries": e.get("re_entries"), "ok_calls": e.get("ok_calls"),
                 "events_per_sec": r.get("events_per_sec"), "client_failed_calls": r.get("failed_calls")})
sp = snaps.get("stalled-published", {})
row(4, "Subscribe stream, before it opens", "stalled-before")
row(4, "Subscribe stream open, not reading", "stalled-subscribed")
row(4, "… after 20,000 events routed to it", "stalled-published",
    f"{sp.get('in_flight', '–')} in flight to the subscriber (its max_in_flight: 1,000), "
    f"{sp.get('pending', '–'):,} pending in the store" if sp else "did not complete")
p()
idle_max = max(g("idle-start") or 1e12, g("idle-5s") or 1e12)
# VmHWM once drained: the peak over publishing, holding and draining them (the 0.25 s
# samples can miss a short peak)
pend_max = max(g("backlog-held") or 1e12, drain_max or 0, g("drained", "hwm_kb") or 1e12)
goals = [
    ("RSS < 64 MiB idle", f"{mib(idle_max)} MiB", idle_max < 64 * MiB),
    (f"RSS < 256 MiB with {count:,} deliveries pending (peak from publishing them to drained: "
     f"VmHWM)", f"{mib(pend_max)} MiB (held: {mib(g('backlog-held'))} MiB, sampled while "
     f"draining: at most {mib(drain_max)} MiB)", pend_max < 256 * MiB and held >= count),
]
p("| goal | measured | met |")
p("|---|---|---|")
for text, val, ok in goals:
    p(f"| {text} | {val} | {'yes' if ok else '**no**'} |")
p()
p("Overload peaks (VmHWM at the end of each run): " + "; ".join(
    f"{o['name']} {mib(o['peak_rss_kb'])} MiB" for o in over) + ".")
summary = {
    "count": count, "seconds": int(seconds), "rev": rev,
    "idle_rss_kb": g("idle-start"), "idle_5s_rss_kb": g("idle-5s"),
    "idle_anon_kb": g("idle-5s", "anon_kb"), "idle_file_kb": g("idle-5s", "file_kb"),
    "held_deliveries": held, "held_rss_kb": g("backlog-held"),
    "held_anon_kb": g("backlog-held", "anon_kb"), "publish_hwm_kb": g("backlog-held", "hwm_kb"),
    "drain_max_rss_kb": drain_max, "drain_max_pending": max_pending,
    "drained_rss_kb": g("drained"), "drained_5s_rss_kb": g("drained-5s"),
    "pending_peak_kb": pend_max,
    "overload": over,
    "stalled_subscriber": {"before_rss_kb": g("stalled-before"), "rss_kb": sp.get("rss_kb"),
                           "in_flight": sp.get("in_flight"), "pending": sp.get("pending")},
    "goal_idle_met": goals[0][2], "goal_pending_met": goals[1][2],
}
with open(summary_path, "w") as f:
    f.write(json.dumps(summary) + "\n")
EOF
cat "$tmp/section.md"
if [ "$write_docs" = 1 ]; then
    "$here/docs-section.sh" "$docs" memory "Memory" "$tmp/section.md"
    echo "run-memory.sh: wrote $docs" >&2
fi
cat "$tmp/summary.json"
