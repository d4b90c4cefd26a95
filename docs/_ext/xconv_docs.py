"""Sphinx extension: the parts of xconv's documentation that come from the code itself.

- ``.. xconv-capabilities::`` — the backends page's tables: every library installed at
  build time, its devices and fast paths (:func:`xconv._backend.capabilities`), and which
  method runs which dtype (each cell is a real 2-d convolution on that library, checked
  against a float64 NumPy result; a refusal shows as a dash).
- ``.. xconv-timings::`` — the getting-started page's table: the naive NumPy loop
  against xconv on NumPy and torch (and CuPy on a GPU), timed while the docs build.
- ``_generated/benchmark-results.md`` — the benchmarks page's include: the tables and
  charts of ``benchmarks/results/`` when they exist, a plain statement when they do not.
"""

from __future__ import annotations

import datetime
import platform
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import xconv
from xconv import _backend, _cli_backends
from xconv._algorithms import ALGORITHMS

DOCS = Path(__file__).resolve().parent.parent
RESULTS = DOCS.parent / "benchmarks" / "results"
GENERATED = DOCS / "_generated"
logger = logging.getLogger(__name__)

DTYPES = ("int32", "float16", "bfloat16", "float32", "float64", "complex64")
CHECK_MARK, REFUSED = "\u2713", "\u2013"  # check mark, en dash


def list_table(header: Sequence[str], rows: Sequence[Sequence[str]], **options: str) -> list[str]:
    """reST ``list-table`` lines."""
    lines = [".. list-table::", "   :header-rows: 1"]
    lines += [f"   :{k}: {v}" for k, v in options.items()]
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return [*lines, ""]


class _TableDirective(SphinxDirective):
    has_content = False

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(self.lines(), "<xconv_docs>"), 0, container)
        return container.children


# --- backends page ---------------------------------------------------------------------


def _dtype(xp: Any, name: str) -> Any:
    return getattr(xp, name, None)


def _cell(from_numpy: Callable[[Any], Any], method: str, dtype_name: str) -> str:
    """Run one small convolution; "✓" when it agrees with float64 NumPy, else why not."""
    rng = np.random.default_rng(0)
    x64 = rng.integers(-3, 4, (1, 6, 6, 2)).astype(np.float64)
    w64 = rng.integers(-3, 4, (3, 3, 2, 2)).astype(np.float64)
    probe = from_numpy(np.zeros(1, np.float32))
    xp = _backend.namespace(input=probe)
    dtype = _dtype(xp, dtype_name)
    if dtype is None:
        return REFUSED
    x = xp.astype(from_numpy(x64), dtype)
    w = xp.astype(from_numpy(w64), dtype)
    try:
        y = _cli_backends.to_numpy(_backend.finish(xconv.conv2d(x, w, 1, "SAME", method=method)))
    except (TypeError, ValueError):
        return REFUSED
    expected = xconv.conv2d(x64, w64, 1, "SAME", method="einsum")
    ok = np.allclose(np.asarray(y, dtype=np.complex128), expected, atol=0.5)
    return CHECK_MARK if ok else "wrong result"


def _backends() -> list[tuple[str, str, Callable[[Any], Any]]]:
    return [(n, d, f) for n, d, f in _cli_backends.available_backends()]


class Capabilities(_TableDirective):
    """Libraries, devices and fast paths; then method x dtype per library."""

    def lines(self) -> list[str]:
        backends = _backends()
        rows = []
        for name in _cli_backends.CANDIDATES:
            found = [(d, f) for n, d, f in backends if n == name]
            if not found:
                rows.append([f"``{name}``", "not installed here", "", "", "", ""])
                continue
            probe = found[0][1](np.zeros(1, np.float32))
            xp = _backend.namespace(input=probe)
            caps = _backend.capabilities(xp)
            yes = {True: "yes", False: "no"}
            rows.append(
                [
                    f"``{name}``",
                    _cli_backends.version_of(name),
                    ", ".join(d for d, _ in found),
                    "strided view" if caps.strided_views else "standard ops",
                    yes[caps.einsum],
                    yes[_backend.native_unsupported(xp, 2, probe.dtype) is None],
                ]
            )
        out = list_table(
            ["library", "version", "devices", "sliding windows", "einsum", "native conv"], rows
        )
        methods = ["auto", *ALGORITHMS]
        for name, device, from_numpy in backends:
            out += [f".. rubric:: {name} on {device}", ""]
            out += list_table(
                ["method", *DTYPES],
                [[f"``{m}``", *(_cell(from_numpy, m, d) for d in DTYPES)] for m in methods],
            )
        return out


# --- getting-started page ----------------------------------------------------------------


class Timings(_TableDirective):
    """Three cases: the naive loop vs xconv on each library present (CPU and GPU)."""

    def lines(self) -> list[str]:
        from xconv.__main__ import _best_time
        from xconv._naive import naive_conv2d

        rng = np.random.default_rng(0)
        cases = [
            ("single channel, 64x64, 3x3", (1, 64, 64, 1), (3, 3, 1, 1), 1, 0),
            ("padding 1 and stride 2", (1, 64, 64, 1), (3, 3, 1, 1), 2, 1),
            ("multichannel 2x32x32x8 -> 16", (2, 32, 32, 8), (3, 3, 8, 16), 2, 1),
        ]
        libs = [(n, d, f) for n, d, f in _backends() if n in ("numpy", "torch", "cupy")]
        header = ["case", "naive loop", *(f"xconv on {n} ({d})" for n, d, _ in libs)]
        rows = []
        for label, xs, ws, stride, pad in cases:
            x = rng.standard_normal(xs).astype(np.float32)
            w = rng.standard_normal(ws).astype(np.float32)
            t_loop = _best_time(lambda x=x, w=w, s=stride, p=pad: naive_conv2d(x, w, s, p), 1)
            cells = [label, f"{t_loop * 1e3:.1f} ms"]
            for _, _, f in libs:
                xb, wb = f(x), f(w)
                t = _best_time(
                    lambda xb=xb, wb=wb, s=stride, p=pad: _backend.finish(
                        xconv.conv2d(xb, wb, s, [(p, p), (p, p)])
                    ),
                    5,
                )
                cells.append(f"{t * 1e3:.2f} ms ({t_loop / t:.0f}x)")
            rows.append(cells)
        when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        note = (
            f"Measured while this page was built ({when}, {platform.machine()}, "
            f"Python {platform.python_version()}; best of 5 calls, the loop once)."
        )
        return [*list_table(header, rows), note, ""]


# --- benchmarks page ---------------------------------------------------------------------


def write_benchmark_include(app: Sphinx) -> None:
    """``_generated/benchmark-results.md``: ``benchmarks/results`` or a plain statement."""
    GENERATED.mkdir(exist_ok=True)
    for old in GENERATED.glob("*.png"):
        old.unlink()
    parts = []
    for md in sorted(RESULTS.glob("*.md")) if RESULTS.is_dir() else []:
        text = md.read_text()
        # the reports' own titles become sections of this page
        text = "\n".join("#" + ln if ln.startswith("#") else ln for ln in text.splitlines())
        parts.append(f"## `{md.name}`\n\n{text}\n")
    pngs = sorted(RESULTS.glob("*.png")) if RESULTS.is_dir() else []
    for png in pngs:
        shutil.copy(png, GENERATED / png.name)
        parts.append(f"![{png.stem}](/_generated/{png.name})\n")
    if not parts:
        parts = [
            "```{note}\nNo benchmark results are in this checkout: `benchmarks/results/` "
            "is missing or empty, so there are no tables or charts to show. Run "
            "`nox -s bench` (or `python -m xconv bench --out benchmarks/results`) and "
            "rebuild the docs.\n```\n"
        ]
    (GENERATED / "benchmark-results.md").write_text("\n".join(parts))


def check_api_page(app: Sphinx) -> None:
    """Warn (an error under ``-W``) when api.rst misses a name of ``xconv.__all__``."""
    listed = set((DOCS / "api.rst").read_text().split())
    missing = [n for n in xconv.__all__ if not n.startswith("__") and n not in listed]
    if missing:
        logger.warning("docs/api.rst does not list xconv.%s", ", xconv.".join(missing))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", check_api_page)
    app.add_directive("xconv-capabilities", Capabilities)
    app.add_directive("xconv-timings", Timings)
    app.connect("builder-inited", write_benchmark_include)
    return {"parallel_read_safe": True, "version": xconv.__version__}
