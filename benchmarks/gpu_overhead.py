"""Where a GPU call's time goes: host time, synchronised latency, pipelined throughput.

For a few cases and candidates (torch's own convolution, xconv on CuPy and on CUDA
torch, and xconv's cuDNN call on canonical arrays alone), three medians per call:

- ``host``: until the call returns, the GPU idle before it (Python and launches);
- ``sync``: the call and a device synchronisation (what ``benchmarks/gpu.py`` times);
- ``loop``: 50 calls in a row, one synchronisation at the end, per call (a training
  loop: host time hides behind the GPU's work while it is shorter).

Then a cProfile of repeated xconv calls (top functions by own time), to say which
Python the host time is. Writes ``gpu-overhead.md`` under the output folder::

    python benchmarks/gpu_overhead.py OUT_DIR [--cases conv3x3-56-b32 stem tiny]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu import _sync, conv_candidates, gpu_cases

from xconv._bench.cases import Case

TINY = Case(
    name="tiny",
    title="1x8x8x1 3x3 (per-call overhead)",
    op="conv",
    input_shape=(1, 8, 8, 1),
    filter_shape=(3, 3, 1, 1),
)
KEEP = ("torch fp32", "xconv[cupy] auto", "xconv[torch] auto", "xconv[cupy] native")


def medians(run: Callable[[], Any], reps: int = 30, loop: int = 50) -> dict[str, float]:
    """host / sync / loop medians in microseconds."""
    host, sync = [], []
    for _ in range(reps):
        _sync()
        t0 = time.perf_counter()
        run()
        t1 = time.perf_counter()
        _sync()
        t2 = time.perf_counter()
        host.append(t1 - t0)
        sync.append(t2 - t0)
    loops = []
    for _ in range(3):
        _sync()
        t0 = time.perf_counter()
        for _ in range(loop):
            run()
        _sync()
        loops.append((time.perf_counter() - t0) / loop)
    return {
        "host": statistics.median(host) * 1e6,
        "sync": statistics.median(sync) * 1e6,
        "loop": statistics.median(loops) * 1e6,
    }


def raw_cudnn(case: Case, x: np.ndarray, w: np.ndarray) -> Callable[[], Any] | None:
    """xconv's cuDNN call on canonical CuPy arrays, without the public function."""
    import cupy

    from xconv._backend import cudnn

    if case.op != "conv" or case.output_shape is not None:
        return None
    xc, wc = cupy.asarray(x), cupy.asarray(w)
    pads = tuple(tuple(p) for p in case.pads)
    desc = cudnn.describe_fprop(
        xc.dtype, xc.shape, wc.shape, case.stride_t, case.dilation_t, pads,
        x_strides=cudnn.element_strides(xc),
    )  # fmt: skip
    return lambda: cudnn.run_fprop(xc, wc, desc)


def profile(run: Callable[[], Any], calls: int = 300, top: int = 28) -> str:
    run()
    _sync()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        run()
    _sync()
    prof.disable()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument(
        "--cases",
        nargs="*",
        default=["tiny", "conv3x3-56-b32", "stem", "depthwise3x3-b32", "dcgan-transpose"],
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    by_name = {c.name: c for c in [TINY, *gpu_cases()]}
    lines = ["# Per-call time on the GPU: host, synchronised, pipelined (us per call)", ""]
    lines += ["| case | candidate | host | sync | loop |", "|---|---|---|---|---|"]
    profiles = []
    rng = np.random.default_rng(0)
    for name in args.cases:
        case = by_name[name]
        x = rng.standard_normal(case.input_shape).astype(np.float32)
        w = rng.standard_normal(case.filter_shape).astype(np.float32)
        cands = [(k, lib, run) for k, lib, run in conv_candidates(case, x, w) if k in KEEP]
        raw = raw_cudnn(case, x, w)
        if raw is not None:
            cands.append(("cudnn.run_fprop alone", "cupy", raw))
        for key, _, run in cands:
            try:
                run()
                m = medians(run)
            except Exception as exc:  # record and go on
                lines.append(f"| {name} | {key} | {type(exc).__name__}: {exc} | | |"[:300])
                continue
            lines.append(
                f"| {name} | {key} | {m['host']:.0f} | {m['sync']:.0f} | {m['loop']:.0f} |"
            )
            print(lines[-1], flush=True)
            if key.startswith("xconv"):
                profiles.append(f"## {name}: {key}\n\n```\n{profile(run)}\n```\n")
    (out / "gpu-overhead.md").write_text("\n".join(lines) + "\n\n" + "\n".join(profiles))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
