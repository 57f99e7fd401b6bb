#!/usr/bin/env bash
# The GPU benchmark of docs/performance.md, on the GPU machine, from the repository root. Stages:
#   build      esrun against the CUDA libtorch of the machine's PyTorch (../shared/gpu/README.md)
#   tests      the [.gpu] tests
#   bench      `esrun bench` of uniform ResNet-18 on CIFAR-10 at B=512 in bf16 (images/s per phase),
#              and of ES and ESWP for the policy bookkeeping share at n = 1.28M
#   runs       uniform, ES and ESWP (b/B = 0.25, every epoch selecting) over a short fixed schedule
#   reference  the same schedule with scripts/reference/train_pytorch.py, uniform and ES
# Everything is written to $WORK (kept on a warm machine between calls); on exit, whatever
# happened, $OUT gets table.md (scripts/bench_table), gpu_tests.txt and results.tar.gz (every log,
# JSON and metrics file; no checkpoints), since a device call brings back at most 8 files.
# Usage (.gpu/debs and the CIFAR-10 files in $DATA carried along), all stages in one call:
#   DATA=.gpu/data/cifar-10-subset TEST_FILES=test_batch.first1000.bin \
#     TRAIN_FILES=data_batch_1.bin,data_batch_1.bin,data_batch_1.bin,data_batch_1.bin,data_batch_1.bin \
#     EPOCHS=5 OUT=$OUT bash scripts/bench_gpu.sh
# or split over two calls: STAGES="build tests bench", then STAGES="runs reference".
set -uo pipefail
OUT="${OUT:-bench-gpu-out}"
WORK="${WORK:-/tmp/esrun-bench}"
DATA="${DATA:?set DATA to a folder with the CIFAR-10 binary files}"
TRAIN_FILES="${TRAIN_FILES:-data_batch_1.bin,data_batch_2.bin,data_batch_3.bin,data_batch_4.bin,data_batch_5.bin}"
TEST_FILES="${TEST_FILES:-test_batch.bin}"
EPOCHS="${EPOCHS:-5}"
RATIO="${RATIO:-0.25}"
STAGES="${STAGES:-build tests bench runs reference}"
BUILD="${BUILD:-build-gpu}"  # BUILD=build DEVICE=cpu PRECISION=fp32 MODEL=small_cnn: a dry run on a CPU machine
DEVICE="${DEVICE:-cuda}"
PRECISION="${PRECISION:-bf16}"
MODEL="${MODEL:-resnet18}"
mkdir -p "$OUT" "$WORK"

pack() {
  python3 scripts/bench_table "$WORK" --ratio "$RATIO" > "$WORK/table.md" 2>&1
  cp "$WORK/table.md" "$OUT/"
  [ -f "$WORK/gpu_tests.txt" ] && cp "$WORK/gpu_tests.txt" "$OUT/"
  tar -czf "$OUT/results.tar.gz" --exclude=checkpoints -C "$WORK" .
}
trap pack EXIT
stage() { [[ " $STAGES " == *" $1 "* ]]; }
log() { echo "[$(date +%T)] $*" | tee -a "$WORK/stages.log"; }

mkdir -p /opt/esrun-deps
for f in .gpu/debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" /opt/esrun-deps; done
export LD_LIBRARY_PATH=/opt/esrun-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$WORK/gpu.txt" 2>> "$WORK/stages.log"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' >> "$WORK/gpu.txt" 2>> "$WORK/stages.log"

if stage build || [ ! -x "$BUILD"/esrun ]; then
  log "build"
  TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DESRUN_WITH_OPENCV=OFF \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;/opt/esrun-deps/usr" -DCMAKE_CUDA_ARCHITECTURES=90 > "$WORK/cmake.log" 2>&1 &&
    cmake --build "$BUILD" -j16 > "$WORK/build.log" 2>&1 || { log "build failed"; exit 1; }
fi
if stage tests; then
  log "tests"
  timeout 300 "$BUILD"/esrun_tests "[.gpu]" > "$WORK/gpu_tests.txt" 2>&1 || log "GPU TESTS FAILED"
fi

to_list() { echo "[$1]"; }
common=(--set "data={name: cifar10, root: $DATA, train_files: $(to_list "$TRAIN_FILES"), test_files: $(to_list "$TEST_FILES")}"
        --set model.name="$MODEL" --set device="$DEVICE" --set precision="$PRECISION" --set channels_last=true
        --set "optimizer={name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}" --set schedule.name=onecycle
        --set train.epochs="$EPOCHS" --set progress.mode=lines --set checkpoint.every=0)
sampler() {
  if [ "$1" = uniform ]; then echo "sampler={name: uniform, meta_batch: 512}"
  else echo "sampler={name: $1, meta_batch: 512, ratio: $RATIO, anneal_epochs: 0}"; fi
}

if stage bench; then
  for method in uniform es eswp; do
    log "bench $method"
    steps=50; [ "$method" = uniform ] || steps=20
    timeout 300 "$BUILD"/esrun bench "${common[@]}" --set "$(sampler "$method")" --steps "$steps" --warmup 10 \
      --policy-n 1280000 > "$WORK/bench_$method.json" 2> "$WORK/bench_$method.log" || log "bench $method failed"
  done
fi
if stage runs; then
  for method in uniform es eswp; do
    log "run $method"
    rm -rf "$WORK/run_$method"
    timeout 300 "$BUILD"/esrun "${common[@]}" --set "$(sampler "$method")" --out "$WORK/run_$method" \
      > "$WORK/run_$method.log" 2>&1 || log "run $method failed"
  done
fi
if stage reference; then
  for method in uniform es; do
    log "reference $method"
    timeout 300 python3 scripts/reference/train_pytorch.py --data "$DATA" --train-files "$TRAIN_FILES" \
      --test-files "$TEST_FILES" --method "$method" --epochs "$EPOCHS" --batch 512 --ratio "$RATIO" --workers 8 \
      --amp bf16 --channels-last > "$WORK/reference_$method.jsonl" 2> "$WORK/reference_$method.log" ||
      log "reference $method failed"
  done
fi
log "done: $OUT"
