#!/usr/bin/env bash
# The GPU check: one command that fits a short GPU slot (<= 8 minutes on one H100, each part under its own timeout).
#
#   bash benchmarks/gpu_check.sh --prepare   # here, once: fill .carry/ (data, reference loops), measure what would
#                                            # travel, print the carry list and the device command
#   bash benchmarks/gpu_check.sh             # on the GPU machine, from the repository root, OUT set by the device
#   bash benchmarks/gpu_check.sh --dry-run   # on a CPU, every part at a tiny size (about a minute): the logic only
#
# Parts (budget in seconds of wall time, enforced by `timeout`):
#   (a)  30  the CUDA tests: pytest on the test files that hold @pytest.mark.cuda tests (those skip on a CPU)
#   (b)  30  benchmarks/gpu_step_check.py: one critic and one generator step, fp32/TF32/bf16 vs CPU float64
#   (c)  70  benchmarks/bench_speed.py --device cuda: ours (fp32, TF32, bf16) against the reference loops, one round
#   (d) 300  Fashion-MNIST WGAN-GP (the fashion_mnist/wgan-gp preset) trained for 300 s of wall time, stopped by
#            SIGTERM (a clean stop at the last checkpoint; one every 500 steps), then
#       40  10,000 samples (seed 0) packed as 8-bit images into $OUT/samples.npz, and their FD (F-MNIST classifier)
#            against the test set. TF-Inception FID is computed back here on the CPU (the Inception file, 87 MB, cannot
#            travel): python benchmarks/score_gpu_samples.py score samples.npz
# 30 + 30 + 70 + 305 (the stop's grace) + 40 = 475 s. The part budgets come from the CPU timings scaled down: the
# speed part is 8 subprocesses of about 6 s of start-up (CUDA initialisation) each plus under 2 s of timed steps.
#
# Everything printed also goes to $OUT/gpu_check.log; the last lines are a summary table. Exit status 0 when every
# part passed, 1 otherwise, 2 for a usage error. What comes back from $OUT: gpu_check.log, samples.npz (10 MB),
# run_metrics.jsonl, run_config.toml, run_grid.png.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
CARRY=.carry
MAX_TRAVEL=$((64 * 1024 * 1024))
DEBIAN_DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
SHARED_BENCH=${REFERENCE_LOOPS:-$ROOT/../shared/bench}
PY=${PYTHON:-python3}

usage() { echo "usage: bash benchmarks/gpu_check.sh [--prepare | --dry-run]" >&2; }

travel_bytes() {
    # What a device run sends: tracked and untracked-but-not-ignored files, plus the carried folder.
    local tree carried
    tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
    carried=$(du -sb "$CARRY" 2>/dev/null | cut -f1)
    echo "$tree ${carried:-0}"
}

prepare() {
    git check-ignore -q "$CARRY/" || { echo "gpu_check: $CARRY/ is not ignored by git (.gitignore lists it)" >&2; return 2; }
    mkdir -p "$CARRY/fashion-mnist" "$CARRY/bench"
    for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
        cp "$DEBIAN_DATA/$f" "$CARRY/fashion-mnist/" || { echo "gpu_check: no $DEBIAN_DATA/$f (apt-get install dataset-fashion-mnist, or set FASHION_MNIST)" >&2; return 2; }
    done
    cp "$SHARED_BENCH/ref_toy_wgangp.py" "$SHARED_BENCH/ref_mnist_wgangp.py" "$CARRY/bench/" ||
        { echo "gpu_check: no reference loops in $SHARED_BENCH (set REFERENCE_LOOPS)" >&2; return 2; }
    read -r tree carried < <(travel_bytes)
    local total=$((tree + carried))
    echo "filled $CARRY/: fashion-mnist/ (4 IDX .gz files), bench/ (the two reference loops)"
    echo "wheels: none; the GPU image has torch, numpy, scipy, matplotlib, tensorboard, safetensors, tqdm, pillow and"
    echo "  pytest, and nothing the check runs imports POT (only the toys' W1 does) or fid-helper (FID is scored here)"
    printf 'would travel: tree %s + %s %s = %s bytes (%.1f MiB of the 64 MiB limit)\n' \
        "$tree" "$CARRY" "$carried" "$total" "$(echo "$total / 1048576" | bc -l)"
    if [ "$total" -gt "$MAX_TRAVEL" ]; then
        echo "gpu_check: refused: $total bytes would travel, over 64 MiB; remove untracked files or carry less" >&2
        return 1
    fi
    echo "carry: [\"$CARRY\"]"
    echo "run (timeout_s 600): bash benchmarks/gpu_check.sh"
    echo "then here: python benchmarks/score_gpu_samples.py score FILES_AT/samples.npz   # FID + FD, about 27 min"
}

MODE=gpu
case "${1:-}" in
    "") ;;
    --dry-run) MODE=dry ;;
    --prepare) prepare; exit $? ;;
    -h | --help) usage; exit 0 ;;
    *) usage; exit 2 ;;
esac

OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 WGANLAB_CACHE=${WGANLAB_CACHE:-$WORK/cache}

if [ "$MODE" = gpu ]; then
    DEVICE=cuda DATA=$ROOT/$CARRY/fashion-mnist REFERENCE=$ROOT/$CARRY/bench
    TRAIN_SECONDS=300 CHECKPOINT_EVERY=500 SAMPLES=10000 TINY=()
    SPEED=(--cases toy-wgan-gp,mnist-wgan-gp --variants "ref,ours fp32,ours tf32,ours bf16" --toy-iters 100 10 --mnist-iters 50 5)
    BUDGET_A=30 BUDGET_B=30 BUDGET_C=70 BUDGET_SCORE=40
    for needed in "$DATA/train-images-idx3-ubyte.gz" "$REFERENCE/ref_toy_wgangp.py"; do
        [ -f "$needed" ] || { echo "gpu_check: no $needed: run --prepare here and carry $CARRY" >&2; exit 2; }
    done
    "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" ||
        { echo "gpu_check: no CUDA device visible; on a CPU use --dry-run" >&2; exit 2; }
else
    # The CPU stands in for the GPU: the same commands at sizes that take seconds.
    DEVICE=cpu DATA=$DEBIAN_DATA REFERENCE=$SHARED_BENCH
    [ -d "$CARRY/fashion-mnist" ] && DATA=$ROOT/$CARRY/fashion-mnist
    [ -d "$CARRY/bench" ] && REFERENCE=$ROOT/$CARRY/bench
    TRAIN_SECONDS=15 CHECKPOINT_EVERY=2 SAMPLES=200
    TINY=(model.channels=8 train.batch_size=16 log.log_every=5)
    SPEED=(--cases toy-wgan-gp --variants "ref,ours tf32,ours bf16" --toy-iters 1 0 --threads 1)
    BUDGET_A=60 BUDGET_B=60 BUDGET_C=90 BUDGET_SCORE=60
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi

NAMES=() BUDGETS=() TOOK=() RESULTS=()
record() { NAMES+=("$1"); BUDGETS+=("$2"); TOOK+=("$3"); RESULTS+=("$4"); }
verdict() { case $1 in 0) echo pass ;; 124 | 137) echo "TIMED OUT" ;; *) echo "FAIL (exit $1)" ;; esac; }

echo "== gpu_check ($MODE) $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), device $DEVICE, OUT $OUT"
[ "$MODE" = gpu ] && nvidia-smi -L
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"

echo; echo "== (a) CUDA tests (budget ${BUDGET_A} s)"
start=$SECONDS
mapfile -t cuda_files < <(grep -rl "pytest.mark.cuda" tests --include="test_*.py" | sort)
timeout --kill-after=5 "$BUDGET_A" "$PY" -m pytest -q -p no:cacheprovider -rs "${cuda_files[@]}"
status=$?
record "(a) CUDA tests: ${cuda_files[*]}" "$BUDGET_A" $((SECONDS - start)) "$(verdict $status)"

echo; echo "== (b) one critic and one generator step against CPU float64 (budget ${BUDGET_B} s)"
start=$SECONDS
timeout --kill-after=5 "$BUDGET_B" "$PY" benchmarks/gpu_step_check.py --device "$DEVICE"
status=$?
record "(b) step check fp32/tf32/bf16 vs float64" "$BUDGET_B" $((SECONDS - start)) "$(verdict $status)"

echo; echo "== (c) speed against the reference loops on $DEVICE (budget ${BUDGET_C} s)"
start=$SECONDS
timeout --kill-after=5 "$BUDGET_C" "$PY" benchmarks/bench_speed.py --device "$DEVICE" --reference "$REFERENCE" \
    --data "$DATA" --rounds 1 --no-flops "${SPEED[@]}"
status=$?
record "(c) speed vs reference loops" "$BUDGET_C" $((SECONDS - start)) "$(verdict $status)"

echo; echo "== (d) Fashion-MNIST WGAN-GP for ${TRAIN_SECONDS} s, then ${SAMPLES} samples and their FD"
start=$SECONDS
# SIGTERM stops training cleanly (exit 143; the last checkpoint is whole); timeout itself then exits 124.
timeout --signal=TERM --kill-after=5 "$TRAIN_SECONDS" "$PY" -m wganlab train fashion_mnist/wgan-gp \
    "data.path=$DATA" "train.device=$DEVICE" train.steps=1000000 "log.checkpoint_every=$CHECKPOINT_EVERY" \
    log.sample_every=100000 log.progress=false log.tensorboard=false "${TINY[@]}" --out "$WORK/run"
status=$?
steps=$(ls "$WORK/run/checkpoints" 2>/dev/null | sed -n 's/^step-0*\([0-9][0-9]*\)\.pt$/\1/p' | sort -n | tail -1)
if [ "$status" = 124 ] || [ "$status" = 0 ]; then train_result="pass (checkpoint at step ${steps:-none})"; else train_result=$(verdict $status); fi
[ -n "$steps" ] || train_result="FAIL (no checkpoint)"
record "(d) train ${TRAIN_SECONDS} s" "$((TRAIN_SECONDS + 5))" $((SECONDS - start)) "$train_result"

start=$SECONDS
fd=""
if [ -n "$steps" ]; then
    timeout --kill-after=5 "$BUDGET_SCORE" bash -c '
        set -e
        "$0" -m wganlab sample "$1" --n "$2" --seed 0 --device "$3" --out "$4/samples.npy"
        "$0" -m wganlab sample "$1" --n 64 --seed 0 --device "$3" --out "$5/run_grid.png"
        "$0" benchmarks/score_gpu_samples.py pack "$4/samples.npy" "$1/config.toml" "$5/samples.npz"
        "$0" benchmarks/score_gpu_samples.py score "$5/samples.npz" --metrics fd_fmnist --data "$6" | tee "$4/fd.json"
    ' "$PY" "$WORK/run" "$SAMPLES" "$DEVICE" "$WORK" "$OUT" "$DATA"
    status=$?
    cp "$WORK/run/metrics.jsonl" "$OUT/run_metrics.jsonl" 2>/dev/null
    cp "$WORK/run/config.toml" "$OUT/run_config.toml" 2>/dev/null
    fd=$("$PY" -c "import json, sys; print(f\"{json.load(open(sys.argv[1]))['fd_fmnist']:.1f}\")" "$WORK/fd.json" 2>/dev/null)
else
    status=1
fi
score_result=$(verdict $status)
[ "$status" = 0 ] && score_result="pass (FD ${fd:-?} at step $steps)"
record "(d) ${SAMPLES} samples, FD" "$BUDGET_SCORE" $((SECONDS - start)) "$score_result"

echo; echo "== summary ($MODE, device $DEVICE)"
echo "| part | budget s | took s | result |"
echo "|---|---|---|---|"
failed=0
for i in "${!NAMES[@]}"; do
    echo "| ${NAMES[$i]} | ${BUDGETS[$i]} | ${TOOK[$i]} | ${RESULTS[$i]} |"
    case ${RESULTS[$i]} in pass*) ;; *) failed=1 ;; esac
done
echo "total: ${SECONDS} s; FID: python benchmarks/score_gpu_samples.py score $OUT/samples.npz (on a machine with the Inception file)"
exit $failed
