"""NaN and inf stay where a direct sum puts them under ``method="auto"``.

FFT and Winograd mix every input of a block or tile into every output of it, so a
single NaN would spread beyond its receptive field. ``auto`` picks them only after
checking (one ``isfinite`` reduction) that the data is finite; otherwise it runs a
direct method, whose NaN/inf pattern matches the naive reference exactly.
"""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import xconv
from _helpers import make, to_numpy
from _reference import reference_conv
from xconv import _auto, _backend, _core
from xconv._auto import RULES
from xconv._spec import conv_spec

#: (label, input channels-last, filters): cases where finite data makes ``auto``
#: choose ``fft`` (81 taps, one channel) and ``winograd`` (3x3x3, 16 channels, a
#: sample whose input and output hold the transformed filters).
CASES = [
    ("fft", (1, 24, 20, 1), (9, 9, 1, 1)),
    ("winograd", (1, 16, 18, 17, 16), (3, 3, 3, 16, 16)),
]


def _poisoned(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.standard_normal(shape)
    rest = (0,) * (len(shape) - 4)  # the spatial axes after the first two
    x[(0, 3, 4, *rest, 0)] = np.nan
    x[(0, 9, 11, *rest, -1)] = np.inf
    x[(0, -2, 2, *rest, 0)] = -np.inf
    return x


@pytest.mark.parametrize("row", CASES, ids=[c[0] for c in CASES])
def test_auto_keeps_nonfinite_in_receptive_field(
    xp: ModuleType, device: Any, rng: np.random.Generator, row: tuple[Any, ...]
) -> None:
    _, x_shape, w_shape = row
    x_np = _poisoned(rng, x_shape)
    w_np = rng.standard_normal(w_shape)
    rank = len(w_shape) - 2
    pads = [((k - 1) // 2, k // 2) for k in w_shape[:rank]]
    expected = reference_conv(x_np, w_np, (1,) * rank, (1,) * rank, pads, 1)
    with np.errstate(invalid="ignore"):
        got = to_numpy(
            xconv.convolution(make(xp, x_np, device), make(xp, w_np, device), padding="SAME")
        )
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg="NaN positions")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected), err_msg="+inf")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected), err_msg="-inf")
    finite = np.isfinite(expected)
    assert finite.sum() > expected.size // 3  # the test still compares most values
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("label", "x_shape", "w_shape"), CASES, ids=[c[0] for c in CASES])
def test_auto_choice_depends_on_finiteness(
    label: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...]
) -> None:
    """On NumPy the finite case gets the transform method, the poisoned one a direct one."""
    xp = _backend.namespace(x=np.zeros(1))
    spec = conv_spec(x_shape, w_shape, strides=1, padding="SAME", dilations=1, data_format=None)
    sizes = x_shape[1:-1]
    batch = 1  # host arrays: auto chooses for one sample
    assert _core.choose_method(xp, spec, np.float64, w_shape, sizes, batch=batch) == label
    direct = _core.choose_method(xp, spec, np.float64, w_shape, sizes, finite=False, batch=batch)
    assert direct in ("shift", "gemm")


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "expected"),
    [
        ((8, 56, 56, 64), (3, 3, 64, 64), "gemm"),  # no 2-d Winograd: gemm and shift won
        ((8, 28, 28, 128), (3, 3, 128, 128), "gemm"),
        ((8, 56, 56, 32), (3, 3, 32, 64), "gemm"),
        ((8, 56, 56, 128), (5, 5, 128, 128), "gemm"),  # not 3x3
        ((8, 14, 14, 256), (3, 3, 256, 256), "shift"),  # filters > input + output; wide
        ((8, 7, 7, 512), (3, 3, 512, 512), "shift"),  # 392 pixels, 4608 columns
        ((2, 16, 56, 56, 32), (3, 3, 3, 32, 32), "winograd"),  # 3-d: from 16 channels
        ((2, 16, 56, 56, 8), (3, 3, 3, 8, 8), "gemm"),  # too few channels
        ((2, 12, 56, 56, 32), (3, 3, 3, 32, 32), "gemm"),  # an axis below 16
        ((8, 4000, 64), (3, 64, 64), "gemm"),  # no 1-d rule: Winograd lost
    ],
)
def test_auto_dense_rules(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], expected: str
) -> None:
    """Which method ``auto`` gives dense layers: Winograd for 3x3x3 layers of at least
    16**3, shift for patch matrices wider than tall, gemm for the rest."""
    xp = _backend.namespace(x=np.zeros(1))
    spec = conv_spec(x_shape, w_shape, strides=1, padding="SAME", dilations=1, data_format=None)
    sizes, batch = x_shape[1:-1], 1  # host arrays: auto chooses for one sample
    assert _core.choose_method(xp, spec, np.float32, w_shape, sizes, batch=batch) == expected


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "expected"),
    [
        ((1, 64, 64, 1), (7, 7, 1, 1), "shift"),  # one channel: FFT from 64 taps
        ((1, 64, 64, 1), (9, 9, 1, 1), "fft"),
        ((1, 64, 64, 3), (9, 9, 1, 3), "shift"),  # three groups: FFT from 100 taps
        ((1, 64, 64, 3), (11, 11, 1, 3), "fft"),
        ((1, 64, 64, 1), (11, 1, 1, 4), "shift"),  # 4 outputs, 11 taps
    ],
)
def test_auto_fft_rules(x_shape: tuple[int, ...], w_shape: tuple[int, ...], expected: str) -> None:
    """Which method ``auto`` gives small per-group contractions: FFT for large kernels
    (from ``RULES.fft_min_taps`` taps, ``RULES.fft_min_taps_grouped`` with several
    groups)."""
    xp = _backend.namespace(x=np.zeros(1))
    spec = conv_spec(x_shape, w_shape, strides=1, padding="SAME", dilations=1, data_format=None)
    sizes, batch = x_shape[1:-1], 1  # host arrays: auto chooses for one sample
    assert _core.choose_method(xp, spec, np.float32, w_shape, sizes, batch=batch) == expected


def test_auto_follows_the_rules_given() -> None:
    """Rules other than :data:`RULES` change the choice: no Winograd entries, or a
    higher FFT threshold, give the direct methods for the cases above."""
    xp = _backend.namespace(x=np.zeros(1))
    for label, x_shape, w_shape in CASES:
        spec = conv_spec(x_shape, w_shape, strides=1, padding="SAME", dilations=1, data_format=None)
        sizes, batch = x_shape[1:-1], 1  # host arrays: auto chooses for one sample
        assert _auto.choose_method(xp, spec, np.float32, w_shape, sizes, batch=batch) == label
        rules = replace(RULES, winograd={}, fft_min_taps=10**6)
        other = _auto.choose_method(xp, spec, np.float32, w_shape, sizes, batch=batch, rules=rules)
        assert other in ("shift", "gemm")
        algorithm = _auto.select_algorithm("auto", xp, spec, np.float32, w_shape, sizes, batch)
        assert algorithm.name == label
        assert algorithm.mixes_values
