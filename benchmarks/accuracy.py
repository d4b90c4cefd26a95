"""Accuracy of every xconv method, beside TensorFlow's, PyTorch's and JAX's convolutions.

``python benchmarks/accuracy.py [--out benchmarks/results]`` writes ``accuracy.json``
(every number, the machine) and ``accuracy.md`` (the tables that ``docs/numerics.md``
shows). About a minute on 2 cores.

For each case and dtype, standard normal input and filters (filters scaled by
``1/sqrt(taps * channels)``, so outputs are about 1) are rounded to the dtype; every
method convolves those rounded values, and its error is measured against a reference
computed from the same rounded values in higher precision: float64 for the 32- and
16-bit dtypes, ``numpy.longdouble`` (64-bit significand on x86-64) for float64 and
complex128. Each output's error is divided by its magnitude ``mag``, the exact
convolution of ``|x|`` and ``|w|`` (the sum of ``|x| * |w|`` over its receptive field):
the scale of the rounding errors of a sum of products, whatever its cancellation. The
tables give the maximum and the median of ``|y - ref| / mag`` over the outputs.

xconv's methods run on NumPy arrays (bfloat16, which NumPy lacks: on torch CPU
tensors); ``native`` is xconv's ``method="native"`` on torch tensors and on JAX arrays
(their own convolutions; 16-bit input computed in float32 by xconv's default, in the
16-bit dtype with ``precision="native"``); TensorFlow is ``tf.nn.convolution`` on the
same values. A dash: the method does not apply, or the library has no such kernel.

The end of the report measures the finiteness check that ``method="auto"`` runs before
it picks FFT or Winograd, against the convolution it guards.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import xconv
from xconv import _backend
from xconv._algorithms import ALGORITHMS, Algorithm
from xconv._bench import timing
from xconv._bench._env import prepare

HERE = Path(__file__).resolve().parent
NDArray = npt.NDArray[Any]

#: (dtype, precision): the floating dtypes, and the 16-bit ones computed natively.
CONFIGS: list[tuple[str, str | None]] = [
    ("float64", None),
    ("complex128", None),
    ("float32", None),
    ("complex64", None),
    ("float16", None),
    ("bfloat16", None),
    ("float16", "native"),
    ("bfloat16", "native"),
]
#: xconv's algorithms that run on NumPy (``native`` is a column per library) and auto.
METHODS = [m for m in ALGORITHMS if m != "native"] + ["auto"]
PEERS = ["native (torch)", "native (JAX)", "TensorFlow"]


@dataclass(frozen=True)
class Case:
    """A stride-1 SAME convolution: input ``(N, *spatial, C)``, filters ``(*k, C, O)``."""

    name: str
    what: str
    x_shape: tuple[int, ...]
    k: tuple[int, ...]
    o: int

    @property
    def w_shape(self) -> tuple[int, ...]:
        return (*self.k, self.x_shape[-1], self.o)


CASES = [
    Case("resnet-3x3", "ResNet 3x3 layer, batch 8 scaled down to 1", (1, 28, 28, 128), (3, 3), 128),
    Case("image-31x31", "single-channel image, 31x31 filter", (1, 256, 256, 1), (31, 31), 1),
    Case("conv1d-k9", "1-d layer, kernel 9", (4, 1024, 16), (9,), 16),
]


# --- data and reference --------------------------------------------------------------------


def round_to(values: NDArray, dtype: str) -> NDArray:
    """``values`` rounded to ``dtype``; bfloat16 (ties to even) comes back as float32."""
    if dtype != "bfloat16":
        return values.astype(dtype)
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def inputs(case: Case, dtype: str, seed: int) -> tuple[NDArray, NDArray]:
    """Input and filters of ``case``, rounded to ``dtype`` (held in a NumPy dtype)."""
    rng = np.random.default_rng(seed)

    def draw(shape: tuple[int, ...], scale: float) -> NDArray:
        v = rng.standard_normal(shape)
        if dtype.startswith("complex"):
            v = (v + 1j * rng.standard_normal(shape)) / math.sqrt(2)
        return round_to(v * scale, dtype)

    fan_in = math.prod(case.k) * case.x_shape[-1]
    return draw(case.x_shape, 1.0), draw(case.w_shape, 1 / math.sqrt(fan_in))


def reference(x: NDArray, w: NDArray, work: type[np.generic]) -> NDArray:
    """SAME stride-1 convolution in ``work`` precision: one matmul per kernel tap.

    Written independently of xconv (padding, then a sum over taps of shifted input times
    that tap's ``(C, O)`` matrix), in NumPy's own loops for ``numpy.longdouble``.
    """
    rank = w.ndim - 2
    k = w.shape[:rank]
    pads = [(0, 0), *(((kk - 1) // 2, kk // 2) for kk in k), (0, 0)]
    xp_ = np.pad(x.astype(work), pads)
    ww = w.astype(work)
    sizes = x.shape[1:-1]
    out = np.zeros((*x.shape[:-1], w.shape[-1]), dtype=work)
    for tap in np.ndindex(*k):
        window = (slice(None), *(slice(t, t + n) for t, n in zip(tap, sizes)), slice(None))
        out += np.matmul(xp_[window], ww[tap])
    return out


def high_precision(dtype: str) -> type[np.generic]:
    """The reference's dtype: float64 for 32-/16-bit dtypes, longdouble for 64-bit ones."""
    complex_ = dtype.startswith("complex")
    if dtype in ("float64", "complex128"):
        return np.clongdouble if complex_ else np.longdouble
    return np.complex128 if complex_ else np.float64


def errors(y: NDArray, ref: NDArray, mag: NDArray) -> tuple[float, float]:
    """Max and median over the outputs of ``|y - ref| / mag``."""
    rel = (np.abs(y.astype(ref.dtype) - ref) / mag).astype(np.float64)
    return float(rel.max()), float(np.median(rel))


# --- candidates ----------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _jnp() -> Any:
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
    return jax.numpy


def _tf() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf


def to_library(lib: str, a: NDArray, dtype: str) -> Any:
    """``a`` as an array of ``lib`` (numpy, torch or jax) and ``dtype``."""
    if lib == "torch":
        torch = _torch()
        return torch.from_numpy(np.array(a)).to(getattr(torch, dtype))
    if lib == "jax":
        jnp = _jnp()
        return jnp.asarray(a, dtype=getattr(jnp, dtype))
    return a


def to_numpy(y: Any) -> NDArray:
    """A result as NumPy; bfloat16 as float32 (which holds it exactly)."""
    if "bfloat16" in str(y.dtype):
        y = y.float() if hasattr(y, "float") else y.astype("float32")
    return np.asarray(y)


def run_xconv(
    lib: str, method: str, x: NDArray, w: NDArray, dtype: str, precision: str | None
) -> NDArray | str:
    """xconv's ``method`` on ``lib``'s arrays, as NumPy, or why it did not run."""
    xl, wl = to_library(lib, x, dtype), to_library(lib, w, dtype)
    try:
        y = xconv.convolution(xl, wl, padding="SAME", method=method, precision=precision)
    except ValueError as exc:  # the method does not apply
        return str(exc)
    return to_numpy(y)


def run_tf(x: NDArray, w: NDArray, dtype: str) -> NDArray | str:
    tf = _tf()
    if tf is None:
        return "not installed"
    try:
        y = tf.nn.convolution(
            tf.constant(x, dtype=dtype), tf.constant(w, dtype=dtype), padding="SAME"
        )
        return np.asarray(tf.cast(y, tf.float32) if dtype == "bfloat16" else y)
    except Exception as exc:  # TF raises its own types for kernels it lacks
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Record the names of the algorithms that run inside the block (what ``auto`` picks)."""
    ran: list[str] = []
    saved = dict(ALGORITHMS)

    def wrap(algorithm: Algorithm) -> Algorithm:
        def run(*args: Any, **kwargs: Any) -> Any:
            ran.append(algorithm.name)
            return algorithm.run(*args, **kwargs)

        return dataclasses.replace(algorithm, run=run)

    ALGORITHMS.update({name: wrap(a) for name, a in saved.items()})
    try:
        yield ran
    finally:
        ALGORITHMS.update(saved)


def measure_case(case: Case, seed: int) -> dict[str, Any]:
    """Every config x candidate of ``case``: max/median error, or why it did not run."""
    rows: dict[str, Any] = {}
    for dtype, precision in CONFIGS:
        x, w = inputs(case, dtype, seed)
        ref = reference(x, w, high_precision(dtype))
        mag = reference(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64), np.float64)
        lib = "torch" if dtype == "bfloat16" else "numpy"
        cells: dict[str, Any] = {}
        results: dict[str, NDArray | str] = {
            m: run_xconv(lib, m, x, w, dtype, precision) for m in METHODS if m != "auto"
        }
        with recording() as ran:
            results["auto"] = run_xconv(lib, "auto", x, w, dtype, precision)
        results["native (torch)"] = (
            run_xconv("torch", "native", x, w, dtype, precision) if _torch() else "not installed"
        )
        results["native (JAX)"] = (
            run_xconv("jax", "native", x, w, dtype, precision) if _jnp() else "not installed"
        )
        results["TensorFlow"] = run_tf(x, w, dtype) if precision is None else "no precision option"
        for name, y in results.items():
            if isinstance(y, str):
                cells[name] = {"reason": y}
            else:
                cells[name] = dict(zip(("max", "median"), errors(y, ref, mag), strict=True))
        label = dtype if precision is None else f"{dtype}, precision='native'"
        rows[label] = {
            "dtype": dtype,
            "precision": precision,
            "xconv_library": lib,
            "auto_picks": "+".join(sorted(set(ran))),
            "reference": np.dtype(high_precision(dtype)).name,
            "cells": cells,
        }
        print(f"  {case.name} {label}: done", flush=True)
    return rows


# --- the finiteness check ------------------------------------------------------------------


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """The fastest of ``repeat`` calls after one warm-up (as ``timeit`` advises: the
    others measure the machine's other load)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def finite_check_cost() -> list[dict[str, Any]]:
    """``auto``'s ``isfinite`` reduction against the FFT / Winograd convolution it guards."""
    rng = np.random.default_rng(0)
    out = []
    for what, x_shape, w_shape in [
        ("1024x1024 image, 9x9 filter", (1, 1024, 1024, 1), (9, 9, 1, 1)),
        ("ResNet 8x28x28x128, 3x3 -> 128", (8, 28, 28, 128), (3, 3, 128, 128)),
    ]:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        xp = _backend.namespace(x=x)
        check = best_time(lambda: _backend.all_finite(xp, x, w), 21)  # noqa: B023
        conv = best_time(lambda: xconv.conv2d(x, w, 1, "SAME"), 5)  # noqa: B023
        with recording() as ran:
            xconv.conv2d(x, w, 1, "SAME")
        what += f" (auto: {'+'.join(sorted(set(ran)))})"
        out.append(
            {"case": what, "dtype": "float32", "check_ms": check * 1e3, "conv_ms": conv * 1e3}
        )
        print(f"  finite check {what}: {check * 1e3:.2f} ms vs {conv * 1e3:.1f} ms", flush=True)
    return out


# --- report --------------------------------------------------------------------------------


def _cell(c: dict[str, Any]) -> str:
    if "reason" in c:
        return "\u2013"  # en dash
    return f"{c['max']:.1e} / {c['median']:.1e}"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Measured accuracy",
        "",
        f"{m['date']} · {m['cpu']} · {m['usable_cpus']} CPUs · "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "",
        "Each cell: **max / median** over the outputs of `|y - ref| / mag`, where `ref` is "
        "the convolution of the same (rounded) input and filters in higher precision and "
        "`mag` that of `|x|` and `|w|`. For scale, the unit roundoff u is 1.1e-16 "
        "(float64, complex128), 6.0e-8 (float32, complex64), 4.9e-4 (float16) and 3.9e-3 "
        "(bfloat16). xconv's methods run on NumPy (bfloat16: torch CPU tensors); "
        "`auto`'s column names the method it picked. A dash: the method does not apply or "
        "the library has no such kernel. Generated by `benchmarks/accuracy.py`.",
    ]
    for case in CASES:
        rows = results["cases"][case.name]
        w = "x".join(map(str, case.w_shape))
        lines += [
            "",
            f"## {case.name}: {case.what}",
            "",
            f"Input {'x'.join(map(str, case.x_shape))}, filters {w}, stride 1, SAME.",
            "",
            "| dtype | " + " | ".join([*METHODS, *PEERS]) + " |",
            "| --- " * (1 + len(METHODS) + len(PEERS)) + "|",
        ]
        for label, row in rows.items():
            cells = [_cell(row["cells"][n]) for n in [*METHODS, *PEERS]]
            cells[METHODS.index("auto")] += f" ({row['auto_picks']})"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        '## The finiteness check of `method="auto"`',
        "",
        "Before it picks FFT or Winograd, `auto` checks with one `isfinite` reduction per "
        "array that input and filters are finite. NumPy, float32, best of 21 (check) and 5 "
        "(convolution) calls:",
        "",
        "| case | check | convolution | check / convolution |",
        "| --- | --- | --- | --- |",
    ]
    for r in results["finite_check"]:
        lines.append(
            f"| {r['case']} | {r['check_ms']:.2f} ms | {r['conv_ms']:.1f} ms | "
            f"{r['check_ms'] / r['conv_ms']:.1%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python benchmarks/accuracy.py", description=__doc__.splitlines()[0]
    )
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--seed", type=int, default=0)
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    record = prepare([str(Path(__file__).resolve()), *argv])
    start = time.perf_counter()
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        print("warning: numpy.longdouble is float64 here: float64 errors are not measured")
    # import the peers before describing the machine, so that their versions are recorded
    _torch(), _jnp(), _tf()
    results: dict[str, Any] = {"machine": timing.machine_info(record)}
    results["cases"] = {c.name: measure_case(c, args.seed) for c in CASES}
    results["finite_check"] = finite_check_cost()
    results["elapsed_s"] = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "accuracy.md").write_text(markdown(results))
    print(f"wrote {out / 'accuracy.md'} in {results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
