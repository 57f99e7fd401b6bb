#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzzing build (cmake -DESRUN_FUZZ=ON -DESRUN_SANITIZE=address,undefined
# with clang; tests/fuzz/README.md) for a bounded time each, on a scratch copy of its seed corpus.
#
#   scripts/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET=60] [TARGET...]
#
# TARGET names (config, cifar, ...) limit the run to those targets. Each target runs alone (one
# process: the machine may be shared) with -max_total_time=SECONDS, -timeout=10 per input,
# -rss_limit_mb=4096 (no limit on a single allocation that is never used), leak detection on and
# tests/fuzz/<name>.dict when there is one. New corpus
# files go to the scratch copy, never into the repository. One line per target: its name, seconds,
# executions (libFuzzer's stat::number_of_executed_units), corpus size (files after the run) and
# result.
#
# On a crash, sanitizer report, escaping exception, leak, timeout or out-of-memory the script stops
# with exit status 1, keeping the reproducer and the log under BUILD_DIR/fuzz-findings/<name>/
# (reproduce: BUILD_DIR/fuzz_<name> BUILD_DIR/fuzz-findings/<name>/crash-...). With
# FUZZ_KEEP_GOING=1 it runs the remaining targets first and exits 1 at the end.
# Exit status 2: bad usage, or no fuzz_* binaries in BUILD_DIR.
set -uo pipefail

usage() { echo "usage: scripts/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET=60] [TARGET...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
build="$(cd "$1" 2>/dev/null && pwd)" || { echo "fuzz.sh: no folder '$1'" >&2; exit 2; }
seconds="${2:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || usage
shift $(( $# >= 2 ? 2 : 1 ))
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$repo/tests/fuzz"

targets=()
if [ $# -gt 0 ]; then
  for name in "$@"; do
    [ -x "$build/fuzz_$name" ] || { echo "fuzz.sh: no fuzz_$name in $build" >&2; exit 2; }
    targets+=("$name")
  done
else
  for binary in "$build"/fuzz_*; do
    [ -f "$binary" ] && [ -x "$binary" ] && targets+=("${binary##*/fuzz_}")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz_* targets in $build (configure with -DESRUN_FUZZ=ON)" >&2; exit 2; }

# A build against a PyTorch installation's libtorch (scripts/pytorch_paths.sh) needs its libraries
# on the path: the CMake cache names the torch package folder.
torch_dir="$(sed -n 's/^CMAKE_PREFIX_PATH:[A-Z]*=\([^;]*site-packages\/torch\).*/\1/p' "$build/CMakeCache.txt" 2>/dev/null | head -n 1)"
if [ -n "$torch_dir" ] && [ -d "$torch_dir/lib" ]; then
  extra="$torch_dir/lib"
  for lib in "$(dirname "$torch_dir")"/nvidia/*/lib; do [ -d "$lib" ] && extra="$extra:$lib"; done
  export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# Sanitizer settings: the sanitizer build's own (tests/sanitize/options.sh: every report fatal, its
# suppressions) when the caller has not set any, else these; every report ends the target.
if [ -z "${ASAN_OPTIONS:-}" ] && [ -f "$repo/tests/sanitize/options.sh" ]; then
  # shellcheck source=/dev/null
  source "$repo/tests/sanitize/options.sh"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

scratch_base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_base=/dev/shm
work="$(mktemp -d "$scratch_base/esrun-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failed=0
printf '%-14s %8s %12s %8s  %s\n' target seconds executions corpus result
for name in "${targets[@]}"; do
  corpus="$work/$name/corpus"
  mkdir -p "$corpus" "$work/$name/scratch"
  [ -d "$fuzz_dir/corpus/$name" ] && cp -R "$fuzz_dir/corpus/$name/." "$corpus/"
  findings="$build/fuzz-findings/$name"
  mkdir -p "$findings"
  log="$work/$name/log.txt"
  # -malloc_limit_mb: one allocation is no finding by its size alone (a damaged MAT header makes
  # libmatio ask for 6.8 GB, which Linux grants without using it); memory used is -rss_limit_mb's.
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=1048576 -detect_leaks=1 -print_final_stats=1
        -artifact_prefix="$findings/")
  [ -f "$fuzz_dir/$name.dict" ] && args+=(-dict="$fuzz_dir/$name.dict")
  start=$(date +%s)
  # The targets' own scratch files (fuzz_common.h) go under the work folder too, so a crashed
  # target leaves nothing behind.
  ESRUN_FUZZ_SCRATCH="$work/$name/scratch" "$build/fuzz_$name" "${args[@]}" "$corpus" >"$log" 2>&1
  status=$?
  elapsed=$(( $(date +%s) - start ))
  executions="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  [ -n "$executions" ] || executions="$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)"
  files=$(find "$corpus" -type f | wc -l)
  result=ok
  if [ $status -ne 0 ]; then
    if grep -q 'ERROR: libFuzzer: timeout' "$log"; then result=timeout
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then result=out-of-memory
    elif grep -q 'ERROR: LeakSanitizer' "$log"; then result=leak
    elif grep -q 'ERROR: AddressSanitizer' "$log"; then result="asan: $(grep -m1 -o 'AddressSanitizer: [a-z-]*' "$log" | cut -d' ' -f2)"
    elif grep -q 'runtime error:' "$log"; then result="ubsan: $(grep -m1 'runtime error:' "$log" | sed 's/.*runtime error: //' | cut -c1-60)"
    elif grep -q "terminate called after throwing" "$log"; then result="exception: $(grep -m1 -o "throwing an instance of '[^']*'" "$log" | cut -d"'" -f2)"
    elif grep -q 'esrun-fuzz:' "$log"; then result="oracle: $(grep -m1 'esrun-fuzz:' "$log" | sed 's/esrun-fuzz: //' | cut -c1-60)"
    elif grep -q 'deadly signal' "$log"; then result="crash (signal)"
    else result="failed (exit $status)"
    fi
    cp "$log" "$findings/log.txt"
    artifact="$(grep -o "Test unit written to [^ ]*" "$log" | tail -n 1 | cut -d' ' -f5)"
    result="$result; reproducer ${artifact:-none written}, log $findings/log.txt"
  fi
  [ "$result" = ok ] && rmdir "$findings" 2>/dev/null  # (the parent stays: another fuzz.sh may be using it)
  printf '%-14s %8s %12s %8s  %s\n' "$name" "$elapsed" "${executions:-?}" "$files" "$result"
  if [ "$result" != ok ]; then
    failed=1
    [ "${FUZZ_KEEP_GOING:-0}" = 1 ] || exit 1
  fi
done
exit $failed
