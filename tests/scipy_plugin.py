"""pytest plugin: run SciPy's own tests of its convolutions with xconv's in their place.

Load it with ``-p scipy_plugin`` (``tests/`` on ``PYTHONPATH``) when running the test
modules of the installed SciPy (``--pyargs scipy.signal.tests.test_signaltools
scipy.ndimage.tests.test_filters``); the ``scipy-suite`` nox session does so.

- Before any test module is imported, ``scipy.signal.<name>`` and
  ``scipy.ndimage.<name>`` become counting wrappers around ``xconv.signal.<name>`` /
  ``xconv.ndimage.<name>``, registered in SciPy's table of array-API capabilities
  under the same entry as SciPy's function, so the tests' ``from scipy.signal import
  convolve`` and their parametrisations bind the wrappers. After collection every
  loaded SciPy module that still holds one of SciPy's originals under a patched name
  gets the wrapper too.
- Only the tests of those functions run (see :data:`SIGNAL_TESTS` and
  :func:`_tests_ndimage`), minus :data:`DESELECTED`, each with its reason.
- At the end it prints how often each wrapper ran (summed over pytest-xdist workers)
  and fails the run if any of them never ran, unless SciPy's own capabilities table
  skips that function on every backend of the run (``oaconvolve`` on JAX).
"""

from __future__ import annotations

import collections
import functools
import inspect
import json
import os
import re
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

#: The patched functions: SciPy's module -> names that xconv's twin module defines.
PATCHED = {
    "signal": (
        "convolve",
        "correlate",
        "fftconvolve",
        "oaconvolve",
        "convolve2d",
        "correlate2d",
        "choose_conv_method",
    ),
    "ndimage": ("convolve", "correlate", "convolve1d", "correlate1d"),
}

#: Tests of test_signaltools.py that test the patched functions: classes and functions.
SIGNAL_TESTS = frozenset(
    {
        "TestConvolve",
        "TestConvolve2d",
        "TestFFTConvolve",
        "TestOAConvolve",
        "TestAllFreqConvolves",
        "TestCorrelateReal",
        "TestCorrelate",
        "TestCorrelateComplex",
        "TestCorrelate2d",
        "test_convolve_longdtype_input",
        "test_choose_conv_method",
        "test_choose_conv_method_2",
    }
)

#: Tests that check SciPy's internals rather than what the functions return, by the
#: name of the test function (every parametrisation of it): name -> why.
DESELECTED: dict[str, str] = {}

_NDIMAGE_CALL = re.compile(r"ndimage\.(convolve|correlate|convolve1d|correlate1d)\b")
_NDIMAGE_NAME = re.compile(r"convolve|correlate", re.IGNORECASE)

_counts: collections.Counter[str] = collections.Counter()
#: (module, name) -> (SciPy's original, the wrapper)
_patches: dict[tuple[str, str], tuple[Any, Any]] = {}


def _wrapper(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def counted(*args: Any, **kwargs: Any) -> Any:
        _counts[label] += 1
        return func(*args, **kwargs)

    counted.__wrapped_scipy__ = True  # type: ignore[attr-defined]
    return counted


def pytest_configure(config: pytest.Config) -> None:
    import scipy.ndimage
    import scipy.signal
    from scipy._lib._array_api import xp_capabilities_table

    import xconv.ndimage
    import xconv.signal

    if _patches:  # configured already (pytest in-process reruns)
        return
    for module, names in PATCHED.items():
        scipy_module = getattr(scipy, module)
        xconv_module = getattr(xconv, module)
        for name in names:
            original = getattr(scipy_module, name)
            wrapped = _wrapper(f"{module}.{name}", getattr(xconv_module, name))
            if original in xp_capabilities_table:
                xp_capabilities_table[wrapped] = xp_capabilities_table[original]
            setattr(scipy_module, name, wrapped)
            _patches[(module, name)] = (original, wrapped)
            _counts[f"{module}.{name}"] += 0
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: report counts back
        config.workeroutput = {}  # type: ignore[attr-defined]


def _patch_loaded_modules() -> None:
    """Give every loaded SciPy module that bound an original name the wrapper."""
    originals = {id(orig): wrapped for orig, wrapped in _patches.values()}
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("scipy.") or ".tests" not in module_name:
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in originals:
                setattr(module, attr, originals[id(value)])


def _source(function: Any) -> str:
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return ""


@functools.cache
def _calls_ndimage(function: Any) -> bool:
    """Whether the test's own code calls one of ndimage's four functions."""
    return bool(_NDIMAGE_CALL.search(_source(function)))


def _selected(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    function = getattr(item, "function", None)
    name = getattr(function, "__name__", "")
    if module is None or name in DESELECTED:
        return False
    if module.__name__.endswith("signal.tests.test_signaltools"):
        cls = getattr(item, "cls", None)
        return name in SIGNAL_TESTS or (cls is not None and cls.__name__ in SIGNAL_TESTS)
    if module.__name__.endswith("ndimage.tests.test_filters"):
        return bool(_NDIMAGE_NAME.search(name)) or _calls_ndimage(function)
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _patch_loaded_modules()
    chosen = [_selected(item) for item in items]
    keep = [item for item, c in zip(items, chosen) if c]
    drop = [item for item, c in zip(items, chosen) if not c]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


def _backends() -> set[str]:
    """The array backends of the run: SciPy's ``SCIPY_ARRAY_API`` (a JSON list), or NumPy."""
    value = os.environ.get("SCIPY_ARRAY_API", "")
    if value.lower() in ("", "0", "false"):
        return {"numpy"}
    try:
        chosen = json.loads(value)
    except ValueError:
        return set()  # every backend: none is known to be skipped
    return set(chosen) if isinstance(chosen, list) and "all" not in chosen else set()


def _skipped_by_scipy(label: str) -> bool:
    """Whether SciPy's capabilities table skips the function on every backend of the run."""
    from scipy._lib._array_api import xp_capabilities_table

    module, name = label.split(".")
    original = _patches[(module, name)][0]
    table = xp_capabilities_table.get(original, {})
    skipped = {name for name, _ in table.get("skip_backends", ())}
    backends = _backends()
    return bool(backends) and backends <= skipped


def _never_called() -> tuple[list[str], list[str]]:
    """Functions never called: those that count as a failure, and those SciPy skips."""
    never = sorted(k for k, v in _counts.items() if not v)
    exempt = [k for k in never if _skipped_by_scipy(k)]
    return [k for k in never if k not in exempt], exempt


def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist controller: add up a finished worker's counts."""
    _counts.update(getattr(node, "workeroutput", {}).get("xconv_counts", {}))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput["xconv_counts"] = dict(_counts)  # type: ignore[attr-defined]
        return
    if session.testscollected and _never_called()[0]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    terminalreporter.write_sep("-", "xconv in SciPy's place: calls per function")
    terminalreporter.write_line(", ".join(f"{k}={v}" for k, v in sorted(_counts.items())))
    never, exempt = _never_called()
    if exempt:
        terminalreporter.write_line(
            f"not called, as SciPy skips their tests on {', '.join(sorted(_backends()))}: "
            + ", ".join(exempt)
        )
    if never:
        terminalreporter.write_line(f"FAILED: never called: {', '.join(never)}")
