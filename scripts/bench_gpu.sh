#!/usr/bin/env bash
# The GPU benchmark of docs/performance.md, on the GPU machine, from the repository root, after
# scripts/prepare_gpu.sh here (carry .gpu). Stages, in this order:
#   bundle     use .gpu/bundle's esrun and esrun_tests (built here against torch 2.11 with CUDA)
#              with the machine's libtorch, if `esrun --version` runs and reports CUDA; else build
#   build      build esrun against the CUDA libtorch of the machine's PyTorch (with .gpu/debs):
#              first when no working binary is there yet, else last, after the measurements and
#              only until DEADLINE (default 560) seconds into the call, to time the build path
#              against the bundle (stages.log)
#   tests      the [.gpu] tests
#   bench      `esrun bench` of uniform, ES and ESWP, ResNet-18 on CIFAR-10 in bf16 and channels-last,
#              at B = 512 and at the papers' B = 128 (b/B = RATIO): images/s per phase, F/T, and
#              the policy bookkeeping share at n = 1.28 M
#   runs       uniform, ES and ESWP (every epoch selecting) over a short fixed schedule, at both B
#   reference  the same schedule with scripts/reference/train_pytorch.py, uniform and ES, B = 512
#   distributed  ES at B = 512 for 2 epochs as 1 process, then as 2 processes sharing the one GPU
#              (docs/distributed.md): over Gloo, and over NCCL (which may refuse two ranks on one
#              GPU; its log says); metrics.jsonl has time.gather and time.reduce
# They run as: bundle (or build), tests, bench and runs at B = 512, distributed, bench at B = 128,
# reference, runs at B = 128, build (timing only).
# Everything is written to $WORK; on exit, whatever happened, $OUT gets table.md
# (scripts/bench_table), gpu_tests.txt and results.tar.gz (every log, JSON and metrics file; no
# checkpoints), since a device call brings back at most 8 files.
# Usage, all stages in one call (prepare_gpu.sh prints it):
#   DEADLINE=560 DATA=.gpu/data/cifar-10-subset TEST_FILES=test_batch.first1000.bin \
#     TRAIN_FILES=data_batch_1.bin,data_batch_1.bin,data_batch_1.bin,data_batch_1.bin,data_batch_1.bin \
#     EPOCHS=5 OUT=$OUT bash scripts/bench_gpu.sh
# A CPU dry run: STAGES="bench runs" BIN=build DEVICE=cpu PRECISION=fp32 MODEL=small_cnn ...
set -uo pipefail
OUT="${OUT:-bench-gpu-out}"
WORK="${WORK:-/tmp/esrun-bench}"
DATA="${DATA:-}"
[ -d "$DATA" ] || { echo "bench_gpu.sh: DATA='$DATA': expected a folder with the CIFAR-10 binary files" >&2; exit 2; }
TRAIN_FILES="${TRAIN_FILES:-data_batch_1.bin,data_batch_2.bin,data_batch_3.bin,data_batch_4.bin,data_batch_5.bin}"
TEST_FILES="${TEST_FILES:-test_batch.bin}"
EPOCHS="${EPOCHS:-5}"
RATIO="${RATIO:-0.25}"
STAGES="${STAGES:-bundle tests bench runs distributed reference build}"
BIN="${BIN:-}"        # a folder with esrun and esrun_tests; set by the bundle or build stage
BUILD="${BUILD:-build-gpu}"
DEVICE="${DEVICE:-cuda}"
PRECISION="${PRECISION:-bf16}"
MODEL="${MODEL:-resnet18}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUT" "$WORK"

pack() {
  python3 scripts/bench_table "$WORK" --ratio "$RATIO" > "$WORK/table.md" 2>&1
  cp "$WORK/table.md" "$OUT/"
  [ -f "$WORK/gpu_tests.txt" ] && cp "$WORK/gpu_tests.txt" "$OUT/"
  tar -czf "$OUT/results.tar.gz" --exclude=checkpoints -C "$WORK" .
}
trap pack EXIT
stage() { [[ " $STAGES " == *" $1 "* ]]; }
# Every step stops DEADLINE seconds into the call (default 560, for a call of timeout_s 600), so
# that pack() still runs and $OUT comes back; a step gets 300 s at most.
DEADLINE="${DEADLINE:-560}"
within() {
  local left=$((DEADLINE - SECONDS))
  [ "$left" -gt 300 ] && left=300
  if [ "$left" -lt 10 ]; then echo "skipped: DEADLINE reached" >&2; return 124; fi
  timeout "$left" "$@"
}
log() { echo "[$(date +%T)] $*" | tee -a "$WORK/stages.log"; }

# The bundle's RUNPATH names only its own lib/: libtorch and the CUDA libraries come from PyTorch's
# package (the CUDA toolkit's folder need not be in the loader's cache there).
torch_libs="$(bash scripts/pytorch_paths.sh library-path "$PYTHON" 2>> "$WORK/stages.log")"
export LD_LIBRARY_PATH="$torch_libs:/opt/esrun-deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$WORK/gpu.txt" 2>> "$WORK/stages.log"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' >> "$WORK/gpu.txt" 2>> "$WORK/stages.log"

works() { "$1/esrun" --version > "$WORK/version_$2.txt" 2>&1 && grep -q "^libtorch .*, CUDA [0-9.]* compiled in" "$WORK/version_$2.txt"; }
if stage bundle; then
  start=$SECONDS
  if [ -x .gpu/bundle/esrun ] && works .gpu/bundle bundle; then
    BIN=.gpu/bundle
    log "bundle: runs here ($((SECONDS - start)) s)"
  else
    log "bundle: missing or does not run here (version_bundle.txt); building instead"
  fi
fi
# Builds into $BUILD within $1 seconds; returns non-zero if it failed or ran out of time.
build() {
  log "build"
  local start=$SECONDS
  mkdir -p /opt/esrun-deps
  for f in .gpu/debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" /opt/esrun-deps; done
  mapfile -t torch_args < <(ESRUN_EXTRA_PREFIX=/opt/esrun-deps/usr bash scripts/pytorch_paths.sh cmake-args "$PYTHON")
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DESRUN_WITH_OPENCV=OFF -DESRUN_WITH_MATIO=OFF -DESRUN_REQUIRE_CUDA=ON \
    "${torch_args[@]}" > "$WORK/cmake.log" 2>&1 &&
    timeout "$1" cmake --build "$BUILD" -j "$(nproc)" > "$WORK/build.log" 2>&1 && works "$BUILD" build ||
    { log "build: not done after $((SECONDS - start)) s (failed, or over its $1 s; cmake.log, build.log, version_build.txt)"; return 1; }
  log "build: done ($((SECONDS - start)) s)"
}
if [ -z "$BIN" ]; then
  left=$((DEADLINE - SECONDS - 60))
  [ "$left" -gt 480 ] && left=480
  build "$left" || exit 1
  BIN="$BUILD"
  built=1
fi
"$BIN"/esrun --version > "$WORK/version.txt" 2>&1
log "binaries: $BIN"

if stage tests; then
  log "tests"
  within "$BIN"/esrun_tests "[.gpu]" > "$WORK/gpu_tests.txt" 2>&1
  case $? in
    0) log "GPU tests passed" ;;
    77) log "GPU tests skipped: no CUDA device" ;;
    124) log "GPU tests stopped at their time limit (gpu_tests.txt)" ;;
    *) log "GPU TESTS FAILED (gpu_tests.txt)" ;;
  esac
  pack
fi

to_list() { echo "[$1]"; }
common=(--set "data={name: cifar10, root: $DATA, train_files: $(to_list "$TRAIN_FILES"), test_files: $(to_list "$TEST_FILES")}"
        --set model.name="$MODEL" --set device="$DEVICE" --set precision="$PRECISION" --set channels_last=true
        --set "optimizer={name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}" --set schedule.name=onecycle
        --set train.epochs="$EPOCHS" --set progress.mode=lines --set checkpoint.every=0)
sampler() {  # method, meta-batch
  if [ "$1" = uniform ]; then echo "sampler={name: uniform, meta_batch: $2}"
  else echo "sampler={name: $1, meta_batch: $2, ratio: $RATIO, anneal_epochs: 0}"; fi
}
# B = 512 files are <kind>_<method>; the papers' B = 128 ones <kind>_<method>_B128.
tag() { [ "$1" = 512 ] || echo "_B$1"; }
bench() {
  local batch=$1 tag method steps
  tag="$(tag "$batch")"
  if stage bench; then
    for method in uniform es eswp; do
      log "bench $method B=$batch"
      steps=50; [ "$method" = uniform ] || steps=20
      within "$BIN"/esrun bench "${common[@]}" --set "$(sampler "$method" "$batch")" --steps "$steps" --warmup 10 \
        --policy-n 1280000 > "$WORK/bench_$method$tag.json" 2> "$WORK/bench_$method$tag.log" || log "bench $method B=$batch failed"
    done
    pack
  fi
}
runs() {
  local batch=$1 tag method
  tag="$(tag "$batch")"
  if stage runs; then
    for method in uniform es eswp; do
      log "run $method B=$batch"
      rm -rf "$WORK/run_$method$tag"
      within "$BIN"/esrun "${common[@]}" --set "$(sampler "$method" "$batch")" --out "$WORK/run_$method$tag" \
        > "$WORK/run_$method$tag.log" 2>&1 || log "run $method B=$batch failed"
    done
    pack
  fi
}
distributed() {
  if stage distributed; then
    local ranks backend
    for ranks_backend in 1:auto 2:gloo 2:nccl; do
      ranks="${ranks_backend%%:*}" backend="${ranks_backend##*:}"
      log "distributed: ES, $ranks process(es) on one GPU, backend $backend"
      rm -rf "$WORK/dist_es_${ranks}_$backend"
      within "$PYTHON" scripts/launch -n "$ranks" --port $((29600 + ranks)) -- "$BIN"/esrun "${common[@]}" \
        --set "$(sampler es 512)" --set train.epochs=2 --set distributed.backend="$backend" \
        --set distributed.check_sync=true --set distributed.timeout_s=120 --out "$WORK/dist_es_${ranks}_$backend" \
        > "$WORK/dist_es_${ranks}_$backend.log" 2>&1 || log "distributed $ranks $backend failed"
    done
    pack
  fi
}
# The targets first (B = 512), the distributed smoke test, the papers' B = 128 bench, the
# reference, then the B = 128 runs: what is cut when time runs short is the least needed. $OUT is
# refreshed after each stage.
bench 512
runs 512
distributed
bench 128
if stage reference; then
  for method in uniform es; do
    log "reference $method"
    within "$PYTHON" scripts/reference/train_pytorch.py --data "$DATA" --train-files "$TRAIN_FILES" \
      --test-files "$TEST_FILES" --method "$method" --epochs "$EPOCHS" --batch 512 --ratio "$RATIO" --workers 8 \
      --amp "$PRECISION" --channels-last --device "$DEVICE" > "$WORK/reference_$method.jsonl" 2> "$WORK/reference_$method.log" ||
      log "reference $method failed"
  done
  pack
fi
runs 128
# With the bundle's binaries in use, the build path still runs last, after every measurement, so
# that stages.log holds both times (bundle against build); it stops at DEADLINE seconds into the call.
if stage build && [ -z "${built:-}" ]; then
  left=$((DEADLINE - SECONDS))
  if [ "$left" -gt 60 ]; then build "$left" || true; else log "build: skipped, $left s left before DEADLINE"; fi
fi
log "done: $OUT"
