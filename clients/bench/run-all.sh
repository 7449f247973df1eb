#!/usr/bin/env bash
# run-all.sh — evbridged's publish and delivery figures next to their baselines, in one run:
#   1. transport: echo_server (the same gRPC runtime, a unary and a bidi echo) driven by
#      evb-bench --echo with the same pre-encoded requests, batch, concurrency and sizes;
#   2. storage: store_bench (evb_store_put_events, the group-commit path, same events, same
#      batches, synchronous=FULL like the server's default), without and with a delivery row;
#   3. validation vs ajv (run-validate.sh; it rewrites its own section of docs/benchmarks.md);
#   4. pattern matching (pattern_bench);
#   5. evbridged end to end: PutEvents and PublishStream as fast as they go, the same at half
#      that rate (latency under a fixed offered load), 16 KiB events, and publish + deliver to
#      evb-bench's own HTTP receiver (as fast as it goes, at half the delivered rate, at the
#      goal's 5,000/s), and the delivery path alone (a paused connection's backlog drained);
#   6. memory (run-memory.sh: idle, 100,000 deliveries held and draining, overload, a stalled
#      subscriber; it rewrites its own section of docs/benchmarks.md).
# Every server is fresh (temporary data directory, loopback). Prints a summary and writes it
# into docs/benchmarks.md between <!-- e2e:begin --> and <!-- e2e:end --> (the rest of the file
# is left alone). Raw outputs stay in --out DIR when given.
#
# usage: clients/bench/run-all.sh [--build-dir DIR] [--seconds S] [--out DIR] [--no-docs]
#                                 [--skip-validate] [--skip-pattern] [--skip-memory] [--perf]
#        clients/bench/run-all.sh --smoke [--build-dir DIR]   (ctest bench-smoke: ~2 s of
#            evb-bench --deliver against a fresh evbridged; passes when events flowed)
# env: BENCH_REV — the revision the figures name (default: git rev-parse of this tree; set it
#      when running from an exported copy); run-validate.sh and run-memory.sh honour it too.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
seconds=10
out=""
write_docs=1
do_validate=1
do_pattern=1
do_memory=1
do_perf=0
smoke=0
docs="$root/docs/benchmarks.md"

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-docs) write_docs=0; shift ;;
    --skip-validate) do_validate=0; shift ;;
    --skip-pattern) do_pattern=0; shift ;;
    --skip-memory) do_memory=0; shift ;;
    --perf) do_perf=1; shift ;;
    --smoke) smoke=1; shift ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-all.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

bin="$build/bin"
. "$here/bench-lib.sh"
bench_setup

# start_server NAME: a fresh evbridged; sets $addr and $keyfile.
start_server() {
    local d="$tmp/$1"
    mkdir -p "$d"
    "$bin/evbridged" --listen 127.0.0.1:0 --data-dir "$d" --port-file "$d/port" \
        --allow-target-cidr 127.0.0.0/8 --admin-listen 127.0.0.1:0 --log-level warn \
        >"$d/log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 1 100); do
        [ -s "$d/port" ] && [ -s "$d/admin.key" ] && break
        sleep 0.1
    done
    [ -s "$d/port" ] || { echo "run-all.sh: evbridged did not start:" >&2; cat "$d/log" >&2; exit 1; }
    addr="127.0.0.1:$(cat "$d/port")"
    keyfile="$d/admin.key"
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

if [ "$smoke" = 1 ]; then
    start_server smoke
    "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" --duration 2 --warmup 0.2 \
        --concurrency 4 --rate 1000 --deliver --drain 10 --label smoke | tee "$tmp/smoke.txt"
    tail -n 1 "$tmp/smoke.txt" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
ok = s["events"] > 0 and s.get("delivered", 0) > 0
print("bench smoke:", "events flowed" if ok else "NO EVENTS", file=sys.stderr)
sys.exit(0 if ok else 1)'
    exit $?
fi

bench_build RelWithDebInfo -- evbridged evb-bench echo_server store_bench pattern_bench
res="${out:-$tmp/results}"
mkdir -p "$res"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

# run NAME PROGRAM ARGS...: keeps the output and the JSON summary (last line).
run() {
    local name=$1
    shift
    echo "run-all.sh: $name: $*" >&2
    "$@" >"$res/$name.txt" 2>&1 || echo "run-all.sh: $name exited $?" >&2
    tail -n 1 "$res/$name.txt" >"$res/$name.json"
    echo "  $(grep -E '^(published|committed|delivered):' "$res/$name.txt" | tr '\n' ' ')" >&2
}
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$@"; }

common=(--duration "$seconds" --warmup 2 --threads 2 --connections 2)

# 1. transport
echo "run-all.sh: 1. transport baseline (echo_server)" >&2
"$bin/echo_server" --port-file "$tmp/echo.port" >"$tmp/echo.log" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")
for _ in $(seq 1 50); do [ -s "$tmp/echo.port" ] && break; sleep 0.1; done
eaddr="127.0.0.1:$(cat "$tmp/echo.port")"
run echo-unary "$bin/evb-bench" --echo --addr "$eaddr" "${common[@]}" --batch 10 --concurrency 32
run echo-stream "$bin/evb-bench" --echo --addr "$eaddr" "${common[@]}" --batch 10 --stream \
    --concurrency 4 --window 16
run echo-unary-16k "$bin/evb-bench" --echo --addr "$eaddr" "${common[@]}" --batch 1 \
    --concurrency 32 --size 16k
stop_pid "$echo_pid"

# 2. storage
echo "run-all.sh: 2. storage baseline (store_bench)" >&2
run store-b10 "$bin/store_bench" --duration "$seconds" --batch 10 --threads 4 --inflight 8
run store-b10-deliv "$bin/store_bench" --duration "$seconds" --batch 10 --threads 4 \
    --inflight 8 --deliveries 1
run store-16k-b1 "$bin/store_bench" --duration "$seconds" --batch 1 --threads 4 --inflight 8 \
    --size 16k

# 3. validation
if [ "$do_validate" = 1 ]; then
    echo "run-all.sh: 3. validation vs ajv (run-validate.sh)" >&2
    vargs=(--build-dir "$build" --seconds 2)
    [ "$write_docs" = 1 ] || vargs+=(--no-docs)
    "$here/run-validate.sh" "${vargs[@]}" >"$res/validate.txt" 2>&1 ||
        echo "run-all.sh: run-validate.sh failed (see $res/validate.txt)" >&2
fi

# 4. matching
if [ "$do_pattern" = 1 ]; then
    echo "run-all.sh: 4. pattern matching (pattern_bench)" >&2
    "$bin/pattern_bench" --seconds 2 >"$res/pattern.txt" 2>&1 || true
    tail -n 1 "$res/pattern.txt" >"$res/pattern.json"
fi

# 5. evbridged
echo "run-all.sh: 5. evbridged end to end" >&2
start_server pub
run pub-unary "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 10 --concurrency 32
if [ "$do_perf" = 1 ] && command -v perf >/dev/null; then
    perf record -g -o "$res/perf-unary.data" -p "$server_pid" -- sleep "$((seconds + 2))" \
        >/dev/null 2>&1 &
    perf_pid=$!
    run pub-unary-perf "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" \
        "${common[@]}" --batch 10 --concurrency 32
    wait "$perf_pid" || true
    perf report -i "$res/perf-unary.data" --no-children --percent-limit 1.5 --stdio \
        --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9]' | head -25 | sed 's/ *$//' \
        >"$res/perf-unary.txt" || true
fi
run pub-stream "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 10 --stream --concurrency 4 --window 16
run pub-unary-16k "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 1 --concurrency 32 --size 16k
half_u=$(python3 -c "print(int(float('$(jget "$res/pub-unary.json" events_per_sec)') / 2))")
half_s=$(python3 -c "print(int(float('$(jget "$res/pub-stream.json" events_per_sec)') / 2))")
run lat-unary-half "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 10 --concurrency 32 --rate "$half_u"
run lat-stream-half "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 10 --stream --concurrency 4 --window 16 --rate "$half_s"
stop_pid "$server_pid"

start_server deliver
run deliver-max "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 10 --concurrency 32 --deliver --drain 60
stop_pid "$server_pid"
half_d=$(python3 -c "print(max(10, int(float('$(jget "$res/deliver-max.json" delivered_per_sec)') / 2)))")
start_server deliver-half
run deliver-half "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 10 --concurrency 32 --deliver --rate "$half_d" --drain 60
stop_pid "$server_pid"
# the delivery path alone: the connection paused while publishing, then resumed (the drain)
start_server deliver-backlog
run deliver-backlog "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" \
    --duration 6 --warmup 2 --threads 2 --connections 2 --batch 10 --concurrency 32 \
    --deliver --backlog --drain 120
stop_pid "$server_pid"
# the goal's rate: half of 10,000 deliveries/s, whatever the maximum measured above
start_server deliver-5k
run deliver-5k "$bin/evb-bench" --addr "$addr" --admin-key-file "$keyfile" "${common[@]}" \
    --batch 10 --concurrency 32 --deliver --rate 5000 --drain 60
stop_pid "$server_pid"

# 6. memory
if [ "$do_memory" = 1 ]; then
    echo "run-all.sh: 6. memory (run-memory.sh)" >&2
    margs=(--build-dir "$build" --out "$res/memory")
    [ "$write_docs" = 1 ] || margs+=(--no-docs)
    "$here/run-memory.sh" "${margs[@]}" >"$res/memory.txt" 2>&1 ||
        echo "run-all.sh: run-memory.sh failed (see $res/memory.txt)" >&2
    tail -n 1 "$res/memory.txt" >"$res/memory.json"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# summary
python3 - "$res" "$started" "$load_before" "$load_after" "$root" "$build" "$seconds" \
    >"$tmp/section.md" <<'EOF'
import json, os, platform, subprocess, sys
res, started, lb, la, root, build, seconds = sys.argv[1:]
def j(name):
    try:
        with open(os.path.join(res, name + ".json")) as f:
            return json.loads(f.read())
    except Exception:
        return {}
def n(x, d=0):
    return f"{x:,.{d}f}" if isinstance(x, (int, float)) else "–"
def sh(cmd):
    try:
        return subprocess.check_output(cmd, shell=True, text=True, stderr=subprocess.DEVNULL).strip()
    except Exception:
        return "?"
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
rev = os.environ.get("BENCH_REV") or sh(f"git -C {root} rev-parse --short HEAD")
grpc = sh("pkg-config --modversion grpc")
sqlite = sh("pkg-config --modversion sqlite3")
cc = sh(f"grep -m1 CMAKE_C_COMPILER: {build}/CMakeCache.txt | cut -d= -f2")
bt = sh(f"grep -m1 CMAKE_BUILD_TYPE: {build}/CMakeCache.txt | cut -d= -f2")
eu, es, e16 = j("echo-unary"), j("echo-stream"), j("echo-unary-16k")
s10, s10d, s16 = j("store-b10"), j("store-b10-deliv"), j("store-16k-b1")
pu, ps, p16 = j("pub-unary"), j("pub-stream"), j("pub-unary-16k")
lu, ls = j("lat-unary-half"), j("lat-stream-half")
dm, dh = j("deliver-max"), j("deliver-half")
db, d5 = j("deliver-backlog"), j("deliver-5k")
pat = j("pattern")
mem = j("memory")
def ratio(a, b):
    try:
        return f"{a / b:.2f}×"
    except Exception:
        return "–"
def ev(x): return x.get("events_per_sec")
p = print
p(f"Measured {started} by `clients/bench/run-all.sh --seconds {seconds}`.")
p()
p(f"- Machine: {cpu}, {os.cpu_count()} CPUs (nproc), Linux {platform.release()} {platform.machine()}; "
  f"load average (1, 5, 15 min) before the run {lb}, after {la} — the machine is shared with other "
  f"engineers' builds and tests, so absolute figures are pessimistic when these are high; "
  f"every process (client, server, baseline) shares the same CPUs.")
p(f"- evbridge 0.1.0 (`{rev}`), build type {bt}, {cc}; gRPC core {grpc}, SQLite {sqlite}; "
  f"server defaults (synchronous=FULL, worker threads = cores, max 256 deliveries in flight, "
  f"16 per connection).")
p(f"- Load: evb-bench, 2 client threads (one completion queue each), 2 TCP connections; batch 10 × "
  f"~1.2 KB events (std.customer and std.contract, mean {pu.get('payload_bytes_mean', '?')} B) or "
  f"1 × ~16 KB (std.contract with 60+ lines); unary: 32 calls in flight; streams: 4 × 16 requests "
  f"in flight. Warm-up 2 s, then {seconds} s measured; a call counts when its reply arrives in the "
  f"window; latency from the call's (scheduled) start to its reply.")
p()
p("| # | what | events/s | requests/s | p50 ms | p99 ms | p99.9 ms |")
p("|---|---|---:|---:|---:|---:|---:|")
def row(i, what, r):
    p(f"| {i} | {what} | {n(ev(r))} | {n(r.get('requests_per_sec'))} | {n(r.get('p50_ms'), 2)} | "
      f"{n(r.get('p99_ms'), 2)} | {n(r.get('p999_ms'), 2)} |")
row(1, "echo, unary, batch 10", eu)
row(1, "echo, bidi stream, batch 10", es)
row(1, "echo, unary, 1 × 16 KB", e16)
p(f"| 2 | SQLite group commit, batch 10 (32 submissions in flight) | {n(ev(s10))} | – | "
  f"{n(s10.get('p50_ms'), 2)} | {n(s10.get('p99_ms'), 2)} | {n(s10.get('p999_ms'), 2)} |")
p(f"| 2 | the same + 1 delivery row per event | {n(ev(s10d))} | – | {n(s10d.get('p50_ms'), 2)} | "
  f"{n(s10d.get('p99_ms'), 2)} | {n(s10d.get('p999_ms'), 2)} |")
p(f"| 2 | SQLite group commit, 1 × 16 KB | {n(ev(s16))} | – | {n(s16.get('p50_ms'), 2)} | "
  f"{n(s16.get('p99_ms'), 2)} | {n(s16.get('p999_ms'), 2)} |")
row(5, "**evbridged PutEvents**, batch 10", pu)
row(5, "**evbridged PublishStream**, batch 10", ps)
row(5, "evbridged PutEvents, 1 × 16 KB", p16)
row(5, f"PutEvents at half its maximum (offered {n(lu.get('rate'))}/s)", lu)
row(5, f"PublishStream at half its maximum (offered {n(ls.get('rate'))}/s)", ls)
p()
p("Publish + deliver (evb-bench's HTTP/1.1 keep-alive receiver on loopback as an HTTP action, "
  "binary mode; end-to-end = publish start → request at the receiver):")
p()
p("| run | published events/s | delivered events/s | e2e p50 ms | e2e p99 ms | e2e p99.9 ms | all delivered |")
p("|---|---:|---:|---:|---:|---:|---|")
for what, r in (("as fast as it goes", dm), (f"offered {n(dh.get('rate'))}/s (half the delivered rate)", dh),
                (f"offered {n(d5.get('rate'))}/s (the goal's half of 10,000)", d5),
                ("backlog drain: paused while publishing, then resumed (delivery alone)", db)):
    p(f"| {what} | {n(ev(r))} | {n(r.get('delivered_per_sec'))} | {n(r.get('e2e_p50_ms'), 1)} | "
      f"{n(r.get('e2e_p99_ms'), 1)} | {n(r.get('e2e_p999_ms'), 1)} | "
      f"{'yes' if r.get('delivered_all') else 'no'} (after {n(r.get('drain_s'), 1)} s) |")
p()
if pat:
    rs = ", ".join(f"{r['connections']:,} connections {n(r['events_per_sec'])} events/s"
                   for r in pat.get("results", []))
    p(f"Matching (pattern_bench, same run): {rs}; ratio 10,000 / 10 = {pat.get('ratio_10000_10')}.")
    p()
p("Ratios and goals (issue 7):")
p()
p("| goal | measured | met |")
p("|---|---|---|")
def goal(text, val, ok):
    p(f"| {text} | {val} | {'yes' if ok else '**no**'} |")
try:
    goal("PutEvents ≥ 50 % of the echo transport's entries/s", f"{ratio(ev(pu), ev(eu))} "
         f"({n(ev(pu))} / {n(ev(eu))})", ev(pu) >= 0.5 * ev(eu))
    goal("PutEvents ≥ 30,000 events/s", n(ev(pu)), ev(pu) >= 30000)
    goal("PublishStream at least as fast as PutEvents", f"{ratio(ev(ps), ev(pu))}", ev(ps) >= ev(pu))
    goal("PublishStream vs echo stream", f"{ratio(ev(ps), ev(es))}", ev(ps) >= 0.5 * ev(es))
    goal("p99 publish latency < 10 ms at half the maximum rate (unary)", f"{n(lu.get('p99_ms'), 2)} ms",
         lu.get("p99_ms", 1e9) < 10)
    goal("p99 publish latency < 10 ms at half the maximum rate (stream)", f"{n(ls.get('p99_ms'), 2)} ms",
         ls.get("p99_ms", 1e9) < 10)
    goal("delivery ≥ 10,000 events/s (while publishing at full speed on the same CPUs)",
         n(dm.get("delivered_per_sec")), dm.get("delivered_per_sec", 0) >= 10000)
    goal("delivery ≥ 10,000 events/s (backlog drain: the delivery path alone)",
         n(db.get("delivered_per_sec")), db.get("delivered_per_sec", 0) >= 10000)
    goal("e2e p99 < 50 ms at 5,000 events/s", f"{n(d5.get('e2e_p99_ms'), 1)} ms "
         f"(publish p99 {n(d5.get('p99_ms'), 1)} ms)", d5.get("e2e_p99_ms", 1e9) < 50)
    goal("e2e p99 < 50 ms at half the measured delivery rate", f"{n(dh.get('e2e_p99_ms'), 1)} ms",
         dh.get("e2e_p99_ms", 1e9) < 50)
    if mem:
        idle = max(mem.get("idle_rss_kb") or 0, mem.get("idle_5s_rss_kb") or 0) / 1024
        pend = (mem.get("pending_peak_kb") or 0) / 1024
        goal("RSS < 64 MiB idle (run-memory.sh)", f"{idle:.1f} MiB", mem.get("goal_idle_met"))
        goal(f"RSS < 256 MiB with {mem.get('count', 0):,} deliveries pending (run-memory.sh: "
             f"peak from publishing them to drained)", f"{pend:.1f} MiB",
             mem.get("goal_pending_met"))
    p(f"| (context) PutEvents / SQLite group commit alone | {ratio(ev(pu), ev(s10))} | – |")
    p(f"| (context) PublishStream / SQLite group commit alone | {ratio(ev(ps), ev(s10))} | – |")
    p(f"| (context) delivered / published (publish + deliver, full speed) | "
      f"{ratio(dm.get('delivered_per_sec'), ev(dm))} | – |")
except Exception as e:
    p(f"| (incomplete run: {e}) | | |")
p()
p("The section *Findings* below reads these figures (written by hand, not by the script).")
perf = os.path.join(res, "perf-unary.txt")
if os.path.exists(perf) and os.path.getsize(perf) > 0:
    p()
    p("evbridged hotspots during PutEvents at full load (`perf record -g`, self time, top symbols):")
    p()
    p("```")
    with open(perf) as f:
        p(f.read().rstrip())
    p("```")
EOF
cat "$tmp/section.md"

if [ "$write_docs" = 1 ]; then
    "$here/docs-section.sh" "$docs" e2e "evbridged end to end" "$tmp/section.md"
    echo "run-all.sh: wrote $docs" >&2
fi
