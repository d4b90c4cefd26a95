"""``xconv.signal`` against ``scipy.signal`` on NumPy copies, on every backend.

Each check builds NumPy data, runs SciPy on it and xconv on the backend's copy, and
compares namespace, device, dtype, shape and values (``_helpers.assert_close``).
SciPy is the oracle: it is imported here only, never by xconv.
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import assert_close, make, random_array, to_numpy
from xconv import signal

scipy_signal = pytest.importorskip("scipy.signal")

MODES = ("full", "same", "valid")


def check(
    xp: ModuleType, device: Any, name: str, arrays: tuple[np.ndarray, ...], **kwargs: Any
) -> None:
    """``xconv.signal.<name>`` on the backend equals SciPy's on NumPy (dtype included)."""
    expected = getattr(scipy_signal, name)(*arrays, **kwargs)
    inputs = [make(xp, a, device) for a in arrays]
    actual = getattr(signal, name)(*inputs, **kwargs)
    assert_close(xp, actual, expected, dtype=expected.dtype, device=device)


# (in1 shape, in2 shape, dtype, method): odd and even kernels, kernels larger than the
# input, 1-d to 3-d, integers (exact), float32/64, complex, each method.
LINEAR_CASES = [
    ((9,), (4,), "complex128", "direct"),
    ((6, 7), (3, 2), "int64", "direct"),
    ((6, 7), (3, 2), "int32", "fft"),
    ((4, 5), (5, 6), "float32", "fft"),
    ((4, 5, 3), (2, 3, 2), "complex64", "auto"),
    ((12, 12), (9, 9), "float64", "auto"),  # large kernel: auto takes the FFT
]


# (in1 shape, in2 shape, axes): broadcasting along the axes not convolved, extent-1
# axes, the second input larger along the convolved axes (valid mode swaps).
FREQUENCY_CASES = [
    ((3, 8), (3, 4), 1),
    ((3, 8), (1, 5), [-1]),
    ((1, 8), (3, 4), 1),  # in1 extent 1 off the axes: "same" keeps in2's middle row
    ((5, 1), (1, 3), None),
    ((2, 5, 6), (2, 3, 4), (2, 1)),
    ((2, 3), (5, 6), None),
]


@pytest.mark.parametrize(("s1", "s2", "axes"), FREQUENCY_CASES, ids=str)
def test_fftconvolve_oaconvolve(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    s1: tuple[int, ...],
    s2: tuple[int, ...],
    axes: Any,
) -> None:
    a, b = random_array(rng, s1, "float64"), random_array(rng, s2, "float64")
    for mode, name in zip(MODES, ("fftconvolve", "oaconvolve", "fftconvolve"), strict=True):
        check(xp, device, name, (a, b), mode=mode, axes=axes)


@pytest.mark.parametrize(
    ("d1", "d2"), [("int16", "int16"), ("float32", "float32"), ("float32", "complex64")]
)
def test_fftconvolve_dtypes(
    xp: ModuleType, device: Any, rng: np.random.Generator, d1: str, d2: str
) -> None:
    """SciPy's FFT dtypes: integers give float64, single precision stays single."""
    a, b = random_array(rng, (4, 5), d1), random_array(rng, (2, 3), d2)
    check(xp, device, "oaconvolve", (a, b), mode="same")


# (boundary, in1 shape, in2 shape, dtype): even kernels; kernels larger than the input
# (extensions wider than it); complex data, where valid mode swaps the inputs.
BOUNDARY_CASES = [
    ("fill", (5, 6), (3, 2), "float64"),
    ("fill", (2, 3), (5, 4), "complex128"),
    ("wrap", (2, 3), (5, 4), "complex128"),
    ("symm", (5, 6), (3, 2), "float64"),
    ("symm", (2, 3), (5, 4), "float64"),
]


#: (functions, in1 shape, in2 shape, dtype, keywords): each function in every mode.
MODE_CASES = [
    *((("convolve", "correlate"), s1, s2, dt, {"method": m}) for s1, s2, dt, m in LINEAR_CASES),
    *(
        (("convolve2d", "correlate2d"), s1, s2, dt, {"boundary": b, "fillvalue": 1.5})
        for b, s1, s2, dt in BOUNDARY_CASES
    ),
]


@pytest.mark.parametrize("row", MODE_CASES, ids=str)
def test_every_mode(
    xp: ModuleType, device: Any, rng: np.random.Generator, row: tuple[Any, ...]
) -> None:
    """convolve/correlate (each method) and convolve2d/correlate2d (each boundary)."""
    names, s1, s2, dtype, kwargs = row
    a, b = random_array(rng, s1, dtype), random_array(rng, s2, dtype)
    for name in names:
        for mode in MODES:
            check(xp, device, name, (a, b), mode=mode, **kwargs)


def test_2d_integer_fillvalue(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    """Integer inputs stay exact; a fractional fillvalue truncates, as SciPy's cast."""
    a, b = random_array(rng, (4, 5), "int32"), random_array(rng, (3, 3), "int32")
    for name in ("convolve2d", "correlate2d"):
        check(xp, device, name, (a, b), mode="same", fillvalue=2)
    with warnings.catch_warnings():  # SciPy deprecates the lossy cast
        warnings.simplefilter("ignore", DeprecationWarning)
        check(xp, device, "correlate2d", (a, b), mode="full", fillvalue=-2.7)


@pytest.mark.parametrize("mode", MODES)
def test_empty_inputs(xp: ModuleType, device: Any, mode: str) -> None:
    """Where SciPy is consistent it is the oracle; elsewhere convolve2d's formula shapes."""
    for s1, s2 in [((0, 3), (2, 2)), ((3, 3), (0, 2))]:
        a, b = np.ones(s1), np.ones(s2)
        for name in ("convolve2d", "correlate2d", "fftconvolve", "oaconvolve"):
            if mode == "valid" and s1 == (0, 3) and name.endswith("2d"):
                with pytest.raises(ValueError, match="at least as large"):
                    getattr(signal, name)(make(xp, a, device), make(xp, b, device), mode)
                continue
            check(xp, device, name, (a, b), mode=mode)
            if name == "convolve2d":  # SciPy's convolve crashes on some of these
                expected = scipy_signal.convolve2d(a, b, mode)
                for f in (signal.convolve, signal.correlate):
                    got = f(make(xp, a, device), make(xp, b, device), mode)
                    assert_close(xp, got, expected, dtype=expected.dtype, device=device)


def test_zero_dimensional(xp: ModuleType, device: Any) -> None:
    a, b = np.asarray(2.0 + 1j), np.asarray(3.0 - 2j)
    for name in ("convolve", "correlate", "fftconvolve"):
        check(xp, device, name, (a, b))


def test_choose_conv_method(xp: ModuleType, device: Any) -> None:
    small = make(xp, np.ones(64), device)
    assert signal.choose_conv_method(small, make(xp, np.ones(3), device)) == "direct"
    ints = make(xp, np.ones((20, 20), dtype=np.int64), device)
    assert signal.choose_conv_method(ints, make(xp, np.ones((15, 15), np.int64), device)) == (
        "direct"
    )
    big = make(xp, np.ones((15, 15)), device)
    assert signal.choose_conv_method(make(xp, np.ones((20, 20)), device), big) == "fft"
    chosen, times = signal.choose_conv_method(small, small[:5], "same", measure=True)
    assert set(times) == {"fft", "direct"}
    assert chosen == min(times, key=lambda m: times[m])
    assert all(t > 0 for t in times.values())


def _errors(xp: ModuleType, device: Any) -> list[tuple[Any, type[Exception], str]]:
    def arr(*shape: int) -> Any:
        return make(xp, np.ones(shape), device)

    a, b = arr(4, 4), arr(2, 2)
    return [
        (lambda: signal.convolve(a, b, mode="Full"), ValueError, "mode"),
        (lambda: signal.correlate(a, b, method="fast"), ValueError, "method"),
        (lambda: signal.convolve(a, arr(2)), ValueError, "in1 and in2"),
        (lambda: signal.convolve(arr(3, 4), arr(4, 2), "valid"), ValueError, "at least as large"),
        (lambda: signal.convolve(a, [["x", "y"]]), TypeError, "in2"),
        (lambda: signal.convolve2d(arr(4), arr(2)), ValueError, "2-D"),
        (lambda: signal.convolve2d(a, b, boundary="reflect"), ValueError, "boundary"),
        (lambda: signal.correlate2d(a, b, fillvalue=1j), ValueError, "fillvalue"),
        (lambda: signal.correlate2d(a, b, fillvalue="0"), TypeError, "fillvalue"),
        (lambda: signal.fftconvolve(a, b, axes=(0, 0)), ValueError, "axes"),
        (lambda: signal.fftconvolve(a, b, axes=[]), ValueError, "axes"),
        (lambda: signal.fftconvolve(a, b, axes=2), ValueError, "axes"),
        (lambda: signal.oaconvolve(arr(3, 4), b, axes=1), ValueError, "in1 and in2"),
        (lambda: signal.choose_conv_method(a, b, mode="same!"), ValueError, "mode"),
    ]


@pytest.mark.parametrize("index", range(14))
def test_errors(xp: ModuleType, device: Any, index: int) -> None:
    call, exc, text = _errors(xp, device)[index]
    with pytest.raises(exc, match=text):
        call()


def test_mixed_libraries(xp: ModuleType, device: Any) -> None:
    other: Any = np.ones(2)
    if xp.__name__.endswith("numpy"):  # NumPy's arrays: mix with another library's
        other = pytest.importorskip("array_api_strict").ones(2)
    with pytest.raises(TypeError, match="same library"):
        signal.convolve(make(xp, np.ones(4), device), other)


def test_inputs_unchanged(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    a, b = random_array(rng, (6, 5), "float64"), random_array(rng, (3, 4), "float64")
    xa, xb = make(xp, a, device), make(xp, b, device)
    signal.correlate2d(xa, xb, "same", "symm")
    signal.correlate(xa, xb, "full", "direct")
    assert_close(xp, xa, a, dtype=a.dtype, rtol=0, atol=0)
    assert_close(xp, xb, b, dtype=b.dtype, rtol=0, atol=0)


@settings(max_examples=6)
@given(
    sizes=st.lists(st.tuples(st.integers(1, 7), st.integers(1, 7)), min_size=1, max_size=2),
    mode=st.sampled_from(MODES),
    name=st.sampled_from(["convolve", "correlate"]),
    stream=st.integers(0, 2**16),
)
def test_property(
    xp: ModuleType,
    device: Any,
    sizes: list[tuple[int, int]],
    mode: str,
    name: str,
    stream: int,
) -> None:
    """Random 1-d and 2-d shapes in every mode (valid: in2 cut to fit in1 or contain it)."""
    s1, s2 = [n for n, _ in sizes], [k for _, k in sizes]
    if mode == "valid" and not (all(n >= k for n, k in sizes) or all(k >= n for n, k in sizes)):
        s2 = [min(n, k) for n, k in sizes]
    rng = np.random.default_rng(stream)
    a, b = random_array(rng, s1, "float64"), random_array(rng, s2, "float64")
    check(xp, device, name, (a, b), mode=mode)


# --- SciPy's arguments: array-likes, booleans, promotion, its errors and warnings ----------


def _library(xp: ModuleType) -> str:
    libraries = ("jax", "dask", "torch", "array_api_strict", "cupy", "numpy")
    return next(lib for lib in libraries if lib in xp.__name__)


def test_array_likes_and_numbers(xp: ModuleType, device: Any) -> None:
    """Lists and Python numbers are SciPy's array-likes: NumPy arrays, or 0-d arrays of
    the other input's library; a list beside another library's array is an error."""
    expected = scipy_signal.convolve([1, 2, 3], [0, 1, 0.5])
    np.testing.assert_array_equal(signal.convolve([1, 2, 3], [0, 1, 0.5]), expected)
    assert np.asarray(signal.correlate(2, 3)) == scipy_signal.correlate(2, 3) == 6
    zero_d = make(xp, np.asarray(3.0), device)
    assert_close(xp, signal.convolve(zero_d, 2.0), np.asarray(6.0), dtype=np.float64)
    x = make(xp, np.arange(3.0), device)
    if _library(xp) == "numpy":
        assert_close(xp, signal.convolve(x, [1.0, 1.0]), np.array([0.0, 1, 3, 2]), dtype=np.float64)
    else:
        with pytest.raises(TypeError, match="in2"):
            signal.convolve(x, [1.0, 1.0])


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
def test_booleans(xp: ModuleType, device: Any, method: str) -> None:
    """Boolean inputs convolve as SciPy's direct method: an OR of ANDs, of dtype bool."""
    a, b = np.array([True, False, True, True]), np.array([True, False, True])
    expected = scipy_signal.convolve(a, b, method="direct")
    got = signal.convolve(make(xp, a, device), make(xp, b, device), method=method)
    assert "bool" in str(got.dtype)
    np.testing.assert_array_equal(to_numpy(got), expected)
    assert signal.choose_conv_method(make(xp, a, device), make(xp, b, device)) == "direct"
    mixed = signal.convolve(make(xp, a, device), make(xp, b.astype(np.int16), device))
    assert_close(xp, mixed, scipy_signal.convolve(a, b.astype(np.int16)), dtype=np.int16)


@pytest.mark.parametrize(("d1", "d2"), [("uint16", "int64"), ("int64", "float64")])
def test_promotion_the_library_lacks(xp: ModuleType, device: Any, d1: str, d2: str) -> None:
    """Dtypes that torch (uint16 with int64) or array-api-strict (integers with floats)
    do not promote promote as SciPy's ``xp_promote``: int64; the floating dtype."""
    a, b = np.arange(1, 6).astype(d1), np.arange(1, 4).astype(d2)
    for name in ("convolve", "correlate"):
        expected = getattr(scipy_signal, name)(a, b)
        got = getattr(signal, name)(make(xp, a, device), make(xp, b, device))
        assert_close(xp, got, expected, dtype=expected.dtype, device=device)


def test_fft_on_nan_warns_where_the_data_is_read(xp: ModuleType, device: Any) -> None:
    """``method="fft"`` on a NaN warns as SciPy (RuntimeWarning) where the data can be
    read; Dask graphs and JAX arrays are not read."""
    x = np.ones(50)
    x[10] = np.nan
    call = lambda: signal.convolve(make(xp, x, device), make(xp, np.ones(5), device), method="fft")  # noqa: E731
    if _library(xp) in ("jax", "dask"):
        call()
        return
    with pytest.warns(RuntimeWarning, match="Use of fft convolution on input with NAN"):
        call()


def test_fillvalue_as_scipy(xp: ModuleType, device: Any) -> None:
    """A one-element array fills as its number; others, and complex values for a real
    result, are SciPy's ``ValueError``."""
    a, b = np.arange(12.0).reshape(3, 4), np.ones((2, 2))
    expected = scipy_signal.convolve2d(a, b, fillvalue=2.0)
    got = signal.convolve2d(make(xp, a, device), make(xp, b, device), fillvalue=[2.0])
    assert_close(xp, got, expected, dtype=np.float64, device=device)
    with pytest.raises(ValueError, match="`fillvalue` must be scalar or an array with one"):
        signal.convolve2d(make(xp, a, device), make(xp, b, device), fillvalue=[1, 2])
    with pytest.raises(ValueError, match="could not cast `fillvalue` directly"):
        signal.convolve2d([[1]], [[1, 2]], fillvalue=1j)


@pytest.mark.parametrize(
    ("axes", "text"),
    [
        ([], "when provided, axes cannot be empty"),
        ([[0, 1]], "axes must be a scalar or iterable of integers"),
        ([1.0], "axes must be a scalar or iterable of integers"),
        ([2], "axes exceeds dimensionality of input"),
        ([0, -2], "all axes must be unique"),
    ],
)
def test_fftconvolve_axes_errors_as_scipy(
    xp: ModuleType, device: Any, axes: Any, text: str
) -> None:
    a = make(xp, np.ones((3, 4)), device)
    with pytest.raises(ValueError, match=text):
        signal.fftconvolve(a, a, axes=axes)


def test_frequency_messages_as_scipy(xp: ModuleType, device: Any) -> None:
    a, b = make(xp, np.ones((5, 6, 2, 1)), device), make(xp, np.ones((5, 6, 3, 1)), device)
    with pytest.raises(ValueError, match=r"incompatible shapes for in1 and in2: \(5, 6, 2, 1\)"):
        signal.oaconvolve(a, b, axes=[0, 1])
    with pytest.raises(ValueError, match="For 'valid' mode, one must be at least as large"):
        signal.fftconvolve(
            make(xp, np.ones((2, 3)), device), make(xp, np.ones((3, 2)), device), "valid"
        )
    with pytest.raises(ValueError, match="in1 and in2 should have the same dimensionality"):
        signal.fftconvolve([1], 2)
    with pytest.raises(ValueError, match="acceptable mode flags are 'valid', 'same', or 'full'"):
        signal.oaconvolve([1], [2], mode="chips")


def test_product_along_extent_one_axes(xp: ModuleType, device: Any) -> None:
    """Where every convolved axis has extent 1 in an input, SciPy multiplies: the
    inputs' dtype (integers stay integers)."""
    a, b = np.array([4967]), np.array([3920])
    for name in ("fftconvolve", "oaconvolve"):
        got = getattr(signal, name)(make(xp, a, device), make(xp, b, device))
        assert_close(xp, got, a * b, dtype=np.int64, device=device)
    x, k = np.arange(12.0).reshape(3, 4), np.arange(4.0).reshape(1, 4) + 1
    got = signal.fftconvolve(make(xp, x, device), make(xp, k, device), mode="same", axes=0)
    assert_close(xp, got, scipy_signal.fftconvolve(x, k, mode="same", axes=0), dtype=np.float64)


def test_large_kernel_auto_keeps_nan_local(xp: ModuleType, device: Any) -> None:
    """``method="auto"`` with a kernel of 64+ taps: one NaN reaches only its windows."""
    x = np.zeros((40, 40))
    x[20, 20] = np.nan
    got = to_numpy(signal.convolve(make(xp, x, device), make(xp, np.ones((8, 8)), device)))
    assert int(np.isnan(got).sum()) == 64
