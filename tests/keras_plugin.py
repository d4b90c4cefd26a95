"""pytest plugin: run Keras's own tests with xconv as the NumPy backend's convolution.

Load it with ``-p keras_plugin`` (``tests/`` on ``PYTHONPATH``) when running test files
of the installed Keras (``keras/src/ops/nn_test.py``,
``keras/src/layers/convolutional/*_test.py``); the ``keras`` nox session does so.

- ``--keras-conv=xconv`` (the default) calls :func:`xconv.integrations.keras.install`
  before any test runs, prints :func:`~xconv.integrations.keras.call_counts` at the
  end and fails the run if the adapter was never called (so a run that silently used
  Keras's own convolutions cannot pass); ``--keras-conv=stock`` runs Keras unchanged,
  for the side-by-side count.
- As Keras's own ``conftest.py`` (which the wheel does not ship) does, it registers
  Keras's ``requires_trainable_backend`` marker and skips those tests on the NumPy
  backend, which has no trainer.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--keras-conv",
        choices=("xconv", "stock"),
        default="xconv",
        help="convolutions of Keras's NumPy backend: xconv (the adapter) or stock (JAX)",
    )


def _adapter_on(config: pytest.Config) -> bool:
    return bool(config.getoption("--keras-conv") == "xconv")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_trainable_backend: needs a backend with a trainer (not NumPy)"
    )
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    import keras

    if keras.backend.backend() != "numpy":
        raise pytest.UsageError(
            f"keras runs on {keras.backend.backend()!r}: set KERAS_BACKEND=numpy before pytest"
        )
    if _adapter_on(config):
        import xconv.integrations.keras as adapter

        adapter.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="Trainer not implemented for the NumPy backend.")
    for item in items:
        if "requires_trainable_backend" in item.keywords:
            item.add_marker(skip)


def _summary() -> tuple[str, bool]:
    """The line of adapter call counts, and whether the adapter never ran."""
    import xconv.integrations.keras as adapter

    counts = adapter.call_counts()
    line = "xconv adapter calls: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    return line, not any(counts.values())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _adapter_on(session.config) and session.testscollected and _summary()[1]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _adapter_on(config):
        return
    line, never = _summary()
    terminalreporter.write_sep("-", "xconv.integrations.keras")
    terminalreporter.write_line(line)
    if never:
        terminalreporter.write_line(
            "FAILED: the xconv adapter was never called (Keras used its own convolutions)"
        )
