#!/usr/bin/env bash
# One session on a GPU machine: the machine facts, the CUDA self-check (gpu_check.py), the epoch-time
# benchmark, then one training run per argument group. Records, the check's and the benchmark's JSON
# and the log go to $OUT.
#
#   bash benchmarks/gpu_session.sh "--loss contrastive --tau 0.3" "--loss hard --tau 0.7"
#
# Environment: DATA, a CIFAR-10 npz file (data/README.md; default: none, torchvision downloads CIFAR-10
# into data/datasets), DEVICE (default cuda), OUT (default ./gpu-out), CHECK=0 skips the self-check,
# BENCH=0 the benchmark, PARALLEL=1 starts all runs at once, PACK=1 packs every file of $OUT but the log
# into one $OUT/out.tar (for a machine that returns only a few files), and CONTRASTIVE_COMMIT names the
# commit the checkout was copied from (where it has no .git), so that the records name it.
# The machine's own torch/torchvision/numpy/pillow/tqdm are used: the training path needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_ARGS=(${DATA:+--data "$DATA"})
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-$PWD/gpu-out}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
mkdir -p "$OUT"
exec > >(tee -a "$OUT/session.log") 2>&1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"

status=0  # each step runs even if an earlier one failed; the script exits 1 if any did
if [ "${CHECK:-1}" != 0 ]; then  # the CUDA paths the CPU tests cannot reach, and ms/step per compile mode
    python3 benchmarks/gpu_check.py "${DATA_ARGS[@]}" --device "$DEVICE" --out "$OUT" || status=1
fi
if [ "${BENCH:-1}" != 0 ]; then
    python3 benchmarks/epoch_time.py "${DATA_ARGS[@]}" --device "$DEVICE" --out "$OUT" || status=1
fi
train() {
    # shellcheck disable=SC2086  # each argument group is split into CLI flags on purpose
    python3 -m contrastive train --dataset cifar10 "${DATA_ARGS[@]}" --device "$DEVICE" \
        --out "$OUT" $1
}
if [ "${PARALLEL:-0}" = 1 ]; then  # all runs at once on the one GPU (batch 128 leaves most of it idle)
    pids=()
    export CONTRASTIVE_CONCURRENT_RUNS=$#  # recorded in each run's provenance: the runs share the GPU
    for args in "$@"; do train "$args" & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
else
    for args in "$@"; do train "$args" || status=1; done
fi
find "$OUT" -name '.*.lock' -delete  # the runs' write locks, empty once each run has ended
if [ "${PACK:-0}" = 1 ]; then
    (cd "$OUT" && find . -type f ! -name session.log ! -name out.tar -print0 | sort -z \
        | tar --null -cf out.tar -T - --remove-files) || status=1
fi
find "$OUT" -type f | sort
[ "$status" = 0 ] || echo "at least one step failed" >&2
exec >&- 2>&-  # close the pipe to tee, and let it finish writing the log
wait
exit "$status"
