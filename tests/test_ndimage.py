"""``xconv.ndimage`` against ``scipy.ndimage`` on NumPy copies, on every backend."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

from _helpers import assert_close, make, random_array
from xconv import ndimage

scipy_ndimage = pytest.importorskip("scipy.ndimage")

MODES = ("reflect", "constant", "nearest", "mirror", "wrap")


def check(
    xp: ModuleType,
    device: Any,
    name: str,
    x: np.ndarray,
    w: np.ndarray,
    *,
    dtype: Any = None,
    **kwargs: Any,
) -> None:
    """``xconv.ndimage.<name>`` on the backend equals SciPy's on NumPy copies."""
    expected = getattr(scipy_ndimage, name)(x, w, **kwargs)
    actual = getattr(ndimage, name)(make(xp, x, device), make(xp, w, device), **kwargs)
    assert_close(xp, actual, expected, dtype=dtype or expected.dtype, device=device)


# (input shape, weights shape, axes, input dtype, weights dtype): odd and even kernels,
# kernels larger than the input (extensions wider than the input), 1-d to 3-d,
# integer data with float weights (truncated), complex weights (conjugated).
CASES = [
    ((7,), (4,), None, "float64", "float64"),
    ((5, 6), (3, 2), None, "int64", "int64"),
    ((2, 3), (5, 4), None, "float32", "float32"),
    ((3, 4, 5), (2, 3), (2, 0), "complex128", "complex128"),
    ((4, 5), (3,), (1,), "int32", "float64"),
    ((6,), (3,), None, "float64", "complex128"),
]


@pytest.mark.parametrize("name", ["correlate", "convolve"])
@pytest.mark.parametrize("row", CASES, ids=str)
def test_modes(
    xp: ModuleType, device: Any, rng: np.random.Generator, name: str, row: tuple[Any, ...]
) -> None:
    shape, k, axes, dt, wdt = row
    x = random_array(rng, shape, dt) * (3 if "int" in dt else 1)
    w = random_array(rng, k, wdt)
    # origin[i] belongs to axes[i]; the weights' dimensions to the axes in order.
    per_axis = list(k) if axes is None else [k[sorted(axes).index(a)] for a in axes]
    lo = [-(n // 2) for n in per_axis]
    hi = [(n - 1) // 2 for n in per_axis]
    for mode, origin in zip(MODES, (0, lo, hi, 0, lo), strict=True):
        check(xp, device, name, x, w, mode=mode, cval=1.5, origin=origin, axes=axes)


@pytest.mark.parametrize("name", ["correlate1d", "convolve1d"])
def test_1d(xp: ModuleType, device: Any, rng: np.random.Generator, name: str) -> None:
    x, w = random_array(rng, (4, 9), "float64"), random_array(rng, (4,), "float64")
    for axis, mode, origin in [(-1, "reflect", 0), (0, "constant", -2), (1, "wrap", 1)]:
        check(xp, device, name, x, w, axis=axis, mode=mode, cval=-1.0, origin=origin)


def test_aliases_and_output(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    """SciPy's grid-* names; ``output`` as a dtype, its name, or an array to fill."""
    x, w = random_array(rng, (5, 4), "float64"), random_array(rng, (3, 3), "float64")
    for mode in ("grid-mirror", "grid-wrap", "grid-constant"):
        check(xp, device, "correlate", x, w, mode=mode, cval=2.0)
    expected = scipy_ndimage.convolve(x, w, output=np.float32)
    for output in (xp.float32, "float32"):
        got = ndimage.convolve(make(xp, x, device), make(xp, w, device), output=output)
        assert_close(xp, got, expected, dtype=np.float32, device=device)
    if xp.__name__.endswith("jax.numpy"):
        with pytest.raises(TypeError, match="output"):
            ndimage.convolve(make(xp, x, device), make(xp, w, device), output=make(xp, x, device))
        return
    out = make(xp, np.zeros_like(x), device)
    result = ndimage.convolve(make(xp, x, device), make(xp, w, device), output=out)
    assert result is out
    assert_close(xp, out, scipy_ndimage.convolve(x, w), dtype=np.float64, device=device)


def test_list_weights_and_empty_input(xp: ModuleType, device: Any) -> None:
    x = np.array([2, 8, 0, 4, 1, 9, 9, 0])
    got = ndimage.correlate1d(make(xp, x, device), [1, 3])
    expected = scipy_ndimage.correlate1d(x, [1, 3])
    assert_close(xp, got, expected, dtype=expected.dtype, device=device)
    check(xp, device, "correlate", np.zeros((0, 3)), np.ones((2, 2)), mode="mirror")


def _errors(xp: ModuleType, device: Any) -> list[tuple[Any, type[Exception], str]]:
    def arr(*shape: int) -> Any:
        return make(xp, np.ones(shape), device)

    x, w = arr(4, 5), arr(3, 3)
    return [
        (lambda: ndimage.correlate(x, arr(3)), ValueError, "weights"),
        (lambda: ndimage.correlate(x, arr(0, 2)), ValueError, "weights"),
        (lambda: ndimage.convolve(x, w, mode="edge"), ValueError, "mode"),
        (lambda: ndimage.convolve(x, w, origin=2), ValueError, "origin"),
        (lambda: ndimage.convolve(x, w, origin=(0, 0, 0)), ValueError, "origin"),
        (lambda: ndimage.correlate(x, w, cval=1j, mode="constant"), ValueError, "cval"),
        (lambda: ndimage.correlate(x, w, output="float128"), TypeError, "output"),
        (lambda: ndimage.correlate(x, w, output=arr(2, 2)), ValueError, "output"),
        (lambda: ndimage.correlate(x, arr(3), axes=(1, 1)), ValueError, "axes"),
        (lambda: ndimage.correlate1d(x, arr(3), axis=2), ValueError, "^axis: axis 2"),
        (lambda: ndimage.correlate1d(x, arr(3), axis=1.0), TypeError, "axis"),
        (lambda: ndimage.correlate(np.ones((4, 5)).tolist(), w), TypeError, "input"),
    ]


@pytest.mark.parametrize("index", range(12))
def test_errors(xp: ModuleType, device: Any, index: int) -> None:
    call, exc, text = _errors(xp, device)[index]
    with pytest.raises(exc, match=text):
        call()
