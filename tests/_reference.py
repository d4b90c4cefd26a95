"""A deliberately naive N-d convolution in NumPy, the yardstick for every test.

Nothing here shares code or ideas with the fast paths in ``xconv``: no stride tricks,
no window views, no einsum over windows. Output positions and kernel offsets are
walked with :func:`itertools.product`; only the channel dot product is vectorised.

Arrays are canonical channels-last: input ``(N, *spatial, C)``, filters
``(*k, C // groups, O)`` (TensorFlow's HWIO), output ``(N, *out, O)``.
Computation is in float64, complex128 for complex input and int64 for integer input,
so integer results are exact.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PADDING_MODES",
    "full_pads",
    "out_size",
    "reference_conv",
    "reference_depthwise",
    "reference_separable",
    "same_pads",
    "valid_pads",
]

Pads = list[tuple[int, int]]
NDArray = npt.NDArray[Any]

#: xconv's padding_mode names -> ``np.pad`` modes.
PADDING_MODES: dict[str, str] = {
    "zeros": "constant",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "edge": "edge",
    "circular": "wrap",
}


def same_pads(
    in_sizes: Sequence[int],
    k: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> Pads:
    """TensorFlow's SAME rule: ``out = ceil(in / s)``, the odd pad goes after."""
    pads = []
    for n, kk, s, d in zip(in_sizes, k, strides, dilations, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + (kk - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def full_pads(k: Sequence[int], dilations: Sequence[int]) -> Pads:
    """FULL padding: ``(k - 1) * d`` on each side."""
    return [((kk - 1) * d, (kk - 1) * d) for kk, d in zip(k, dilations, strict=True)]


def valid_pads(rank: int) -> Pads:
    """VALID padding: none."""
    return [(0, 0)] * rank


def out_size(n: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    """``floor((n + lo + hi - (k - 1) * d - 1) / s) + 1``, clamped at 0."""
    return max(math.floor((n + lo + hi - (k - 1) * d - 1) / s) + 1, 0)


def _work_dtype(*arrays: NDArray) -> np.dtype[Any]:
    dt = np.result_type(*arrays)
    if dt.kind in "iub":
        return np.dtype(np.int64)
    if dt.kind == "c":
        return np.dtype(np.complex128)
    return np.dtype(np.float64)


def _pad(x: NDArray, pads: Sequence[tuple[int, int]], padding_mode: str) -> NDArray:
    if padding_mode not in PADDING_MODES:
        msg = f"unknown padding_mode {padding_mode!r}"
        raise ValueError(msg)
    for lo, hi in pads:
        if lo < 0 or hi < 0:
            msg = f"pads must be >= 0, got {pads}"
            raise ValueError(msg)
    width = [(0, 0), *((int(lo), int(hi)) for lo, hi in pads), (0, 0)]
    return np.pad(x, width, mode=PADDING_MODES[padding_mode])  # type: ignore[call-overload]


def _prepare(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    padding_mode: str,
) -> tuple[NDArray, NDArray, list[int]]:
    """Cast to the work dtype, pad, and compute the output spatial sizes."""
    xa, wa = np.asarray(x), np.asarray(w)
    dt = _work_dtype(xa, wa)
    xa, wa = xa.astype(dt), wa.astype(dt)
    rank = xa.ndim - 2
    if wa.ndim != rank + 2 or len(strides) != rank or len(dilations) != rank or len(pads) != rank:
        msg = "rank mismatch between x, w, strides, dilations and pads"
        raise ValueError(msg)
    k = wa.shape[:rank]
    outs = [
        out_size(n, kk, s, d, lo, hi)
        for n, kk, s, d, (lo, hi) in zip(xa.shape[1:-1], k, strides, dilations, pads, strict=True)
    ]
    return _pad(xa, pads, padding_mode), wa, outs


def _tap(
    xpad: NDArray,
    pos: Sequence[int],
    off: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> NDArray:
    """The input row ``(N, C)`` that kernel offset ``off`` sees at output ``pos``."""
    index = [p * s + q * d for p, q, s, d in zip(pos, off, strides, dilations, strict=True)]
    where: tuple[Any, ...] = (slice(None), *index, slice(None))
    return xpad[where]


def reference_conv(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    groups: int | None = None,
    padding_mode: str = "zeros",
) -> NDArray:
    """Grouped N-d cross-correlation the way TensorFlow defines ``conv``.

    Output channel ``o`` belongs to group ``g = o // (O // groups)`` and sees input
    channels ``[g * Cg, (g + 1) * Cg)`` where ``Cg = w.shape[-2]``.
    """
    xpad, wa, outs = _prepare(x, w, strides, dilations, pads, padding_mode)
    rank = len(outs)
    n, c = xpad.shape[0], xpad.shape[-1]
    cg, o = wa.shape[-2], wa.shape[-1]
    if groups is None:
        groups = c // cg
    if groups < 1 or groups * cg != c or o % groups:
        msg = f"bad grouping: C={c}, filters in={cg}, O={o}, groups={groups}"
        raise ValueError(msg)
    og = o // groups
    out = np.zeros((n, *outs, o), dtype=wa.dtype)
    for pos in itertools.product(*map(range, outs)):
        acc = np.zeros((n, o), dtype=wa.dtype)
        for off in itertools.product(*map(range, wa.shape[:rank])):
            row = _tap(xpad, pos, off, strides, dilations)
            for g in range(groups):
                acc[:, g * og : (g + 1) * og] += (
                    row[:, g * cg : (g + 1) * cg] @ wa[off][:, g * og : (g + 1) * og]
                )
        where: tuple[Any, ...] = (slice(None), *pos, slice(None))
        out[where] = acc
    return out


def reference_depthwise(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    padding_mode: str = "zeros",
) -> NDArray:
    """Depthwise convolution, filters ``(*k, C, M)``: output channel ``c * M + m``.

    Written channel by channel, without the grouped path, so that it checks it.
    """
    xpad, wa, outs = _prepare(x, w, strides, dilations, pads, padding_mode)
    rank = len(outs)
    n, c = xpad.shape[0], xpad.shape[-1]
    if wa.shape[-2] != c:
        msg = f"depthwise filters need in={c}, got {wa.shape[-2]}"
        raise ValueError(msg)
    m = wa.shape[-1]
    out = np.zeros((n, *outs, c * m), dtype=wa.dtype)
    for pos in itertools.product(*map(range, outs)):
        for off in itertools.product(*map(range, wa.shape[:rank])):
            row = _tap(xpad, pos, off, strides, dilations)
            for ch in range(c):
                for mm in range(m):
                    where: tuple[Any, ...] = (slice(None), *pos, ch * m + mm)
                    out[where] += row[:, ch] * wa[off][ch, mm]
    return out


def reference_separable(
    x: npt.ArrayLike,
    depthwise_filter: npt.ArrayLike,
    pointwise_filter: npt.ArrayLike,
    *geometry: Any,
) -> NDArray:
    """Depthwise, then a 1x1 pointwise contraction ``(1, ..., 1, C * M, O)``.

    ``geometry``: ``strides, dilations, pads[, padding_mode]`` as for
    :func:`reference_depthwise`.
    """
    mid = reference_depthwise(x, depthwise_filter, *geometry)
    pw = np.asarray(pointwise_filter)
    if any(s != 1 for s in pw.shape[:-2]) or pw.shape[-2] != mid.shape[-1]:
        msg = f"pointwise filter must be (1, ..., 1, {mid.shape[-1]}, O), got {pw.shape}"
        raise ValueError(msg)
    pw2 = pw.reshape(pw.shape[-2], pw.shape[-1]).astype(_work_dtype(mid, pw))
    out = np.zeros((*mid.shape[:-1], pw2.shape[-1]), dtype=pw2.dtype)
    for pos in itertools.product(*map(range, mid.shape[1:-1])):
        sl: tuple[Any, ...] = (slice(None), *pos, slice(None))
        out[sl] = mid[sl] @ pw2
    return out
