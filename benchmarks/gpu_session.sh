#!/usr/bin/env bash
# One call on a lent GPU machine (see README, "Runs on a lent GPU"): the machine facts, the epoch-time
# benchmark, then one training run per argument group. Records, benchmark JSON and the log go to $OUT
# (the device tool brings back at most 8 files: a run leaves 2, the benchmark 1, the log 1).
#
#   bash benchmarks/gpu_session.sh "--loss contrastive --tau 0.3" "--loss hard --tau 0.7"
#
# Environment: DATA (default .carry/cifar10-jpeg.npz), DEVICE (default cuda), OUT (default ./gpu-out), BENCH=0 skips the
# benchmark, CONTRASTIVE_COMMIT names the commit the tree was copied from (the copy has no .git).
# The GPU machine's own torch/torchvision/numpy/pillow/tqdm are used: the training path needs no wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-.carry/cifar10-jpeg.npz}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-$PWD/gpu-out}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
mkdir -p "$OUT"
exec > >(tee -a "$OUT/session.log") 2>&1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"

if [ "${BENCH:-1}" != 0 ]; then
    python3 benchmarks/epoch_time.py --data "$DATA" --device "$DEVICE" --out "$OUT"
fi
for args in "$@"; do
    # shellcheck disable=SC2086  # each argument group is split into CLI flags on purpose
    python3 -m contrastive train --dataset cifar10 --data "$DATA" --device "$DEVICE" --out "$OUT" \
        --checkpoint-dir /tmp/checkpoints $args
done
find "$OUT" -type f | sort
