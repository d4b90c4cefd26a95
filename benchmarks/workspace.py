"""xconv's workspace on and off, alternating in one process: time and page faults.

``python benchmarks/workspace.py [--cases conv3x3-28 ...] [--blocks 5]``

For each case (:mod:`xconv._bench.cases`, NumPy float32, ``method="auto"``), blocks
alternate between the workspace enabled and ``xconv.workspace(enabled=False)`` (fresh
allocations, as before the workspace), each measurement in a fresh process (glibc's
malloc adapts its thresholds to what a process freed before, so one process's history
would colour the next case). Per measurement: the steady state (``inner`` calls in a
loop after three untimed calls: median time, minor page faults per call) and a first
call right after ``xconv.clear_workspace()`` (time and faults). The faults of the
output alone are measured as a loop that allocates and fills an output-sized array the
same way (each result replaces the previous one). Medians over blocks are printed as
a Markdown table, with the paired time ratio (enabled / disabled, median of per-block
ratios). ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are removed first, as the
suite does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

DEFAULT_CASES = ("conv3x3-56", "conv3x3-28", "conv3x3-14", "dcgan-transpose", "conv1d-3tap")


def main(argv: list[str] | None = None) -> int:
    from xconv._bench._env import prepare

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES))
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--inner", type=int, default=5)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=("on", "off"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    prepare([os.path.abspath(__file__), *(sys.argv[1:] if argv is None else argv)])

    import numpy as np

    import xconv
    from xconv._bench import timing
    from xconv._bench.cases import select_cases
    from xconv._bench.peers import make_inputs

    blas = [b.get("architecture") for b in timing.blas_info() if b.get("user_api") == "blas"]
    print(f"BLAS kernel {blas}; loadavg {os.getloadavg()}")
    if args.child:
        case = select_cases([args.child])[0]
        _child(case, args.mode == "on", args.inner, xconv, np, timing, make_inputs)
        return 0
    print(
        "| case | workspace | steady ms | faults/call | output-alone faults/call "
        "| 1st call ms | 1st call faults | time on / off |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for case in select_cases(args.cases):
        stats: dict[str, dict[str, list[float]]] = {"on": {}, "off": {}}
        for b in range(args.blocks):
            for mode in ("on", "off") if b % 2 == 0 else ("off", "on"):
                cmd = [sys.executable, os.path.abspath(__file__), "--child", case.name]
                cmd += ["--mode", mode, "--inner", str(args.inner)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                for key, value in json.loads(out.splitlines()[-1]).items():
                    _add(stats[mode], key, value)
        ratios = [a / b for a, b in zip(stats["on"]["ms"], stats["off"]["ms"], strict=True)]
        for mode in ("on", "off"):
            med = {k: statistics.median(v) for k, v in stats[mode].items()}
            print(
                f"| {case.name} | {mode} | {med['ms']:.1f} | "
                f"{med['faults']:.0f} | {med['out_faults']:.0f} | {med['first_ms']:.1f} | "
                f"{med['first_faults']:.0f} | "
                + (f"{statistics.median(ratios):.2f} |" if mode == "on" else " |")
            )
    return 0


def _child(
    case: Any, enabled: bool, inner: int, xconv: Any, np: Any, timing: Any, make_inputs: Any
) -> None:
    """One measurement in this fresh process: warm-up, steady state, output alone,
    first call after a clear; printed as one JSON line."""
    x, w = make_inputs(case)
    run = _call(case, x, w, xconv)
    out_shape = tuple(case.output_shape_nhwc)
    rec: dict[str, float] = {}
    with xconv.workspace(enabled=enabled):
        for _ in range(3):
            y = run()
        times = []
        f0 = timing.minor_faults()
        for _ in range(inner):
            t0 = time.perf_counter()
            y = run()
            times.append(time.perf_counter() - t0)
        rec["faults"] = (timing.minor_faults() - f0) / inner
        rec["ms"] = 1e3 * statistics.median(times)
        f0 = timing.minor_faults()
        for _ in range(inner):
            y = np.empty(out_shape, np.float32)
            y.fill(1.0)
        rec["out_faults"] = (timing.minor_faults() - f0) / inner
        del y
        xconv.clear_workspace()
        f0, t0 = timing.minor_faults(), time.perf_counter()
        run()
        rec["first_ms"] = 1e3 * (time.perf_counter() - t0)
        rec["first_faults"] = timing.minor_faults() - f0
    print(json.dumps(rec))


def _add(rec: dict[str, list[float]], key: str, value: float) -> None:
    rec.setdefault(key, []).append(value)


def _call(case: Any, x: Any, w: Any, xconv: Any) -> Any:
    """``method="auto"`` on the case's NumPy inputs."""
    if case.op == "transpose":
        return lambda: xconv.conv_transpose(
            x, w, case.output_shape, case.strides, case.padding, dilations=case.dilations
        )
    if case.op == "depthwise":
        s = case.strides
        return lambda: xconv.depthwise_conv2d(
            x, w, [1, s, s, 1], case.padding, dilations=[case.dilations] * 2
        )
    return lambda: xconv.convolution(x, w, case.strides, case.padding, dilations=case.dilations)


if __name__ == "__main__":
    sys.exit(main())
