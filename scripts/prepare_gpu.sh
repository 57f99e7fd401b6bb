#!/usr/bin/env bash
# Prepares everything one GPU-machine call of scripts/bench_gpu.sh needs, in the git-ignored
# folder .gpu/ (name it in the device call's `carry`), as root on Debian 12:
#   .gpu/bundle/   esrun and esrun_tests built here against PyTorch's CUDA libtorch
#                  (ESRUN_FLAVOUR=pytorch, OpenCV off, build folder build-gpu-bundle/), stripped, with
#                  the shared libraries they need beyond libtorch, CUDA and the C/C++ runtimes in
#                  lib/ (RUNPATH $ORIGIN/lib). On the GPU machine libtorch comes from its own PyTorch.
#   .gpu/debs/     the Debian packages of the build path (yaml-cpp, spdlog, fmt, CLI11,
#                  nlohmann-json, Catch2; Gloo's headers, which PyTorch's package lacks), for when the
#                  bundle does not run there
#   .gpu/data/cifar-10-subset/   data_batch_1.bin, test_batch.first1000.bin and batches.meta.txt
#                  from $ESRUN_DATA_DIR/cifar-10-subset, checked against $ESRUN_DATA_DIR/SHA256SUMS
#                  (ESRUN_DATA_DIR: the data folder of the [.data] tests, default data/)
# Then prints the device command (docs/performance.md, "The GPU benchmark") and what will travel.
set -euo pipefail
cd "$(dirname "$0")/.."
data="$(cd "${ESRUN_DATA_DIR:-data}" 2>/dev/null && pwd)" || {
  echo "prepare_gpu.sh: ESRUN_DATA_DIR='${ESRUN_DATA_DIR:-data}': expected a folder with cifar-10-subset/ and SHA256SUMS" >&2
  exit 2
}
bundle_build="${ESRUN_BUNDLE_BUILD_DIR:-build-gpu-bundle}"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || grep -qx '/.gpu/' .gitignore || echo /.gpu/ >> .git/info/exclude

dpkg -s patchelf >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf; }

echo "== building the bundle (PyTorch flavour, OpenCV off) in $bundle_build"
# Against .venv-pytorch's torch 2.11.0, whose libraries the checks below use.
env -u ESRUN_PYTHON ESRUN_FLAVOUR=pytorch ESRUN_TORCH_VERSION=2.11.0 ESRUN_BUILD_DIR="$bundle_build" \
  ESRUN_CMAKE_ARGS="-DESRUN_WITH_OPENCV=OFF -DESRUN_WITH_MATIO=OFF" bash scripts/setup.sh build
torch_libs="$(bash scripts/pytorch_paths.sh library-path .venv-pytorch/bin/python)"
torch_lib="${torch_libs%%:*}"  # libtorch's own folder comes first

rm -rf .gpu/bundle && mkdir -p .gpu/bundle/lib
for exe in esrun esrun_tests; do
  cp "$bundle_build/$exe" .gpu/bundle/
  strip .gpu/bundle/$exe
  patchelf --set-rpath '$ORIGIN/lib' .gpu/bundle/$exe
done
# Everything the binaries load that the GPU machine does not provide itself: libtorch and its CUDA
# libraries come from its PyTorch, glibc and libstdc++ from its system (newer than Debian 12's).
LD_LIBRARY_PATH="$torch_lib" ldd "$bundle_build/esrun" "$bundle_build/esrun_tests" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
  sort -u | while read -r lib; do
    case "$lib" in
      "$torch_lib"/*|*/site-packages/*|/usr/local/cuda*) continue ;;
    esac
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libdl.so.*|librt.so.*|libpthread.so.*|libutil.so.*|ld-linux*|libgcc_s.so.*|libstdc++.so.*) continue ;;
      libcuda.so.*|libcudart.so.*|libcublas*|libcudnn*|libnccl*|libnvrtc*|libcufft*|libcurand*|libcusolver*|libcusparse*) continue ;;
      libtorch*|libc10*) echo "the bundle's binaries load $lib, a libtorch outside PyTorch's: refusing" >&2; exit 1 ;;
    esac
    cp -L "$lib" .gpu/bundle/lib/
  done
# Check the bundle as the GPU machine will run it (scripts/bench_gpu.sh): its lib/, PyTorch's
# libraries and the system's, without this machine's loader cache (which names the CUDA toolkit).
for exe in esrun esrun_tests; do
  if ! loaded="$(/lib64/ld-linux-x86-64.so.2 --inhibit-cache --library-path "$torch_libs" --list .gpu/bundle/$exe 2>&1)" ||
      grep -q "not found" <<< "$loaded"; then
    echo "$loaded" >&2
    echo ".gpu/bundle/$exe would not load on the GPU machine" >&2
    exit 1
  fi
done
/lib64/ld-linux-x86-64.so.2 --inhibit-cache --library-path "$torch_libs" .gpu/bundle/esrun --version

echo "== Debian packages of the build path"
mkdir -p .gpu/debs
apt-get update -qq
(cd .gpu/debs && rm -f ./*.deb && apt-get -o APT::Sandbox::User=root download libyaml-cpp0.7 libyaml-cpp-dev libspdlog1.10 libspdlog-dev \
  libfmt9 libfmt-dev libcli11-dev nlohmann-json3-dev catch2 libgloo-dev libprotobuf32 libprotobuf-lite32 libprotoc32 \
  libprotobuf-dev protobuf-compiler libboost1.74-dev >/dev/null)

echo "== CIFAR-10 subset from $data"
mkdir -p .gpu/data/cifar-10-subset
for f in data_batch_1.bin test_batch.first1000.bin batches.meta.txt; do
  cp "$data/cifar-10-subset/$f" .gpu/data/cifar-10-subset/
done
(cd .gpu/data && grep ' \./cifar-10-subset/' "$data/SHA256SUMS" | sha256sum -c --quiet) ||
  { echo "the CIFAR-10 subset copied from $data does not match its SHA256SUMS" >&2; exit 1; }

du -sh .gpu/bundle .gpu/debs .gpu/data
echo "== .gpu/ and the tracked tree together: $(( ($(du -sk .gpu | cut -f1) + $(git ls-files -z | du -ck --files0-from=- | tail -1 | cut -f1)) / 1024 )) MiB (a device call carries at most 64 MiB)"
cat <<'EOF'
== device call (run, carry [".gpu"], timeout_s 600; DEADLINE is when every stage stops, seconds into the call):
DEADLINE=560 DATA=.gpu/data/cifar-10-subset TEST_FILES=test_batch.first1000.bin \
  TRAIN_FILES=data_batch_1.bin,data_batch_1.bin,data_batch_1.bin,data_batch_1.bin,data_batch_1.bin \
  EPOCHS=5 OUT=$OUT bash scripts/bench_gpu.sh
EOF
