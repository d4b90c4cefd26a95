#!/usr/bin/env bash
# One pass of GPU checks for xconv on a machine with an NVIDIA GPU, run from the
# repository root with $OUT set to an (empty) output folder:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh
#
# Needs python3 with cupy, a CUDA build of torch, numpy, scipy, pytest (pytest-xdist
# and pytest-timeout are used when installed); wheels in .whl/ (array_api_compat,
# nvidia_cudnn_frontend, ...) are installed into /tmp/site without network. xconv runs
# from src/ (PYTHONPATH), not installed. The whole run stays under DEADLINE seconds
# (default 510): every step has its own timeout, clamped to what is left, and keeps
# time for the steps after it. Each step writes its log under $OUT as it goes, so an
# interrupted run leaves what it did. Files written (9):
#
#   env.txt         GPU, driver, versions, `python -m xconv info`, then one status line per step
#   cudnn.md        benchmarks/gpu_cudnn_check.py: xconv's cuDNN path vs torch, checked and timed
#   cudnn.log       its console output
#   gpu-tests.log   pytest on the cupy and torch_cuda backends (the cuDNN path first)
#   gpu-bench.md    benchmarks/gpu.py: auto / native (cuDNN) / gemm / shift beside torch
#   gpu-bench.json  the same, as data
#   gpu-bench.log   its console output
#   gpu-overhead.md benchmarks/gpu_overhead.py: host / synchronised / pipelined time per
#                   call, and a profile of xconv's Python on the GPU
#   gpu-overhead.log its console output
#
# Exit status: 0 every step passed, 1 some step failed or timed out, 2 no usable GPU
# (the GPU steps are then skipped, and env.txt says what is missing).
#
# To try the script's flow on a machine without a GPU: GPU_CHECK_DRY=1 runs every step
# anyway, GPU_CHECK_WORKERS sets pytest-xdist's workers (default 8), DEADLINE the budget.

set -o pipefail
export PYTHONUNBUFFERED=1
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
DEADLINE="${DEADLINE:-510}"
ENV_TXT="$OUT/env.txt"
: >"$ENV_TXT"

WHEELS=0
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >>"$ENV_TXT" 2>&1 && export PYTHONPATH=/tmp/site:$PWD/src && WHEELS=1
if [ "$WHEELS" != 1 ]; then
    echo "wheel install from .whl/ failed (see above); running with src/ only" >>"$ENV_TXT"
    export PYTHONPATH=$PWD/src
fi

# The cuDNN library of the nvidia-cudnn wheel (torch's), for cudnn-frontend to load.
CUDNN_LIB=$(timeout 20 python3 -c "import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], 'lib'))" 2>/dev/null)
if [ -n "$CUDNN_LIB" ] && [ -d "$CUDNN_LIB" ]; then
    export LD_LIBRARY_PATH="$CUDNN_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# No JAX step here: keep JAX (imported by some tests) off the GPU and its memory.
export JAX_PLATFORMS=cpu XLA_PYTHON_CLIENT_PREALLOCATE=false

FAILED=0

# step_timeout WANT RESERVE: WANT seconds, or less so that RESERVE seconds stay for
# the steps after it before DEADLINE (at least 5).
step_timeout() {
    local left=$((DEADLINE - SECONDS - $2))
    local t=$(($1 < left ? $1 : left))
    echo $((t < 5 ? 5 : t))
}

# status NAME RC: one line in env.txt per step.
status() {
    local what="ok"
    case "$2" in
        0) what="ok" ;;
        124 | 130 | 137) what="TIMED OUT (rc $2)"; FAILED=1 ;;
        *) what="FAILED (rc $2)"; FAILED=1 ;;
    esac
    echo "step $1: $what at ${SECONDS}s" >>"$ENV_TXT"
}

# --- 1. environment ----------------------------------------------------------------------
{
    echo "== date: $(date -u +%FT%TZ); host $(hostname); PYTHONPATH=$PYTHONPATH"
    echo "== LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    echo "== nvidia-smi -L"
    timeout 20 nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"
    timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm --format=csv 2>&1 || true
    echo "== versions"
} >>"$ENV_TXT"
timeout -k 5 45 python3 - >>"$ENV_TXT" 2>&1 <<'EOF'
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
def show(name, extra=None):
    try:
        mod = importlib.import_module(name)
    except Exception as exc:
        print(f"{name}: MISSING ({type(exc).__name__}: {exc})")
        return None
    info = ""
    if extra is not None:
        try:
            info = " " + extra(mod)
        except Exception as exc:
            info = f" ({type(exc).__name__}: {exc})"
    print(f"{name} {getattr(mod, '__version__', '?')}{info}")
    return mod
show("numpy"); show("scipy"); show("array_api_compat"); show("array_api_strict")
show("pytest"); show("xdist"); show("pytest_timeout"); show("hypothesis")
show("cupy", lambda m: f"devices={m.cuda.runtime.getDeviceCount()} runtime={m.cuda.runtime.runtimeGetVersion()} driver={m.cuda.runtime.driverGetVersion()}")
show("torch", lambda m: f"cuda={m.version.cuda} available={m.cuda.is_available()} cudnn={m.backends.cudnn.version()}")
show("jax")
show("cudnn", lambda m: f"(cudnn-frontend) backend_version={m.backend_version()}")
try:
    import xconv
    from xconv import _backend
    print("xconv", xconv.__version__, "from", xconv.__file__)
    print("xconv cuDNN for CuPy:", _backend.cudnn_status())
except Exception as exc:
    print(f"xconv: NOT IMPORTABLE ({type(exc).__name__}: {exc})")
EOF
status versions $?
echo "== python -m xconv info" >>"$ENV_TXT"
timeout -k 5 "$(step_timeout 40 380)" python3 -m xconv info >>"$ENV_TXT" 2>&1
status info $?

if [ "${GPU_CHECK_DRY:-0}" != 1 ] && ! timeout 60 python3 -c "import cupy, sys; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)" >>"$ENV_TXT" 2>&1; then
    echo "no usable GPU (cupy missing or no device): GPU steps skipped" | tee -a "$ENV_TXT"
    for name in cudnn.log gpu-tests.log gpu-bench.log; do
        echo "skipped: no usable GPU (cupy missing or no device); see env.txt" >"$OUT/$name"
    done
    exit 2
fi

# --- 2. the cuDNN path against torch (the script stops starting cases after 140 s) ---------
timeout -s INT -k 10 "$(step_timeout 155 330)" \
    python3 benchmarks/gpu_cudnn_check.py "$OUT/cudnn.md" 2>&1 | tee "$OUT/cudnn.log"
status cudnn-check "${PIPESTATUS[0]}"

# --- 3. tests on cupy and torch_cuda: the cuDNN path and the core first, then the rest ----
PYTEST=(python3 -m pytest -q -p no:cacheprovider -p no:benchmark -m "not oracle" --tb=short --maxfail=300 -rfE)
python3 -c "import xdist" 2>/dev/null && PYTEST+=(-n "${GPU_CHECK_WORKERS:-8}")
python3 -c "import pytest_timeout" 2>/dev/null && PYTEST+=(--timeout=120)
FIRST=(tests/test_cudnn_translate.py tests/test_cudnn_run.py tests/test_native_grad.py
    tests/test_structure.py tests/test_forward.py tests/test_methods.py tests/test_grad.py
    tests/test_agree.py)
IGNORE=()
for f in "${FIRST[@]}"; do IGNORE+=(--ignore="$f"); done
export XCONV_TEST_BACKENDS=cupy,torch_cuda OMP_NUM_THREADS=2
{
    echo "== $(date -u +%T) tests, first part: ${FIRST[*]}"
    timeout -s INT -k 15 "$(step_timeout 110 200)" "${PYTEST[@]}" "${FIRST[@]}" 2>&1
    rc=$?
    echo "== first part: pytest rc $rc"
    exit "$rc"
} | tee "$OUT/gpu-tests.log"
status tests-first "${PIPESTATUS[0]}"
{
    echo "== $(date -u +%T) tests, the rest (HYPOTHESIS_PROFILE=quick)"
    HYPOTHESIS_PROFILE=quick timeout -s INT -k 15 "$(step_timeout 130 100)" \
        "${PYTEST[@]}" "${IGNORE[@]}" tests 2>&1
    rc=$?
    echo "== the rest: pytest rc $rc"
    exit "$rc"
} | tee -a "$OUT/gpu-tests.log"
status tests-rest "${PIPESTATUS[0]}"
unset XCONV_TEST_BACKENDS OMP_NUM_THREADS

# --- 4. benchmark: xconv on CuPy (auto, cuDNN, its own methods) beside torch ---------------
BENCH_T=$(step_timeout 100 0)
timeout -s INT -k 10 "$BENCH_T" python3 benchmarks/gpu.py --reps 10 \
    --cases 'conv3x3-*-b32' stem conv1x1-56-b32 depthwise3x3-b32 conv3d dcgan-transpose \
    --candidates 'torch fp32' 'xconv[cupy] auto' 'xconv[cupy] native' 'xconv[cupy] gemm' \
    'xconv[cupy] shift' 'xconv[torch] auto' \
    --out "$OUT" --stem gpu-bench --budget-s $((BENCH_T > 40 ? BENCH_T - 25 : 15)) \
    2>&1 | tee "$OUT/gpu-bench.log"
status bench "${PIPESTATUS[0]}"

# --- 5. where a call's time goes: host, synchronised and pipelined, with a profile ---------
timeout -s INT -k 10 "$(step_timeout 60 0)" python3 benchmarks/gpu_overhead.py "$OUT" \
    2>&1 | tee "$OUT/gpu-overhead.log"
status overhead "${PIPESTATUS[0]}"

echo "done at ${SECONDS}s; exit $FAILED" | tee -a "$ENV_TXT"
exit "$FAILED"
