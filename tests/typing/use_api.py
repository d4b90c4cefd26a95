"""A typed user script: every public function of xconv, xconv.signal and xconv.ndimage.

``mypy --strict tests/typing`` must accept it as it stands (tests/test_typing.py also
checks that mypy refuses misspelt keywords and unknown ``Literal`` values in copies
of it, and runs it). The calls are real: ``python tests/typing/use_api.py`` runs them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import xconv
from xconv import ndimage, signal

Float64 = npt.NDArray[np.float64]


def tensorflow_style() -> list[tuple[int, ...]]:
    """The TensorFlow-style functions, positional and keyword forms, with the extras."""
    x1: Float64 = np.ones((2, 8, 3))
    w1: Float64 = np.ones((3, 3, 4))
    x2: Float64 = np.ones((2, 8, 8, 4))
    w2: Float64 = np.ones((3, 3, 4, 6))
    x3: Float64 = np.ones((1, 4, 4, 4, 2))
    w3: Float64 = np.ones((2, 2, 2, 2, 3))
    depthwise: Float64 = np.ones((3, 3, 4, 2))
    pointwise: Float64 = np.ones((1, 1, 8, 5))
    dy2 = xconv.conv2d(x2, w2, 1, "SAME")
    results = [
        xconv.conv1d(x1, w1, stride=2, padding="SAME", data_format="NWC", name="c1"),
        xconv.conv2d(x2, w2, strides=1, padding="SAME", method="gemm"),
        xconv.conv2d(
            x2,
            w2,
            [1, 2],
            [[1, 1], [0, 2]],
            "NHWC",
            2,
            "c2",
            padding_mode="reflect",
            memory_budget=1 << 24,
            precision="float32",
        ),
        xconv.conv3d(x3, w3, strides=2, padding="VALID", padding_mode="circular"),
        xconv.convolution(x2, w2, padding="SAME", method="auto", precision=None),
        xconv.depthwise_conv2d(x2, depthwise, 1, "SAME", dilations=2),
        xconv.separable_conv2d(x2, depthwise, pointwise, 1, "SAME", name="sep"),
        xconv.conv_transpose(dy2, w2, x2.shape, strides=1, padding="SAME", data_format=None),
        xconv.conv1d_transpose(np.ones((2, 4, 4)), w1, [2, 8, 3], 2),
        xconv.conv2d_transpose(dy2, np.ones((3, 3, 4, 6)), [2, 8, 8, 4], 1, "SAME"),
        xconv.conv3d_transpose(np.ones((1, 2, 2, 2, 3)), w3, [1, 4, 4, 4, 2], 2, "VALID"),
        xconv.conv2d_backprop_input(x2.shape, w2, dy2, 1, "SAME", method="einsum"),
        xconv.conv_backprop_input([2, 8, 8, 4], w2, dy2, strides=1, padding="SAME"),
        xconv.conv2d_backprop_filter(x2, w2.shape, dy2, 1, "SAME", name="dw"),
        xconv.conv_backprop_filter(x2, [3, 3, 4, 6], dy2, 1, "SAME", dilations=1),
        xconv.depthwise_conv2d_backprop_input(
            [2, 8, 8, 4], depthwise, np.ones((2, 8, 8, 8)), 1, "SAME"
        ),
        xconv.depthwise_conv2d_backprop_filter(
            x2, [3, 3, 4, 2], np.ones((2, 8, 8, 8)), 1, "SAME", precision="native"
        ),
    ]
    return [tuple(r.shape) for r in results]


def scipy_style() -> list[tuple[int, ...]]:
    """:mod:`xconv.signal` and :mod:`xconv.ndimage` with SciPy's arguments."""
    a: Float64 = np.arange(12.0).reshape(3, 4)
    k: Float64 = np.ones((2, 2))
    row: Float64 = np.ones(16)
    method = signal.choose_conv_method(a, k, mode="same")
    measured = signal.choose_conv_method(a, k, "full", measure=True)
    assert method in ("direct", "fft")
    assert isinstance(measured, tuple)
    results = [
        signal.convolve(a, k, mode="same", method="direct"),
        signal.correlate(a, k, "valid", "fft"),
        signal.fftconvolve(a, k, mode="full", axes=(0, 1)),
        signal.oaconvolve(row, row[:3], "same", axes=0),
        signal.convolve2d(a, k, mode="same", boundary="wrap", fillvalue=0),
        signal.correlate2d(a, k, "full", "symm"),
        ndimage.correlate(a, k, mode="nearest", cval=0.0, origin=(0, -1), axes=(0, 1)),
        ndimage.convolve(a, k, output=np.float32, mode="constant", cval=1.5),
        ndimage.correlate1d(a, [1.0, 2.0, 1.0], axis=0, mode="mirror", origin=0),
        ndimage.convolve1d(a, np.ones(3), -1, None, "grid-wrap"),
    ]
    return [tuple(r.shape) for r in results]


def main() -> None:
    """Run every call once."""
    print(tensorflow_style(), scipy_style())


if __name__ == "__main__":
    main()
