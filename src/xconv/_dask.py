"""Dask arrays convolved chunk by chunk with halos: :func:`by_chunks`, the core's hook.

By the time :func:`convolve` runs, the core has cast, permuted, dilated and padded the
whole lazy array with standard operations (the padding, and so the boundary, is part
of the array): what is left is a VALID convolution, with strides and dilations, of a
padded channels-last array ``(N, *S, C)``. It is split along the chunks:

- each spatial axis is rechunked so that every block's first output lands exactly on
  the stride grid (:func:`plan_axis`); a block too small to lend its neighbours their
  halo is merged with the next one;
- neighbouring blocks share a halo of ``(k - 1) * d + 1 - s`` rows, split before and
  after so that a stride-1 SAME convolution keeps the input's chunks
  (``dask.array.overlap.overlap`` with ``boundary="none"``: the boundary is already in
  the padded array);
- the batch axis keeps its chunks; the channel axis must be one chunk (it is
  rechunked with a :class:`dask.array.PerformanceWarning` otherwise);
- one task per block runs the ordinary in-memory core on the block's own array type
  (NumPy or CuPy) with the filters, one chunk shared by every task.

Nothing imports Dask at module level: the functions import ``dask.array`` when they
run, and :func:`by_chunks` recognises a Dask namespace with array-api-compat's
``is_dask_namespace`` (which never imports Dask). This module imports nothing else of
xconv: :mod:`xconv._backend` re-exports :func:`by_chunks`, and the import goes one way.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
import sys
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import array_api_compat as compat

from ._typing import Array, Namespace

__all__ = [
    "MAX_FILTER_BYTES",
    "TASK_PREFIX",
    "AxisPlan",
    "applies",
    "by_chunks",
    "convolve",
    "plan_axis",
]

#: Name prefix of the convolution's tasks (one per output block) in the Dask graph.
TASK_PREFIX = "xconv-conv"

#: Filters up to this size are copied to every task; larger ones (a filter gradient's
#: "kernel" is the whole output gradient) stay on the whole-array path.
MAX_FILTER_BYTES = 64 * 2**20


@dataclass(frozen=True)
class AxisPlan:
    """How one padded spatial axis is split.

    Attributes
    ----------
    in_chunks : tuple of int
        The padded input's chunks: block ``j`` owns these rows.
    out_chunks : tuple of int
        The output's chunks, one per input block.
    depth : (int, int)
        Rows each block borrows from its neighbours before and after (``(0, 0)`` for
        a single block).
    """

    in_chunks: tuple[int, ...]
    out_chunks: tuple[int, ...]
    depth: tuple[int, int]


def plan_axis(chunks: Sequence[int], k: int, stride: int, dilation: int, lo: int) -> AxisPlan:
    """Split one padded axis so that every block's output starts on the stride grid.

    ``chunks`` are the padded axis's chunks, ``lo`` the padding before it (which sets
    how the halo is split: a block borrows ``min(lo, halo)`` rows from the block before
    it). Output block ``j`` covers rows ``[e_j, e_{j+1})``; it owns input rows from
    ``e_j * stride + before`` and reads from ``e_j * stride``. Every input chunk
    boundary ``b`` proposes ``e = (b - before) // stride``; a proposal is kept when the
    blocks on both sides keep at least as many rows as the halo they lend, so a halo
    larger than a chunk merges chunks. The output must have at least one row.

    Examples
    --------
    A stride-1 SAME 3-tap convolution of chunks ``(4, 4, 2)``, padded by ``(1, 1)``,
    keeps them in the output:

    >>> plan_axis((1, 4, 4, 2, 1), k=3, stride=1, dilation=1, lo=1)
    AxisPlan(in_chunks=(5, 4, 3), out_chunks=(4, 4, 2), depth=(1, 1))

    Chunks of 1 at stride 3 are merged onto the stride grid:

    >>> plan_axis((1,) * 10, k=3, stride=3, dilation=1, lo=0)
    AxisPlan(in_chunks=(3, 3, 4), out_chunks=(1, 1, 1), depth=(0, 0))
    """
    size = sum(chunks)
    halo = (k - 1) * dilation
    out = (size - halo - 1) // stride + 1
    reach = max(halo + 1 - stride, 0)  # rows a block reads beyond the rows it owns
    before = min(max(lo, 0), reach)
    after = reach - before
    least = max(1, -(-max(before, after) // stride))
    edges = [0]
    for bound in itertools.accumulate(chunks[:-1]):
        e = (bound - before) // stride
        if e - edges[-1] >= least and out - e >= least:
            edges.append(e)
    edges.append(out)
    out_chunks = tuple(b - a for a, b in itertools.pairwise(edges))
    if len(out_chunks) == 1:
        return AxisPlan((size,), out_chunks, (0, 0))
    starts = [0, *(e * stride + before for e in edges[1:-1]), size]
    in_chunks = tuple(b - a for a, b in itertools.pairwise(starts))
    return AxisPlan(in_chunks, out_chunks, (before, after))


def applies(x: Array, w: Array, strides: Sequence[int], dilations: Sequence[int]) -> bool:
    """Whether :func:`convolve` takes this padded canonical case.

    The filters must be small enough to copy to every task
    (:data:`MAX_FILTER_BYTES`), and the output must have at least one element (the
    core's own path builds empty results).
    """
    if w.nbytes > MAX_FILTER_BYTES or 0 in x.shape or 0 in w.shape:
        return False
    return all(
        n - (k - 1) * d - 1 >= 0
        for n, k, d in zip(x.shape[1:-1], w.shape[:-2], dilations, strict=True)
    )


def by_chunks(run: Callable[..., Array], x: Array, w: Array, spec: Any, *, xp: Namespace) -> Array:
    """``run(x, w, xp=xp)``: a VALID convolution of the padded canonical ``x``.

    On Dask, with filters small enough to copy to every task (:func:`applies`), the
    convolution runs chunk by chunk with halos and the result is a lazy Dask array
    (:func:`convolve`: each block is computed by ``run`` on the block's own array
    type). Everything else, and empty results, call ``run`` on the whole array.
    ``spec`` gives the strides, dilations and pads (a :class:`~xconv._spec.ConvSpec`).
    """
    if compat.is_dask_namespace(xp) and applies(x, w, spec.strides, spec.dilations):
        lows = tuple(lo for lo, _ in spec.pads)
        return convolve(run, x, w, spec.strides, spec.dilations, lows)
    return run(x, w, xp=xp)


def convolve(
    run: Callable[..., Array],
    x: Array,
    w: Array,
    strides: Sequence[int],
    dilations: Sequence[int],
    lows: Sequence[int],
) -> Array:
    """``run(x, w, xp=...)`` chunk by chunk: a lazy Dask array ``(N, *out, O)``.

    ``x`` is the padded canonical input, ``lows`` the padding before each spatial axis
    (see :func:`plan_axis`); ``run`` computes a VALID convolution of one in-memory
    block with the whole filters, as the core does for an in-memory array.
    """
    da = importlib.import_module("dask.array")  # typed as Any: dask's API is untyped

    if x.numblocks[-1] > 1:
        warnings.warn(
            f"xconv: the channel axis of a Dask input must be a single chunk; its "
            f"{x.numblocks[-1]} chunks {x.chunks[-1]} are merged into one (a copy of the "
            "input). Chunk the batch and spatial axes and give the channel axis chunks=-1.",
            da.PerformanceWarning,
            stacklevel=_caller_level(),
        )
    plans = [
        plan_axis(chunks, k, s, d, lo)
        for chunks, k, s, d, lo in zip(
            x.chunks[1:-1], w.shape[:-2], strides, dilations, lows, strict=True
        )
    ]
    x = x.rechunk((x.chunks[0], *(p.in_chunks for p in plans), -1))
    depth = {axis: p.depth for axis, p in enumerate(plans, start=1) if p.depth != (0, 0)}
    if depth:
        x = da.overlap.overlap(x, depth=depth, boundary="none", allow_rechunk=False)
    w = da.asarray(w).rechunk(-1)
    index, w_index = tuple(range(x.ndim)), tuple(range(x.ndim, 2 * x.ndim))
    new_chunks: dict[int, tuple[int, ...]] = {
        axis: p.out_chunks for axis, p in enumerate(plans, start=1)
    }
    new_chunks[x.ndim - 1] = (w.shape[-1],)
    return da.blockwise(
        functools.partial(_block, run),
        index,
        x,
        index,
        w,
        w_index,
        concatenate=True,
        adjust_chunks=new_chunks,
        token=TASK_PREFIX,
        dtype=x.dtype,
        meta=da.utils.meta_from_array(x, ndim=x.ndim, dtype=x.dtype),
    )


def _block(run: Callable[..., Array], x: Array, w: Array) -> Array:
    """One task: the in-memory core on a block (NumPy, CuPy, ...) in the block's dtype."""
    xp = compat.array_namespace(x, w)
    y = run(x, w, xp=xp)
    return y if y.dtype == x.dtype else xp.astype(y, x.dtype)


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside xconv, so a warning names the user's line."""
    package = os.path.dirname(__file__) + os.sep
    level = 1
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(package):
        level, frame = level + 1, frame.f_back
    return level
