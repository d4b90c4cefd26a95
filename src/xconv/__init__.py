"""xconv: TensorFlow's convolution family written once for every Array API library.

The same functions take NumPy, CuPy, PyTorch, JAX, Dask or array-api-strict arrays and
return an array of the same library on the same device, with TensorFlow's semantics.

Examples
--------
>>> import numpy as np
>>> import xconv
>>> x = np.ones((1, 4, 4, 1))
>>> xconv.conv2d(x, np.ones((2, 2, 1, 1)), strides=2, padding="VALID")[0, :, :, 0]
array([[4., 4.],
       [4., 4.]])
"""

from ._api import (
    conv1d,
    conv1d_transpose,
    conv2d,
    conv2d_backprop_filter,
    conv2d_backprop_input,
    conv2d_transpose,
    conv3d,
    conv3d_transpose,
    conv_backprop_filter,
    conv_backprop_input,
    conv_transpose,
    convolution,
    depthwise_conv2d,
    depthwise_conv2d_backprop_filter,
    depthwise_conv2d_backprop_input,
    separable_conv2d,
)
from ._typing import ConvOptions

__version__ = "0.1.0"

__all__ = [
    "ConvOptions",
    "__version__",
    "conv1d",
    "conv1d_transpose",
    "conv2d",
    "conv2d_backprop_filter",
    "conv2d_backprop_input",
    "conv2d_transpose",
    "conv3d",
    "conv3d_transpose",
    "conv_backprop_filter",
    "conv_backprop_input",
    "conv_transpose",
    "convolution",
    "depthwise_conv2d",
    "depthwise_conv2d_backprop_filter",
    "depthwise_conv2d_backprop_input",
    "separable_conv2d",
]
