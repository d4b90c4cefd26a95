"""TensorFlow's argument forms: extra leading batch dimensions and spatial-only sizes.

``tf.nn.conv1d/conv2d/conv3d/convolution`` take inputs of rank >= N + 2,
``batch_shape + [*spatial, channels]`` (``batch_shape + [channels, *spatial]`` when
channels come first), and return ``batch_shape + [*out, out_channels]``; xconv
extends the same rule to every function of the family (depthwise, separable,
transposes and both gradients, where ``output_shape`` / ``input_sizes`` carry the
extra dimensions too). ``Conv2DBackpropInput`` also takes ``input_sizes`` of only the
N spatial sizes, batch and channels coming from ``out_backprop`` and ``filters``.

Each result is compared with the same call on the batch flattened into one axis and
with the naive reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import xconv
from _helpers import assert_close, make, to_numpy
from _reference import reference_conv, reference_depthwise, reference_separable, same_pads
from _reference_grad import reference_filter_grad, reference_input_grad

BATCH = (2, 3)  # the leading batch dimensions; flattened, a batch of 6
FLAT = math.prod(BATCH)


def _unflatten(a: np.ndarray) -> np.ndarray:
    """(6, ...) -> (2, 3, ...)."""
    return a.reshape(*BATCH, *a.shape[1:])


def _flat(xp: ModuleType, a: Any) -> Any:
    """(2, 3, ...) -> (6, ...) in the backend."""
    return xp.reshape(a, (FLAT, *a.shape[len(BATCH) :]))


def _check(xp: ModuleType, got: Any, flat_call: Any, expected_flat: np.ndarray) -> None:
    """``got`` has the extra batch dimensions, equals the flattened call reshaped and
    the reference."""
    expected = _unflatten(expected_flat)
    assert tuple(got.shape) == expected.shape
    np.testing.assert_allclose(
        to_numpy(got), _unflatten(to_numpy(flat_call)), rtol=1e-12, atol=1e-12
    )
    assert_close(xp, got, expected, dtype=xp.float64)


# --------------------------------------------------------------------------- forward

#: name -> (spatial rank, filter shape, call(x, w, **kw)); input channels 2, SAME, stride 1.
FORWARD: dict[str, tuple[int, tuple[int, ...], Callable[..., Any]]] = {
    "conv1d": (1, (3, 2, 4), lambda x, w: xconv.conv1d(x, w, 1, "SAME")),
    "conv2d": (2, (3, 2, 2, 4), lambda x, w: xconv.conv2d(x, w, 1, "SAME")),
    "conv3d": (3, (2, 3, 2, 2, 4), lambda x, w: xconv.conv3d(x, w, 1, "SAME")),
    "convolution-1d": (1, (3, 2, 4), lambda x, w: xconv.convolution(x, w, padding="SAME")),
    "convolution-2d": (2, (3, 2, 2, 4), lambda x, w: xconv.convolution(x, w, padding="SAME")),
    "depthwise_conv2d": (
        2,
        (3, 2, 2, 2),
        lambda x, w: xconv.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME"),
    ),
}
SPATIAL = {1: (7,), 2: (5, 4), 3: (4, 3, 4)}


@pytest.mark.parametrize("name", list(FORWARD))
def test_forward_extra_batch_dims(
    xp: ModuleType, device: Any, rng: np.random.Generator, name: str
) -> None:
    rank, w_shape, call = FORWARD[name]
    sizes = SPATIAL[rank]
    x = rng.standard_normal((*BATCH, *sizes, 2))
    w = rng.standard_normal(w_shape)
    ones = (1,) * rank
    pads = same_pads(sizes, w_shape[:rank], ones, ones)
    x_flat = x.reshape(FLAT, *sizes, 2)
    if name == "depthwise_conv2d":
        expected = reference_depthwise(x_flat, w, ones, ones, pads)
    else:
        expected = reference_conv(x_flat, w, ones, ones, pads)
    xb, wb = make(xp, x, device), make(xp, w, device)
    _check(xp, call(xb, wb), call(_flat(xp, xb), wb), expected)


def test_conv1d_documented_example(xp: ModuleType, device: Any) -> None:
    """Input (2, 1, 4, 1), filter (3, 1, 1): the result is (2, 1, 2, 1), as in TF."""
    x = np.arange(8.0).reshape(2, 1, 4, 1)
    w = np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1)
    expected = reference_conv(x.reshape(2, 4, 1), w, (1,), (1,), [(0, 0)]).reshape(2, 1, 2, 1)
    got = xconv.conv1d(make(xp, x, device), make(xp, w, device), 1, "VALID")
    assert_close(xp, got, expected, dtype=xp.float64)


def test_separable_extra_batch_dims(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((*BATCH, 5, 4, 2))
    dw, pw = rng.standard_normal((3, 3, 2, 2)), rng.standard_normal((1, 1, 4, 3))
    pads = same_pads((5, 4), (3, 3), (1, 1), (1, 1))
    expected = reference_separable(x.reshape(FLAT, 5, 4, 2), dw, pw, (1, 1), (1, 1), pads)
    xb, dwb, pwb = make(xp, x, device), make(xp, dw, device), make(xp, pw, device)

    def call(a: Any) -> Any:
        return xconv.separable_conv2d(a, dwb, pwb, [1, 1, 1, 1], "SAME")

    _check(xp, call(xb), call(_flat(xp, xb)), expected)


@pytest.mark.parametrize("rank", [1, 2])
def test_channels_first_extra_batch_dims(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int
) -> None:
    """``batch_shape + [channels, *spatial]`` with NCW / NCHW."""
    sizes = SPATIAL[rank]
    x_last = rng.standard_normal((FLAT, *sizes, 2))
    w = rng.standard_normal((*(3,) * rank, 2, 4))
    valid = [(0, 0)] * rank
    ref = reference_conv(x_last, w, (1,) * rank, (1,) * rank, valid)
    expected = np.moveaxis(ref, -1, 1)
    x_first = _unflatten(np.moveaxis(x_last, -1, 1))
    fmt = {1: "NCW", 2: "NCHW"}[rank]
    xb, wb = make(xp, x_first, device), make(xp, w, device)
    fn = {1: xconv.conv1d, 2: xconv.conv2d}[rank]
    got = fn(xb, wb, 1, "VALID", data_format=fmt)
    _check(xp, got, fn(_flat(xp, xb), wb, 1, "VALID", data_format=fmt), expected)
    got_n = xconv.convolution(xb, wb, 1, "VALID", data_format=fmt)
    assert_close(xp, got_n, _unflatten(expected), dtype=xp.float64)


# --------------------------------------------------------------------------- gradients


def _grad_arrays(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x (6, 7, 6, 2), w (3, 3, 2, 4), dy of the stride-2 SAME forward, both gradients."""
    x = rng.standard_normal((FLAT, 7, 6, 2))
    w = rng.standard_normal((3, 3, 2, 4))
    pads = same_pads((7, 6), (3, 3), (2, 2), (1, 1))
    dy = rng.standard_normal(reference_conv(x, w, (2, 2), (1, 1), pads).shape)
    dx = reference_input_grad(x.shape, w, dy, (2, 2), (1, 1), pads)
    dw = reference_filter_grad(x, w.shape, dy, (2, 2), (1, 1), pads)
    return x, w, dy, dx, dw


#: name -> call(w, dy, sizes) giving the input gradient of a stride-2 SAME conv2d.
INPUT_GRADS: dict[str, Callable[[Any, Any, list[int]], Any]] = {
    "conv2d_backprop_input": lambda w, dy, s: xconv.conv2d_backprop_input(s, w, dy, 2, "SAME"),
    "conv_backprop_input": lambda w, dy, s: xconv.conv_backprop_input(s, w, dy, 2, "SAME"),
    "conv2d_transpose": lambda w, dy, s: xconv.conv2d_transpose(dy, w, s, 2, "SAME"),
    "conv_transpose": lambda w, dy, s: xconv.conv_transpose(dy, w, s, 2, "SAME"),
}


@pytest.mark.parametrize("name", list(INPUT_GRADS))
def test_input_grads_extra_batch_dims(
    xp: ModuleType, device: Any, rng: np.random.Generator, name: str
) -> None:
    """``out_backprop`` and ``input_sizes`` / ``output_shape`` both carry the extra
    batch dimensions."""
    _, w, dy, dx, _ = _grad_arrays(rng)
    call = INPUT_GRADS[name]
    wb, dyb = make(xp, w, device), make(xp, _unflatten(dy), device)
    got = call(wb, dyb, [*BATCH, 7, 6, 2])
    _check(xp, got, call(wb, _flat(xp, dyb), [FLAT, 7, 6, 2]), dx)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_fixed_rank_transpose_extra_batch_dims(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int
) -> None:
    sizes = SPATIAL[rank]
    ones = (1,) * rank
    x = rng.standard_normal((FLAT, *sizes, 2))
    w = rng.standard_normal((*(2,) * rank, 2, 3))
    pads = same_pads(sizes, (2,) * rank, ones, ones)
    dy = rng.standard_normal(reference_conv(x, w, ones, ones, pads).shape)
    dx = reference_input_grad(x.shape, w, dy, ones, ones, pads)
    fn = {1: xconv.conv1d_transpose, 2: xconv.conv2d_transpose, 3: xconv.conv3d_transpose}[rank]
    wb, dyb = make(xp, w, device), make(xp, _unflatten(dy), device)
    got = fn(dyb, wb, [*BATCH, *sizes, 2], 1, "SAME")
    _check(xp, got, fn(_flat(xp, dyb), wb, [FLAT, *sizes, 2], 1, "SAME"), dx)


@pytest.mark.parametrize("name", ["conv2d_backprop_filter", "conv_backprop_filter"])
def test_filter_grad_extra_batch_dims(
    xp: ModuleType, device: Any, rng: np.random.Generator, name: str
) -> None:
    """The filter gradient sums over every batch dimension."""
    x, w, dy, _, dw = _grad_arrays(rng)
    fn = getattr(xconv, name)
    xb, dyb = make(xp, _unflatten(x), device), make(xp, _unflatten(dy), device)
    got = fn(xb, list(w.shape), dyb, 2, "SAME")
    flat = fn(_flat(xp, xb), list(w.shape), _flat(xp, dyb), 2, "SAME")
    np.testing.assert_allclose(to_numpy(got), to_numpy(flat), rtol=1e-12, atol=1e-12)
    assert_close(xp, got, dw, dtype=xp.float64)


def test_depthwise_grads_extra_batch_dims(
    xp: ModuleType, device: Any, rng: np.random.Generator
) -> None:
    x = rng.standard_normal((FLAT, 5, 4, 2))
    w = rng.standard_normal((3, 3, 2, 2))
    pads = same_pads((5, 4), (3, 3), (1, 1), (1, 1))
    dy = rng.standard_normal(reference_depthwise(x, w, (1, 1), (1, 1), pads).shape)
    # depthwise = grouped conv with filters (3, 3, 1, C * M): the grouped reference
    w_grouped = w.reshape(3, 3, 1, 4)
    dx = reference_input_grad(x.shape, w_grouped, dy, (1, 1), (1, 1), pads)
    dwg = reference_filter_grad(x, w_grouped.shape, dy, (1, 1), (1, 1), pads)
    xb, wb = make(xp, _unflatten(x), device), make(xp, w, device)
    dyb = make(xp, _unflatten(dy), device)
    strides = [1, 1, 1, 1]
    got = xconv.depthwise_conv2d_backprop_input([*BATCH, 5, 4, 2], wb, dyb, strides, "SAME")
    flat = xconv.depthwise_conv2d_backprop_input(
        [FLAT, 5, 4, 2], wb, _flat(xp, dyb), strides, "SAME"
    )
    _check(xp, got, flat, dx)
    got_w = xconv.depthwise_conv2d_backprop_filter(xb, [3, 3, 2, 2], dyb, strides, "SAME")
    assert_close(xp, got_w, dwg.reshape(3, 3, 2, 2), dtype=xp.float64)


# --------------------------------------------------------------------------- spatial-only sizes


@pytest.mark.parametrize("name", ["conv2d_backprop_input", "conv_backprop_input"])
@pytest.mark.parametrize("channels_first", [False, True], ids=["NHWC", "NCHW"])
def test_input_sizes_spatial_only(
    xp: ModuleType, device: Any, rng: np.random.Generator, name: str, channels_first: bool
) -> None:
    """``input_sizes=[5, 5]``: batch from ``out_backprop``, channels from ``filters``;
    the same as ``[1, 5, 5, 2]`` (``[1, 2, 5, 5]`` channels first)."""
    w = rng.standard_normal((3, 3, 2, 4))
    dy = rng.standard_normal((1, 3, 3, 4))
    dx = reference_input_grad((1, 5, 5, 2), w, dy, (1, 1), (1, 1), [(0, 0), (0, 0)])
    fmt, full = "NHWC", [1, 5, 5, 2]
    if channels_first:
        dy, dx, fmt, full = np.moveaxis(dy, -1, 1), np.moveaxis(dx, -1, 1), "NCHW", [1, 2, 5, 5]
    fn = getattr(xconv, name)
    wb, dyb = make(xp, w, device), make(xp, dy, device)
    got = fn([5, 5], wb, dyb, 1, "VALID", data_format=fmt)
    assert_close(xp, got, dx, dtype=xp.float64)
    whole = fn(full, wb, dyb, 1, "VALID", data_format=fmt)
    np.testing.assert_array_equal(to_numpy(got), to_numpy(whole))


def test_input_sizes_spatial_only_1d(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    """The N-d form at rank 1: ``input_sizes=[9]`` with a batch of 2, stride 2."""
    w = rng.standard_normal((3, 2, 3))
    pads = same_pads((9,), (3,), (2,), (1,))
    dy = rng.standard_normal((2, 5, 3))
    dx = reference_input_grad((2, 9, 2), w, dy, (2,), (1,), pads)
    got = xconv.conv_backprop_input([9], make(xp, w, device), make(xp, dy, device), 2, "SAME")
    assert_close(xp, got, dx, dtype=xp.float64)
