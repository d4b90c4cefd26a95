"""The dense-layer rules of ``method="auto"``: Winograd and shift against gemm.

``python benchmarks/dense_rules.py [--rounds 12] [--out benchmarks/results]`` times
``gemm``, ``winograd`` and ``shift`` on the dense layers that ``auto``'s rules in
``xconv._auto.RULES`` were chosen from (``winograd``,
``shift_max_pixels_per_column``), and writes ``dense_rules.md`` and
``dense_rules.json``.

Protocol: the methods run one after another, in alternating order, ``--rounds`` times
in one process; each round's time is divided by gemm's time in the same round, and
the table reports the median of those ratios (a ratio below 1 is faster than gemm).
Ratios taken this way survive the slow phases of a shared machine better than
separate medians do. Beside each ratio: what ``auto`` picks for the layer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
METHODS = ("gemm", "winograd", "shift")
#: (input NDHWC/NHWC/NWC, filters (*k, C, O)): the layers of the rules' comments.
LAYERS: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((8, 56, 56, 64), (3, 3, 64, 64)),
    ((8, 28, 28, 128), (3, 3, 128, 128)),
    ((8, 14, 14, 256), (3, 3, 256, 256)),
    ((8, 7, 7, 512), (3, 3, 512, 512)),
    ((2, 16, 56, 56, 32), (3, 3, 3, 32, 32)),
    ((1, 32, 32, 32, 64), (3, 3, 3, 64, 64)),
    ((4, 16, 16, 16, 32), (3, 3, 3, 32, 32)),
    ((2, 16, 56, 56, 16), (3, 3, 3, 16, 16)),
    ((8, 4000, 64), (3, 64, 64)),
]


def measure(rounds: int) -> list[dict[str, Any]]:
    """Median time and median time ratio to gemm of each method, per layer."""
    import numpy as np

    import xconv
    from xconv import _auto, _backend
    from xconv._spec import conv_spec

    rng = np.random.default_rng(0)
    rows = []
    for x_shape, w_shape in LAYERS:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        spec = conv_spec(x_shape, w_shape, strides=1, padding="SAME", dilations=1, data_format=None)
        picked = _auto.choose_method(
            _backend.namespace(x=x), spec, x.dtype, w_shape, x_shape[1:-1], batch=x_shape[0]
        )
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        for m in METHODS:  # warm-up (and JIT-free libraries still fault pages once)
            xconv.convolution(x, w, padding="SAME", method=m)
        for r in range(rounds):
            for m in METHODS if r % 2 else METHODS[::-1]:
                t = time.perf_counter()
                xconv.convolution(x, w, padding="SAME", method=m)
                times[m].append(time.perf_counter() - t)
        base = times["gemm"]
        row: dict[str, Any] = {"input": x_shape, "filters": w_shape, "auto": picked}
        for m in METHODS:
            row[m] = {
                "ms": 1e3 * statistics.median(times[m]),
                "ratio": statistics.median(t / b for t, b in zip(times[m], base)),
            }
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    cells = [f"`{row['input']}`", f"`{row['filters'][-2:]}`"]
    cells += [f"{row[m]['ms']:.1f} ms ({row[m]['ratio']:.2f})" for m in METHODS]
    return "| " + " | ".join([*cells, row["auto"]]) + " |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python benchmarks/dense_rules.py", description=__doc__.splitlines()[0]
    )
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--out", default=str(HERE / "results"))
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    from xconv._bench._env import prepare

    record = prepare([str(Path(__file__).resolve()), *argv])
    from threadpoolctl import threadpool_info

    header = (
        "| input | C, O | "
        + " | ".join(f"{m} (÷ gemm)" for m in METHODS)
        + " | auto picks |\n|"
        + "---|" * (len(METHODS) + 3)
    )
    print(header)
    rows = measure(args.rounds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    blas = [
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    meta = {"rounds": args.rounds, "blas": blas, "blas_env": record}
    (out / "dense_rules.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Dense-layer rules of `auto`",
        "",
        f"NumPy float32, SAME padding, median of {args.rounds} alternating rounds; "
        f"in brackets the median time ratio to gemm. BLAS: {', '.join(blas)}.",
        "",
        header,
        *(_line(r) for r in rows),
        "",
    ]
    (out / "dense_rules.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
