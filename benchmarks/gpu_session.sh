#!/usr/bin/env bash
# One call on a GPU machine: the machine facts, the CUDA-graph check of a whole short run
# (gpu_check.py), the epoch-time benchmark, then the next Table 1 records at the paper's scale that
# finish in what is left of $MINUTES (python -m contrastive.session), all packed for a machine that
# returns few files: $OUT/session.tar (records, run notebooks where papermill is installed, the
# check's and the benchmark's JSON, paths from the checkout's root: `tar -xf session.tar` there),
# $OUT/session.json (the plan, each run's status and seconds) and $OUT/session.log.
#
#   MINUTES=9.5 DATA=.carry/cifar10-jpeg.npz OUT=/some/out bash benchmarks/gpu_session.sh
#
# Environment: MINUTES, what the whole call may take (default 9.5, for a 10-minute command);
# DATA, a CIFAR-10 npz file (data/README.md; default: none, torchvision downloads CIFAR-10 into
# data/datasets); DEVICE (default cuda); OUT (default ./gpu-out); CHECK=0 skips the check and
# BENCH=0 the benchmark (each is cut off after CHECK_S / BENCH_S seconds, default 240 and 240);
# PLAN=1 only prints the plan; SESSION_ARGS, further flags of python -m contrastive.session (the
# estimate's, e.g. "--step-ms 2.9 --compile-s 60" once a check has measured them);
# CONTRASTIVE_COMMIT names the commit the checkout was copied from (where it has no .git), so that
# the records name it. It writes inside the checkout only, but for the three files of $OUT.
# Given quoted argument groups ("--loss hard --tau 0.7" ...), it makes one training run per group
# instead, as before (PARALLEL=1: all at once on the one GPU), into $OUT; PACK=1 tars them.
# The machine's own torch/torchvision/numpy/pillow/tqdm are used: the training path needs no more.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
DATA_ARGS=(${DATA:+--data "$DATA"})
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-$PWD/gpu-out}
MINUTES=${MINUTES:-9.5}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
# compiled kernels, shared by every process of the call, inside the checkout (git-ignored)
export TORCHINDUCTOR_CACHE_DIR=$PWD/data/checkpoints/inductor
export TRITON_CACHE_DIR=$PWD/data/checkpoints/triton
# shellcheck disable=SC2206  # the estimate's flags are split on purpose
SESSION_FLAGS=(${SESSION_ARGS:-})
if [ "${PLAN:-0}" = 1 ]; then  # what the call would run, nothing written
    exec python3 -m contrastive.session --minutes "$MINUTES" --plan "${DATA_ARGS[@]}" \
        "${SESSION_FLAGS[@]}"
fi
mkdir -p "$OUT"
exec > >(tee -a "$OUT/session.log") 2>&1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"

status=0  # each step runs even if an earlier one failed; the script exits 1 if any did
if [ "${CHECK:-1}" != 0 ]; then  # CUDA graphs over a whole short run: no recompile after warm-up
    timeout "${CHECK_S:-240}" python3 benchmarks/gpu_check.py "${DATA_ARGS[@]}" \
        --device "$DEVICE" --out data/checks || status=1
fi
if [ "${BENCH:-1}" != 0 ]; then
    timeout "${BENCH_S:-240}" python3 benchmarks/epoch_time.py "${DATA_ARGS[@]}" \
        --device "$DEVICE" --out data/benchmarks || status=1
fi
train() {
    # shellcheck disable=SC2086  # each argument group is split into CLI flags on purpose
    python3 -m contrastive train --dataset cifar10 "${DATA_ARGS[@]}" --device "$DEVICE" \
        --out "$OUT" $1
}
if [ $# = 0 ]; then  # the slot's records: what the minutes left allow
    left=$(python3 -c "print($MINUTES - ($(date +%s) - $START) / 60)")
    python3 -m contrastive.session --minutes "$left" --since "$START" "${DATA_ARGS[@]}" \
        --device "$DEVICE" --out "$OUT" "${SESSION_FLAGS[@]}" || status=1
elif [ "${PARALLEL:-0}" = 1 ]; then  # all runs at once on the one GPU
    pids=()
    export CONTRASTIVE_CONCURRENT_RUNS=$#  # recorded in each run's provenance: the runs share the GPU
    for args in "$@"; do train "$args" & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
else
    for args in "$@"; do train "$args" || status=1; done
fi
find "$OUT" -name '.*.lock' -delete  # the runs' write locks, empty once each run has ended
if [ $# != 0 ] && [ "${PACK:-0}" = 1 ]; then
    (cd "$OUT" && find . -type f ! -name session.log ! -name out.tar -print0 | sort -z \
        | tar --null -cf out.tar -T - --remove-files) || status=1
fi
find "$OUT" -type f | sort
[ "$status" = 0 ] || echo "at least one step failed" >&2
exec >&- 2>&-  # close the pipe to tee, and let it finish writing the log
wait
exit "$status"
