#!/bin/sh
# Builds the libFuzzer harnesses (clang, ASan+UBSan) and runs each one for
# N seconds (default 60). Usage: fuzz/run.sh [SECONDS] [HARNESS...]
# The work corpus lives in $BUILD/corpus-work/<harness> (seeded from
# fuzz/corpus and fuzz/regressions, which are only read); crash inputs go
# to $BUILD/crashes/<harness>/. Exits non-zero if any harness crashed.
# BUILD defaults to build-fz-clang at the top of the source tree
# (override with WSGUARD_FUZZ_BUILD).
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/.." && pwd)
bd=${WSGUARD_FUZZ_BUILD:-$src/build-fz-clang}
harnesses=${*:-frame-server frame-client hs-request hs-response origin token}

if [ ! -f "$bd/build.ninja" ]; then
    CC=clang meson setup "$bd" "$src"  \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
targets=
for h in $harnesses; do targets="$targets fuzz/fuzz-$h"; done
# shellcheck disable=SC2086
ninja -C "$bd" $targets >/dev/null

status=0
for h in $harnesses; do
    work=$bd/corpus-work/$h
    crashes=$bd/crashes/$h
    log=$bd/fuzz-$h.log
    mkdir -p "$work" "$crashes"
    echo "== $h: ${secs}s, log $log"
    if "$bd/fuzz/fuzz-$h" -max_total_time="$secs" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" \
        "$work" "$src/fuzz/corpus/$h" "$src/fuzz/regressions/$h" \
        >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true
    else
        status=1
        echo "!! $h FAILED; the input that crashed:"
        grep -E 'Test unit written to|FUZZ CHECK FAILED|ERROR: (Address|Undefined|libFuzzer)|SUMMARY' "$log" | head -8
        echo "   reproduce: $bd/fuzz/fuzz-$h <crash file>"
        echo "   keep it:   cp <crash file> $src/fuzz/regressions/$h/"
    fi
done
exit $status
