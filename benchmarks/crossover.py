"""Crossover and scaling sweeps: the thresholds ``method="auto"`` uses, and cost growth.

``python benchmarks/crossover.py [--quick] [--sweeps kernel channels depthwise scaling]
[--out benchmarks/results]`` writes ``crossover.json`` (every number), ``crossover.md``
(the thresholds found) and one PNG per sweep:

- ``kernel``: one single-channel image, kernel size 3 → 31; every xconv method: where
  the FFT overtakes the direct methods (shift / gemm / einsum).
- ``channels``: dense 3x3 with few channels (C → C, C = 1 → 128): where ``gemm``
  overtakes ``shift`` (and ``winograd`` where it exists).
- ``depthwise``: depthwise 3x3, C = 1 → 256 channels: ``shift`` vs ``gemm``/``einsum``.
- ``scaling``: a dense 3x3 layer over batch 1 → 32 and a
  single-channel 5x5 over image sizes 256² → 8192², time against work on log-log axes
  for xconv ``auto`` and TensorFlow, with the fitted slope (1 = linear growth).

The timing protocol is the suite's (:mod:`xconv._bench.timing`), with fewer blocks. A
candidate slower than ``--cap`` seconds (three times that in the scaling sweep) at one
point is not run at the larger points of that series; one whose time, estimated from a
run on an eighth of the input, exceeds 20 s is not run from that point on; a
point whose memory, extrapolated from the previous point's resident-set peak, would
exceed half of the machine's available memory is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xconv._bench import timing
from xconv._bench._env import prepare
from xconv._bench.cases import Case
from xconv._bench.peers import (
    Candidate,
    make_inputs,
    tf_candidate,
    xconv_candidates,
    xconv_methods,
)

HERE = Path(__file__).resolve().parent

__all__ = ["SWEEPS", "run_sweeps"]

#: points with at least this much work run each candidate on a slice first; a candidate
#: whose estimated time exceeds ``PROBE_LIMIT_S`` is not run at this or larger points
#: (a guard against a pathologically slow method, not a way to save time)
PROBE_MIN_FLOPS = 2e8
PROBE_LIMIT_S = 20.0


def _methods() -> list[str]:
    """The xconv methods that run on NumPy (every algorithm but ``native``) and auto."""
    return [m for m in xconv_methods() if m != "native"]


def _kernel_series(quick: bool) -> dict[str, list[tuple[int, Case]]]:
    size = 256 if quick else 1024
    ks = (3, 7, 15) if quick else (3, 5, 7, 9, 11, 15, 21, 31)
    return {
        f"single-channel {size}²": [
            (k, Case(f"k{k}", f"{k}x{k}", "conv", (1, size, size, 1), (k, k, 1, 1))) for k in ks
        ]
    }


def _channel_series(quick: bool) -> dict[str, list[tuple[int, Case]]]:
    cs = (1, 4, 16) if quick else (1, 2, 4, 8, 16, 32, 64, 128)
    n, size = (2, 32) if quick else (4, 64)
    return {
        f"dense 3x3, {n}x{size}²xC→C": [
            (c, Case(f"c{c}", f"C={c}", "conv", (n, size, size, c), (3, 3, c, c))) for c in cs
        ]
    }


def _depthwise_series(quick: bool) -> dict[str, list[tuple[int, Case]]]:
    cs = (1, 8, 32) if quick else (1, 4, 16, 64, 256)
    n, size = (2, 28) if quick else (4, 56)
    return {
        f"depthwise 3x3, {n}x{size}²xC": [
            (c, Case(f"dw{c}", f"C={c}", "depthwise", (n, size, size, c), (3, 3, c, 1))) for c in cs
        ]
    }


def _scaling_series(quick: bool, max_size: int) -> dict[str, list[tuple[int, Case]]]:
    batches = (1, 2, 4) if quick else (1, 2, 4, 8, 16, 32)
    sizes = [
        s
        for s in ((256, 512, 1024) if quick else (256, 512, 1024, 2048, 4096, 8192))
        if s <= max_size
    ]
    return {
        "dense 3x3, Bx28²x128→128 (batch B)": [
            (b, Case(f"b{b}", f"B={b}", "conv", (b, 28, 28, 128), (3, 3, 128, 128)))
            for b in batches
        ],
        "single-channel 5x5, S² (size S)": [
            (s, Case(f"s{s}", f"{s}²", "conv", (1, s, s, 1), (5, 5, 1, 1))) for s in sizes
        ],
    }


#: sweep name -> (what it measures, its candidates: "methods" or "auto")
SWEEPS: dict[str, str] = {
    "kernel": "methods",
    "channels": "methods",
    "depthwise": "methods",
    "scaling": "auto",
}


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _candidates(case: Case, which: str, x: np.ndarray, w: np.ndarray) -> list[Candidate]:
    methods = _methods() if which == "methods" else ["auto"]
    return [tf_candidate(case, x, w), *xconv_candidates(case, x, w, "numpy", methods)]


def _estimates(
    case: Case, which: str, x: np.ndarray, w: np.ndarray, timer: timing.Timer, skip: set[str]
) -> dict[str, float]:
    """Seconds per call of each candidate, estimated from a run on a slice of the input."""
    probe = case.probe(fraction=8) if case.flops >= PROBE_MIN_FLOPS else None
    if probe is None:
        return {}
    small, index, scale = probe
    out = {}
    for c in _candidates(small, which, x[index], w):
        if c.run is None or c.na or c.key in skip:
            continue
        try:
            _, t = timer.first_call(c.run, c.library)
            if t * scale > PROBE_LIMIT_S:  # again, without first-call costs (imports, plans)
                _, t = timer.first_call(c.run, c.library)
        except Exception:
            continue  # the whole call reports it
        out[c.key] = t * scale
    return out


def run_series(
    points: Sequence[tuple[int, Case]],
    which: str,
    timer: timing.Timer,
    *,
    cap_s: float,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Time every candidate at every point; drop slow ones from the larger points."""
    dropped: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    last_rss: tuple[int, int] | None = None  # (io bytes, largest RSS peak) at the last point
    for value, case in points:
        row: dict[str, Any] = {"x": value, "case": case.describe(), "candidates": {}}
        rows.append(row)
        avail = _mem_available()
        if last_rss and avail and last_rss[1] * case.io_bytes / last_rss[0] > avail / 2:
            row["skipped"] = (
                "memory: the previous point's peak, scaled, exceeds half the free memory"
            )
            log(f"  {case.name}: skipped ({row['skipped']})")
            continue
        timed = []
        peak_rss = 0
        x, w = make_inputs(case)
        estimates = _estimates(case, which, x, w, timer, set(dropped))
        for key, t in estimates.items():
            if t > PROBE_LIMIT_S:
                dropped[key] = f"about {t:.0f} s per call at x={value} (estimated from a slice)"
        for c in _candidates(case, which, x, w):
            rec: dict[str, Any] = {}
            row["candidates"][c.key] = rec
            if c.na or c.run is None:
                rec["status"] = "n/a"
                rec["reason"] = c.na
                continue
            if c.key in dropped:
                rec["status"] = "skipped"
                rec["reason"] = dropped[c.key]
                continue
            timer.rest(c.library)
            try:
                with timing._rss_peak() as rss:
                    t0 = time.perf_counter()
                    c.run()
                    first = time.perf_counter() - t0
            except Exception as exc:  # ValueError: the method does not apply
                rec.update(timing.failure(exc))
                if rec["status"] == "error":
                    log(f"  {case.name} {c.key}: {rec['reason']}")
                continue
            if rss["peak"] is not None and rss["baseline"] is not None:
                rec["rss_peak_bytes"] = rss["peak"] - rss["baseline"]
                peak_rss = max(peak_rss, rec["rss_peak_bytes"])
            rec.update(status="ok", first_call_s=first)
            timed.append(timing.Timed(c.key, c.library, c.run, first))
        timer.time_all(timed)
        for t in timed:
            rec = row["candidates"][t.key]
            rec.update(median_s=t.median_s, blocks_s=t.blocks)
            rec["gflops"] = case.flops / t.median_s / 1e9
            if t.median_s > cap_s:
                dropped[t.key] = f"slower than {cap_s} s at x={value}"
        last_rss = (case.io_bytes, peak_rss) if peak_rss else last_rss
        best = _best_method(row)
        log(
            f"  {case.name}: "
            + ", ".join(
                f"{k.removeprefix('xconv[numpy] ')} {v['median_s'] * 1e3:.3g} ms"
                for k, v in row["candidates"].items()
                if v.get("status") == "ok"
            )
            + (f"  (fastest method: {best})" if best else "")
        )
    return rows


def _best_method(row: dict[str, Any]) -> str | None:
    """The fastest xconv method (not ``auto``) at one point."""
    times = {
        k.removeprefix("xconv[numpy] "): v["median_s"]
        for k, v in row["candidates"].items()
        if k.startswith("xconv[numpy]") and not k.endswith(" auto") and v.get("status") == "ok"
    }
    return min(times, key=times.__getitem__) if times else None


def _time(row: dict[str, Any], key: str) -> float | None:
    v = row["candidates"].get(key, {})
    return v.get("median_s") if v.get("status") == "ok" else None


def _crossover(rows: list[dict[str, Any]], a: str, b: str) -> int | None:
    """Smallest x from which ``b`` is faster than ``a`` at every measured larger point."""
    found = None
    for row in reversed(rows):
        ta, tb = _time(row, f"xconv[numpy] {a}"), _time(row, f"xconv[numpy] {b}")
        if ta is None or tb is None:
            if tb is not None and ta is None:  # a dropped as too slow: b wins
                found = row["x"]
            continue
        if tb < ta:
            found = row["x"]
        else:
            break
    return found


def _direct_best(row: dict[str, Any]) -> float | None:
    ts = [_time(row, f"xconv[numpy] {m}") for m in _methods() if m not in ("fft", "auto")]
    ts = [t for t in ts if t is not None]
    return min(ts) if ts else None


def thresholds(results: dict[str, Any]) -> dict[str, Any]:
    """The crossovers found, for ``method="auto"`` (None where not measurable)."""
    out: dict[str, Any] = {}
    for name, series in results["sweeps"].get("kernel", {}).items():
        first_fft = None
        for row in reversed(series):
            t_fft, t_dir = _time(row, "xconv[numpy] fft"), _direct_best(row)
            if t_fft is not None and (t_dir is None or t_fft < t_dir):
                first_fft = row["x"]
            else:
                break
        out[f"{name}: fft beats every direct method from k"] = first_fft
        out[f"{name}: fastest method per k"] = {r["x"]: _best_method(r) for r in series}
    for sweep in ("channels", "depthwise"):
        for name, series in results["sweeps"].get(sweep, {}).items():
            out[f"{name}: gemm beats shift from C"] = _crossover(series, "shift", "gemm")
            out[f"{name}: fastest method per C"] = {r["x"]: _best_method(r) for r in series}
    for name, series in results["sweeps"].get("scaling", {}).items():
        for key in ("tf", "xconv[numpy] auto"):
            pts = [(r["case"]["flops"], _time(r, key)) for r in series]
            pts = [(f, t) for f, t in pts if t]
            if len(pts) >= 2:
                lx = np.log([p[0] for p in pts])
                ly = np.log([p[1] for p in pts])
                out[f"{name}: log-log slope of time vs work, {key}"] = float(
                    np.polyfit(lx, ly, 1)[0]
                )
    return out


def plot(results: dict[str, Any], folder: Path) -> list[Path]:
    """One PNG per sweep: time against x (methods), or against work (scaling)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return []
    paths = []
    m = results["machine"]
    for sweep, allseries in results["sweeps"].items():
        fig, axes = plt.subplots(
            1, len(allseries), figsize=(6.5 * len(allseries), 4.8), squeeze=False
        )
        for ax, (name, series) in zip(axes[0], allseries.items(), strict=True):
            keys = sorted(
                {k for r in series for k, v in r["candidates"].items() if v.get("status") == "ok"}
            )
            for key in keys:
                pts = [
                    ((r["case"]["flops"] / 1e9) if sweep == "scaling" else r["x"], _time(r, key))
                    for r in series
                ]
                pts = [(x, t) for x, t in pts if t is not None]
                if pts:
                    style = "-" if key in ("tf", "xconv[numpy] auto") else "--"
                    ax.plot(
                        *zip(*pts, strict=True),
                        style,
                        marker="o",
                        ms=4,
                        label=key.removeprefix("xconv[numpy] ").replace("tf", "TensorFlow"),
                    )
                    if sweep == "scaling" and key == "tf" and len(pts) > 1:
                        (x0, t0), x1 = pts[0], pts[-1][0]
                        ax.plot(
                            [x0, x1],
                            [t0, t0 * x1 / x0],
                            ":",
                            color="grey",
                            label="linear in work (slope 1)",
                        )
            ax.set_xscale("log", base=10 if sweep == "scaling" else 2)
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel(
                "work (GFLOP, direct)"
                if sweep == "scaling"
                else ("kernel size k" if sweep == "kernel" else "channels C")
            )
            ax.set_ylabel("time (s)")
            ax.set_title(name, fontsize=10)
            ax.grid(which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(
            f"{sweep} sweep · float32 · {m['cpu']} · {m['usable_cpus']} CPUs · {m['date'][:10]}",
            fontsize=10,
        )
        fig.tight_layout()
        path = folder / f"{'scaling' if sweep == 'scaling' else 'crossover-' + sweep}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def run_sweeps(
    sweeps: Sequence[str] = tuple(SWEEPS),
    *,
    quick: bool = False,
    out: str | Path | None = None,
    cap_s: float = 1.5,
    max_size: int = 8192,
    blas_env: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the sweeps; write JSON, Markdown and PNGs to ``out`` when given."""
    t_start = time.perf_counter()
    for name in ("tensorflow", "xconv"):
        with contextlib.suppress(ImportError):
            __import__(name)
    timing.freeze_gc()
    timer = timing.Timer(
        blocks=1 if quick else 2, pause=0.1 if quick else 0.2, block_target_s=0.05 if quick else 0.1
    )
    results: dict[str, Any] = {
        "machine": timing.machine_info(blas_env),
        "sgemm_peak_gflops": timing.sgemm_peak_gflops(1024 if quick else 2048, 3),
        "settings": {
            "quick": quick,
            "cap_s": cap_s,
            "blocks": timer.n_blocks,
            "max_size": max_size,
        },
        "sweeps": {},
    }
    builders: dict[str, Callable[[], dict[str, list[tuple[int, Case]]]]] = {
        "kernel": lambda: _kernel_series(quick),
        "channels": lambda: _channel_series(quick),
        "depthwise": lambda: _depthwise_series(quick),
        "scaling": lambda: _scaling_series(quick, max_size),
    }
    for sweep in sweeps:
        results["sweeps"][sweep] = {}
        for name, points in builders[sweep]().items():
            log(f"{sweep}: {name}")
            results["sweeps"][sweep][name] = run_series(
                points,
                SWEEPS[sweep],
                timer,
                cap_s=cap_s * (3 if sweep == "scaling" else 1),
                log=log,
            )
    results["thresholds"] = thresholds(results)
    results["elapsed_s"] = time.perf_counter() - t_start
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "crossover.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        md = [
            f"# xconv crossover sweeps\n\n{results['machine']['date']} · "
            f"{results['machine']['cpu']} · {results['machine']['usable_cpus']} CPUs · "
            f"NumPy sgemm peak {results['sgemm_peak_gflops']:.1f} GFLOP/s · "
            f"{results['elapsed_s']:.0f} s\n",
            "| threshold | value |",
            "|---|---|",
        ]
        md += [
            f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v} |"
            for k, v in results["thresholds"].items()
        ]
        (folder / "crossover.md").write_text("\n".join(md) + "\n")
        for p in [folder / "crossover.json", folder / "crossover.md", *plot(results, folder)]:
            log(f"wrote {p}")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python benchmarks/crossover.py", description=__doc__.splitlines()[0]
    )
    p.add_argument("--quick", action="store_true", help="small sizes, one block")
    p.add_argument("--sweeps", nargs="+", choices=list(SWEEPS), default=list(SWEEPS))
    p.add_argument(
        "--cap",
        type=float,
        default=1.5,
        help="seconds: a candidate slower than this skips the larger points",
    )
    p.add_argument(
        "--max-size",
        type=int,
        default=8192,
        help="largest image side of the single-channel scaling series",
    )
    p.add_argument("--out", default=str(HERE / "results"))
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    record = prepare([str(Path(__file__).resolve()), *argv])
    results = run_sweeps(
        args.sweeps,
        quick=args.quick,
        out=args.out,
        cap_s=args.cap,
        max_size=args.max_size,
        blas_env=record,
    )
    print()
    for k, v in results["thresholds"].items():
        print(f"{k}: {v}")
    print(f"\n{results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
