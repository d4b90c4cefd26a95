"""The scripts in examples/ run and reach their own checks (small sizes, tmp_path)."""

from __future__ import annotations

import importlib.util
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
