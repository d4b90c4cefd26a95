"""GPU benchmark: xconv on CuPy and on CUDA torch beside torch's cuDNN and cupyx.

Run on a machine with an NVIDIA GPU, CuPy and a CUDA build of torch::

    python benchmarks/gpu.py                  # every case; writes benchmarks/results/gpu.*
    python benchmarks/gpu.py --cases 'conv3x3*' --no-out
    python benchmarks/gpu.py --cases '*-b32' --candidates 'torch*' 'xconv[cupy] auto' \
        'xconv[cupy] native' --out /tmp/bench --stem gpu-bench --budget-s 80

The cases are the CPU suite's (:mod:`xconv._bench.cases`) plus the dense 3x3 and 1x1
layers and the depthwise layer at batch 32, where the target is (xconv on CuPy at least
0.7x cuDNN's speed).
Candidates, all on the same inputs on the GPU:

- ``torch fp32``: ``torch.nn.functional.conv*d`` (cuDNN, channels_last) with TF32 off,
  the baseline of the convolution cases; ``torch tf32``: the same with TF32 on;
- ``xconv[cupy] <method>``: every xconv method that applies, and ``auto``; ``native``
  is cuDNN through cudnn-frontend (TF32 off) where it is installed;
- ``xconv[torch] auto``: xconv on CUDA tensors (TF32 off);
- ``cupyx.<func>``: ``cupyx.scipy.signal`` / ``cupyx.scipy.ndimage`` for the SciPy-API
  cases, the baseline of ``xconv[cupy] <func>``;
- ``xconv[numpy] auto``: the CPU path on this machine's processor, for scale.

Each candidate is called twice untimed (CuPy compiles its kernels at the first call),
then timed call by call with the device synchronised, median of the calls. Peak extra
device memory is the allocator's high-water mark during one call (CuPy: a memory hook;
torch: ``max_memory_allocated``). Every output is compared with the baseline's.
``--cases`` runs the cases whose names match a pattern, in the order of the patterns;
``--candidates`` keeps the candidates whose names match a pattern; ``--budget-s`` stops
starting new cases after that many seconds; the files are rewritten after every case,
so an interrupted run leaves the cases it finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from xconv import _backend
from xconv._bench.cases import CASES, SIGNAL_CASES, Case
from xconv._bench.peers import _torch_layout, _torch_weight, _xconv_call, make_inputs

RESULTS = Path(__file__).parent / "results"
METHODS = ("auto", "gemm", "winograd", "shift", "fft", "native")
#: a candidate whose first timed call takes longer than this is timed once
SLOW_S = 2.0


def gpu_cases() -> list[Case]:
    """The CPU suite's cases, the batch-32 dense 3x3 layers, and the SciPy-API cases."""
    b32 = [
        dataclasses.replace(c, name=f"{c.name}-b32", input_shape=(32, *c.input_shape[1:]))
        for c in CASES
        if c.name.startswith(("conv3x3", "conv1x1", "depthwise3x3"))
    ]
    return [*CASES, *b32, *SIGNAL_CASES]


def _sync() -> None:
    import cupy
    import torch

    cupy.cuda.Device().synchronize()
    torch.cuda.synchronize()


def time_call(run: Callable[[], Any], reps: int) -> tuple[float, int]:
    """Median seconds of ``reps`` synchronised calls (1 call if it is slow)."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        _sync()
        times.append(time.perf_counter() - t0)
        if times[0] > SLOW_S:
            break
    return statistics.median(times), len(times)


class _PeakHook:
    """A CuPy memory hook recording the pool's high-water mark of bytes in use."""

    def __init__(self) -> None:
        import cupy

        class Hook(cupy.cuda.MemoryHook):  # type: ignore[misc]
            name = "xconv-peak"

            def __init__(self) -> None:
                self.now = 0
                self.peak = 0

            def malloc_postprocess(self, **kw: Any) -> None:
                self.now += kw["mem_size"]
                self.peak = max(self.peak, self.now)

            def free_postprocess(self, **kw: Any) -> None:
                self.now -= kw["mem_size"]

        self.hook = Hook()


def peak_bytes(run: Callable[[], Any], library: str) -> int | None:
    """Extra device bytes allocated at the high-water mark of one call (result included)."""
    import torch

    _sync()
    if library == "torch":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        y = run()
        _sync()
        del y
        return int(torch.cuda.max_memory_allocated() - base)
    if library == "cupy":
        h = _PeakHook().hook
        with h:
            y = run()
            _sync()
        del y
        return int(h.peak)
    return None


def _to_numpy(y: Any) -> np.ndarray:
    if hasattr(y, "get"):
        return np.asarray(y.get())
    if hasattr(y, "detach"):
        return y.detach().cpu().numpy()
    return np.asarray(y)


def conv_candidates(case: Case, x: np.ndarray, w: np.ndarray) -> list[tuple[str, str, Any]]:
    """(key, library, run) for a convolution case; the first is the baseline."""
    import cupy
    import torch
    import torch.nn.functional as F

    out: list[tuple[str, str, Any]] = []
    to_cf, to_cl, fmt = _torch_layout(case)
    xt = torch.from_numpy(x).permute(to_cf).contiguous(memory_format=fmt).cuda()
    wt = torch.from_numpy(_torch_weight(case, w)).contiguous(memory_format=fmt).cuda()
    pads = case.pads
    if case.op in ("conv", "depthwise"):
        conv = getattr(F, f"conv{case.rank}d")
        flat = tuple(v for p in reversed(pads) for v in p)
        groups = case.channels[2]

        def torch_run(tf32: bool) -> Callable[[], Any]:
            def run() -> Any:
                torch.backends.cudnn.allow_tf32 = tf32
                try:
                    xx = F.pad(xt, flat) if any(flat) else xt
                    y = conv(xx, wt, stride=case.stride_t, dilation=case.dilation_t, groups=groups)
                    return y.permute(to_cl)
                finally:
                    torch.backends.cudnn.allow_tf32 = False

            return run

        out += [("torch fp32", "torch", torch_run(False)), ("torch tf32", "torch", torch_run(True))]
    call = _xconv_call(case)
    xc, wc = cupy.asarray(x), cupy.asarray(w)
    for m in METHODS:
        out.append((f"xconv[cupy] {m}", "cupy", lambda m=m: call(xc, wc, m)))
    xtc, wtc = torch.from_numpy(x).cuda(), torch.from_numpy(w).cuda()
    out.append(("xconv[torch] auto", "torch", lambda: call(xtc, wtc, "auto")))
    out.append(("xconv[numpy] auto", "numpy", lambda: call(x, w, "auto")))
    return out


def signal_candidates(case: Case, x: np.ndarray, w: np.ndarray) -> list[tuple[str, str, Any]]:
    """cupyx.scipy's function and xconv's twin on CuPy, per name in ``case.funcs``."""
    import importlib

    import cupy

    xc, wc = cupy.asarray(x), cupy.asarray(w)
    out: list[tuple[str, str, Any]] = []
    for name in case.funcs:
        module, _, attr = name.rpartition(".")
        module = module or "signal"
        kw = {"mode": "constant"} if module == "ndimage" else {"mode": case.kwargs["mode"]}
        ref = getattr(importlib.import_module(f"cupyx.scipy.{module}"), attr)
        mine = getattr(importlib.import_module(f"xconv.{module}"), attr)
        out.append((f"cupyx.{name}", "cupy", lambda f=ref, kw=kw: f(xc, wc, **kw)))
        out.append((f"xconv[cupy] {name}", "cupy", lambda f=mine, kw=kw: f(xc, wc, **kw)))
    return out


def run_case(case: Case, reps: int, patterns: list[str] | None = None) -> dict[str, Any]:
    x, w = make_inputs(case)
    cands = signal_candidates(case, x, w) if case.op == "signal" else conv_candidates(case, x, w)
    if patterns:
        cands = [
            c for c in cands if any(c[0] == p or fnmatch.fnmatchcase(c[0], p) for p in patterns)
        ]
    rows: list[dict[str, Any]] = []
    refs: dict[str, np.ndarray] = {}
    for key, library, run in cands:
        row: dict[str, Any] = {"key": key, "library": library}
        rows.append(row)
        try:
            y = run()
            _sync()
            y_np = _to_numpy(y)
            del y
            run()
            sec, n = time_call(run, reps if library != "numpy" else max(3, reps // 3))
            row.update(median_s=sec, calls=n, peak_bytes=peak_bytes(run, library))
        except (ValueError, NotImplementedError) as exc:
            row["na"] = f"{type(exc).__name__}: {exc}"[:160]
            continue
        except Exception as exc:  # record it, go on with the other candidates
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        base = "torch fp32" if case.op != "signal" else "cupyx." + key.split(" ", 1)[-1]
        if key.startswith("cupyx.") or key == "torch fp32":
            refs[key] = y_np
        ref = refs.get(key if key.startswith("cupyx.") else base)
        if ref is not None and ref.shape == y_np.shape:
            scale = float(np.max(np.abs(ref))) or 1.0
            row["rel_err"] = float(np.max(np.abs(y_np.astype(np.float64) - ref))) / scale
        elif ref is not None:
            row["error"] = f"shape {y_np.shape} != baseline {ref.shape}"
    flops = case.kwargs.get("flops") or case.flops
    by_key = {r["key"]: r for r in rows}
    for r in rows:
        if "median_s" not in r:
            continue
        r["tflops"] = flops / r["median_s"] / 1e12
        base = "torch fp32" if case.op != "signal" else "cupyx." + r["key"].split(" ", 1)[-1]
        b = by_key.get(base, {})
        if "median_s" in b:
            r["x_baseline"] = b["median_s"] / r["median_s"]
    return {
        "case": case.name,
        "title": case.title,
        "flops": flops,
        "io_bytes": case.io_bytes,
        "rows": rows,
    }


def device_info() -> dict[str, Any]:
    import cupy
    import torch

    props = cupy.cuda.runtime.getDeviceProperties(0)
    return {
        "gpu": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
        "cupy": cupy.__version__,
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu_cores": __import__("os").cpu_count(),
        "xconv_cudnn": _backend.cudnn_status(),
    }


def format_markdown(results: dict[str, Any]) -> str:
    info = results["device"]
    lines = [
        f"# GPU benchmark: {info['gpu']}",
        "",
        f"CuPy {info['cupy']}, torch {info['torch']} (cuDNN {info['cudnn']}), CUDA runtime "
        f"{info['cuda_runtime']}, NumPy {info['numpy']} on {info['cpu_cores']} CPU cores; "
        f"{results['elapsed_s']:.0f} s. float32; `x base` = baseline time / candidate time "
        "(> 1 is faster; baseline: torch fp32 = cuDNN with TF32 off, or the cupyx function "
        "of the same name); `peak` = extra device memory at the high-water mark of one call, "
        "result included, in units of (input + output) bytes.",
        "",
        f"xconv's cuDNN for CuPy (`xconv[cupy] native`): {info.get('xconv_cudnn', '-')}.",
        "",
        "| case | candidate | ms | TFLOP/s | x base | peak | rel. err |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in results["cases"]:
        for r in c["rows"]:
            if "median_s" not in r:
                what = r.get("na") or r.get("error", "")
                lines.append(f"| {c['case']} | {r['key']} | {what[:70]} | | | | |")
                continue
            peak = r.get("peak_bytes")
            peak_s = f"{peak / c['io_bytes']:.2f}" if peak is not None else "-"
            xb = f"{r['x_baseline']:.2f}" if "x_baseline" in r else "-"
            err = f"{r['rel_err']:.1e}" if "rel_err" in r else "-"
            lines.append(
                f"| {c['case']} | {r['key']} | {r['median_s'] * 1e3:.3g} | {r['tflops']:.3g} "
                f"| {xb} | {peak_s} | {err} |"
            )
    if results.get("not_run"):
        lines += ["", f"Not run (time budget): {', '.join(results['not_run'])}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", metavar="PATTERN", help="case names or shell patterns")
    p.add_argument("--reps", type=int, default=15, help="timed calls per candidate")
    p.add_argument(
        "--candidates", nargs="+", metavar="PATTERN", help="candidate names or shell patterns"
    )
    p.add_argument("--out", default=str(RESULTS), help="folder for gpu.json and gpu.md")
    p.add_argument("--stem", default="gpu", help="file names in --out: STEM.json, STEM.md")
    p.add_argument(
        "--budget-s", type=float, default=None, help="start no new case after this many seconds"
    )
    p.add_argument("--no-out", action="store_true", help="print the table, write nothing")
    args = p.parse_args(argv)
    try:
        import cupy
        import torch

        if not (torch.cuda.is_available() and cupy.cuda.runtime.getDeviceCount() > 0):
            raise RuntimeError("no CUDA device")
    except Exception as exc:  # missing library, driver or device: say so, no traceback
        print(f"benchmarks/gpu.py needs an NVIDIA GPU, CuPy and CUDA torch: {exc}")
        return 2

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    cases = gpu_cases()
    if args.cases:  # in the order of the patterns
        cases = list(
            {
                c.name: c for p in args.cases for c in cases if fnmatch.fnmatchcase(c.name, p)
            }.values()
        )
    start = time.perf_counter()
    results: dict[str, Any] = {"device": device_info(), "cases": []}
    out = None if args.no_out else Path(args.out)
    for i, case in enumerate(cases):
        if args.budget_s is not None and time.perf_counter() - start > args.budget_s:
            skipped = ", ".join(c.name for c in cases[i:])
            print(f"time budget of {args.budget_s:g} s spent; not run: {skipped}", flush=True)
            results["not_run"] = [c.name for c in cases[i:]]
            break
        print(f"[{i + 1}/{len(cases)}] {case.name}", file=sys.stderr, flush=True)
        results["cases"].append(run_case(case, args.reps, args.candidates))
        results["elapsed_s"] = time.perf_counter() - start
        if out is not None:  # after every case: an interrupted run keeps what it finished
            _write(out, args.stem, results)
    results["elapsed_s"] = time.perf_counter() - start
    print(format_markdown(results))
    if out is not None:
        _write(out, args.stem, results)
    return 0


def _write(out: Path, stem: str, results: dict[str, Any]) -> None:
    """``STEM.json`` and ``STEM.md`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    (out / f"{stem}.md").write_text(format_markdown(results))


if __name__ == "__main__":
    raise SystemExit(main())
