#!/bin/sh
# docs-section.sh DOCS NAME TITLE SECTION — replaces what stands between <!-- NAME:begin -->
# and <!-- NAME:end --> in DOCS (docs/benchmarks.md) with the file SECTION, leaving the rest
# of DOCS alone. When the markers are missing, appends "## TITLE" and them first (and creates
# DOCS with a "# Benchmarks" heading when it does not exist). Used by the run-*.sh scripts.
set -eu
docs=$1 name=$2 title=$3 section=$4
begin="<!-- $name:begin -->"
end="<!-- $name:end -->"
[ -f "$docs" ] || printf '# Benchmarks\n' >"$docs"
if ! grep -qF "$begin" "$docs" || ! grep -qF "$end" "$docs"; then
    printf '\n## %s\n\n%s\n%s\n' "$title" "$begin" "$end" >>"$docs"
fi
tmp=$(mktemp)
awk -v section="$section" -v begin="$begin" -v end="$end" '
    $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' "$docs" >"$tmp"
cat "$tmp" >"$docs"
rm -f "$tmp"
