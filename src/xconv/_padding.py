"""Padding: every padding form to ``(lo, hi)`` pairs, and padding modes with standard ops.

``resolve_pads`` is pure Python on ints (TensorFlow's SAME rule lives here, once).
``pad_canonical`` pads or crops a channels-last array with ``concat``/slicing/``flip``
only, so it runs unchanged on every Array API namespace, lazily on Dask and under
``jax.jit``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

from array_api_compat import device

from . import _backend, _workspace
from ._typing import PADDING_MODES, Array, Namespace, Pads
from ._validate import as_int, is_sequence

__all__ = ["PADDING_MODES", "pad_canonical", "pad_indices", "resolve_pads", "same_pads"]


def same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME rule: ``out = ceil(size / stride)``, the odd pixel goes after.

    Examples
    --------
    >>> same_pads(5, 3, 2, 1)
    (1, 1)
    >>> same_pads(4, 3, 2, 1)  # total 1: nothing before, one after
    (0, 1)
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _as_pair(item: Any, *, name: str) -> tuple[int, int]:
    if not is_sequence(item) or len(item) != 2:
        raise ValueError(f"{name} must be a (lo, hi) pair of non-negative ints, got {item!r}")
    lo, hi = (as_int(v, name=name) for v in item)
    if lo < 0 or hi < 0:
        raise ValueError(f"{name} must be non-negative, got {(lo, hi)}")
    return lo, hi


def resolve_pads(
    padding: Any,
    *,
    in_sizes: Sequence[int],
    k_sizes: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    channels_first: bool,
    name: str = "padding",
) -> Pads:
    """Turn any padding form into one ``(lo, hi)`` pair per spatial dimension.

    Forms: ``"SAME"``, ``"VALID"``, ``"FULL"`` (any case); an int (same on every side);
    a sequence of ``(lo, hi)`` pairs, one per spatial dimension; or TensorFlow's explicit
    list of rank+2 pairs in ``data_format`` order with ``(0, 0)`` at batch and channels.

    Examples
    --------
    >>> resolve_pads("same", in_sizes=(5,), k_sizes=(3,), strides=(1,), dilations=(1,),
    ...              channels_first=False)
    ((1, 1),)
    >>> resolve_pads([[0, 0], [1, 2], [0, 0]], in_sizes=(5,), k_sizes=(3,), strides=(1,),
    ...              dilations=(1,), channels_first=False)
    ((1, 2),)
    """
    rank = len(in_sizes)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0),) * rank
        if mode == "SAME":
            return tuple(
                same_pads(n, k, s, d)
                for n, k, s, d in zip(in_sizes, k_sizes, strides, dilations, strict=True)
            )
        if mode == "FULL":
            return tuple(
                ((k - 1) * d, (k - 1) * d) for k, d in zip(k_sizes, dilations, strict=True)
            )
        raise ValueError(
            f"{name} must be one of 'SAME', 'VALID', 'FULL' (any case), an int or a sequence "
            f"of (lo, hi) pairs, got {padding!r}"
        )
    if not is_sequence(padding):
        p = as_int(padding, name=name)
        if p < 0:
            raise ValueError(f"{name} must be non-negative, got {padding!r}")
        return ((p, p),) * rank
    items = list(padding)
    if len(items) == rank:
        return tuple(_as_pair(item, name=f"{name}[{i}]") for i, item in enumerate(items))
    if len(items) == rank + 2:
        pairs = [_as_pair(item, name=f"{name}[{i}]") for i, item in enumerate(items)]
        c = 1 if channels_first else rank + 1
        if pairs[0] != (0, 0) or pairs[c] != (0, 0):
            raise ValueError(
                f"{name} in TensorFlow's explicit rank+2 form must be (0, 0) at the batch and "
                f"channel positions (data_format order), got {[list(p) for p in pairs]}"
            )
        return tuple(p for i, p in enumerate(pairs) if i not in (0, c))
    raise ValueError(
        f"{name} must have one (lo, hi) pair per spatial dimension ({rank}) or {rank + 2} "
        f"pairs in TensorFlow's explicit form, got {len(items)} entries: {padding!r}"
    )


def pad_indices(size: int, lo: int, hi: int, mode: str) -> list[int]:
    """Source index of every position of a padded axis, for a non-zero padding mode.

    ``reflect`` mirrors without repeating the edge, ``symmetric`` repeats it, ``edge``
    repeats the edge value and ``circular`` wraps around; pads wider than the axis
    continue the same periodic pattern (as :func:`numpy.pad` does).

    Examples
    --------
    >>> pad_indices(3, 2, 2, "reflect")
    [2, 1, 0, 1, 2, 1, 0]
    >>> pad_indices(3, 2, 2, "symmetric")
    [1, 0, 0, 1, 2, 2, 1]
    """
    positions = range(-lo, size + hi)
    if mode == "edge":
        return [min(max(i, 0), size - 1) for i in positions]
    if mode == "circular":
        return [i % size for i in positions]
    if mode == "symmetric":
        period = 2 * size
        return [m if m < size else period - 1 - m for m in (i % period for i in positions)]
    if mode == "reflect":
        if size == 1:
            return [0 for _ in positions]
        period = 2 * (size - 1)
        return [m if m < size else period - m for m in (i % period for i in positions)]
    raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {mode!r}")


def pad_canonical(
    x: Array, pads: Pads, mode: str, *, xp: Namespace, value: complex = 0, threads: int = 1
) -> Array:
    """Pad (or, for negative entries, crop) the spatial axes ``1..rank`` of ``x``.

    ``x`` is channels-last ``(N, *spatial, C)``. Zero padding fills one fresh array
    with ``value`` (0 unless a SciPy-style caller asks for a constant: ``cval``,
    ``fillvalue``) around a copy of ``x`` where the library allows in-place writes
    (:func:`_fill_around`, its copy split over up to ``threads`` threads), else
    concatenates blocks of it; the other modes gather runs of slices along each axis
    with standard operations.
    """
    grow: list[tuple[int, int]] = []
    for axis, (lo, hi) in enumerate(pads, start=1):
        if lo < 0 or hi < 0:
            size = x.shape[axis]
            # A crop beyond the array eats into the other side's padding: the result
            # always has size + lo + hi entries.
            if -lo > size:
                lo, hi = -size, hi + lo + size
            if -hi > size:
                hi, lo = -size, lo + hi + size
            index = [slice(None)] * x.ndim
            index[axis] = slice(max(-lo, 0), size - max(-hi, 0))
            x = x[tuple(index)]
        grow.append((max(lo, 0), max(hi, 0)))
    if not any(lo or hi for lo, hi in grow):
        return x
    spatial = (n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], grow, strict=True))
    shape = (x.shape[0], *spatial, x.shape[-1])
    if 0 in shape:  # no elements to fill (an empty batch, say)
        return _backend.zero_size(shape, x.dtype, xp=xp, device=device(x))
    if mode == "zeros" and _backend.supports_inplace(xp, x):
        return _fill_around(x, grow, value, xp=xp, threads=threads)
    for axis, (lo, hi) in enumerate(grow, start=1):
        if not (lo or hi):
            continue
        if mode == "zeros":
            zeros = [
                xp.full(
                    (*x.shape[:axis], w, *x.shape[axis + 1 :]),
                    value,
                    dtype=x.dtype,
                    device=device(x),
                )
                for w in (lo, hi)
            ]
            x = xp.concat([z for z in (zeros[0], x, zeros[1]) if z.shape[axis]], axis=axis)
        else:
            x = _gather(x, axis, pad_indices(x.shape[axis], lo, hi, mode), xp=xp)
    return x


#: Inputs of fewer elements are copied into their padded array on one thread (1 MiB of
#: float32).
PARALLEL_COPY_ELEMENTS = 2**18


def _fill_around(
    x: Array, grow: Sequence[tuple[int, int]], value: complex, *, xp: Namespace, threads: int = 1
) -> Array:
    """Zero (``value``) padding written in place: one fresh array, ``x`` copied once.

    Only the border slabs are filled, then the interior is copied
    (:func:`~xconv._backend.copy_into`), instead of one concatenation per axis; with
    ``threads > 1`` an input of at least :data:`PARALLEL_COPY_ELEMENTS` is copied in
    slabs of its first or second axis, on that many threads
    (:func:`~xconv._backend.parallel`).
    """
    shape = (
        x.shape[0],
        *(n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], grow)),
        x.shape[-1],
    )
    y = _workspace.empty(xp, shape, x.dtype, x)  # a cached buffer inside a convolution
    for axis, (lo, hi) in enumerate(grow, start=1):
        for part in (slice(0, lo), slice(shape[axis] - hi, shape[axis])):
            if part.stop > part.start:
                y[(slice(None),) * axis + (part,)] = value
    interior = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[1:-1], grow))
    inside = y[(slice(None), *interior, slice(None))]
    axis = 0 if x.shape[0] >= threads or x.ndim < 3 else 1
    parts = min(threads, x.shape[axis])
    if parts <= 1 or math.prod(x.shape) < PARALLEL_COPY_ELEMENTS:
        _backend.copy_into(inside, x, xp=xp)
        return y
    cuts = [x.shape[axis] * i // parts for i in range(parts + 1)]
    slabs = [(slice(None),) * axis + (slice(a, b),) for a, b in itertools.pairwise(cuts)]
    _backend.parallel(
        [functools.partial(_backend.copy_into, inside[k], x[k], xp=xp) for k in slabs], parts
    )
    return y


def _gather(x: Array, axis: int, indices: list[int], *, xp: Namespace) -> Array:
    """``take(x, indices, axis)`` built from slices, flips and broadcasts.

    The padded axis is a few runs of consecutive, reversed or repeated source
    indices; each run is a slice. A gather with an index array would do the same,
    but Dask's ``take`` on complex data warns while it infers the dtype.
    """
    pieces = []
    start = 0
    while start < len(indices):
        step = indices[start + 1] - indices[start] if start + 1 < len(indices) else 1
        if step not in (-1, 0, 1):
            step = 1
        stop = start + 1
        while stop < len(indices) and indices[stop] - indices[stop - 1] == step:
            stop += 1
        first, last = indices[start], indices[stop - 1]
        key = [slice(None)] * x.ndim
        key[axis] = slice(min(first, last), max(first, last) + 1)
        piece = x[tuple(key)]
        if step == -1:
            piece = xp.flip(piece, axis=axis)
        elif step == 0:
            shape = list(piece.shape)
            shape[axis] = stop - start
            piece = xp.broadcast_to(piece, tuple(shape))
        pieces.append(piece)
        start = stop
    return xp.concat(pieces, axis=axis) if len(pieces) > 1 else pieces[0]
