#!/usr/bin/env bash
# The zoo's CUDA paths, checked once on a GPU machine in one short run (docs/performance.md,
# "CUDA"): the tests that exercise CUDA, the ZF recipe trained and tested in float16 (`--amp`:
# autocast with dynamic loss scaling) and in float32, and the torchvision benchmark in both
# precisions. Each step has its own time limit and the script goes on after a failed step;
# everything it prints goes to $OUT/cuda_check.log, the results (small JSON files) to $OUT, the
# work dirs with their checkpoints to $WORK (default /tmp/cuda_check_work).
#
#   OUT=/tmp/cuda_check bash tools/cuda_check.sh            # from the repository root
#
# On a machine whose Python lacks the zoo's dependencies, put their wheels in .whl/ (mmengine,
# addict, yapf, termcolor, platformdirs, pycocotools, entrypoints): they are installed with the
# zoo into /tmp/site first, nothing else is touched. Exit status: the number of failed steps.
set -u
OUT=${OUT:?set OUT to the folder for the log and results}
WORK=${WORK:-/tmp/cuda_check_work}
mkdir -p "$OUT" "$WORK"
LOG="$OUT/cuda_check.log"
: > "$LOG"
export PYTHONUNBUFFERED=1
failed=0

step() {  # step NAME SECONDS COMMAND...: run one step with a time limit, log it, count failures
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  echo "=== $name (limit ${limit} s): $*" | tee -a "$LOG"
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit status $rc after $((SECONDS - start)) s" | tee -a "$LOG"
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

if [ -d .whl ]; then
  step install 180 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# the zoo itself, so that its parts are found through their entry points as installed
step install-zoo 180 python3 -m pip install -q --no-index --no-deps --no-build-isolation \
  --no-compile --no-cache-dir --target /tmp/zoo-site .
export PYTHONPATH=/tmp/zoo-site${PYTHONPATH:+:$PYTHONPATH}
ZOO="python3 -m zoo.cli.main"

step environment 60 bash -c 'nvidia-smi -L; python3 -c "import torch, torchvision, mmengine;
print(\"torch\", torch.__version__, \"torchvision\", torchvision.__version__, \"mmengine\",
      mmengine.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name())"'

step tests 300 python3 -m pytest -q -p no:cacheprovider -n 4 tests/zoo/test_data_preprocessor.py \
  tests/runner/test_amp_cli.py tests/precision

ZF=configs/faster_rcnn/faster_rcnn_zf_bccd.py
for precision in fp16 fp32; do
  work="$WORK/zf_$precision"
  opts=()
  [ "$precision" = fp32 ] && opts=(--cfg-options amp=False)
  step "zf-train-$precision" 420 $ZOO train $ZF --work-dir "$work" "${opts[@]}"
  step "zf-test-$precision" 120 $ZOO test $ZF "$work" --metrics "$OUT/zf_${precision}_metrics.json" \
    --work-dir "$work/test" "${opts[@]}"
  cp "$work/zoo_run.json" "$OUT/zf_${precision}_run.json" 2>/dev/null
done

step bench-fp16 300 python3 benchmarks/vs_torchvision.py --device cuda --amp --sizes 600/1000 \
  --out "$OUT/vs_torchvision_cuda_fp16.json"
step bench-fp32 300 python3 benchmarks/vs_torchvision.py --device cuda --sizes 600/1000 \
  --out "$OUT/vs_torchvision_cuda_fp32.json"

echo "=== $failed step(s) failed" | tee -a "$LOG"
exit "$failed"
