"""xconv.integrations.keras against Keras 3's own NumPy backend (which convolves with JAX).

Each adapter function is compared with the stock backend function it replaces, over
ranks, strides, dilations, paddings, data formats, groups and ``output_padding``;
then :func:`install`/:func:`uninstall`/:func:`use_xconv` are checked to route Keras's
ops and layers through xconv and back. Keras reads ``KERAS_BACKEND`` at its first
import, so it is set here before that; if Keras was already imported with another
backend the module is skipped (the NumPy backend cannot be selected any more).
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

if "keras" not in sys.modules:
    os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "numpy":
    pytest.skip(
        f"keras was imported with the {keras.backend.backend()!r} backend; "
        "these tests need KERAS_BACKEND=numpy at Keras's first import",
        allow_module_level=True,
    )

import xconv.integrations.keras as xk  # noqa: E402

NN = importlib.import_module("keras.src.backend.numpy.nn")
#: Keras's own functions, taken before any test can install the adapter.
STOCK: dict[str, Callable[..., Any]] = {name: getattr(NN, name) for name in xk.PATCHED}
FORMATS = ("channels_last", "channels_first")
RTOL = 1e-5


@pytest.fixture(autouse=True)
def _restore() -> Any:
    """Every test starts and ends with Keras's own functions in place."""
    xk.uninstall()
    yield
    xk.uninstall()
    assert all(getattr(NN, name) is STOCK[name] for name in xk.PATCHED)


def rng_for(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make_input(rng: np.random.Generator, spatial: tuple[int, ...], channels: int, fmt: str) -> Any:
    shape = (2, channels, *spatial) if fmt == "channels_first" else (2, *spatial, channels)
    return rng.standard_normal(shape).astype(np.float32)


def assert_matches(ours: Any, stock: Any) -> None:
    """Same shape and dtype; values within float32 tolerance of the output's scale."""
    assert isinstance(ours, np.ndarray)
    assert ours.shape == stock.shape
    assert ours.dtype == stock.dtype
    scale = float(np.max(np.abs(stock), initial=1.0))
    np.testing.assert_allclose(ours, stock, rtol=RTOL, atol=RTOL * scale)


SPATIAL = {1: (9,), 2: (7, 8), 3: (5, 6, 4)}
KERNEL = {1: (3,), 2: (3, 2), 3: (2, 3, 2)}


@pytest.mark.parametrize(
    ("rank", "strides", "padding", "data_format", "dilation_rate"),
    list(itertools.product((1, 2, 3), (1, 2), ("valid", "same"), FORMATS, (1, 2))),
)
def test_conv(rank: int, strides: int, padding: str, data_format: str, dilation_rate: int) -> None:
    rng = rng_for("conv", rank, strides, padding, data_format, dilation_rate)
    x = make_input(rng, SPATIAL[rank], 4, data_format)
    w = rng.standard_normal((*KERNEL[rank], 4, 5)).astype(np.float32)
    args = (x, w, strides, padding, data_format, dilation_rate)
    assert_matches(xk.conv(*args), STOCK["conv"](*args))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("groups", [2, 4])
def test_conv_grouped_per_axis(groups: int, data_format: str) -> None:
    """Groups inferred from the kernel; strides and dilations given per axis."""
    rng = rng_for("grouped", groups, data_format)
    x = make_input(rng, (9, 8), 8, data_format)
    w = rng.standard_normal((3, 2, 8 // groups, 8)).astype(np.float32)
    args = (x, w, (2, 1), "same", data_format, (1, 2))
    assert_matches(xk.conv(*args), STOCK["conv"](*args))


@pytest.mark.parametrize(
    ("rank", "strides", "padding", "data_format", "dilation_rate"),
    list(itertools.product((1, 2), (1, 2), ("valid", "same"), FORMATS, (1, 2))),
)
def test_depthwise_conv(
    rank: int, strides: int, padding: str, data_format: str, dilation_rate: int
) -> None:
    rng = rng_for("depthwise", rank, strides, padding, data_format, dilation_rate)
    x = make_input(rng, SPATIAL[rank], 3, data_format)
    w = rng.standard_normal((*KERNEL[rank], 3, 2)).astype(np.float32)
    args = (x, w, strides, padding, data_format, dilation_rate)
    assert_matches(xk.depthwise_conv(*args), STOCK["depthwise_conv"](*args))


@pytest.mark.parametrize(
    ("rank", "strides", "padding", "data_format", "dilation_rate"),
    list(itertools.product((1, 2), (1, 2), ("valid", "same"), FORMATS, (1, 2))),
)
def test_separable_conv(
    rank: int, strides: int, padding: str, data_format: str, dilation_rate: int
) -> None:
    rng = rng_for("separable", rank, strides, padding, data_format, dilation_rate)
    x = make_input(rng, SPATIAL[rank], 3, data_format)
    dw = rng.standard_normal((*KERNEL[rank], 3, 2)).astype(np.float32)
    pw = rng.standard_normal((*(1,) * rank, 6, 4)).astype(np.float32)
    args = (x, dw, pw, strides, padding, data_format, dilation_rate)
    assert_matches(xk.separable_conv(*args), STOCK["separable_conv"](*args))


TRANSPOSE_CASES = [
    (rank, strides, padding, output_padding, data_format, dilation_rate)
    for rank, strides, padding, output_padding, data_format, dilation_rate in itertools.product(
        (1, 2, 3), (1, 2, 3), ("valid", "same"), (None, 0, 1, 2), FORMATS, (1, 2)
    )
    # Keras's layers take output_padding < strides; rank 3 keeps to a sample.
    if (output_padding is None or output_padding < strides)
    and (rank < 3 or (data_format == "channels_last" and dilation_rate == 1))
]


@pytest.mark.parametrize(
    ("rank", "strides", "padding", "output_padding", "data_format", "dilation_rate"),
    TRANSPOSE_CASES,
)
def test_conv_transpose(
    rank: int,
    strides: int,
    padding: str,
    output_padding: int | None,
    data_format: str,
    dilation_rate: int,
) -> None:
    rng = rng_for("transpose", rank, strides, padding, output_padding, data_format, dilation_rate)
    x = make_input(rng, SPATIAL[rank], 4, data_format)
    w = rng.standard_normal((*KERNEL[rank], 3, 4)).astype(np.float32)
    args = (x, w, strides, padding, output_padding, data_format, dilation_rate)
    assert_matches(xk.conv_transpose(*args), STOCK["conv_transpose"](*args))


@pytest.mark.parametrize("output_padding", [(0, 1), (1, 0), (2, 3)])
def test_conv_transpose_per_axis(output_padding: tuple[int, int]) -> None:
    """Per-axis strides and output_padding, including output_padding >= strides
    (the ops accept it; the output's last rows are then past every window: zeros)."""
    rng = rng_for("transpose-axis", output_padding)
    x = make_input(rng, (4, 5), 2, "channels_last")
    w = rng.standard_normal((3, 4, 3, 2)).astype(np.float32)
    for padding in ("valid", "same"):
        args = (x, w, (2, 3), padding, output_padding, "channels_last", 1)
        assert_matches(xk.conv_transpose(*args), STOCK["conv_transpose"](*args))


def test_float64_follows_keras_dtype_rules() -> None:
    """float64 arrays: the result has Keras's result dtype (which, as for every NumPy-
    backend op, is float32 unless Keras's floatx says otherwise), as the stock's has."""
    rng = rng_for("float64")
    x = rng.standard_normal((2, 6, 6, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    ours = xk.conv(x, w, 1, "same", "channels_last", 1)
    assert ours.dtype == keras.backend.result_type(x.dtype, w.dtype)
    # The stock conv is JAX's, whose result follows JAX's 64-bit switch, which other
    # tests of this process turn on: compare with it as Keras sets it up (off).
    jax = pytest.importorskip("jax")
    x64 = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        stock = STOCK["conv"](x, w, 1, "same", "channels_last", 1)
    finally:
        jax.config.update("jax_enable_x64", x64)
    assert_matches(ours, stock)


def test_integer_conv_is_exact() -> None:
    x = np.arange(2 * 6 * 6 * 2, dtype=np.int32).reshape(2, 6, 6, 2)
    w = np.arange(3 * 3 * 2 * 3, dtype=np.int32).reshape(3, 3, 2, 3) - 9
    ours = xk.conv(x, w, 2, "same", "channels_last", 1)
    stock = STOCK["conv"](x, w, 2, "same", "channels_last", 1)
    assert ours.dtype == stock.dtype == np.int32
    np.testing.assert_array_equal(ours, stock)


def test_errors_as_keras_raises_them() -> None:
    x = np.ones((1, 4, 4, 3), np.float32)
    # An empty output from a non-empty input is refused, as Keras's backend does.
    with pytest.raises(ValueError, match="empty output"):
        xk.conv(x, np.ones((5, 5, 3, 2), np.float32))
    with pytest.raises(ValueError, match="empty output"):
        STOCK["conv"](x, np.ones((5, 5, 3, 2), np.float32))
    # Keras's own check of the depthwise kernel's channels, with its message.
    with pytest.raises(ValueError, match="input channels must match"):
        xk.depthwise_conv(x, np.ones((2, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match="input channels must match"):
        xk.conv_transpose(x, np.ones((2, 2, 1, 2), np.float32))
    with pytest.raises(ValueError, match="padding"):
        xk.conv(x, np.ones((2, 2, 3, 2), np.float32), padding="full")
    with pytest.raises(ValueError, match="data_format"):
        xk.conv(x, np.ones((2, 2, 3, 2), np.float32), data_format="NHWC")


def test_install_routes_keras_ops_through_xconv() -> None:
    rng = rng_for("install")
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    stock = keras.ops.conv(x, w, padding="same")
    xk.reset_call_counts()
    xk.install()
    xk.install()  # idempotent: uninstall still restores Keras's own functions
    assert xk.is_installed()
    assert all(getattr(NN, name) is getattr(xk, name) for name in xk.PATCHED)
    assert_matches(keras.ops.conv(x, w, padding="same"), stock)
    assert xk.call_counts()["conv"] == 1
    xk.uninstall()
    assert not xk.is_installed()
    keras.ops.conv(x, w, padding="same")
    assert xk.call_counts()["conv"] == 1


def test_use_xconv_restores_on_error_and_nests() -> None:
    x = np.ones((1, 5, 2), np.float32)
    w = np.ones((2, 2, 3), np.float32)

    def fail_inside() -> None:
        with xk.use_xconv():
            assert NN.conv is xk.conv
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_inside()
    assert NN.conv is STOCK["conv"]
    xk.install()
    with xk.use_xconv():
        keras.ops.conv(x, w)
    assert xk.is_installed()  # installed before the block: stays installed


@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"
)
def test_layers_model_matches_stock() -> None:
    """A model of every convolution layer kind, stock backend vs the adapter."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(6, 3, strides=2, padding="same"),
            keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
            keras.layers.SeparableConv2D(5, 3, dilation_rate=2, padding="same"),
            keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1),
            keras.layers.Reshape((-1, 4)),
            keras.layers.Conv1D(3, 5, padding="causal"),
            keras.layers.Conv1DTranspose(2, 4, strides=3),
        ]
    )
    x = rng_for("model").standard_normal((3, 12, 12, 3)).astype(np.float32)
    stock = model(x)
    xk.reset_call_counts()
    with xk.use_xconv():
        ours = model(x)
    assert_matches(np.asarray(ours), np.asarray(stock))
    assert xk.call_counts() == {
        "conv": 2,
        "depthwise_conv": 1,
        "separable_conv": 1,
        "conv_transpose": 2,
    }
