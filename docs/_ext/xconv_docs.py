"""Sphinx extension: the parts of xconv's documentation that come from the code itself.

- ``.. xconv-capabilities::`` — the backends page's tables: every library installed at
  build time, its devices and fast paths (:func:`xconv._backend.capabilities`), and which
  method runs which dtype (each cell is a real 2-d convolution on that library, checked
  against a float64 NumPy result; a refusal shows as a dash).
- a check that ``api.rst`` lists every public name.

The benchmarks page and the accuracy tables come from ``xconv_benchmarks``.
"""

from __future__ import annotations

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
logger = logging.getLogger(__name__)

DTYPES = ("int32", "float16", "bfloat16", "float32", "float64", "complex64")
CHECK_MARK, REFUSED = "\u2713", "\u2013"  # check mark, en dash
NO_DTYPE = "n/a"  # the library has no such dtype


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


def _dtype(xp: Any, from_numpy: Callable[[Any], Any], name: str) -> Any:
    """The library's dtype called ``name``, or None when the library has no such dtype.

    Asks the namespace first; a namespace may lack a name its library supports (the
    Dask namespace has no ``float16``), so NumPy's dtype of that name is tried next.
    """
    dtype = getattr(xp, name, None)
    if dtype is None and hasattr(np, name):
        try:
            dtype = from_numpy(np.zeros(1, dtype=name)).dtype
        except Exception:  # the library cannot hold that dtype
            return None
    return dtype


def _cell(from_numpy: Callable[[Any], Any], method: str, dtype_name: str) -> str:
    """Run one small convolution; "✓" when it agrees with float64 NumPy, else why not.

    A dash only when xconv itself refused the call. The result is cast to float32 (or
    complex64) in its own library before the host copy: NumPy has no bfloat16.
    """
    rng = np.random.default_rng(0)
    x64 = rng.integers(-3, 4, (1, 6, 6, 2)).astype(np.float64)
    w64 = rng.integers(-3, 4, (3, 3, 2, 2)).astype(np.float64)
    probe = from_numpy(np.zeros(1, np.float32))
    xp = _backend.namespace(input=probe)
    dtype = _dtype(xp, from_numpy, dtype_name)
    if dtype is None:
        return NO_DTYPE
    x = xp.astype(from_numpy(x64), dtype)
    w = xp.astype(from_numpy(w64), dtype)
    try:
        y = xconv.conv2d(x, w, 1, "SAME", method=method)
    except (TypeError, ValueError):
        return REFUSED
    # small integer values: float32 holds every result exactly
    wide = xp.complex64 if dtype_name.startswith("complex") else xp.float32
    y = _cli_backends.to_numpy(xp.astype(y, wide))
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


def check_api_page(app: Sphinx) -> None:
    """Warn (an error under ``-W``) when api.rst misses a name of ``xconv.__all__``."""
    listed = set((DOCS / "api.rst").read_text().split())
    missing = [n for n in xconv.__all__ if not n.startswith("__") and n not in listed]
    if missing:
        logger.warning("docs/api.rst does not list xconv.%s", ", xconv.".join(missing))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", check_api_page)
    app.add_directive("xconv-capabilities", Capabilities)
    return {"parallel_read_safe": True, "version": xconv.__version__}
