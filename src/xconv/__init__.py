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

from . import _api
from ._api import *  # noqa: F403  (the public functions; their list is _api.__all__)
from ._workspace import clear_workspace, workspace

__version__ = "0.1.0"

__all__ = ["__version__"]
__all__ += _api.__all__
__all__ += ["clear_workspace", "workspace"]
