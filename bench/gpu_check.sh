#!/usr/bin/env bash
# One-shot check of caffeine's CUDA backend on a machine with an NVIDIA GPU:
#   bash bench/gpu_check.sh            (LENET_ITERS=2000 BENCH_ITERS=30 by default)
# 1. makes the packages importable (wheels carried in .whl/ first: device machines have no network;
#    bench/fetch_gpu_wheels.sh fetches lmdb and protobuf there beforehand; the device image has CuPy
#    and a CUDA PyTorch), 2. runs the GPU-marked tests (the emulated ones run in CI, not here),
# 3. trains LeNet on the built-in digits set on the CPU and on the GPU and compares the test
# accuracy, 4. runs bench/bench_gpu.py (img/s vs PyTorch eager), 5. prints a summary.
# Logs go to $OUT (the device tool's output folder) or /tmp/caffeine_gpu_check.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
LOG=${OUT:-/tmp/caffeine_gpu_check}
LENET_ITERS=${LENET_ITERS:-2000}
BENCH_ITERS=${BENCH_ITERS:-30}
mkdir -p "$LOG"
summary=()

# ---- 1. packages ---------------------------------------------------------------------------
if ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
if ! $PY -c "import cupy, torch; assert torch.cuda.is_available()" 2>/dev/null; then
    $PY -m pip install -q --retries 0 --timeout 10 cupy-cuda13x torch || echo "could not install cupy-cuda13x or a CUDA build of torch"
fi
nvidia-smi -L || true
$PY - <<'PYEOF' 2>&1 | tee "$LOG/device.txt"
import cupy, torch
from caffeine import backend
print("cupy", cupy.__version__, "| torch", torch.__version__, "cuda:", torch.cuda.is_available())
print("caffeine sees a GPU:", backend.gpu_available())
if backend.gpu_available():
    print(backend.device_properties(0))
PYEOF

# ---- 2. tests ------------------------------------------------------------------------------
$PY -m pytest tests/cuda -q -m gpu -p no:cacheprovider 2>&1 | tee "$LOG/gpu_tests.log" | tail -25
summary+=("GPU-marked tests: $(tail -1 "$LOG/gpu_tests.log")")

# ---- 3. LeNet on digits, CPU vs GPU ---------------------------------------------------------
lenet() {  # $1: cpu|gpu
    local flag=""
    [ "$1" = gpu ] && flag="--gpu 0"
    $PY -m caffeine.cli.main train --solver models/lenet/solver_digits.prototxt --iterations "$LENET_ITERS" \
        $flag 2>&1 | tee "$LOG/lenet_$1.log" | grep -E "Test net output|Optimization Done|Error|error" | tail -4
}
if [ ! -d data/lenet/train_lmdb ]; then
    $PY -m caffeine.cli.main data digits data/lenet 2>&1 | tail -2
fi
start=$(date +%s); lenet gpu; gpu_s=$(( $(date +%s) - start ))
start=$(date +%s); lenet cpu; cpu_s=$(( $(date +%s) - start ))
acc() { grep "Test net output" "$LOG/lenet_$1.log" | grep accuracy | tail -1 | sed 's/.*accuracy = //'; }
summary+=("LeNet digits, $LENET_ITERS iterations: GPU accuracy $(acc gpu) in ${gpu_s}s, CPU accuracy $(acc cpu) in ${cpu_s}s")

# ---- 4. throughput vs PyTorch eager --------------------------------------------------------
$PY bench/bench_gpu.py --iters "$BENCH_ITERS" 2>&1 | tee "$LOG/bench.log"
summary+=("bench (caffeine / torch eager):")
while IFS= read -r line; do summary+=("  $line"); done < <(grep -E "^(lenet|cifar10_quick|caffenet|bench_gpu)" "$LOG/bench.log")

# ---- 5. summary ----------------------------------------------------------------------------
echo
echo "==== caffeine GPU check ===="
printf '%s\n' "${summary[@]}" | tee "$LOG/summary.txt"
