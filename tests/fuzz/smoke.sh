#!/bin/sh
# evbridge — the short fuzz run of `make test` / `make fuzz-smoke` (docs/fuzzing.md).
# Configures and builds the fuzz build ($FUZZ_BUILD, default build-fuzz; incremental), then
# runs every target over its checked-in corpus plus $FUZZ_SMOKE_RUNS (default 20000) inputs
# mutated from seed $FUZZ_SMOKE_SEED (default 1), at most $FUZZ_SMOKE_SECONDS (default 5) s.
# New inputs go to a scratch directory that is removed afterwards; the corpus is only read.
# Exits 77 (ctest: skipped) when clang cannot build a libFuzzer binary, 1 on a finding.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
secs=${FUZZ_SMOKE_SECONDS:-5}
# A fixed seed and run count keep the smoke run deterministic (the same inputs on every
# machine, so CI cannot fail on a new finding by chance); long runs are `make fuzz`.
runs=${FUZZ_SMOKE_RUNS:-20000}
seed=${FUZZ_SMOKE_SEED:-1}
targets="schema json pattern transform cloudevents put_events"
cc=${FUZZ_CC:-clang}

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
    'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}' \
    >"$probe/p.c"
if ! command -v "$cc" >/dev/null 2>&1 ||
    ! "$cc" -fsanitize=fuzzer,address "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    echo "fuzz-smoke: $cc with libFuzzer is not available; skipped"
    exit 77
fi

# One configure/build at a time per build dir (make test and make test-sanitize may share it).
mkdir -p "$build"
exec 9>"$build/.smoke.lock"
flock 9 2>/dev/null || true
start=$(date +%s)
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DEVB_FUZZ=ON -DEVB_SANITIZE=ON \
        -DEVB_STRICT_SOURCES=OFF -DCMAKE_BUILD_TYPE=Debug >"$build/.smoke-configure.log" 2>&1 ||
        { cat "$build/.smoke-configure.log"; exit 1; }
fi
cmake --build "$build" --target evb_fuzz_all -j "$(nproc 2>/dev/null || echo 2)" \
    >"$build/.smoke-build.log" 2>&1 || { tail -50 "$build/.smoke-build.log"; exit 1; }
echo "fuzz-smoke: build took $(( $(date +%s) - start )) s"
# fuzz_evbctl is built only while clients/evbctl/ has its loaders (tests/fuzz/CMakeLists.txt).
[ -x "$build/bin/fuzz_evbctl" ] && targets="$targets evbctl"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in $targets; do
    scratch="$probe/work-$t"
    mkdir -p "$scratch"
    log="$probe/$t.log"
    if "$build/bin/fuzz_$t" -seed="$seed" -runs="$runs" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 \
        -artifact_prefix="$probe/" "$scratch" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
        echo "fuzz-smoke: $t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
    else
        echo "fuzz-smoke: $t FAILED:"
        tail -60 "$log"
        for a in "$probe"/crash-* "$probe"/leak-* "$probe"/timeout-* "$probe"/oom-*; do
            [ -f "$a" ] || continue
            mkdir -p "$build/fuzz-artifacts/$t"
            cp "$a" "$build/fuzz-artifacts/$t/"
            echo "fuzz-smoke: reproducer kept in $build/fuzz-artifacts/$t/$(basename "$a")"
            rm -f "$a"
        done
        status=1
    fi
done
exit $status
