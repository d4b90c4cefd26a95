"""xconv as the convolution of Keras 3's NumPy backend.

    python examples/keras_numpy_backend.py

A tiny Keras model with every convolution layer kind (Conv2D, DepthwiseConv2D,
SeparableConv2D, Conv2DTranspose, Conv1D) runs once on Keras's stock NumPy backend
(which convolves with JAX) and once with :mod:`xconv.integrations.keras` switched on;
the two outputs must agree to float32 precision. Without Keras it prints one line and
exits 0.
"""

from __future__ import annotations

import os
import sys

import numpy as np

#: Relative tolerance of the comparison (float32), against the output's largest value.
RTOL = 1e-5


def main() -> int:
    os.environ.setdefault("KERAS_BACKEND", "numpy")  # before Keras's first import
    try:
        import keras
    except ImportError as error:
        print(f"keras is not installed ({error}): skipped the Keras example")
        return 0
    if keras.backend.backend() != "numpy":
        print(f"keras runs on {keras.backend.backend()!r}, not numpy: skipped the Keras example")
        return 0
    import xconv.integrations.keras as xk

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
            keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
            keras.layers.Reshape((16 * 16, 4)),
            keras.layers.Conv1D(2, 5, strides=4),
        ]
    )
    x = np.random.default_rng(0).standard_normal((2, 16, 16, 3)).astype(np.float32)

    stock = np.asarray(model(x))
    xk.reset_call_counts()
    with xk.use_xconv():
        ours = np.asarray(model(x))
    calls = xk.call_counts()

    diff = float(np.max(np.abs(ours - stock)))
    scale = float(np.max(np.abs(stock)))
    print(f"output {ours.shape} {ours.dtype}; xconv calls {calls}")
    print(f"max difference stock vs xconv: {diff:.3g} (largest value {scale:.3g})")
    assert ours.shape == stock.shape
    assert ours.dtype == stock.dtype
    assert diff <= RTOL * scale, f"xconv differs from Keras's stock backend by {diff}"
    assert all(calls.values()), f"not every op went through xconv: {calls}"
    print("xconv agrees with Keras's stock NumPy backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
