"""The benchmark suite: every case, every peer and xconv method, in one process.

Importable (``from xconv._bench.suite import run_suite, write_reports``): the command
line (``python -m xconv bench``) and the script ``benchmarks/run.py`` both call it
through :mod:`xconv._bench.cli`.

For each case (see :mod:`xconv._bench.cases`): inputs are made once (float32,
channels-last, the same random data every run); every candidate (:mod:`xconv._bench.peers`) is set up, called
once untimed and checked against the baseline's output (TensorFlow, or the first result
when TF is missing); peak extra memory is measured in a separate call; then all are
timed together with the protocol of :mod:`xconv._bench.timing`. A method that raises
``ValueError`` (it does not apply to the case) is reported as "n/a". In large cases
every candidate first runs on a slice of the input (one image, or 1/32 of the rows);
one that would take more than ``PROBE_LIMIT_S`` per call is timed on that slice and
its time extrapolated (marked in the table), so that one slow method cannot hold the
whole run up.

Reported per candidate: median time, GFLOP/s (``2·N·out·K·C_in/g·C_out``, the direct
convolution's work, also for FFT methods), the ratio to the baseline (TF; > 1 is
faster), the percentage of NumPy's own sgemm peak measured in the same run, and the
peak extra memory.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import timing
from .cases import Case, select_cases
from .peers import Candidate, build_candidates, make_inputs

__all__ = ["format_summary", "format_table", "run_case", "run_suite", "write_reports"]

#: a candidate's output differing from the baseline's by more than this (relative to the
#: largest value) is flagged as a mismatch
MISMATCH_RTOL = 1e-3

#: cases with at least this many FLOPs are probed on a slice first (see ``_probe``)
PROBE_MIN_FLOPS = 1e9
#: a candidate whose estimated time per call exceeds this is timed on a slice, extrapolated
PROBE_LIMIT_S = 8.0

Progress = Callable[[int, int, str], None]


def _rel_err(y: np.ndarray, ref: np.ndarray) -> float | str:
    if y.shape != ref.shape:
        return f"shape {y.shape} != {ref.shape}"
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    if not y.size:
        return 0.0
    diff = np.abs(y.astype(np.float64) - ref.astype(np.float64))
    return float(np.max(diff)) / (scale or 1.0)


def _probe(
    case: Case,
    candidates: list[Candidate],
    x: np.ndarray,
    w: np.ndarray,
    timer: timing.Timer,
    backends: Sequence[str],
    peers: Sequence[str],
    other_methods: Sequence[str],
    log: Callable[[str], None],
) -> list[Candidate]:
    """Replace candidates too slow to run whole by the same call on a slice.

    Each candidate first runs once on a slice of the input (:meth:`Case.probe`); where
    that time, scaled by the ratio of output positions, exceeds ``PROBE_LIMIT_S``, the
    candidate is timed on the slice and its time extrapolated (like the naive loop's).
    Only large cases are probed.
    """
    probe = case.probe() if case.flops >= PROBE_MIN_FLOPS else None
    if probe is None:
        return candidates
    small, index, scale = probe
    small_candidates = {
        c.key: c
        for c in build_candidates(
            small, x[index], w, backends=backends, peers=peers, other_methods=other_methods
        )
        if c.run is not None and not c.na and c.kind != "naive"
    }
    result = []
    for c in candidates:
        s = small_candidates.get(c.key)
        if s is not None and s.run is not None and c.kind != "naive":
            try:
                _, t = timer.first_call(s.run, s.library)
                if t * scale > PROBE_LIMIT_S:  # again, without compilation and warm-up
                    _, t = timer.first_call(s.run, s.library)
            except Exception:
                t = 0.0  # not applicable or failing: the whole call will say so
            if t * scale > PROBE_LIMIT_S:
                log(f"  {c.key}: about {t * scale:.0f} s per call: extrapolated from a slice")
                c = Candidate(
                    c.key,
                    c.library,
                    "extrapolated",
                    s.run,
                    None,
                    None,
                    scale=scale,
                    versus=c.versus,
                    note=f"extrapolated x{scale:.3g} from input {small.input_shape} "
                    f"(estimated {t * scale:.0f} s per call)",
                )
        result.append(c)
    return result


def run_case(
    case: Case,
    timer: timing.Timer,
    *,
    sgemm_peak: float,
    backends: Sequence[str] = ("numpy", "torch"),
    peers: Sequence[str] = ("tf", "torch", "jax", "scipy", "naive", "passes"),
    other_methods: Sequence[str] = ("auto",),
    memory: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run one case; return its JSON-ready record (raw block times included).

    A case with ``load`` runs whole while that many busy processes spin
    (:func:`~xconv._bench.timing.busy_processes`).
    """
    with timing.busy_processes(case.load):
        return _run_case(
            case,
            timer,
            sgemm_peak=sgemm_peak,
            backends=backends,
            peers=peers,
            other_methods=other_methods,
            memory=memory,
            log=log,
        )


def _clear_workspace() -> None:
    import xconv

    xconv.clear_workspace()


def _run_case(
    case: Case,
    timer: timing.Timer,
    *,
    sgemm_peak: float,
    backends: Sequence[str],
    peers: Sequence[str],
    other_methods: Sequence[str],
    memory: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    x, w = make_inputs(case)
    candidates = build_candidates(
        case, x, w, backends=backends, peers=peers, other_methods=other_methods
    )
    record: dict[str, Any] = {**case.describe(), "canary_before_gflops": timing.canary_gflops()}
    rows: dict[str, dict[str, Any]] = {}
    timed: list[timing.Timed] = []
    by_key: dict[str, Candidate] = {}
    refs: dict[str, np.ndarray] = {}
    needed = {case.baseline} | {c.versus for c in candidates if c.versus}
    fallback: tuple[str, np.ndarray] | None = None
    candidates = _probe(case, candidates, x, w, timer, backends, peers, other_methods, log)

    for c in candidates:
        row: dict[str, Any] = {
            "key": c.key,
            "library": c.library,
            "kind": c.kind,
            "note": c.note,
            "versus": c.versus,
        }
        rows[c.key] = row
        by_key[c.key] = c
        if c.na or c.run is None:
            row.update(status="n/a", reason=c.na)
            continue
        try:
            out, first = timer.first_call(c.run, c.library)
        except Exception as exc:  # ValueError: the method does not apply to this case
            row.update(timing.failure(exc))
            if row["status"] == "error":
                log(f"  {c.key}: {row['reason']}")
            continue
        row.update(status="ok", first_call_s=first)
        if c.kind == "extrapolated":
            row.update(kind="xconv" if c.key.startswith("xconv") else "peer", extrapolated=True)
        if c.to_numpy is not None:
            y = c.to_numpy(out)
            ref_key = c.versus or case.baseline
            ref = refs.get(ref_key)
            if ref is None and fallback is not None:
                ref_key, ref = fallback
            if ref is not None and c.key != ref_key:
                err = _rel_err(y, ref)
                row.update(checked_against=ref_key, max_rel_err=err)
                if isinstance(err, str) or err > MISMATCH_RTOL:
                    row["mismatch"] = True
                    log(f"  MISMATCH {c.key} vs {ref_key}: {err}")
            if c.key in needed:
                refs[c.key] = y
            if fallback is None:
                fallback = (c.key, y)
        del out
        timed.append(timing.Timed(c.key, c.library, c.run, first))

    if memory:
        for t in timed:
            c = by_key[t.key]
            if c.memory is None or c.run is None:
                continue
            if t.first_call_s > timing.SLOW_S and not t.key.endswith("[numpy] auto"):
                rows[t.key]["memory"] = {"how": c.memory, "peak_bytes": None, "skipped": "slow"}
                continue
            timer.rest(c.library)
            _clear_workspace()  # the peak of a call that allocates its temporaries
            rows[t.key]["memory"] = timing.measure_memory(c.run, c.memory)

    timer.time_all(timed)
    timer.first_calls(timed, reset=_clear_workspace)
    # Pages of one output array: a fresh result maps at most these per call.
    out_bytes = math.prod(case.output_shape_nhwc) * np.dtype(case.dtype).itemsize
    record["output_pages"] = -(-out_bytes // 4096)
    record["canary_after_gflops"] = timing.canary_gflops()

    for t in timed:
        c = by_key[t.key]
        row = rows[t.key]
        row["blocks_s"] = t.blocks
        row["inner"] = t.inner
        row["scale"] = c.scale
        row["median_s"] = t.median_s * c.scale
        row["faults_per_call"] = t.faults_per_call
        row["first_call_faults"] = statistics.median(t.cold_faults) if t.cold_faults else None
        row["first_call_after_clear_s"] = (
            statistics.median(t.cold_s) * c.scale if t.cold_s else None
        )
        row["gflops"] = case.flops / row["median_s"] / 1e9 if case.flops else None
        row["pct_sgemm_peak"] = (
            100 * row["gflops"] / sgemm_peak if row["gflops"] and sgemm_peak else None
        )
        mem = row.get("memory")
        if mem and mem.get("peak_bytes") is not None:
            out_bytes = math.prod(case.output_shape_nhwc) * np.dtype(case.dtype).itemsize
            mem["temp_bytes"] = mem["peak_bytes"] - out_bytes
            mem["temp_over_io"] = mem["temp_bytes"] / case.io_bytes
    for row in rows.values():
        if row.get("status") != "ok":
            continue
        for field, ref_key in (("ratio", case.baseline), ("ratio_versus", row["versus"])):
            ref_row = rows.get(ref_key) if ref_key else None
            if ref_row and ref_row.get("status") == "ok":
                row[field] = ref_row["median_s"] / row["median_s"]
    record["candidates"] = list(rows.values())
    return record


def run_suite(
    cases: Sequence[str] | None = None,
    *,
    quick: bool = False,
    backends: Sequence[str] = ("numpy", "torch"),
    peers: Sequence[str] = ("tf", "torch", "jax", "scipy", "naive", "passes"),
    other_methods: Sequence[str] = ("auto",),
    blocks: int | None = None,
    out: str | Path | None = None,
    blas_env: dict[str, Any] | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the suite and return every number; write the reports when ``out`` is given.

    Parameters
    ----------
    cases
        Shell patterns of case names (``xconv._bench.cases``); default: all (or the quick set).
    quick
        The small cases, one block, short runs: a smoke test that takes < 1 minute.
    backends
        Array libraries xconv runs on: every method on ``"numpy"``, ``other_methods``
        on the others (``"torch"``, ``"jax"``).
    peers
        Which peers to run: ``"tf"``, ``"torch"``, ``"jax"``, ``"scipy"``, ``"naive"`` (the naive loop).
    blocks
        Timing blocks per case (default 3, 1 with ``quick``).
    out
        Folder for ``results.json``, ``results.md`` and ``results.png``.
    blas_env
        What the entry script did to the BLAS environment (recorded as is).
    progress
        Called as ``progress(done, total, label)`` before each case and at the end.
    """
    t_start = time.perf_counter()
    selected = select_cases(list(cases) if cases else None, quick=quick)
    n_blocks = blocks if blocks is not None else (1 if quick else 3)
    timer = timing.Timer(
        blocks=n_blocks,
        pause=0.1 if quick else 0.2,
        block_target_s=0.05 if quick else timing.BLOCK_TARGET_S,
    )
    # import the peers now, so that machine_info sees their versions and thread pools
    modules = {"tf": "tensorflow", "torch": "torch", "jax": "jax", "scipy": "scipy.signal"}
    for name in {modules[p] for p in [*peers, *backends] if p in modules} | {"xconv"}:
        with contextlib.suppress(ImportError):
            __import__(name)
    timing.freeze_gc()
    peak = timing.sgemm_peak_gflops(1024 if quick else 2048, 3)
    log(f"NumPy sgemm peak: {peak:.1f} GFLOP/s")
    results: dict[str, Any] = {
        "machine": timing.machine_info(blas_env),
        "sgemm_peak_gflops": peak,
        "settings": {
            "quick": quick,
            "blocks": n_blocks,
            "backends": list(backends),
            "peers": list(peers),
            "other_methods": list(other_methods),
            "pause_s": timer.pause,
            "warm_s": timing.WARM_S,
            "slow_s": timing.SLOW_S,
            "block_target_s": timer.block_target_s,
            "max_inner": timing.MAX_INNER,
        },
        "cases": [],
    }
    for i, case in enumerate(selected):
        if progress:
            progress(i, len(selected), case.name)
        t0 = time.perf_counter()
        record = run_case(
            case,
            timer,
            sgemm_peak=peak,
            backends=backends,
            peers=peers,
            other_methods=other_methods,
            log=log,
        )
        record["elapsed_s"] = time.perf_counter() - t0
        results["cases"].append(record)
    if progress:
        progress(len(selected), len(selected), "done")
    results["machine"]["loadavg_after"] = timing.machine_info()["loadavg"]
    results["elapsed_s"] = time.perf_counter() - t_start
    if out is not None:
        write_reports(results, out, log=log)
    return results


# --- reports ------------------------------------------------------------------------


def _f(v: Any, fmt: str = ".3g", suffix: str = "") -> str:
    return "-" if v is None else f"{v:{fmt}}{suffix}"


def _row(case: dict[str, Any], key: str) -> dict[str, Any] | None:
    for r in case["candidates"]:
        if r["key"] == key and r.get("status") == "ok":
            return r
    return None


def _mem(r: dict[str, Any]) -> str:
    mem = r.get("memory")
    if not mem:
        return "-"
    if mem.get("peak_bytes") is None:
        return mem.get("skipped", "-")
    mib = mem["peak_bytes"] / 2**20
    return f"{mib:.1f}" + ("" if mem["how"] == "tracemalloc" else " (rss)")


def format_summary(results: dict[str, Any]) -> str:
    """One line per case: TF, xconv ``auto``, the best xconv method, the peers, xconv on
    the other backends against their own library's convolution, memory of ``auto``."""
    others = [b for b in results["settings"]["backends"] if b != "numpy"]
    columns = [
        "case",
        "GFLOP",
        "TF GFLOP/s",
        "auto ms",
        "auto GFLOP/s",
        "auto x TF",
        "target",
        "best method x TF",
        "torch x TF",
        "jax x TF",
        *(f"xconv[{b}] time / {b}" for b in others),
        "auto time / jax",
        "auto faults/call",
        "auto 1st call ms",
        "auto 1st faults",
        "auto temp / (in+out)",
    ]
    conv = [c for c in results["cases"] if c["op"] != "signal"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)] if conv else []
    for case in conv:
        tf = _row(case, case["baseline"])
        auto = _row(case, "xconv[numpy] auto")
        methods = [
            r
            for r in case["candidates"]
            if r["key"].startswith("xconv[numpy]")
            and r.get("status") == "ok"
            and not r["key"].endswith(" auto")
        ]
        best = max(methods, key=lambda r: r.get("ratio") or 0.0, default=None)
        torch = _row(case, "torch")
        jax = _row(case, "jax")
        target = case.get("target")
        ratio = auto.get("ratio") if auto else None
        mark = "" if target is None or ratio is None else (" ✓" if ratio >= target else " ✗")
        temp = (auto or {}).get("memory", {}) or {}
        versus = []
        for b in others:
            xb = _row(case, f"xconv[{b}] auto")
            versus.append(_f(xb and xb.get("ratio_versus") and 1 / xb["ratio_versus"], ".2f"))
        cells = [
            case["name"],
            f"{case['flops'] / 1e9:.3g}",
            _f(tf and tf.get("gflops"), ".1f"),
            _f(auto and auto["median_s"] * 1e3, ".3g"),
            _f(auto and auto.get("gflops"), ".1f"),
            _f(ratio, ".2f") + mark,
            _f(target, ".2g"),
            f"{best['key'].split()[-1]} {best['ratio']:.2f}" if best and best.get("ratio") else "-",
            _f(torch and torch.get("ratio"), ".2f"),
            _f(jax and jax.get("ratio"), ".2f"),
            *versus,
            _f(auto and jax and auto["median_s"] / jax["median_s"], ".2f"),
            _f(auto and auto.get("faults_per_call"), ".0f"),
            _f(
                auto
                and auto.get("first_call_after_clear_s")
                and 1e3 * auto["first_call_after_clear_s"],
                ".3g",
            ),
            _f(auto and auto.get("first_call_faults"), ".0f"),
            _f(temp.get("temp_over_io"), ".2f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    signal = [c for c in results["cases"] if c["op"] == "signal"]
    if signal:
        lines += [
            "",
            "| signal case | function | SciPy ms | xconv ms | xconv x SciPy |",
            "|---|---|---|---|---|",
        ]
        for case in signal:
            for r in case["candidates"]:
                if r["kind"] != "xconv":
                    continue
                ref = _row(case, r["versus"]) if r.get("versus") else None
                lines.append(
                    "| "
                    + " | ".join(
                        [
                            case["name"],
                            r["key"].removeprefix("xconv"),
                            _f(ref and ref["median_s"] * 1e3, ".1f"),
                            _f(r.get("median_s") and r["median_s"] * 1e3, ".1f"),
                            _f(r.get("ratio_versus"), ".2f")
                            if r.get("status") == "ok"
                            else r.get("status", "?"),
                        ]
                    )
                    + " |"
                )
    return "\n".join(lines)


def format_table(case: dict[str, Any]) -> str:
    """Every candidate of one case."""
    base = case["baseline"]
    lines = [
        f"| candidate | ms | GFLOP/s | x {base} | % sgemm peak | faults/call | 1st call ms "
        "| 1st faults | peak extra MiB | max rel err | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in case["candidates"]:
        if r.get("status") != "ok":
            reason = (r.get("reason") or "").replace("|", "/")
            if len(reason) > 90:
                reason = reason[:87] + "..."
            lines.append(f"| {r['key']} | {r.get('status', '?')} | | | | | | | | | {reason} |")
            continue
        err = r.get("max_rel_err")
        err_s = "-" if err is None else (err if isinstance(err, str) else f"{err:.1e}")
        if r.get("mismatch"):
            err_s = f"**{err_s}**"
        note = r.get("note", "")
        if r.get("first_call_s", 0) > timing.SLOW_S:
            note = (note + ", " if note else "") + "slow: one call"
        lines.append(
            "| "
            + " | ".join(
                [
                    r["key"],
                    f"{r['median_s'] * 1e3:.3g}",
                    _f(r.get("gflops"), ".3g"),
                    _f(r.get("ratio"), ".3g"),
                    _f(r.get("pct_sgemm_peak"), ".3g"),
                    _f(r.get("faults_per_call"), ".0f"),
                    _f(
                        r.get("first_call_after_clear_s") and 1e3 * r["first_call_after_clear_s"],
                        ".3g",
                    ),
                    _f(r.get("first_call_faults"), ".0f"),
                    _mem(r),
                    err_s,
                    note,
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def _blas_line(info: dict[str, Any]) -> str:
    where = Path(info.get("filepath") or "?").parent.name
    return (
        f"{info.get('internal_api')} {info.get('version') or ''} kernel "
        f"{info.get('architecture') or '?'}, {info.get('num_threads')} threads ({where})"
    )


def _noisy_cases(results: dict[str, Any], tolerance: float = 0.25) -> list[str]:
    """Cases whose sgemm canary moved by more than ``tolerance`` (the machine was busy)."""
    noisy = []
    for c in results["cases"]:
        a, b = c.get("canary_before_gflops"), c.get("canary_after_gflops")
        if a and b and abs(a - b) > tolerance * max(a, b):
            noisy.append(c["name"])
    return noisy


def format_markdown(results: dict[str, Any]) -> str:
    """The whole report: machine, protocol, the summary and one table per case."""
    m = results["machine"]
    blas = "; ".join(_blas_line(b) for b in m["blas"] if b.get("user_api") == "blas")
    env = m["blas_env"] or {}
    removed = env.get("removed")
    env_text = (
        f"removed {removed} from the benchmark process before NumPy loaded"
        if removed
        else "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE were not set"
    )
    if env and not env.get("effective", True):
        env_text += " (too late: NumPy was already loaded)"
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    s = results["settings"]
    noisy = _noisy_cases(results)
    parts = [
        "# xconv benchmarks",
        "",
        f"{m['date']} · {m['cpu']} · {m['usable_cpus']} usable CPUs · load "
        f"{_f(m['loadavg'] and m['loadavg'][0], '.2f')} → "
        f"{_f(m.get('loadavg_after') and m['loadavg_after'][0], '.2f')} · "
        f"NumPy sgemm peak {results['sgemm_peak_gflops']:.1f} GFLOP/s · "
        f"run took {results['elapsed_s']:.0f} s",
        "",
        f"BLAS: {blas or 'unknown'}. Environment: {env_text}.",
        f"Threads: {m['threads']}.",
        f"Versions: {versions}.",
        "",
        f"Protocol: {s['blocks']} block(s), order alternating, {s['pause_s']} s pause "
        f"before each candidate's block; each block opens with {s.get('warm_s', 0):g} s of untimed "
        "calls of the candidate (at least one; none for one whose first call took over "
        f"{5 * s.get('warm_s', 0):g} s), then times its calls: median over blocks of the "
        "median inside a block; a candidate "
        f"whose first call takes more than {s['slow_s']} s is called once (that call is "
        "its time; memory not measured); in large cases a candidate estimated at more than "
        f"{PROBE_LIMIT_S:g} s per call is timed on a slice and extrapolated, like the naive "
        "loop. GFLOP/s = 2·N·out·K·C_in/g·C_out / time (direct work, also for FFT "
        "methods); x TF > 1 is faster than TensorFlow. Peak extra memory: tracemalloc for "
        "NumPy allocations (includes the output); '(rss)' = resident-set peak above the "
        "level before the call (approximate). 'auto temp / (in+out)' = (peak - output) / "
        "(input + output bytes); the memory target is ≤ 2. 'faults/call': minor page "
        "faults per call in the timed loop (the steady state); '1st call': the median "
        "time and faults of a call made right after `xconv.clear_workspace()` (its "
        "temporaries mapped afresh; peers keep their own buffers); one output array "
        "is at most the case's 'output pages'. Cases named 'load-*' run with busy "
        "processes on the CPUs.",
        "",
        *(
            [
                f"**Noisy run**: the sgemm canary moved by more than 25% during "
                f"{len(noisy)} of {len(results['cases'])} cases ({', '.join(noisy)}); "
                "the machine was busy, treat those ratios with care.",
                "",
            ]
            if noisy
            else []
        ),
        "## Summary",
        "",
        format_summary(results),
        "",
    ]
    for case in results["cases"]:
        parts += [
            f"## {case['name']}: {case['title']}",
            "",
            f"input {tuple(case['input_shape'])}, filters {tuple(case['filter_shape'])}, "
            f"strides {case['strides']}, dilations {case['dilations']}, padding "
            f"{case['padding']} → {tuple(case['output_shape'])}; "
            f"{case['flops'] / 1e9:.3g} GFLOP; canary {case['canary_before_gflops']:.0f} → "
            f"{case['canary_after_gflops']:.0f} GFLOP/s; {case['elapsed_s']:.0f} s; "
            f"output pages {case.get('output_pages', '-')}"
            + (f"; {case['load']} busy processes" if case.get("load") else ""),
            "",
            format_table(case),
            "",
        ]
    return "\n".join(parts)


#: Cases per row of the speed chart.
CASES_PER_ROW = 5


def plot_ratios(results: dict[str, Any], path: Path) -> bool:
    """Each candidate's speed / TensorFlow's (log scale), one row of bars per
    :data:`CASES_PER_ROW` cases, legible at a page's width."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return False
    cases = [c for c in results["cases"] if c["op"] != "signal"]
    keys: list[str] = []
    for c in cases:
        for r in c["candidates"]:
            if r.get("ratio") and r["key"] not in keys and r["key"] != c["baseline"]:
                keys.append(r["key"])
    if not cases or not keys:
        return False
    fixed = {
        "torch": "#ee4c2c",
        "jax": "#5e97f6",
        "naive loop": "#9e9e9e",
        "numpy passes": "#2ca02c",
    }
    xconv_keys = [k for k in keys if k.startswith("xconv")]
    cmap = plt.get_cmap("viridis")
    scipy_shades = iter(["#8c564b", "#c49c94", "#e7cb94", "#bd9e39"])
    colors: dict[str, Any] = {}
    for k in keys:
        if k in fixed:
            colors[k] = fixed[k]
        elif k.startswith("scipy"):
            colors[k] = next(scipy_shades, "#8c564b")
        else:
            colors[k] = cmap(xconv_keys.index(k) / max(1, len(xconv_keys) - 1) * 0.9)
    rows = [cases[i : i + CASES_PER_ROW] for i in range(0, len(cases), CASES_PER_ROW)]
    ratios = [r["ratio"] for c in cases for r in c["candidates"] if r.get("ratio")]
    ylim = (min(ratios) / 1.5, max(ratios) * 1.5)
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.9 * len(rows) + 1.0), squeeze=False)
    most = max(
        sum(1 for r in c["candidates"] if r.get("ratio") and r["key"] in keys) for c in cases
    )
    width = 0.85 / most
    handles: dict[str, Any] = {}
    for ax, row in zip(axes[:, 0], rows, strict=True):
        for i, c in enumerate(row):
            ratio = {r["key"]: r["ratio"] for r in c["candidates"] if r.get("ratio")}
            present = [k for k in keys if k in ratio]
            for j, key in enumerate(present):  # the case's bars, centred on its tick
                auto = key.endswith(" auto")
                ax.bar(
                    i + width * (j - (len(present) - 1) / 2),
                    ratio[key],
                    width,
                    color=colors[key],
                    edgecolor="k" if auto else "none",
                    linewidth=0.7 if auto else 0,
                )
        for key in keys:
            auto = key.endswith(" auto")
            handles.setdefault(
                key,
                Patch(facecolor=colors[key], edgecolor="k" if auto else "none"),
            )
        for i, c in enumerate(row):
            if c.get("target"):
                line = ax.hlines(c["target"], i - 0.45, i + 0.45, colors="crimson",
                                 linestyles="--", lw=1.2)  # fmt: skip
                handles.setdefault("target for xconv auto", line)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(*ylim)
        ax.set_xlim(-0.5, CASES_PER_ROW - 0.5)
        ax.set_xticks(range(len(row)), [c["name"] for c in row], fontsize=10)
        ax.tick_params(axis="y", labelsize=9)
        ax.set_ylabel("x TensorFlow", fontsize=10)
        ax.grid(axis="y", which="major", alpha=0.3)
    m = results["machine"]
    fig.suptitle(
        f"Speed as a multiple of TensorFlow's (float32, log scale; above 1 is faster) · "
        f"{m['cpu']} · {m['usable_cpus']} CPUs · {m['date'][:10]}",
        fontsize=10.5,
    )
    fig.legend(
        list(handles.values()),
        list(handles.keys()),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.975),
        ncol=4,
        fontsize=9,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.95 / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_reports(
    results: dict[str, Any],
    out: str | Path,
    *,
    prefix: str = "results",
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Write ``{prefix}.json``, ``{prefix}.md`` and (with matplotlib) ``{prefix}.png``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{prefix}.json", folder / f"{prefix}.md"]
    paths[0].write_text(json.dumps(results, indent=1, default=str) + "\n")
    paths[1].write_text(format_markdown(results) + "\n")
    png = folder / f"{prefix}.png"
    if plot_ratios(results, png):
        paths.append(png)
    else:
        log("matplotlib is not installed (or nothing to plot): no PNG chart written")
    for p in paths:
        log(f"wrote {p}")
    return paths


def median_ratio(results: dict[str, Any], key: str = "xconv[numpy] auto") -> float | None:
    """Median over cases of one candidate's ratio to the baseline."""
    ratios = [
        r["ratio"]
        for c in results["cases"]
        for r in c["candidates"]
        if r["key"] == key and r.get("ratio")
    ]
    return statistics.median(ratios) if ratios else None
