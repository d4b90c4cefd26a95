"""The scripts in examples/ run and reach their own checks (small sizes, tmp_path)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"xconv_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load("image_filters").main(["--out", str(tmp_path)]) == 0
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    assert (tmp_path / "filters.png").exists() == has_mpl
    assert "strongest edge" in capsys.readouterr().out


def test_tiny_cnn(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("tiny_cnn").main() == 0
    out = capsys.readouterr().out
    has_torch = importlib.util.find_spec("torch") is not None
    expected = "torch autograd agrees" if has_torch else "skipped"
    assert expected in out


def test_signal_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("signal_filter").main(["--samples", "20000", "--signals", "2"]) == 0
    assert "max error" in capsys.readouterr().out


def test_keras_numpy_backend() -> None:
    """Run in its own interpreter: Keras fixes its backend at its first import."""
    script = EXAMPLES / "keras_numpy_backend.py"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    has_keras = all(importlib.util.find_spec(m) is not None for m in ("keras", "jax"))
    expected = "agrees with Keras's stock NumPy backend" if has_keras else "skipped"
    assert expected in done.stdout
