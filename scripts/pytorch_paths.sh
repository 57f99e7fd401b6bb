#!/usr/bin/env bash
# Where the libtorch inside the PyTorch of a python3 is, for building and running esrun against it
# (scripts/setup.sh's pytorch flavour, scripts/prepare_gpu.sh, scripts/bench_gpu.sh):
#   pytorch_paths.sh cmake-args PYTHON    the CMake arguments, one per line; ESRUN_EXTRA_PREFIX adds
#                                         prefixes (;-separated) to search after PyTorch's
#   pytorch_paths.sh library-path PYTHON  a LD_LIBRARY_PATH with libtorch and pip's CUDA libraries
#                                         (nvidia/*/lib), for binaries whose RUNPATH does not name them
# Exits 2 when that python3 has no torch.
set -euo pipefail
what="${1:-}"
python="${2:-}"
case "$what" in cmake-args|library-path) ;; *) echo "usage: scripts/pytorch_paths.sh cmake-args|library-path PYTHON" >&2; exit 2 ;; esac
[ -n "$python" ] || { echo "usage: scripts/pytorch_paths.sh $what PYTHON" >&2; exit 2; }
# PyTorch's package folder: libtorch's CMake config is in share/cmake and its libraries in lib/.
torch_dir="$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)" || {
  echo "no importable torch in $python" >&2
  exit 2
}
nvidia="$(dirname "$torch_dir")/nvidia"

if [ "$what" = library-path ]; then
  paths="$torch_dir/lib"
  for lib in "$nvidia"/*/lib; do [ -d "$lib" ] && paths="$paths:$lib"; done
  echo "$paths"
  exit 0
fi
# Naming the package folder itself (not torch.utils.cmake_prefix_path) makes CMake take libtorch.so
# from there before a Debian libtorch in /usr/lib.
echo "-DCMAKE_PREFIX_PATH=$torch_dir${ESRUN_EXTRA_PREFIX:+;$ESRUN_EXTRA_PREFIX}"
# The cuDNN that libtorch loads: pip's nvidia-cudnn package beside torch. It ships only
# libcudnn.so.N, which CMake's search does not find by itself; without it CMake looks in the CUDA toolkit.
cudnn_lib="$(ls "$nvidia"/cudnn/lib/libcudnn.so* 2>/dev/null | head -n 1 || true)"
if [ -f "$nvidia/cudnn/include/cudnn.h" ] && [ -n "$cudnn_lib" ]; then
  echo "-DCUDNN_INCLUDE_PATH=$nvidia/cudnn/include"
  echo "-DCUDNN_LIBRARY_PATH=$cudnn_lib"
fi
