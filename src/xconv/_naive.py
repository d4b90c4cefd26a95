"""The classic naive loop for ``conv2d``: the demo's reference and a benchmark baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["naive_conv2d"]


def naive_conv2d(
    x: npt.NDArray[Any], w: npt.NDArray[Any], stride: int, pad: int
) -> npt.NDArray[Any]:
    """The classic answer to "tf.nn.conv2d in NumPy": a loop over pixels and kernels.

    ``x`` is NHWC, ``w`` is HWIO; symmetric zero padding ``pad`` with ``np.pad``.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> naive_conv2d(x, np.ones((2, 2, 1, 1)), stride=2, pad=0)[0, :, :, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, oh, ow, o), dtype=np.result_type(x, w))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                patch = xp[b, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
                for k in range(o):
                    out[b, i, j, k] = np.sum(patch * w[:, :, :, k])
    return out
