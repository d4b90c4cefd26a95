"""Command line: ``python -m xconv {info,demo,bench}``.

``info`` prints versions, backends, devices, the BLAS library and which method
``method="auto"`` picks for a few typical layers. ``demo`` runs a multichannel 2-d
convolution with padding and stride through the classic naive NumPy loop
(:func:`xconv._naive.naive_conv2d`) and through xconv on every backend present, checks
that they agree, and prints a table. ``bench`` runs the benchmark suite (xconv beside the peers that are installed).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import __version__, _backend, conv2d
from ._cli_backends import CANDIDATES, available_backends, to_numpy, version_of
from ._naive import naive_conv2d

#: Typical layers for ``info``'s "auto picks" table: (label, input NHWC / NWC, filters).
TYPICAL_SHAPES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("3x3 conv 64->64 on 8x56x56", (8, 56, 56, 64), (3, 3, 64, 64)),
    ("3x3 conv 128->128 on 8x28x28", (8, 28, 28, 128), (3, 3, 128, 128)),
    ("7x7/2 stem 3->64 on 8x224x224", (8, 224, 224, 3), (7, 7, 3, 64)),
    ("depthwise 3x3 x128 (groups=128)", (8, 56, 56, 128), (3, 3, 1, 128)),
    ("5x5 blur, 1 channel, 1024x1024", (1, 1024, 1024, 1), (5, 5, 1, 1)),
    ("15x15 blur, 1 channel, 512x512", (1, 512, 512, 1), (15, 15, 1, 1)),
    ("1-d filter, 101 taps, 10^6 samples", (1, 10**6, 1), (101, 1, 1)),
)


def _best_time(func: Callable[[], Any], repeat: int) -> float:
    func()  # warm-up (JIT compilation, caches)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def demo(size: int = 32, channels: int = 8, filters: int = 16, repeat: int = 3) -> int:
    """Run the demo; return 0 when every backend agrees with the naive loop."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, size, size, channels)).astype(np.float32)
    w = rng.standard_normal((3, 3, channels, filters)).astype(np.float32)
    stride, pad = 2, 1
    print(
        f"conv2d: input {x.shape} float32 (NHWC), filters {w.shape} (HWIO), "
        f"stride {stride}, padding {pad} (explicit)\n"
    )
    t_loop = _best_time(lambda: naive_conv2d(x, w, stride, pad), 1)
    expected = naive_conv2d(x, w, stride, pad)
    rows = [("naive loop", "cpu", t_loop, 1.0, "reference")]
    ok = True
    for name, device, from_numpy in available_backends():
        xb, wb = from_numpy(x), from_numpy(w)

        def run(xb: Any = xb, wb: Any = wb) -> Any:
            return _backend.finish(conv2d(xb, wb, stride, [(pad, pad), (pad, pad)]))

        t = _best_time(run, repeat)
        err = float(np.max(np.abs(to_numpy(run()) - expected)))
        agree = err <= 1e-4 * max(1.0, float(np.max(np.abs(expected))))
        ok &= agree
        rows.append((f"xconv[{name}]", device, t, t_loop / t, f"max |diff| {err:.1e}"))
    _table(
        ["backend", "device", "time", "speed-up", "check"],
        [[r[0], r[1], f"{r[2] * 1e3:.2f} ms", f"{r[3]:.3g}x", r[4]] for r in rows],
    )
    print("\nall backends agree with the loop" if ok else "\nMISMATCH: see the table above")
    return 0 if ok else 1


def info() -> int:
    """Print versions, backends and devices, the BLAS library and ``auto``'s choices."""
    print(f"xconv {__version__}, Python {platform.python_version()} ({sys.platform})\n")
    backends = available_backends()
    found: dict[str, list[str]] = {}
    for name, device, _ in backends:
        found.setdefault(name, []).append(device)
    rows = [
        [name, version_of(name), ", ".join(found.get(name, [])) or "not installed"]
        for name in CANDIDATES
    ]
    _table(["library", "version", "devices"], rows)
    print(f"\ncuDNN for CuPy (method='native'): {_backend.cudnn_status()}\n")
    _table(["BLAS", "version", "threads", "kernel"], _blas_rows())
    print("\nmethod='auto' picks (float32, padding SAME):")
    first = {name: from_numpy for name, _, from_numpy in reversed(backends)}  # first device
    libs = list(reversed(first.items()))
    _table(
        ["layer", *(name for name, _ in libs)],
        [[label, *(_auto_method(f, x, w) for _, f in libs)] for label, x, w in TYPICAL_SHAPES],
    )
    return 0


def _blas_rows() -> list[list[str]]:
    """BLAS libraries loaded now: threadpoolctl's view, else NumPy's build configuration."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        threads = "? (pip install threadpoolctl)"
        return [[str(blas.get("name")), str(blas.get("version")), threads, "-"]]
    return [
        [d.get("internal_api", "?"), d.get("version") or "?", str(d["num_threads"]), kernel]
        for d in threadpool_info()
        if d.get("user_api") == "blas"
        for kernel in [d.get("architecture") or "-"]
    ]


def _auto_method(from_numpy: Callable[[Any], Any], x_shape: Sequence[int], w_shape: Any) -> str:
    """The method ``auto`` would run for a float32 convolution of these shapes."""
    from ._core import choose_method
    from ._spec import conv_spec

    probe = from_numpy(np.zeros(1, np.float32))
    xp = _backend.namespace(input=probe)
    spec = conv_spec(
        tuple(x_shape), w_shape, strides=1, padding="SAME", dilations=1, data_format=None
    )
    # as the core asks: one sample in host memory (each runs alone), the batch on a GPU
    accelerator = _backend.on_accelerator(xp, probe)
    batch = x_shape[0] if accelerator else 1
    sizes = tuple(x_shape)[1:-1]
    return choose_method(
        xp, spec, probe.dtype, w_shape, sizes, batch=batch, accelerator=accelerator
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    for i, row in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(wd) for c, wd in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * wd for wd in widths))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m xconv`` (and the ``xconv`` script)."""
    from ._bench import cli

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m xconv",
        description="xconv's command line: info, demo, bench (each has --help).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "info",
        help="versions, backends, devices, BLAS and what method='auto' picks",
        description="Versions, backends and their devices, the BLAS library and its threads, "
        "and which method 'auto' picks for a few typical layers.",
    )
    p_demo = sub.add_parser(
        "demo",
        help="naive loop vs xconv on every backend present",
        description="A multichannel conv2d with padding and stride: the naive NumPy loop "
        "against xconv on every backend installed, checked and timed.",
    )
    p_demo.add_argument("--size", type=int, default=32, help="image height and width")
    p_demo.add_argument("--repeat", type=int, default=3, help="timed repetitions")
    p_bench = sub.add_parser(
        "bench",
        help="benchmark suite: xconv beside TensorFlow, torch, JAX, SciPy",
        description="Run the benchmark suite and print the summary table; with --out, write "
        "results.json, results.md and (with matplotlib) results.png. Peers that are not "
        "installed are reported as such; a progress bar needs tqdm (else plain lines).",
    )
    cli.add_arguments(p_bench, default_out=None)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(size=args.size, repeat=args.repeat)
    if args.command == "bench":
        return cli.run(args, ["-m", "xconv", *argv])
    return info()


if __name__ == "__main__":
    sys.exit(main())
