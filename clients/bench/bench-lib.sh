# bench-lib.sh — sourced by the run-*.sh benchmark scripts (after they set $root and $build):
# a temporary directory and background processes cleaned up at exit, and the build of the
# targets a script runs.
#
# bench_setup: sets $tmp (a new temporary directory, removed at exit) and $pids (an array:
#   every process listed there is killed and waited for at exit). A script that needs more
#   at exit defines bench_cleanup_extra before it exits.
# bench_build [BUILD_TYPE] -- TARGET...: configures $build when it has no CMakeCache.txt
#   (BUILD_TYPE, or the project's default when empty), then builds the targets quietly.

bench_cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
    rm -rf "$tmp"
}

bench_setup() {
    tmp=$(mktemp -d)
    pids=()
    trap bench_cleanup EXIT
}

bench_build() {
    local type=$1
    shift 2 # BUILD_TYPE --
    if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$build" ${type:+-DCMAKE_BUILD_TYPE=$type} >/dev/null
    fi
    local t args=()
    for t in "$@"; do args+=(--target "$t"); done
    cmake --build "$build" -j"$(nproc)" "${args[@]}" >/dev/null
}
