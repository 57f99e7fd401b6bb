#!/usr/bin/env bash
# Installs esrun's dependencies, builds it in Release and then runs the quickstart
# (`setup.sh quickstart`), the whole test suite (`setup.sh test`) or nothing more (`setup.sh build`).
# Run as root on Debian 12.
#   ESRUN_FLAVOUR    which libtorch to build against:
#                      debian  (default) Debian's libtorch 1.13, CPU only; build folder build/
#                      pytorch PyTorch's own libtorch with CUDA and cuDNN, from torch==$ESRUN_TORCH_VERSION
#                              (PyPI) in the git-ignored virtual environment .venv-pytorch/, or from the
#                              Python named by ESRUN_PYTHON; warnings are errors; build folder build-pytorch/.
#                              Needs the CUDA toolkit (nvcc) of that PyTorch's CUDA version; no GPU.
#   ESRUN_TORCH_VERSION  the PyPI torch of the pytorch flavour (default 2.11.0, the GPU machine's)
#   ESRUN_PYTHON     pytorch flavour: a python3 whose torch to build against instead of the venv
#                    (a GPU box's own PyTorch); nothing is installed into it
#   ESRUN_BUILD_DIR  build folder (default: build, or build-pytorch for the pytorch flavour)
#   ESRUN_CMAKE_ARGS more CMake arguments, space-separated (say -DESRUN_WITH_OPENCV=OFF)
#   ESRUN_DATA_DIR   a folder with cifar-100-binary/ and cifar-10-subset/ (README) adds the tests
#                    on real CIFAR files; without it that tier is reported as skipped.
#   ESRUN_CTEST_ARGS more ctest arguments for `setup.sh test`, space-separated (say -LE scripts)
#   ESRUN_BUILD_TESTS OFF: `setup.sh build` builds esrun alone, not its tests (CI's PyTorch flavour)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-quickstart}"
flavour="${ESRUN_FLAVOUR:-debian}"
jobs="$(nproc)"
case "$mode" in quickstart|test|build) ;; *) echo "usage: scripts/setup.sh [quickstart|test|build]" >&2; exit 2 ;; esac
case "$flavour" in debian|pytorch) ;; *) echo "ESRUN_FLAVOUR='$flavour': expected debian or pytorch" >&2; exit 2 ;; esac

started=$SECONDS
took() { echo "== $1 took $((SECONDS - started)) s"; started=$SECONDS; }

packages=(cmake g++ ninja-build libyaml-cpp-dev libspdlog-dev libcli11-dev nlohmann-json3-dev catch2
          libopencv-dev libmatio-dev libsentencepiece-dev pkg-config libopenblas0-pthread python3 python3-yaml python3-matplotlib
          libprotobuf-dev protobuf-compiler libboost-dev)
if [ "$flavour" = debian ]; then packages+=(libtorch-dev libgloo-dev); else packages+=(python3-venv libgloo-dev); fi
# The tests also read TensorBoard files with an independent CRC-32C and render scripts/report's
# HTML in a headless browser.
if [ "$mode" = test ]; then packages+=(python3-crc32c chromium); fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  took "installing Debian packages"
fi

# Every option is named, so that a build folder configured otherwise before (CMake keeps its cache)
# gets this flavour's settings; ESRUN_CMAKE_ARGS, added last, can still change them.
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DESRUN_WITH_OPENCV=ON -DESRUN_WITH_MATIO=ON)
if [ "$flavour" = debian ]; then
  build="${ESRUN_BUILD_DIR:-build}"
  cmake_args+=(-DESRUN_REQUIRE_CUDA=OFF -DESRUN_WARNINGS_AS_ERRORS=OFF)
else
  build="${ESRUN_BUILD_DIR:-build-pytorch}"
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || {
    echo "ESRUN_FLAVOUR=pytorch needs the CUDA toolkit (nvcc, on PATH or in /usr/local/cuda) of PyTorch's CUDA version" >&2
    exit 2
  }
  export PATH="$PATH:/usr/local/cuda/bin"
  python="${ESRUN_PYTHON:-}"
  if [ -z "$python" ]; then
    version="${ESRUN_TORCH_VERSION:-2.11.0}"
    python=.venv-pytorch/bin/python
    [ -x "$python" ] || /usr/bin/python3 -m venv .venv-pytorch
    if ! "$python" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$version')" 2>/dev/null; then
      echo "== installing torch==$version from PyPI into .venv-pytorch"
      "$python" -m pip install -q --disable-pip-version-check "torch==$version"
      took "installing PyTorch"
    fi
  fi
  mapfile -t torch_args < <(bash scripts/pytorch_paths.sh cmake-args "$python")
  [ "${#torch_args[@]}" -gt 0 ] || exit 2
  # libtorch and esrun must use one CUDA runtime: the toolkit's version is the one linked.
  torch_cuda="$("$python" -c 'import torch; print(torch.version.cuda or "")' 2>/dev/null)"
  nvcc_cuda="$(nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')"
  if [ "$torch_cuda" != "$nvcc_cuda" ]; then
    echo "ESRUN_FLAVOUR=pytorch: $python's torch is built for CUDA '${torch_cuda:-none}' but nvcc is CUDA $nvcc_cuda;" \
         "install the matching toolkit or a torch built for CUDA $nvcc_cuda" >&2
    exit 2
  fi
  cmake_args+=("${torch_args[@]}" -DESRUN_REQUIRE_CUDA=ON -DESRUN_WARNINGS_AS_ERRORS=ON)
fi

read -r -a extra <<< "${ESRUN_CMAKE_ARGS:-}"
cmake_args+=("${extra[@]}")
tests="${ESRUN_BUILD_TESTS:-ON}"
[ "$mode" = quickstart ] && tests=OFF
[ "$mode" = test ] && tests=ON
echo "== configuring and building the $flavour flavour ($build, $jobs jobs)"
cmake -S . -B "$build" -G Ninja "${cmake_args[@]}" -DESRUN_BUILD_TESTS="$tests" >/dev/null
cmake --build "$build" -j "$jobs"
"$build/esrun" --version
took "building"

case "$mode" in
  quickstart)
    exec "$build/esrun" --config configs/quickstart.yaml ;;
  test)
    cd "$build"
    read -r -a ctest_args <<< "${ESRUN_CTEST_ARGS:-}"
    ctest --output-on-failure -j "$jobs" "${ctest_args[@]}"
    took "testing" ;;
esac
