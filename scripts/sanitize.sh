#!/usr/bin/env bash
# The hardening checks that .ci/run adds after the two flavours (README, "Hardening"): esrun and its
# tests built with clang, AddressSanitizer and UndefinedBehaviorSanitizer (every report fatal) and
# libFuzzer's coverage instrumentation, then
#   1. the unit tests (esrun_tests "~[.]": every test but the opt-in tiers), zero reports;
#   2. every input a fuzzer once crashed on (tests/fuzz/crashes), through its target again;
#   3. every libFuzzer target of tests/fuzz for ESRUN_FUZZ_SECONDS seconds each (scripts/fuzz.sh).
# Built against the PyTorch flavour's libtorch (torch==2.11.0 in .venv-pytorch, which
# `ESRUN_FLAVOUR=pytorch scripts/setup.sh` installs; or the python3 named by ESRUN_PYTHON): Debian's
# libtorch 1.13 headers do not compile with clang in C++20 (std::vector<c10::IValue> of an
# incomplete type, fixed in PyTorch 2.0). Runs on the CPU; no GPU is needed or used.
#   ESRUN_BUILD_DIR     build folder (default build-sanitize)
#   ESRUN_FUZZ_SECONDS  seconds per fuzz target (default 60); 0 skips fuzzing
#   ESRUN_FUZZ_JOBS     fuzz targets run at once (default: the number of cores)
#   ESRUN_SANITIZE_TESTS  Catch2 test spec for step 1 (default "~[.]")
set -euo pipefail
cd "$(dirname "$0")/.."
build="${ESRUN_BUILD_DIR:-build-sanitize}"
python="${ESRUN_PYTHON:-.venv-pytorch/bin/python}"
seconds="${ESRUN_FUZZ_SECONDS:-60}"
started=$SECONDS
took() { echo "== $1 took $((SECONDS - started)) s"; started=$SECONDS; }

# Debian 12's clang 14 and its compiler-rt (libFuzzer and the sanitizer runtimes).
missing=()
for p in clang libclang-rt-14-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
[ -x "$python" ] || { echo "no $python: run ESRUN_FLAVOUR=pytorch scripts/setup.sh build first, or set ESRUN_PYTHON" >&2; exit 2; }
mapfile -t torch_args < <(bash scripts/pytorch_paths.sh cmake-args "$python")
[ "${#torch_args[@]}" -gt 0 ] || exit 2
export PATH="$PATH:/usr/local/cuda/bin"  # a CUDA libtorch's CMake config looks for the toolkit

echo "== configuring and building the sanitizer build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -gline-tables-only" -DESRUN_SANITIZE=address,undefined -DESRUN_FUZZ=ON \
  -DESRUN_WITH_OPENCV=ON -DESRUN_WITH_MATIO=ON -DESRUN_WARNINGS_AS_ERRORS=ON -DESRUN_REQUIRE_CUDA=OFF \
  "${torch_args[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
took "building"

LD_LIBRARY_PATH="$(bash scripts/pytorch_paths.sh library-path "$python")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
source tests/sanitize/options.sh
"$build/esrun_tests" "${ESRUN_SANITIZE_TESTS:-~[.]}"
took "the unit tests under ASan and UBSan"
# Every input the fuzzers once crashed on, through its target again (tests/fuzz/crashes).
(cd "$build" && ctest --output-on-failure -L fuzz-regression)
took "the fuzz regression inputs"

# The targets in ESRUN_FUZZ_JOBS groups (default: one per core), the groups at once, each target
# for $seconds: every target gets its minute, in a fraction of the wall time.
if [ "$seconds" != 0 ]; then
  targets=()
  for binary in "$build"/fuzz_*; do [ -x "$binary" ] && targets+=("${binary##*/fuzz_}"); done
  groups="${ESRUN_FUZZ_JOBS:-$(nproc)}"
  pids=()
  for ((g = 0; g < groups; ++g)); do
    group=()
    for ((i = g; i < ${#targets[@]}; i += groups)); do group+=("${targets[i]}"); done
    [ "${#group[@]}" -gt 0 ] || continue
    FUZZ_KEEP_GOING=1 bash scripts/fuzz.sh "$build" "$seconds" "${group[@]}" > "$build/fuzz-group-$g.txt" 2>&1 &
    pids+=($!)
  done
  status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  cat "$build"/fuzz-group-*.txt
  [ "$status" = 0 ] || { echo "== fuzzing found a problem: see $build/fuzz-findings/" >&2; exit 1; }
  took "fuzzing (${#targets[@]} targets, $seconds s each, $groups at a time)"
fi
