#!/usr/bin/env bash
# run-validate.sh — evbridge's JSON Schema validator next to ajv, on the same machine, in the
# same run, on byte-identical schemas and payloads.
#
# Builds validate_bench (incrementally; configures the build dir if it has no cache), installs
# the ajv side with `npm ci`, dumps the schemas and payloads (validate_bench --dump), then for
# each payload runs validate_bench and clients/bench/ajv/bench.js back to back, so the two
# figures of a row are measured seconds apart. With --rounds N the whole sequence runs N
# times and each figure is the best of the N (on a shared machine, the least disturbed).
# Prints the combined table and writes it into docs/benchmarks.md between
# <!-- validate:begin --> and <!-- validate:end --> (the rest of the file is left alone).
#
# usage: clients/bench/run-validate.sh [--build-dir DIR] [--seconds S] [--rounds N] [--no-docs]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
seconds=2
rounds=1
write_docs=1
docs="$root/docs/benchmarks.md"

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --no-docs) write_docs=0; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-validate.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

. "$here/bench-lib.sh"
bench_build "" -- validate_bench
bin="$build/bin/validate_bench"

(cd "$here/ajv" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

bench_setup

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$bin" --dump "$tmp/data" --no-run
mapfile -t cases < <("$bin" --list)
for ((r = 1; r <= rounds; r++)); do
    for i in "${!cases[@]}"; do
        c=${cases[$i]}
        tag=$(printf '%02d-%02d' "$i" "$r") # file names sort in payload order
        echo "run-validate.sh: round $r/$rounds: $c (${seconds} s per stage) ..." >&2
        "$bin" --seconds "$seconds" --case "$c" --json >"$tmp/evb-$tag.json"
        node "$here/ajv/bench.js" --dir "$tmp/data" --seconds "$seconds" --case "$c" \
            >"$tmp/ajv-$tag.json" 2>/dev/null
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
node "$here/ajv/report.js" "$tmp"/evb-*.json "$tmp"/ajv-*.json >"$tmp/table.md"

cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n1; }
cc_path=$(cache_get CMAKE_C_COMPILER)
build_type=$(cache_get CMAKE_BUILD_TYPE)
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ajv_version=$(node -p "require('$here/ajv/node_modules/ajv/package.json').version")
sanitize=$(cache_get EVB_SANITIZE)

{
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`clients/bench/run-validate.sh --seconds $seconds --rounds $rounds\`."
    echo
    echo "- Machine: ${cpu:-unknown CPU}, $(nproc) CPUs (nproc), $(uname -srm);" \
        "load average (1, 5, 15 min) before the run ${load_before}, after ${load_after}" \
        "(other work shared the machine when these are high)."
    echo "- evbridge $(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$tmp"/evb-*.json | head -n1)" \
        "(\`${BENCH_REV:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}\`)," \
        "build type ${build_type:-default}${sanitize:+, EVB_SANITIZE=$sanitize}," \
        "$("$cc_path" --version 2>/dev/null | head -n1)," \
        "jansson $(pkg-config --modversion jansson 2>/dev/null || echo '?')," \
        "PCRE2 $(pkg-config --modversion libpcre2-8 2>/dev/null || echo '?') (JIT)."
    echo "- ajv ${ajv_version} (Ajv2020) on Node.js $(node --version)."
    echo "- Method: one thread each. For each payload validate_bench runs, then bench.js," \
        "back to back; with ${rounds} round(s) of the whole sequence, each figure is the best" \
        "round. Every stage of every payload warms up, then runs ten slices of ${seconds}/10 s" \
        "in batches of about 1 ms timed with a monotonic clock" \
        "(\`clock_gettime(CLOCK_MONOTONIC)\`, \`process.hrtime.bigint()\`); the figure is the" \
        "median slice rate, and every call's outcome is checked. *parse*: JSON text to a value" \
        "(\`evb_json_parse\` + \`evb_json_doc_free\` / \`JSON.parse\`, garbage collection" \
        "included). *validate*: the compiled schema on a pre-parsed value" \
        "(\`evb_schema_validate_value\` / the ajv validator). *parse + validate*: from text" \
        "(\`evb_schema_validate\` / \`validate(JSON.parse(text))\`). Formats are annotations" \
        "in both (evbridge's default; ajv \`validateFormats: false\`), and both stop at the" \
        "first error (result limit 1; ajv \`allErrors: false\`). Schemas and payloads are the" \
        "same bytes: \`validate_bench --dump\` writes the files \`bench.js\` reads."
    echo "- Ratio = evbridge ops/s ÷ ajv ops/s: above 1 evbridge is faster, below 1 slower."
    echo
    cat "$tmp/table.md"
} >"$tmp/section.md"

cat "$tmp/section.md"

if [ "$write_docs" = 1 ]; then
    "$here/docs-section.sh" "$docs" validate "Validation" "$tmp/section.md"
    echo "run-validate.sh: wrote the Validation figures into ${docs#"$root"/}" >&2
fi
