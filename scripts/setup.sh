#!/usr/bin/env bash
# Installs esrun's Debian dependencies, builds it in Release and then either runs the quickstart
# (`setup.sh quickstart`) or the whole test suite (`setup.sh test`). Run as root on Debian 12.
#   ESRUN_BUILD_DIR  build folder (default: build)
#   ESRUN_DATA_DIR   set it to ../shared/data (or any folder with the same layout) to add the
#                    tests on real CIFAR files; without it that tier is reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-quickstart}"
build="${ESRUN_BUILD_DIR:-build}"
jobs="$(nproc)"

packages=(cmake g++ ninja-build libtorch-dev libyaml-cpp-dev libspdlog-dev libcli11-dev nlohmann-json3-dev catch2
          libopencv-dev python3 python3-yaml python3-matplotlib)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

tests=ON
[ "$mode" = quickstart ] && tests=OFF
echo "== configuring and building ($build, $jobs jobs)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DESRUN_BUILD_TESTS="$tests" >/dev/null
cmake --build "$build" -j "$jobs"

case "$mode" in
  quickstart)
    exec "$build/esrun" --config configs/quickstart.yaml ;;
  test)
    cd "$build"
    exec ctest --output-on-failure ;;
  *)
    echo "usage: scripts/setup.sh [quickstart|test]" >&2
    exit 2 ;;
esac
