#!/usr/bin/env bash
# The GPU benchmark of docs/performance.md, in one device call: builds esrun against the CUDA
# libtorch of the machine's PyTorch (../shared/gpu/README.md), runs the [.gpu] tests, then measures
#   - `esrun bench` of uniform ResNet-18 on CIFAR-10 at B=512 in bf16 (images/s per phase),
#   - epoch times of uniform, ES and ESWP (b/B = 0.25) over a short fixed schedule, and
#   - the same schedule with the plain PyTorch reference (scripts/reference/train_pytorch.py),
# and writes every log and JSON under $OUT (default ./bench-gpu-out).
# Usage (on the GPU machine, from the repository root, with .gpu/debs and the CIFAR-10 files in
# $DATA, e.g. .gpu/data/cifar-10-subset carried along):
#   DATA=.gpu/data/cifar-10-subset TRAIN_FILES=data_batch_1.bin TEST_FILES=test_batch.first1000.bin \
#     EPOCHS=5 bash scripts/bench_gpu.sh
set -euo pipefail
OUT="${OUT:-bench-gpu-out}"
DATA="${DATA:?set DATA to a folder with the CIFAR-10 binary files}"
TRAIN_FILES="${TRAIN_FILES:-data_batch_1.bin,data_batch_2.bin,data_batch_3.bin,data_batch_4.bin,data_batch_5.bin}"
TEST_FILES="${TEST_FILES:-test_batch.bin}"
EPOCHS="${EPOCHS:-5}"
mkdir -p "$OUT" /opt/esrun-deps
for f in .gpu/debs/*.deb; do dpkg -x "$f" /opt/esrun-deps; done
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DESRUN_WITH_OPENCV=OFF \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;/opt/esrun-deps/usr" -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/cmake.log" 2>&1
cmake --build build-gpu -j16 > "$OUT/build.log" 2>&1
export LD_LIBRARY_PATH=/opt/esrun-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt"
build-gpu/esrun_tests "[.gpu]" > "$OUT/gpu_tests.txt" 2>&1 || echo "GPU TESTS FAILED" >> "$OUT/gpu_tests.txt"

to_list() { echo "[$1]"; }
common=(--set "data={name: cifar10, root: $DATA, train_files: $(to_list "$TRAIN_FILES"), test_files: $(to_list "$TEST_FILES")}"
        --set model.name=resnet18 --set device=cuda --set precision=bf16 --set channels_last=true
        --set "optimizer={name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}" --set schedule.name=onecycle
        --set train.epochs="$EPOCHS" --set progress.mode=lines --set checkpoint.every=0)
build-gpu/esrun bench "${common[@]}" --set "sampler={name: uniform, meta_batch: 512}" --steps 50 --warmup 10 \
  --policy-n 1280000 > "$OUT/bench_uniform.json"
for method in uniform es eswp; do
  build-gpu/esrun "${common[@]}" --set "sampler={name: $method, meta_batch: 512, ratio: 0.25, anneal_epochs: 0}" \
    --out "$OUT/run_$method" > "$OUT/run_$method.log" 2>&1
done
for method in uniform es; do
  python3 scripts/reference/train_pytorch.py --data "$DATA" --train-files "$TRAIN_FILES" --test-files "$TEST_FILES" \
    --method "$method" --epochs "$EPOCHS" --batch 512 --ratio 0.25 --workers 8 --amp bf16 --channels-last \
    > "$OUT/reference_$method.jsonl" 2> "$OUT/reference_$method.log"
done
echo "done: $OUT"
