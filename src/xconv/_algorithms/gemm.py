"""The GEMM method: patch matrices in bounded tiles, one ``matmul`` per tile.

``method="gemm"`` is im2col done in tiles. The output grid ``(N, *out)`` is cut into
tiles of consecutive output rows (:mod:`._tiling`) whose patch matrix
``(rows, prod(k) * C)`` takes about ``TUNING.patch_bytes`` (at least twice the filter
bytes, at most ``TUNING.max_patch_bytes`` and the input + output bytes). Each tile's
windows are gathered into the patch matrix and multiplied with the
``(prod(k) * C, O)`` filter matrix in one ``matmul`` (batched over the groups when
there are several). When the patch rows are so wide that fewer than
``TUNING.min_tile_rows`` would fit a tile (large filters, few output pixels), the kernel's
first axis is split into parts, each with its own patch matrix and ``matmul``,
accumulated into the tile's rows.

On NumPy, CuPy and torch one patch buffer is reused for every tile and each product
is written straight into the preallocated output (:func:`~xconv._backend.copy_into`,
:func:`~xconv._backend.product_into`). Elsewhere (JAX, Dask, array-api-strict) the
tiles are built with standard slicing and concatenated.

Kernels whose every size is 1, with unit strides, need no patches: the output is one
``matmul`` of the input seen as a ``(N * prod(S), C)`` matrix.

1-d convolutions (one group, no dilation) of a C-contiguous array in host memory need
no patch copy either (:func:`_strided_rows`): a window of ``k`` positions is ``k * C``
consecutive elements, so the windows of every ``g``-th output position, ``g = ceil(k /
s)``, are the rows of a matrix view whose rows do not overlap (row stride ``g * s * C >=
k * C``), which BLAS reads in place. Each of the ``g`` residue classes of output
positions is one ``matmul`` per tile, written into every ``g``-th row of the output.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

from .. import _backend, _workspace
from .._spec import ConvSpec
from .._typing import Array, Namespace, Shape
from ._tiling import Tile, itemsize_of, plan, tiles, valid_output_sizes

__all__ = ["TUNING", "Tuning", "plan_tiles", "run", "workspace_bytes"]


@dataclass(frozen=True)
class Tuning:
    """Tile sizes of the GEMM method (:data:`TUNING` holds the measured defaults)."""

    #: Wanted bytes of one tile's patch matrix. Smaller tiles fit the caches better, but
    #: each tile is one multithreaded BLAS call, and waking the BLAS threads costs up to
    #: a scheduler time slice on a busy machine: on 2 shared cores 2 MiB tiles ran about
    #: 2x slower than 8-32 MiB ones (NumPy/OpenBLAS and torch/MKL alike).
    patch_bytes: int = 16 * 2**20
    #: Upper bound on the patch matrix, however large the filters are.
    max_patch_bytes: int = 64 * 2**20
    #: A tile should have at least this many patch rows (or every row, when there are
    #: fewer): when the patch rows are so wide (large filters, few output pixels) that
    #: fewer would fit the tile, the kernel's first axis is split instead, each part's
    #: product accumulated into the tile, so that the filters are still read once per
    #: tile and each BLAS call keeps a useful height.
    min_tile_rows: int = 512
    #: Bytes of the patch rows one product of :func:`_strided_rows` reads (1-d: 0.5-2
    #: MiB ran 0.49-0.77x the time of a copied patch matrix, alternating in one process,
    #: 8x4000x64 k=3, 8x16000x1 k=80/4, 8x4000x128 k=3, 8x4000x32 k=5, 8x8000x64 k=7/2).
    rows_panel_bytes: int = 2**20
    #: Fewest output rows of one image per residue class (``out // ceil(k / s)``) for
    #: :func:`_strided_rows`; below it the products are too small (each a Python step
    #: and a BLAS call) and the copied patch matrix wins: 8x16000x1 k=80/4 (199 rows per
    #: class) ran 3.75 ms with the patch matrix against 10.4 strided, samples on threads;
    #: 8x4000x64 k=3 (1333), 8x4000x32 k=5 (800), 8x8000x64 k=7/2 (999) ran 1.02-1.16x
    #: the strided time with it.
    min_strided_rows: int = 512
    #: Largest fraction of output rows the batch seen as one signal may add (then cropped).
    rows_waste: float = 0.25


#: The tuning :func:`run` uses (:func:`xconv._algorithms.tuning` swaps it).
TUNING = Tuning()


def _is_pointwise(w_shape: tuple[int, ...], spec: ConvSpec) -> bool:
    """All kernel sizes 1 and unit strides: the convolution is one matrix product."""
    return all(k == 1 for k in w_shape[: spec.rank]) and all(s == 1 for s in spec.strides)


@dataclass(frozen=True)
class _Plan:
    """How :func:`run` cuts the work: output-row tiles times kernel-axis parts."""

    grid: tuple[int, ...]  # the output grid (N, *out)
    axis: int  # the tile axis of :func:`~._tiling.plan`
    step: int  # tile length along it
    parts: int  # pieces the kernel's first axis is split into (1: none)
    row_bytes: int  # bytes of one patch row of one part (the widest part)

    @property
    def rows(self) -> int:
        """Rows of the largest tile."""
        return self.step * math.prod(self.grid[self.axis + 1 :])


@functools.lru_cache(maxsize=256)
def plan_tiles(
    x_shape: Shape, w_shape: Shape, spec: ConvSpec, itemsize: int, accelerator: bool
) -> _Plan:
    """Tiles and kernel parts for a non-empty, non-pointwise case, under :data:`TUNING`.

    On a GPU (``accelerator``) a tile's patch matrix is as large as the input and
    output together: there are no caches to fit, and each tile costs kernel launches.
    Cached (the memory check, the core's chunking and :func:`run` all ask; a new
    tuning clears the cache).
    """
    rank = spec.rank
    out = valid_output_sizes(x_shape[1:-1], w_shape[:rank], spec.strides, spec.dilations)
    grid = (x_shape[0], *out)
    row_bytes = math.prod(w_shape[:rank]) * x_shape[-1] * itemsize
    filter_bytes = math.prod(w_shape) * itemsize
    # At least twice the filters (so each tile's GEMM amortises reading them), at most
    # max_patch_bytes and the input + output bytes (temporaries stay proportionate).
    in_out = (math.prod(x_shape) + math.prod(grid) * w_shape[-1]) * itemsize
    t = TUNING
    target = (
        in_out
        if accelerator
        else min(max(t.patch_bytes, 2 * filter_bytes), t.max_patch_bytes, in_out)
    )
    want = min(math.prod(grid), t.min_tile_rows) * row_bytes
    parts = min(w_shape[0], -(-want // max(target, 1))) if want > target else 1
    row_bytes = -(-w_shape[0] // parts) * (row_bytes // w_shape[0])
    axis, step = plan(grid, row_bytes, target)
    return _Plan(grid, axis, step, parts, row_bytes)


def workspace_bytes(
    x_shape: Shape, w_shape: Shape, spec: ConvSpec, itemsize: int, *, accelerator: bool = False
) -> int:
    """Bytes of the patch buffer :func:`run` allocates, and its accumulation scratch.

    0 for pointwise kernels.
    """
    if _is_pointwise(w_shape, spec):
        return 0
    p = plan_tiles(x_shape, w_shape, spec, itemsize, accelerator)
    if 0 in p.grid:
        return 0
    scratch = p.rows * w_shape[-1] * itemsize if p.parts > 1 else 0
    return p.rows * p.row_bytes + scratch


def run(x: Array, w: Array, spec: ConvSpec, *, xp: Namespace) -> Array:
    """VALID convolution of padded canonical ``x (N, *S, C)`` with ``w (*k, C/g, O)``.

    Arguments and result follow the algorithm contract of
    :mod:`xconv._algorithms` (padded canonical input, filters, spec; ``(N, *out, O)``).
    """
    rank, groups = spec.rank, spec.groups
    k_sizes = tuple(w.shape[:rank])
    n, cg, o = x.shape[0], w.shape[-2], w.shape[-1]
    og = o // groups
    out = valid_output_sizes(x.shape[1:-1], k_sizes, spec.strides, spec.dilations)
    if n == 0 or o == 0 or 0 in out:
        return _backend.zero_size((n, *out, o), x.dtype, xp=xp, device=_backend.device(x))
    kk = math.prod(k_sizes)
    # Filters as one (K*Cg, O) matrix, or (g, K*Cg, Og) per group.
    if groups == 1:
        wmat = xp.reshape(w, (kk * cg, o))
    else:
        wmat = xp.reshape(w, (kk, cg, groups, og))
        wmat = xp.reshape(xp.permute_dims(wmat, (2, 0, 1, 3)), (groups, kk * cg, og))
    inplace = _backend.supports_inplace(xp, x, w)
    if _is_pointwise(tuple(w.shape), spec):
        return _pointwise(x, wmat, groups, inplace, xp=xp)
    accelerator = _backend.on_accelerator(xp, x)
    if (
        inplace
        and rank == 1
        and groups == 1
        and spec.dilations == (1,)
        and out[0] // -(-k_sizes[0] // spec.strides[0]) >= TUNING.min_strided_rows
        and _backend.is_dense(xp, x)
        and not accelerator
    ):
        return _strided_rows(x, wmat, k_sizes[0], spec.strides[0], xp=xp)

    itemsize = itemsize_of(xp, x.dtype)
    p = plan_tiles(tuple(x.shape), tuple(w.shape), spec, itemsize, accelerator)
    dev = _backend.device(x)
    # Parts of the kernel's first axis: [lo, hi) ranges and their filter rows.
    k0, per = k_sizes[0], kk // k_sizes[0]
    bounds = [k0 * i // p.parts for i in range(p.parts + 1)]
    ranges = list(itertools.pairwise(bounds))
    if inplace:
        y = xp.empty((math.prod(p.grid), o), dtype=x.dtype, device=dev)
        buf = _workspace.empty(xp, (p.rows * p.row_bytes // itemsize,), x.dtype, x)
        scratch = _workspace.empty(xp, (p.rows * o,), x.dtype, x) if p.parts > 1 else None
    tile_outputs = []  # out of place: one (rows, O) array per tile
    for tile in tiles(p.grid, p.axis, p.step):
        windows = _tile_windows(x, tile, p.grid, k_sizes, spec, xp=xp)  # (..., *k, C)
        m = tile.rows
        total = None
        for j, (lo, hi) in enumerate(ranges):
            piece = windows[(..., slice(lo, hi), *(slice(None),) * rank)]
            rows_w = slice(lo * per * cg, hi * per * cg)
            kc = (hi - lo) * per * cg  # patch columns (per group)
            if groups == 1:
                lhs = piece
                rhs = wmat[rows_w, ...]
                if inplace:
                    dest = y[tile.row : tile.row + m, ...]
            else:
                # Split C into (g, Cg), g to the front: (g, nb, *tile_out, *k, Cg).
                lead = tuple(piece.shape[:-1])
                lhs = xp.reshape(piece, (*lead, groups, cg))
                nd = len(lead)
                lhs = xp.permute_dims(lhs, (nd, *range(nd), nd + 1))
                rhs = wmat[:, rows_w, :]
                if inplace:
                    dest = xp.reshape(y[tile.row : tile.row + m, ...], (m, groups, og))
                    dest = xp.permute_dims(dest, (1, 0, 2))
            shape = (m, kc) if groups == 1 else (groups, m, kc)
            if inplace:
                patch = xp.reshape(buf[: math.prod(shape)], shape)
                _backend.copy_into(patch, lhs, xp=xp)
                _backend.product_into(
                    "matmul", patch, rhs, dest, xp=xp, accumulate=j > 0, scratch=scratch
                )
                continue
            term = xp.matmul(xp.reshape(lhs, shape), rhs)
            total = term if total is None else total + term
        if not inplace:
            if groups > 1:  # (g, m, Og) -> (m, O)
                total = xp.reshape(xp.permute_dims(total, (1, 0, 2)), (m, o))
            tile_outputs.append(total)
    if not inplace:
        y = tile_outputs[0] if len(tile_outputs) == 1 else xp.concat(tile_outputs, axis=0)
    return xp.reshape(y, (n, *out, o))


def _strided_rows(x: Array, wmat: Array, k: int, s: int, *, xp: Namespace) -> Array:
    """1-d convolution of a dense ``x (N, L, C)`` with ``wmat (k * C, O)``, no patch copy.

    The windows of output positions ``r, r + g, r + 2g, ...`` (``g = ceil(k / s)``)
    start ``g * s * C`` elements apart and are ``k * C`` long: rows of a strided view
    (:func:`~xconv._backend.sliding_windows` of the flat signal), one ``matmul`` per
    residue ``r`` and tile, written into every ``g``-th output row. When ``L`` is a
    multiple of ``s`` the batch is one signal (windows across two images are computed
    and cropped, at most ``TUNING.rows_waste`` more rows); otherwise each image is one.
    """
    n, length, c = x.shape
    o = wmat.shape[-1]
    g = -(-k // s)
    out = (length - k) // s + 1
    signal = xp.reshape(x, (1, n * length, c))
    joined = length % s == 0 and n * (length // s) <= (1 + TUNING.rows_waste) * n * out
    if joined:  # (start element, output positions, first output row) per signal
        segments = [(0, (n * length - k) // s + 1, 0)]
        y = xp.empty((n * length // s, o), dtype=x.dtype, device=_backend.device(x))
    else:
        segments = [(i * length, out, i * out) for i in range(n)]
        y = xp.empty((n * out, o), dtype=x.dtype, device=_backend.device(x))
    itemsize = itemsize_of(xp, x.dtype)
    tile = g * max(1, TUNING.rows_panel_bytes // (k * c * itemsize))
    for base, positions, row0 in segments:
        for t0 in range(0, positions, tile):
            t1 = min(t0 + tile, positions)
            for first in range(t0, min(t0 + g, t1)):
                count = (t1 - 1 - first) // g + 1
                lo = base + first * s
                view = signal[:, lo : lo + (count - 1) * g * s + k, :]
                windows = _backend.sliding_windows(view, (k,), (g * s,), (1,), xp=xp)
                patches = xp.reshape(windows, (count, k * c))
                dest = y[row0 + first : row0 + t1 : g, ...]
                _backend.product_into("matmul", patches, wmat, dest, xp=xp)
    if joined:
        return xp.reshape(y, (n, length // s, o))[:, :out, :]
    return xp.reshape(y, (n, out, o))


def _pointwise(x: Array, wmat: Array, groups: int, inplace: bool, *, xp: Namespace) -> Array:
    """1x1 kernels, unit strides: ``(N * prod(S), C) @ (C, O)`` with no patch buffer."""
    m, c = math.prod(x.shape[:-1]), x.shape[-1]
    x2 = xp.reshape(x, (m, c))
    if groups == 1:
        y = _backend.matmul(x2, wmat, xp=xp)
        return xp.reshape(y, (*x.shape[:-1], wmat.shape[-1]))
    og = wmat.shape[-1]
    lhs = xp.permute_dims(xp.reshape(x2, (m, groups, c // groups)), (1, 0, 2))  # (g, m, Cg)
    if inplace:
        y = xp.empty((m, groups * og), dtype=x.dtype, device=_backend.device(x))
        dest = xp.permute_dims(xp.reshape(y, (m, groups, og)), (1, 0, 2))
        _backend.product_into("matmul", lhs, wmat, dest, xp=xp)
    else:
        y = xp.reshape(xp.permute_dims(xp.matmul(lhs, wmat), (1, 0, 2)), (m, groups * og))
    return xp.reshape(y, (*x.shape[:-1], groups * og))


def _tile_windows(
    x: Array,
    tile: Tile,
    grid: tuple[int, ...],
    k_sizes: tuple[int, ...],
    spec: ConvSpec,
    *,
    xp: Namespace,
) -> Array:
    """The windows ``(nb, *tile_out, *k, C)`` of the input box one tile reads."""
    box = tile.box(grid)
    index = [slice(box[0][0], box[0][1])]
    for (lo, hi), k, s, d in zip(box[1:], k_sizes, spec.strides, spec.dilations):
        index.append(slice(lo * s, (hi - 1) * s + (k - 1) * d + 1))
    index.append(slice(None))
    return _backend.sliding_windows(x[tuple(index)], k_sizes, spec.strides, spec.dilations, xp=xp)
