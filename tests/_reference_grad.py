"""Naive gradients of the reference convolution, derived by hand (scatter loops).

For ``y[n, p, o] = sum_{q, c} xpad[n, p * s + q * d, g * Cg + c] * w[q, c, o]`` the
chain rule gives, position by position:

- ``dxpad[n, p * s + q * d, g * Cg + c] += dy[n, p, o] * w[q, c, o]``, then the padding
  is cut off;
- ``dw[q, c, o] += sum_n xpad[n, p * s + q * d, g * Cg + c] * dy[n, p, o]``.

Loops walk output positions and kernel offsets with :func:`itertools.product`;
nothing is shared with xconv's transposed-convolution construction.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

NDArray = npt.NDArray[np.float64]
Ints = Sequence[int]
Pairs = Sequence[tuple[int, int]]


def _groups(c: int, w_shape: Sequence[int]) -> tuple[int, int, int]:
    cg, o = w_shape[-2], w_shape[-1]
    groups = c // cg
    return groups, cg, o // groups


def reference_input_grad(
    x_shape: Ints, w: npt.ArrayLike, dy: npt.ArrayLike, strides: Ints, dilations: Ints, pads: Pairs
) -> NDArray:
    """Gradient w.r.t. the canonical input ``(N, *S, C)`` of ``reference_conv``."""
    wa, dya = np.asarray(w, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    rank = len(x_shape) - 2
    n, c = x_shape[0], x_shape[-1]
    groups, cg, og = _groups(c, wa.shape)
    padded = [s + lo + hi for s, (lo, hi) in zip(x_shape[1:-1], pads)]
    dxpad = np.zeros((n, *padded, c))
    for pos in itertools.product(*map(range, dya.shape[1:-1])):
        for off in itertools.product(*map(range, wa.shape[:rank])):
            at = tuple(p * s + q * d for p, q, s, d in zip(pos, off, strides, dilations))
            for g in range(groups):
                grad_out = dya[(slice(None), *pos, slice(g * og, (g + 1) * og))]  # (N, Og)
                wg = wa[off][:, g * og : (g + 1) * og]  # (Cg, Og)
                dxpad[(slice(None), *at, slice(g * cg, (g + 1) * cg))] += grad_out @ wg.T
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[1:-1], pads))
    return dxpad[(slice(None), *crop, slice(None))]


def reference_filter_grad(
    x: npt.ArrayLike, w_shape: Ints, dy: npt.ArrayLike, strides: Ints, dilations: Ints, pads: Pairs
) -> NDArray:
    """Gradient w.r.t. the filters ``(*k, C/g, O)`` of ``reference_conv``."""
    xa, dya = np.asarray(x, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    rank = xa.ndim - 2
    groups, cg, og = _groups(xa.shape[-1], w_shape)
    xpad = np.pad(xa, [(0, 0), *pads, (0, 0)])
    dw = np.zeros(tuple(w_shape))
    for pos in itertools.product(*map(range, dya.shape[1:-1])):
        for off in itertools.product(*map(range, w_shape[:rank])):
            at = tuple(p * s + q * d for p, q, s, d in zip(pos, off, strides, dilations))
            for g in range(groups):
                row = xpad[(slice(None), *at, slice(g * cg, (g + 1) * cg))]  # (N, Cg)
                grad_out = dya[(slice(None), *pos, slice(g * og, (g + 1) * og))]  # (N, Og)
                dw[off][:, g * og : (g + 1) * og] += row.T @ grad_out
    return dw
