"""Command line: ``python -m xconv {demo,info}``.

``demo`` runs the seed's example — a multichannel 2-d convolution with padding and
stride — through the classic naive NumPy loop and through xconv on every backend
present, checks that they agree, and prints a table.
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


def naive_conv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """The classic answer to "tf.nn.conv2d in NumPy": a loop over pixels and kernels.

    ``x`` is NHWC, ``w`` is HWIO; symmetric zero padding ``pad`` with ``np.pad``.
    """
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, oh, ow, o), dtype=np.result_type(x, w))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                patch = xp[b, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
                for k in range(o):
                    out[b, i, j, k] = np.sum(patch * w[:, :, :, k])
    return out


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
    for name, device, from_numpy in _backend.available_backends():
        xb, wb = from_numpy(x), from_numpy(w)

        def run(xb: Any = xb, wb: Any = wb) -> Any:
            return _backend.finish(conv2d(xb, wb, stride, [(pad, pad), (pad, pad)]))

        t = _best_time(run, repeat)
        err = float(np.max(np.abs(_backend.to_numpy(run()) - expected)))
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
    """Print versions, backends and devices."""
    print(f"xconv {__version__}, Python {platform.python_version()} ({sys.platform})")
    found: dict[str, list[str]] = {}
    for name, device, _ in _backend.available_backends():
        found.setdefault(name, []).append(device)
    rows = [
        [name, _backend.version_of(name), ", ".join(found.get(name, [])) or "not available"]
        for name in _backend.CANDIDATES
    ]
    _table(["library", "version", "devices"], rows)
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    for i, row in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(wd) for c, wd in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * wd for wd in widths))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m xconv``."""
    parser = argparse.ArgumentParser(prog="python -m xconv", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="naive loop vs xconv on every backend present")
    p_demo.add_argument("--size", type=int, default=32, help="image height and width")
    p_demo.add_argument("--repeat", type=int, default=3, help="timed repetitions")
    sub.add_parser("info", help="versions, backends and devices")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(size=args.size, repeat=args.repeat)
    return info()


if __name__ == "__main__":
    sys.exit(main())
