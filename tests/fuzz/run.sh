#!/bin/sh
# evbridge — run one libFuzzer target for a while (docs/fuzzing.md).
#   tests/fuzz/run.sh <target> [seconds] [extra libFuzzer flags...]
# target: schema | json | pattern | transform | cloudevents | put_events | evbctl. Default 600 s.
# The working corpus lives in $FUZZ_BUILD/fuzz-work/<target>/ (seeded from the checked-in
# corpus/<target>/, which is only read), crashes go to $FUZZ_BUILD/fuzz-artifacts/<target>/,
# the log to $FUZZ_BUILD/fuzz-logs/<target>.log. Expects a configured and built fuzz build
# ($FUZZ_BUILD, default build-fuzz; `make fuzz` does both). Exits non-zero on a finding.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:?usage: run.sh <target> [seconds] [libFuzzer flags...]}
secs=${2:-600}
[ $# -ge 2 ] && shift 2 || shift $#
build=${FUZZ_BUILD:-$root/build-fuzz}
bin=$build/bin/fuzz_$target
[ -x "$bin" ] || { echo "run.sh: $bin missing: make fuzz-build first" >&2; exit 2; }
work=$build/fuzz-work/$target
art=$build/fuzz-artifacts/$target
mkdir -p "$work" "$art" "$build/fuzz-logs"
dict=""
[ -f "$root/tests/fuzz/$target.dict" ] && dict="-dict=$root/tests/fuzz/$target.dict"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/" $dict "$@" \
    "$work" "$root/tests/fuzz/corpus/$target" 2>&1 | tee "$build/fuzz-logs/$target.log" |
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|SUMMARY|Test unit written' || true
! grep -qE 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)|runtime error|Test unit written' \
    "$build/fuzz-logs/$target.log"
