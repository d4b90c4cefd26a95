"""The benchmark process's BLAS environment: removed, and reported truthfully."""

from __future__ import annotations

import json

import pytest

from xconv._bench import _env


def test_removed_before_numpy_loaded_is_effective(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process that a parent re-executed without the variables reports what
    the parent removed, and that it was in time (NumPy loaded without them)."""
    for key in _env.BLAS_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv(_env._HANDOVER, json.dumps({"OPENBLAS_CORETYPE": "Haswell"}))
    record = _env.clean_blas_env()
    assert record["removed"] == {"OPENBLAS_CORETYPE": "Haswell"}
    assert record["effective"] is True


def test_set_when_numpy_loaded_is_too_late(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in _env.BLAS_ENV:  # (monkeypatch puts the machine's values back afterwards)
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv(_env._HANDOVER, raising=False)
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    record = _env.clean_blas_env()  # NumPy is loaded in the test process
    assert record["removed"] == {"OPENBLAS_L2_SIZE": "512"}
    assert record["effective"] is False
