"""Sphinx configuration of xconv's documentation (``nox -s docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import xconv  # noqa: E402

project = "xconv"
author = "the xconv developers"
copyright = "the xconv developers"
version = release = xconv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
    "myst_parser",
    "sphinx_copybutton",
    "xconv_docs",  # docs/_ext: tables queried from the code at build time
    "xconv_benchmarks",  # docs/_ext: the benchmark reports laid out for the pages
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated/*.md"]
root_doc = "index"

autosummary_generate = True
autodoc_typehints = "none"  # the docstrings' Parameters sections say it in words
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# Every ``>>>`` block on every page (and in the API's docstrings) runs under
# ``sphinx-build -b doctest``; blocks that need an optional library say ``:skipif:``.
doctest_global_setup = """
import numpy as np
import xconv
try:
    import torch
except ImportError:
    torch = None
try:
    import jax
except ImportError:
    jax = None
try:
    import dask.array as da
except ImportError:
    da = None
try:
    import scipy
except ImportError:
    scipy = None
try:
    import cupy as cp

    if cp.cuda.runtime.getDeviceCount() == 0:
        cp = None
except Exception:
    cp = None
"""

html_theme = "pydata_sphinx_theme"
html_title = f"xconv {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# no left sidebar on the single pages (it would be empty); the API keeps its section list
_SINGLE_PAGES = ["index", "getting-started", "user-guide", "dask", "coming-from", "backends"]
html_sidebars: dict[str, list[str]] = {
    p: [] for p in [*_SINGLE_PAGES, "benchmarks", "numerics", "decisions", "measurements"]
}
html_static_path = ["_static"]
html_css_files = ["xconv.css"]
