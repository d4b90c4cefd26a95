"""``xconv.ndimage`` against ``scipy.ndimage`` on NumPy copies, on every backend."""

from __future__ import annotations

import warnings
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
        (lambda: ndimage.correlate([["a", "b"]], w), TypeError, "input"),
    ]


@pytest.mark.parametrize("index", range(12))
def test_errors(xp: ModuleType, device: Any, index: int) -> None:
    call, exc, text = _errors(xp, device)[index]
    with pytest.raises(exc, match=text):
        call()


# --- SciPy's arguments: array-likes, output promotion, casts, its errors ------------------


def test_array_likes(xp: ModuleType, device: Any) -> None:
    """Lists are NumPy arrays (SciPy's array-likes); list weights take an array input's
    library."""
    np.testing.assert_array_equal(
        ndimage.correlate1d([0, 1, 2, 3], [1, 3]), scipy_ndimage.correlate1d([0, 1, 2, 3], [1, 3])
    )
    x = np.arange(6.0)
    got = ndimage.convolve(make(xp, x, device), [1.0, 2.0])
    assert_close(xp, got, scipy_ndimage.convolve(x, [1.0, 2.0]), dtype=np.float64, device=device)


def test_complex_data_promotes_a_real_output_dtype(xp: ModuleType, device: Any) -> None:
    """Complex weights with ``output`` a real dtype: SciPy's UserWarning, complex result;
    a real ``output`` array is an error (SciPy's RuntimeError, also a TypeError)."""
    x, w = np.arange(6.0).reshape(2, 3), np.array([[1, 0], [0, 1 + 1j]])
    with pytest.warns(UserWarning, match="promoting specified output dtype to complex"):
        expected = scipy_ndimage.correlate(x, w, output=np.float32)
    with pytest.warns(UserWarning, match="promoting specified output dtype to complex"):
        got = ndimage.correlate(make(xp, x, device), make(xp, w, device), output=xp.float32)
    assert_close(xp, got, expected, dtype=np.complex64, device=device)
    real = make(xp, np.zeros((2, 3)), device)
    for error in (RuntimeError, TypeError):
        with pytest.raises(error, match="output must have complex dtype"):
            ndimage.convolve(make(xp, x, device), make(xp, w, device), output=real)


def test_boolean_weights(xp: ModuleType, device: Any) -> None:
    x, w = np.arange(30.0).reshape(5, 6), np.array([[True, False, True]])
    expected = scipy_ndimage.correlate(x, w)
    got = ndimage.correlate(make(xp, x, device), make(xp, w, device))
    assert_close(xp, got, expected, dtype=np.float64, device=device)


@pytest.mark.parametrize(("d1", "d2"), [("uint16", "int64"), ("int64", "float32")])
def test_promotion_the_library_lacks(xp: ModuleType, device: Any, d1: str, d2: str) -> None:
    x, w = np.arange(1, 7).astype(d1), np.array([1, 2, 1]).astype(d2)
    expected = scipy_ndimage.correlate1d(x, w)
    got = ndimage.correlate1d(make(xp, x, device), make(xp, w, device))
    assert_close(xp, got, expected, dtype=expected.dtype, device=device)


@pytest.mark.parametrize("dtype", ["uint32", "uint64", "int8"])
def test_floats_beyond_the_output_range_wrap_as_scipy(
    xp: ModuleType, device: Any, dtype: str
) -> None:
    """Results beyond the output's range keep their low bits, as SciPy's C cast does
    (``-3.0`` is ``2**32 - 3`` as uint32; sums of such values, beyond 2**32, wrap)."""
    x = np.array([[3, 2, 5, 1, 4], [5, 8, 3, 7, 1], [5, 6, 9, 3, 5]], dtype=dtype)
    d, s = np.array([-1.0, 0.0, 1.0]), np.ones(3)
    expected = scipy_ndimage.correlate1d(scipy_ndimage.correlate1d(x, d, 0), s, 1)
    step = ndimage.correlate1d(make(xp, x, device), make(xp, d, device), 0)
    got = ndimage.correlate1d(step, make(xp, s, device), 1)
    assert_close(xp, got, expected, dtype=expected.dtype, device=device)


def _scipy_errors(xp: ModuleType, device: Any) -> list[tuple[Any, type[Exception], str]]:
    def arr(*shape: int) -> Any:
        return make(xp, np.ones(shape), device)

    x = arr(6, 8, 12)
    return [
        (lambda: ndimage.correlate(x, arr(3, 3), axes=(0,)), RuntimeError, r"weights.ndim \(2\) must match len\(axes\) \(1\)"),
        (lambda: ndimage.convolve(x, arr(5, 5), axes=(0, 1), origin=(0,)), RuntimeError, "sequence argument must have length equal to input rank"),
        (lambda: ndimage.convolve(x, arr(5, 5), axes=(0, 1), origin=(0, 0, 0)), RuntimeError, "origin"),
        (lambda: ndimage.correlate(x, arr(2, 2, 2), mode=["nearest", "reflect"]), RuntimeError, "A sequence of modes"),
        (lambda: ndimage.correlate(x, arr(3), axes=(1.5,)), TypeError, "cannot be interpreted as an integer"),
        (lambda: ndimage.correlate1d(arr(6), arr(4), origin=2), ValueError, "Invalid origin"),
        (lambda: ndimage.correlate(arr(2, 3), make(xp, np.ones((2, 2)) * 1j, device), mode="constant", cval=5 + 1j), ValueError, "complex-valued cval"),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(7))
def test_errors_as_scipy(xp: ModuleType, device: Any, index: int) -> None:
    """The exception types and words of SciPy's tests (RuntimeErrors are ValueErrors too)."""
    call, exc, text = _scipy_errors(xp, device)[index]
    with warnings.catch_warnings(), pytest.raises(exc, match=text):
        call()
