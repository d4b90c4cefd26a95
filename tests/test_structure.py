"""The package's structure: no import cycles, and backend-specific code in one place.

Every module under ``src/xconv`` is parsed with :mod:`ast` (nothing is imported), and
its imports of other xconv modules, at module level and inside functions alike, make
the edges of the package's import graph. ``from . import x`` is an edge to the
submodule ``x`` when there is one, else to the package's ``__init__``; the implicit
import of a module's parent package is not an edge (every submodule would otherwise
form a cycle with an ``__init__`` that imports it). Imports under
``if TYPE_CHECKING:`` do not run and are not edges.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import xconv

PACKAGE = Path(xconv.__file__).resolve().parent

#: Libraries whose functions only the backend layer calls (and that no module may
#: import at module level: importing xconv must not import them).
BACKEND_LIBRARIES = frozenset({"cupy", "cupyx", "cudnn", "torch", "jax", "jaxlib", "dask", "scipy"})

#: array-api-compat's library checks (``is_torch_namespace``, ``is_dask_array``, ...).
LIBRARY_CHECK = re.compile(r"^is_\w+_(namespace|array)$")

#: Modules that may import or name backend libraries, and why.
BACKEND_MODULES = {
    "xconv._backend": "the backend layer: the only place that touches library functions",
    "xconv._dask": "the chunk runner for Dask arrays, reached through _backend.by_chunks",
    "xconv._cli_backends": "imports every installed library for the command line",
    "xconv._bench": "the benchmark suite calls the peers (torch, JAX, SciPy) themselves",
}

#: Libraries that no module of xconv may import at module level.
LAZY_LIBRARIES = BACKEND_LIBRARIES | {"tensorflow", "matplotlib", "tqdm", "threadpoolctl"}


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``root``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _runtime_nodes(tree: ast.AST, *, functions: bool) -> Iterator[ast.AST]:
    """Nodes that run: everything but ``if TYPE_CHECKING:`` bodies; with
    ``functions=False``, only what runs at import (not the bodies of functions)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.If) and child in node.body and _is_type_checking(node.test):
                continue
            if not functions and isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            ):
                continue
            stack.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(name: str, path: Path, *, functions: bool = True) -> Iterator[str]:
    """Absolute names of every module that ``name`` (at ``path``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _runtime_nodes(tree, functions=functions):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:  # a submodule, or a name defined in ``module``
                yield f"{module}.{alias.name}"


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """The package's import graph: module -> the package's modules it imports."""
    names = module_names(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        graph[name] = set()
        for target in imported_modules(name, path):
            # the longest prefix that is a module: ``xconv._backend.contract`` is a
            # name in ``xconv._backend``, ``xconv.conv2d`` one in ``xconv``
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (or a
    module importing itself): each is a set of modules that import one another."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _may_touch_backends(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in BACKEND_MODULES)


# --------------------------------------------------------------------------- tests


def test_no_import_cycles() -> None:
    graph = import_graph(PACKAGE, "xconv")
    assert len(graph) > 10, sorted(graph)  # the whole package was read
    assert "xconv._backend" in graph["xconv._core"], graph["xconv._core"]
    assert cycles(graph) == []


def test_the_checker_sees_function_level_cycles(tmp_path: Path) -> None:
    """A cycle closed by an import inside a function is found; the parent package
    that a submodule lives in is not an edge; a TYPE_CHECKING import is not."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\nfrom .sub import c\n")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import thing\n")
    (pkg / "sub" / "__init__.py").write_text("from .c import g\n")
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n"
    )
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.sub.c"] == set()
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_backend_libraries_only_in_the_backend_layer() -> None:
    """Only the modules of :data:`BACKEND_MODULES` import a backend library or call
    array-api-compat's ``is_*_namespace`` / ``is_*_array`` checks."""
    offenders = []
    for name, path in module_names(PACKAGE, "xconv").items():
        if _may_touch_backends(name):
            continue
        for target in imported_modules(name, path):
            if target.split(".")[0] in BACKEND_LIBRARIES:
                offenders.append(f"{name} imports {target}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            ident = (
                node.id
                if isinstance(node, ast.Name)
                else node.attr
                if isinstance(node, ast.Attribute)
                else node.name
                if isinstance(node, ast.alias)
                else None
            )
            if ident is not None and LIBRARY_CHECK.match(ident.rpartition(".")[2]):
                offenders.append(f"{name}:{getattr(node, 'lineno', '?')} uses {ident}")
    assert offenders == []


@pytest.mark.parametrize("name", sorted(module_names(PACKAGE, "xconv")))
def test_no_module_level_import_of_optional_libraries(name: str) -> None:
    """Importing xconv imports NumPy and array-api-compat, never torch, JAX, Dask, ..."""
    path = module_names(PACKAGE, "xconv")[name]
    eager = {
        t.split(".")[0] for t in imported_modules(name, path, functions=False)
    } & LAZY_LIBRARIES
    assert eager == set()


# ------------------------------------------------ the backend layer's capabilities record

#: The library each test backend's namespace belongs to.
LIBRARY_OF_BACKEND = {"torch_cuda": "torch"}


def test_capabilities_once_per_namespace(library: object, xp: ModuleType) -> None:
    """One frozen record per namespace, consistent with the layer's own questions."""
    from xconv import _backend

    caps = _backend.capabilities(xp)
    assert _backend.capabilities(xp) is caps
    assert caps.library == LIBRARY_OF_BACKEND.get(str(library), str(library))
    assert _backend.library(xp) == caps.library
    assert _backend.has_strided_views(xp) is caps.strided_views
    assert _backend.has_einsum(xp) is caps.einsum
    assert _backend.supports_inplace(xp, xp.zeros(1)) is caps.inplace
    runs_native = _backend.native_unsupported(xp, 2, xp.float32) is None
    if caps.library == "cupy":  # cuDNN, where cudnn-frontend is installed
        assert caps.native_conv
        assert runs_native is (_backend.cudnn_unavailable() is None)
    else:
        assert runs_native is caps.native_conv
    assert caps.lazy is (caps.library == "dask")
    with pytest.raises(dataclasses.FrozenInstanceError):
        caps.einsum = not caps.einsum  # type: ignore[misc]
