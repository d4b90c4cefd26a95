"""``method="einsum"``: sliding windows of the padded input contracted with the filters.

The readable baseline of the direct methods: one
:func:`~xconv._backend.sliding_windows` view and one
:func:`~xconv._backend.contract`. It is the same code for every rank, every group count
and every backend.
"""

from __future__ import annotations

import math

from .._backend import contract, sliding_windows
from .._spec import ConvSpec
from .._typing import Array, Namespace, Shape

__all__ = ["run", "workspace_bytes"]


def run(x: Array, w: Array, spec: ConvSpec, *, xp: Namespace) -> Array:
    """VALID convolution of padded canonical ``x (N, *S, C)`` with ``w (*k, C/g, O)``."""
    windows = sliding_windows(x, w.shape[:-2], spec.strides, spec.dilations, xp=xp)
    return contract(windows, w, spec.groups, xp=xp)


def workspace_bytes(
    x_shape: Shape, w_shape: Shape, spec: ConvSpec, itemsize: int, *, accelerator: bool = False
) -> int:
    """Bytes of the patch matrix the contraction materialises (N * out * K * C)."""
    out = spec.output_sizes(x_shape[1:-1], w_shape[:-2])
    return x_shape[0] * math.prod(out) * math.prod(w_shape[:-2]) * x_shape[-1] * itemsize
