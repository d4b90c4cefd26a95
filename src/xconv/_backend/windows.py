"""Sliding windows: every (strided, dilated) window of the spatial axes.

A read-only zero-copy view on NumPy, CuPy and torch (``as_strided``); strided slices
and ``stack`` elsewhere (array-api-strict, JAX, Dask), standard operations only.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from .._typing import Array, Namespace
from .arrays import device, zero_size
from .libraries import capabilities

__all__ = ["sliding_windows"]


def sliding_windows(
    x: Array,
    window: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    *,
    xp: Namespace,
) -> Array:
    """Every (strided, dilated) window of the spatial axes of ``x``.

    ``x`` is channels-last ``(N, *spatial, C)``; the result has shape
    ``(N, *out, *window, C)`` with ``out[i] = (spatial[i] - (window[i] - 1) * dilations[i]
    - 1) // strides[i] + 1`` (0 when the window does not fit). On NumPy, CuPy and torch it
    is a read-only zero-copy view (never written); elsewhere it is built with strided
    slices and ``stack``.
    """
    rank = len(window)
    sizes = x.shape[1 : rank + 1]
    out = tuple(
        max((n - (k - 1) * d - 1) // s + 1, 0) if n - (k - 1) * d - 1 >= 0 else 0
        for n, k, s, d in zip(sizes, window, strides, dilations)
    )
    shape = (x.shape[0], *out, *window, x.shape[-1])
    caps = capabilities(xp)
    if caps.strided_views:
        return _strided_view(caps.library, x, shape, strides, dilations)
    if 0 in out:  # no window fits: slicing would start out of bounds (array-api-strict refuses)
        return zero_size(shape, x.dtype, xp=xp, device=device(x))
    slices = []
    for offsets in itertools.product(*(range(k) for k in window)):
        index = tuple(
            slice(o * d, o * d + (n - 1) * s + 1 if n else o * d, s)
            for o, d, s, n in zip(offsets, dilations, strides, out)
        )
        slices.append(x[(slice(None), *index, slice(None))])
    stacked = xp.stack(slices, axis=rank + 1)  # (N, *out, K, C)
    return xp.reshape(stacked, shape)


def _strided_view(
    lib: str, x: Array, shape: tuple[int, ...], strides: Sequence[int], dilations: Sequence[int]
) -> Array:
    rank = len(strides)
    # torch counts strides in elements, NumPy and CuPy in bytes: the arithmetic is the same.
    elem = tuple(x.stride()) if lib == "torch" else tuple(x.strides)
    spatial = elem[1 : rank + 1]
    view_strides = (
        elem[0],
        *(e * s for e, s in zip(spatial, strides)),
        *(e * d for e, d in zip(spatial, dilations)),
        elem[-1],
    )
    if lib == "torch":
        import torch

        return torch.as_strided(x, shape, view_strides)
    if lib == "cupy":
        import cupy

        return cupy.lib.stride_tricks.as_strided(x, shape=shape, strides=view_strides)
    import numpy

    return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=view_strides, writeable=False)
