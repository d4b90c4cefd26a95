"""Check and time xconv's cuDNN path for CuPy (``xconv._backend.cudnn``) against torch's cuDNN.

Run on a machine with an NVIDIA GPU, CuPy, ``nvidia-cudnn-frontend`` and a CUDA build
of torch, from the repository root::

    python benchmarks/gpu_cudnn_check.py results.md [case-substring ...]

Every case runs xconv's cuDNN path (``_cudnn.conv_forward`` / ``conv_backprop_input`` /
``conv_backprop_filter`` on CuPy arrays) and torch (``F.conv*d`` or
``aten.convolution_backward`` on the same device memory through DLPack, channels-last,
TF32 off on both sides), compares the results and times both with CUDA events
(warm-up calls, then the median of single timed calls). The markdown table goes to
stdout and to the path given first; each case is guarded, so a failing case prints its
error and the rest still run. Exit status: 0 all cases ran and agree, 1 some did not,
2 cupy, cudnn-frontend, torch or a GPU is missing.
"""

from __future__ import annotations

import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

BUDGET_S = 140.0  # stop starting new cases after this long
TOL = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-4, "float64": 1e-10}


@dataclass
class Case:
    """One convolution: canonical shapes, geometry, operation, dtype and options."""

    name: str
    x: tuple[int, ...]
    w: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    op: str = "fprop"
    dtype: str = "float32"
    options: dict[str, Any] = field(default_factory=dict)
    reps: int = 20
    channels_first: bool = False  # x and dy are views of (N, C, *spatial) memory


def same(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME pads for one axis."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return (total // 2, total - total // 2)


def cases() -> list[Case]:
    """Timed layers first, then small correctness cases."""
    out: list[Case] = []
    for hw, c in ((56, 64), (28, 128), (14, 256), (7, 512)):
        for op in ("fprop", "dgrad", "wgrad"):
            out.append(
                Case(
                    f"3x3 {hw}²x{c} b32",
                    (32, hw, hw, c),
                    (3, 3, c, c),
                    (1, 1),
                    (1, 1),
                    ((1, 1),) * 2,
                    op,
                )
            )
        out.append(
            Case(
                f"3x3 {hw}²x{c} b32",
                (32, hw, hw, c),
                (3, 3, c, c),
                (1, 1),
                (1, 1),
                ((1, 1),) * 2,
                "fprop",
                "float16",
            )
        )
    for op in ("fprop", "dgrad", "wgrad"):
        out.append(
            Case(
                "3x3 56²x64 b32 NCHW memory",
                (32, 56, 56, 64),
                (3, 3, 64, 64),
                (1, 1),
                (1, 1),
                ((1, 1),) * 2,
                op,
                channels_first=True,
            )
        )
    stem = ((2, 3), (2, 3))
    out.append(
        Case(
            "stem 7x7/2 224²x3->64 b32 SAME", (32, 224, 224, 3), (7, 7, 3, 64), (2, 2), (1, 1), stem
        )
    )
    out.append(
        Case(
            "stem 7x7/2 224²x3->64 b32 SAME",
            (32, 224, 224, 3),
            (7, 7, 3, 64),
            (2, 2),
            (1, 1),
            stem,
            options={"asymmetric": "native"},
        )
    )
    out.append(
        Case(
            "stem 7x7/2 224²x3->64 b32 pad 3",
            (32, 224, 224, 3),
            (7, 7, 3, 64),
            (2, 2),
            (1, 1),
            ((3, 3),) * 2,
            "fprop",
            "float16",
        )
    )
    out.append(
        Case(
            "1x1 56²x256->64 b32", (32, 56, 56, 256), (1, 1, 256, 64), (1, 1), (1, 1), ((0, 0),) * 2
        )
    )
    out.append(
        Case(
            "1x1 56²x256->64 b32",
            (32, 56, 56, 256),
            (1, 1, 256, 64),
            (1, 1),
            (1, 1),
            ((0, 0),) * 2,
            options={"filter_layout": "in_place"},
        )
    )
    dw = ((1, 1),) * 2
    out.append(
        Case("depthwise 3x3 112²x32 b32", (32, 112, 112, 32), (3, 3, 1, 32), (1, 1), (1, 1), dw)
    )
    out.append(
        Case(
            "depthwise 3x3 112²x32 b32",
            (32, 112, 112, 32),
            (3, 3, 1, 32),
            (1, 1),
            (1, 1),
            dw,
            "fprop",
            "float16",
        )
    )
    c3 = ((1, 1),) * 3
    out.append(
        Case(
            "conv3d 3x3x3 16x56²x32 b4",
            (4, 16, 56, 56, 32),
            (3, 3, 3, 32, 32),
            (1, 1, 1),
            (1, 1, 1),
            c3,
            reps=10,
        )
    )
    out.append(
        Case(
            "conv3d 3x3x3 16x56²x32 b4",
            (4, 16, 56, 56, 32),
            (3, 3, 3, 32, 32),
            (1, 1, 1),
            (1, 1, 1),
            c3,
            "fprop",
            "float16",
            reps=10,
        )
    )
    # small correctness cases
    small = [
        ("groups 4", (2, 13, 11, 8), (3, 3, 2, 12), (1, 1), (1, 1), ((1, 1),) * 2),
        ("dilation 2,3", (2, 17, 15, 4), (3, 3, 4, 6), (1, 1), (2, 3), ((2, 2), (3, 3))),
        ("asym pads", (2, 12, 10, 3), (3, 2, 3, 5), (1, 1), (1, 1), ((0, 2), (1, 0))),
        (
            "stride 2 SAME",
            (2, 16, 15, 4),
            (3, 3, 4, 6),
            (2, 2),
            (1, 1),
            (same(16, 3, 2), same(15, 3, 2)),
        ),
        ("stride 2 dil 2", (2, 19, 18, 4), (3, 3, 4, 4), (2, 2), (2, 2), ((1, 2), (2, 2))),
        ("depthwise x2", (2, 9, 9, 6), (3, 3, 1, 12), (1, 1), (1, 1), ((1, 1),) * 2),
        ("1-d", (3, 40, 5), (5, 5, 7), (2,), (1,), (same(40, 5, 2),)),
        (
            "3-d groups",
            (1, 6, 7, 8, 4),
            (3, 3, 3, 2, 6),
            (1, 2, 1),
            (1, 1, 1),
            ((1, 1), (0, 1), (1, 1)),
        ),
    ]
    for name, x, w, s, d, p in small:
        for op in ("fprop", "dgrad", "wgrad"):
            for dtype in ("float32", "float16", "float64"):
                out.append(Case(name, x, w, s, d, p, op, dtype, reps=5))
        if any(lo != hi for lo, hi in p):
            out.append(
                Case(name, x, w, s, d, p, "fprop", "float32", {"asymmetric": "native"}, reps=5)
            )
            out.append(
                Case(name, x, w, s, d, p, "dgrad", "float32", {"asymmetric": "native"}, reps=5)
            )
            out.append(
                Case(name, x, w, s, d, p, "wgrad", "float32", {"asymmetric": "native"}, reps=5)
            )
    out.append(
        Case(
            "groups 4",
            (2, 13, 11, 8),
            (3, 3, 2, 12),
            (1, 1),
            (1, 1),
            ((1, 1),) * 2,
            "fprop",
            "bfloat16",
            reps=5,
        )
    )
    out.append(
        Case(
            "groups 4",
            (2, 13, 11, 8),
            (3, 3, 2, 12),
            (1, 1),
            (1, 1),
            ((1, 1),) * 2,
            "wgrad",
            "float32",
            {"filter_layout": "in_place"},
            reps=5,
        )
    )
    out.append(
        Case(
            "groups 4",
            (2, 13, 11, 8),
            (3, 3, 2, 12),
            (1, 1),
            (1, 1),
            ((1, 1),) * 2,
            "dgrad",
            "float32",
            {"filter_layout": "in_place"},
            reps=5,
        )
    )
    # 10 -> 4 and 9 -> 4 at k=3, s=2: the last input row is read by no window
    out.append(
        Case(
            "dgrad tall input",
            (2, 10, 9, 4),
            (3, 3, 4, 5),
            (2, 2),
            (1, 1),
            ((0, 0),) * 2,
            "dgrad",
            reps=5,
        )
    )
    return out


def _out_shape(c: Case) -> tuple[int, ...]:
    spatial = [
        (n + lo + hi - (k - 1) * d - 1) // s + 1
        for n, k, s, d, (lo, hi) in zip(c.x[1:-1], c.w[:-2], c.strides, c.dilations, c.pads)
    ]
    return (c.x[0], *spatial, c.w[-1])


class Runner:
    """Holds the libraries and runs one case."""

    def __init__(self) -> None:
        import cupy
        import torch
        import torch.nn.functional as F

        from xconv._backend import cudnn as _cudnn

        self.cupy, self.torch, self.F, self.cd = cupy, torch, F, _cudnn
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = False

    def data(
        self, shape: tuple[int, ...], dtype: str, seed: int, channels_first: bool = False
    ) -> tuple[Any, Any]:
        """A canonical torch CUDA tensor and the CuPy array sharing its memory (a
        ``(N, *spatial, C)`` view of ``(N, C, *spatial)`` memory if ``channels_first``)."""
        torch = self.torch
        g = torch.Generator(device="cuda").manual_seed(seed)
        cf = (shape[0], shape[-1], *shape[1:-1]) if channels_first else shape
        t = torch.randn(cf, generator=g, device="cuda", dtype=getattr(torch, dtype))
        if channels_first:
            t = t.movedim(1, -1)
        return t, self.cupy.from_dlpack(t)

    def time(self, fn: Callable[[], Any], reps: int, lib: str) -> float:
        """Median milliseconds of ``reps`` single calls, after warm-up."""
        for _ in range(3):
            fn()
        times = []
        for _ in range(reps):
            if lib == "cupy":
                a, b = self.cupy.cuda.Event(), self.cupy.cuda.Event()
                a.record()
                fn()
                b.record()
                b.synchronize()
                times.append(self.cupy.cuda.get_elapsed_time(a, b))
            else:
                a, b = (
                    self.torch.cuda.Event(enable_timing=True),
                    self.torch.cuda.Event(enable_timing=True),
                )
                a.record()
                fn()
                b.record()
                b.synchronize()
                times.append(a.elapsed_time(b))
        return statistics.median(times)

    def torch_fn(self, c: Case, xt: Any, wt: Any, dyt: Any) -> Callable[[], Any]:
        """torch's result in canonical layout, as a callable."""
        torch, F = self.torch, self.F
        rank = len(c.w) - 2
        groups = c.x[-1] // c.w[-2]
        W = wt.permute(rank + 1, rank, *range(rank))
        X = xt.movedim(-1, 1)
        DY = dyt.movedim(-1, 1) if dyt is not None else None
        p = [min(lo, hi) for lo, hi in c.pads]
        extra = [(lo - q, hi - q) for (lo, hi), q in zip(c.pads, p)]
        asym = any(a or b for a, b in extra)
        flat = [v for a, b in reversed(extra) for v in (a, b)]
        conv = getattr(F, f"conv{rank}d")

        if c.op == "fprop":

            def run() -> Any:
                xin = F.pad(X, flat) if asym else X
                return conv(
                    xin, W, stride=c.strides, padding=p, dilation=c.dilations, groups=groups
                ).movedim(1, -1)

            return run

        def backward(mask: list[bool]) -> Any:
            xin = F.pad(X, flat) if asym else X
            return torch.ops.aten.convolution_backward(
                DY,
                xin,
                W,
                None,
                list(c.strides),
                p,
                list(c.dilations),
                False,
                [0] * rank,
                groups,
                mask,
            )

        if c.op == "dgrad":

            def run() -> Any:
                gx = backward([True, False, False])[0]
                if asym:
                    crop = tuple(slice(a, a + n) for (a, _), n in zip(extra, c.x[1:-1]))
                    gx = gx[(slice(None), slice(None), *crop)]
                return gx.movedim(1, -1)

            return run

        def run() -> Any:
            gw = backward([False, True, False])[1]
            return gw.permute(*range(2, rank + 2), 1, 0)

        return run

    def xconv_fn(self, c: Case, x: Any, w: Any, dy: Any) -> Callable[[], Any]:
        """xconv's cuDNN path on the CuPy arrays, as a callable."""
        cd, o = self.cd, c.options
        if c.op == "fprop":
            return lambda: cd.conv_forward(x, w, c.strides, c.dilations, c.pads, **o)
        if c.op == "dgrad":
            return lambda: cd.conv_backprop_input(c.x, w, dy, c.strides, c.dilations, c.pads, **o)
        return lambda: cd.conv_backprop_filter(x, c.w, dy, c.strides, c.dilations, c.pads, **o)

    def run(self, c: Case, seed: int) -> dict[str, Any]:
        torch = self.torch
        cf = c.channels_first
        xt, x = self.data(c.x, c.dtype, seed, cf)
        wt, w = self.data(c.w, c.dtype, seed + 1)
        dyt, dy = (
            self.data(_out_shape(c), c.dtype, seed + 2, cf) if c.op != "fprop" else (None, None)
        )
        xfn, tfn = self.xconv_fn(c, x, w, dy), self.torch_fn(c, xt, wt, dyt)
        t0 = time.perf_counter()
        first = xfn()
        self.cupy.cuda.Device().synchronize()
        build_ms = (time.perf_counter() - t0) * 1e3
        ref = tfn()
        got = torch.from_dlpack(first)
        if tuple(got.shape) != tuple(ref.shape):
            raise AssertionError(f"shape {tuple(got.shape)} != torch's {tuple(ref.shape)}")
        diff = (got.double() - ref.double()).abs().max().item()
        scale = max(ref.double().abs().max().item(), 1e-30)
        xms = self.time(xfn, c.reps, "cupy")
        tms = self.time(tfn, c.reps, "torch")
        rel = diff / scale
        return {
            "xconv": xms,
            "torch": tms,
            "err": diff,
            "rel": rel,
            "build": build_ms,
            "ok": rel <= TOL[c.dtype],
        }


def label(c: Case) -> str:
    extra = ",".join(f"{k}={v}" for k, v in c.options.items())
    return f"{c.name}" + (f" [{extra}]" if extra else "")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python benchmarks/gpu_cudnn_check.py OUT.md [case-substring ...]")
        return 2
    out_path, wanted = Path(argv[1]), argv[2:]
    try:
        import cupy
        import torch

        from xconv._backend import cudnn as _cudnn

        reason = _cudnn.available()
        if reason is None and not torch.cuda.is_available():
            reason = "torch has no CUDA device"
    except Exception as exc:  # missing libraries: one line, status 2
        reason = f"{type(exc).__name__}: {exc}"
    if reason is not None:
        print(f"gpu_cudnn_check: cupy/cudnn (or torch CUDA) missing: {reason}")
        return 2
    import cudnn

    backend = getattr(cudnn, "backend_version_string", cudnn.backend_version)()
    runner = Runner()
    header = [
        "# xconv cuDNN path (cudnn-frontend) vs torch, TF32 off",
        "",
        f"- GPU: {torch.cuda.get_device_name()}; cuDNN backend {backend}, "
        f"cudnn-frontend {cudnn.__version__}, CuPy {cupy.__version__}, torch {torch.__version__} "
        f"(its cuDNN {torch.backends.cudnn.version()})",
        "- times: CUDA events, median of single calls after 3 warm-up calls; `first ms` is xconv's "
        "first call (graph build included); err: max |xconv - torch|, rel: err / max |torch|",
        "",
        "| case | op | dtype | xconv-cudnn ms | torch ms | torch/xconv | max abs err | rel err | first ms | ok |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    rows: list[str] = []
    failures = 0

    def write() -> None:
        out_path.write_text("\n".join(header + rows) + "\n")

    start = time.perf_counter()
    for i, c in enumerate(cases()):
        if wanted and not any(s in label(c) for s in wanted):
            continue
        head = f"| {label(c)} | {c.op} | {c.dtype} |"
        if time.perf_counter() - start > BUDGET_S:
            rows.append(f"{head} | | | | | | skipped (time budget) |")
            continue
        try:
            r = runner.run(c, seed=1000 + i)
            ok = "yes" if r["ok"] else "**MISMATCH**"
            failures += not r["ok"]
            row = (
                f"{head} {r['xconv']:.3f} | {r['torch']:.3f} | {r['torch'] / r['xconv']:.2f} | "
                f"{r['err']:.3g} | {r['rel']:.2g} | {r['build']:.0f} | {ok} |"
            )
        except runner.cd.CudnnUnsupported as exc:
            # the experimental variants (native asymmetric pads, in-place filters) may be
            # declined by cuDNN: reported, not counted as failures
            failures += not c.options
            msg = str(exc).replace("|", "/").replace("\n", " ")[:300]
            row = f"{head} | | | | | | declined: {msg} |"
        except Exception as exc:
            failures += 1
            msg = f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")[:300]
            row = f"{head} | | | | | | error: {msg} |"
            print(f"case {label(c)} {c.op} {c.dtype} failed:", file=sys.stderr)
            traceback.print_exc(limit=3)
        rows.append(row)
        print(row, flush=True)
        write()
    rows.append("")
    rows.append(
        f"{failures} case(s) failed or mismatched; {time.perf_counter() - start:.0f} s in all."
    )
    write()
    print("\n".join(header + rows))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
