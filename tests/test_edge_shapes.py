"""Degenerate shapes: empty gradients, empty spatial axes, huge padding, many-tap NaNs.

Gradients and transposed convolutions always return exactly the requested
``input_sizes`` / ``filter_sizes`` / ``output_shape`` (TensorFlow's rule), also when
``out_backprop`` is empty or the kernel is larger than the input; an empty axis with
padding gives a zero-filled result of the padded size on every method; NaN spreads
exactly as far as the kernel reaches, as in SciPy, however many taps it has; NumPy
scalars of every dtype are treated alike.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import scipy.ndimage as scipy_ndimage
import scipy.signal as scipy_signal
from hypothesis import given
from hypothesis import strategies as st

import xconv
from _helpers import Case, assert_close, make, to_numpy
from _reference_grad import reference_filter_grad, reference_input_grad
from xconv import ndimage, signal

METHODS = ("auto", "einsum", "gemm", "winograd", "shift", "fft", "native")


def _ones(xp: ModuleType, shape: tuple[int, ...], device: Any) -> Any:
    return make(xp, np.ones(shape, np.float64), device)


# --------------------------------------------------------------------------- empty out_backprop

#: name -> call with filters ``w`` (5, 5, 1, 1) and an empty ``dy`` (1, 0, 0, 1), stride 2,
#: VALID, asking for an input of (1, 3, 3, 1): a 5x5 kernel does not fit a 3x3 input.
EMPTY_GRAD_CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "conv2d_backprop_input": lambda w, dy: xconv.conv2d_backprop_input(
        [1, 3, 3, 1], w, dy, 2, "VALID"
    ),
    "conv_backprop_input": lambda w, dy: xconv.conv_backprop_input([1, 3, 3, 1], w, dy, 2, "VALID"),
    "conv2d_transpose": lambda w, dy: xconv.conv2d_transpose(dy, w, [1, 3, 3, 1], 2, "VALID"),
    "conv_transpose": lambda w, dy: xconv.conv_transpose(dy, w, [1, 3, 3, 1], 2, "VALID"),
    "depthwise_conv2d_backprop_input": lambda w, dy: xconv.depthwise_conv2d_backprop_input(
        [1, 3, 3, 1], w, dy, [1, 2, 2, 1], "VALID"
    ),
}


@pytest.mark.parametrize("name", list(EMPTY_GRAD_CALLS))
def test_empty_out_backprop_strided_gives_input_sizes(
    xp: ModuleType, device: Any, name: str
) -> None:
    """The forward output of a 3x3 input under a 5x5 VALID kernel is empty, so the
    input gradient is all zeros of the requested (1, 3, 3, 1), whatever the stride."""
    w, dy = _ones(xp, (5, 5, 1, 1), device), _ones(xp, (1, 0, 0, 1), device)
    got = EMPTY_GRAD_CALLS[name](w, dy)
    assert_close(xp, got, np.zeros((1, 3, 3, 1)), dtype=xp.float64)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_empty_out_backprop_filter_grad_gives_filter_sizes(
    xp: ModuleType, device: Any, stride: int
) -> None:
    x, dy = _ones(xp, (1, 3, 3, 1), device), _ones(xp, (1, 0, 0, 1), device)
    got = xconv.conv2d_backprop_filter(x, [5, 5, 1, 1], dy, stride, "VALID")
    assert_close(xp, got, np.zeros((5, 5, 1, 1)), dtype=xp.float64)


def test_tensorflow_empty_width_stride_2(xp: ModuleType, device: Any) -> None:
    """TensorFlow's Conv2DBackpropInput on these arguments returns (3, 1, 1, 2) zeros:
    a 1x3 filter does not fit a 1x1 input, so ``out_backprop`` has width 0."""
    w, dy = _ones(xp, (1, 3, 2, 3), device), _ones(xp, (3, 1, 0, 3), device)
    got = xconv.conv2d_backprop_input([3, 1, 1, 2], w, dy, [1, 1, 2, 1], "VALID")
    assert_close(xp, got, np.zeros((3, 1, 1, 2)), dtype=xp.float64)


# --------------------------------------------------------------------------- empty axes, padding


@pytest.mark.parametrize("method", METHODS)
def test_empty_spatial_axis_with_padding(xp: ModuleType, device: Any, method: str) -> None:
    """An input of height 0 padded by 2 + 2 is a height-4 block of zeros: a 3x3 kernel
    gives height 2, and width 4 + 1 + 1 - 2 = 4, all zeros."""
    x = make(xp, np.zeros((1, 0, 4, 1), np.float32), device)
    w = make(xp, np.ones((3, 3, 1, 1), np.float32), device)
    try:
        got = xconv.conv2d(x, w, 1, [[2, 2], [1, 1]], method=method)
    except ValueError as exc:
        if method in ("auto", "gemm", "shift", "einsum") or "does not apply" not in str(exc):
            raise
        pytest.skip(f"method={method!r} does not apply here: {exc}")
    assert_close(xp, got, np.zeros((1, 2, 4, 1)), dtype=xp.float32)


def test_empty_batch_with_large_padding_3d(xp: ModuleType, device: Any) -> None:
    x = make(xp, np.zeros((0, 1, 1, 1, 1), np.float32), device)
    w = make(xp, np.ones((1, 1, 1, 1, 1), np.float32), device)
    got = xconv.conv3d(x, w, 1, [[0, 0], [0, 40], [0, 0]])
    assert_close(xp, got, np.zeros((0, 1, 41, 1, 1)), dtype=xp.float32)


# --------------------------------------------------------------------------- NaN with many taps

NAN_CALLS: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "ndimage.correlate": (ndimage.correlate, scipy_ndimage.correlate),
    "ndimage.convolve": (ndimage.convolve, scipy_ndimage.convolve),
    "signal.convolve2d": (signal.convolve2d, scipy_signal.convolve2d),
    "signal.correlate2d": (signal.correlate2d, scipy_signal.correlate2d),
}


@pytest.mark.parametrize("k", [3, 7, 8, 9])
@pytest.mark.parametrize("name", list(NAN_CALLS))
def test_nan_spreads_like_scipy(xp: ModuleType, device: Any, name: str, k: int) -> None:
    """One NaN in a 40x40 image reaches exactly the k*k outputs whose window holds it
    (SciPy sums directly), also for kernels of 64 taps and more."""
    ours, theirs = NAN_CALLS[name]
    image = np.zeros((40, 40))
    image[20, 20] = np.nan
    kernel = np.ones((k, k))
    expected = theirs(image, kernel)
    assert int(np.isnan(expected).sum()) == k * k
    got = to_numpy(ours(make(xp, image, device), make(xp, kernel, device)))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    finite = ~np.isnan(expected)
    np.testing.assert_allclose(got[finite], expected[finite], atol=1e-12)


# --------------------------------------------------------------------------- NumPy scalars

SCALARS = [np.float32(2.0), np.float64(2.0), np.complex64(1j), np.complex128(1j), np.int64(2)]
SCALAR_IDS = [type(s).__name__ for s in SCALARS]


@pytest.mark.parametrize("scalar", SCALARS, ids=SCALAR_IDS)
@pytest.mark.parametrize(
    "call",
    [
        lambda s: xconv.conv2d(np.ones((1, 4, 4, 1), np.float32), s, 1, "SAME"),
        lambda s: xconv.conv2d(s, np.ones((3, 3, 1, 1), np.float32), 1, "SAME"),
        lambda s: signal.convolve2d(np.ones((3, 3)), s),
        lambda s: ndimage.convolve(np.ones(3), s),
        lambda s: ndimage.correlate(s, np.ones(1)),
    ],
    ids=["conv2d-filters", "conv2d-input", "convolve2d-in2", "ndimage-weights", "ndimage-input"],
)
def test_numpy_scalars_are_0d_arrays(call: Callable[[Any], Any], scalar: Any) -> None:
    """Every NumPy scalar is a 0-d NumPy array to xconv: of the wrong rank here, so a
    ValueError about its dimensions, never a TypeError calling it a non-array
    (``np.float64`` and ``np.complex128`` subclass Python's float and complex, the
    others do not; the answer must not depend on that)."""
    with pytest.raises(ValueError, match=r"dimension|2-d|shape"):
        call(scalar)


@pytest.mark.parametrize("scalar", SCALARS, ids=SCALAR_IDS)
@pytest.mark.parametrize("name", ["convolve", "correlate", "fftconvolve", "oaconvolve"])
def test_signal_of_two_numpy_scalars_is_scipys(name: str, scalar: Any) -> None:
    """SciPy convolves two 0-d inputs to their product, of their dtype."""
    expected = getattr(scipy_signal, name)(scalar, scalar)
    got = getattr(signal, name)(scalar, scalar)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    assert np.shape(got) == np.shape(expected) == ()
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected))


# --------------------------------------------------------------------------- result shapes


@st.composite
def grad_cases(draw: st.DrawFn) -> Case:
    """Small 1-d / 2-d cases where kernels may exceed the input and the output may be
    empty: input sizes 0-6, kernels 1-5, strides 1-3, dilations 1-2."""
    rank = draw(st.integers(1, 2))

    def ints(lo: int, hi: int) -> tuple[int, ...]:
        return tuple(draw(st.lists(st.integers(lo, hi), min_size=rank, max_size=rank)))

    padding: str | tuple[tuple[int, int], ...]
    if draw(st.booleans()):
        padding = draw(st.sampled_from(["VALID", "SAME"]))
    else:
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(rank))
    c, o = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return Case(
        n=draw(st.integers(0, 2)),
        in_sizes=ints(0, 6),
        c=c,
        k=ints(1, 5),
        cg=c,
        o=o,
        strides=ints(1, 3),
        dilations=ints(1, 2),
        padding=padding,
    )


def _check_grads(xp: ModuleType, device: Any, case: Case, seed: int) -> None:
    """Both gradients have exactly the requested sizes and the scatter-loop values."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case.x_shape)
    w = rng.standard_normal(case.w_shape)
    dy = rng.standard_normal(case.out_shape)
    geometry = (case.strides, case.dilations, case.pads())
    padding = case.padding if isinstance(case.padding, str) else [list(p) for p in case.padding]
    wb, dyb, xb = make(xp, w, device), make(xp, dy, device), make(xp, x, device)
    # The forward call agrees with the formula that sized dy.
    fwd = xconv.convolution(xb, wb, case.strides, padding, dilations=case.dilations)
    assert tuple(fwd.shape) == case.out_shape

    dx = xconv.conv_backprop_input(
        list(case.x_shape), wb, dyb, case.strides, padding, dilations=case.dilations
    )
    assert tuple(dx.shape) == case.x_shape
    assert_close(xp, dx, reference_input_grad(case.x_shape, w, dy, *geometry), dtype=xp.float64)

    dw = xconv.conv_backprop_filter(
        xb, list(case.w_shape), dyb, case.strides, padding, dilations=case.dilations
    )
    assert tuple(dw.shape) == case.w_shape
    assert_close(xp, dw, reference_filter_grad(x, case.w_shape, dy, *geometry), dtype=xp.float64)

    dt = xconv.conv_transpose(
        dyb, wb, list(case.x_shape), case.strides, padding, dilations=case.dilations
    )
    assert tuple(dt.shape) == case.x_shape


@given(case=grad_cases(), seed=st.integers(0, 2**32 - 1))
def test_gradient_shapes_property(case: Case, seed: int) -> None:
    """On NumPy: gradients and transposes return exactly the requested sizes, with the
    naive gradients' values, over empty outputs, oversized kernels, strides, dilations."""
    _check_grads(np, None, case, seed)


FIXED_GRAD_CASES = [
    Case(1, (3,), 1, (5,), 1, 1, (2,), (1,), "VALID"),  # kernel > input, strided
    Case(2, (1, 1), 2, (1, 3), 2, 3, (1, 2), (1, 1), "VALID"),  # TensorFlow's example
    Case(1, (4, 3), 1, (3, 2), 1, 2, (3, 2), (2, 2), "VALID"),  # dilated kernel > input
    Case(2, (5,), 2, (2,), 2, 1, (3,), (1,), "VALID"),  # stride leaves a remainder
    Case(1, (0, 4), 1, (2, 2), 1, 1, (2, 1), (1, 1), ((1, 1), (0, 1))),  # empty axis, padded
    Case(0, (4, 4), 2, (3, 3), 2, 2, (2, 2), (1, 2), "SAME"),  # empty batch
]


@pytest.mark.parametrize("case", FIXED_GRAD_CASES, ids=lambda c: f"r{c.rank}-{c.in_sizes}-{c.k}")
def test_gradient_shapes_examples(xp: ModuleType, device: Any, case: Case) -> None:
    _check_grads(xp, device, case, 1)
