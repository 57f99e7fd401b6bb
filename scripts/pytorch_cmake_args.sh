#!/usr/bin/env bash
# Prints, one per line, the CMake arguments that build esrun against the libtorch inside the
# PyTorch of the given python3 (scripts/setup.sh's pytorch flavour and scripts/bench_gpu.sh's
# build on the GPU machine use it). ESRUN_EXTRA_PREFIX adds prefixes (;-separated) to search after
# PyTorch's. Exits 2 when that python3 has no torch.
set -euo pipefail
python="${1:?usage: scripts/pytorch_cmake_args.sh PYTHON}"
# PyTorch's package folder: libtorch's CMake config is in share/cmake and its libraries in lib/.
# Naming the folder itself (not torch.utils.cmake_prefix_path) makes CMake take libtorch.so from
# there before a Debian libtorch in /usr/lib.
torch_dir="$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)" || {
  echo "no importable torch in $python" >&2
  exit 2
}
echo "-DCMAKE_PREFIX_PATH=$torch_dir${ESRUN_EXTRA_PREFIX:+;$ESRUN_EXTRA_PREFIX}"
# The cuDNN that libtorch loads: pip's nvidia-cudnn package beside torch. It ships only
# libcudnn.so.N, which CMake's search does not find by itself; without it CMake looks in the CUDA toolkit.
cudnn="$(dirname "$torch_dir")/nvidia/cudnn"
cudnn_lib="$(ls "$cudnn"/lib/libcudnn.so* 2>/dev/null | head -n 1 || true)"
if [ -f "$cudnn/include/cudnn.h" ] && [ -n "$cudnn_lib" ]; then
  echo "-DCUDNN_INCLUDE_PATH=$cudnn/include"
  echo "-DCUDNN_LIBRARY_PATH=$cudnn_lib"
fi
