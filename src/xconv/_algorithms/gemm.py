"""The GEMM method: patch matrices in bounded tiles, one ``matmul`` per tile.

``method="gemm"`` is im2col done in tiles. The output grid ``(N, *out)`` is cut into
tiles of consecutive output rows (:mod:`._tiling`) whose patch matrix
``(rows, prod(k) * C)`` takes about :data:`PATCH_BYTES` (at least twice the filter
bytes, at most :data:`MAX_PATCH_BYTES` and the input + output bytes). Each tile's
windows are gathered into the patch matrix and multiplied with the
``(prod(k) * C, O)`` filter matrix in one ``matmul`` (batched over the groups when
there are several).

On NumPy, CuPy and torch one patch buffer is reused for every tile and each product
is written straight into the preallocated output (:func:`~xconv._backend.copy_into`,
:func:`~xconv._backend.product_into`). Elsewhere (JAX, Dask, array-api-strict) the
tiles are built with standard slicing and concatenated.

Kernels whose every size is 1, with unit strides, need no patches: the output is one
``matmul`` of the input seen as a ``(N * prod(S), C)`` matrix.
"""

from __future__ import annotations

import math

from .. import _backend
from .._spec import ConvSpec
from .._typing import Array, Namespace
from ._tiling import Tile, itemsize_of, plan, tiles, valid_output_sizes

__all__ = ["MAX_PATCH_BYTES", "PATCH_BYTES", "run", "workspace_bytes"]

#: Wanted bytes of one tile's patch matrix. Smaller tiles fit the caches better, but
#: each tile is one multithreaded BLAS call, and waking the BLAS threads costs up to a
#: scheduler time slice on a busy machine: on 2 shared cores 2 MiB tiles ran about 2x
#: slower than 8-32 MiB ones (NumPy/OpenBLAS and torch/MKL alike).
PATCH_BYTES = 16 * 2**20
#: Upper bound on the patch matrix, however large the filters are.
MAX_PATCH_BYTES = 64 * 2**20


def _is_pointwise(w_shape: tuple[int, ...], spec: ConvSpec) -> bool:
    """All kernel sizes 1 and unit strides: the convolution is one matrix product."""
    return all(k == 1 for k in w_shape[: spec.rank]) and all(s == 1 for s in spec.strides)


def _plan(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], spec: ConvSpec, itemsize: int
) -> tuple[tuple[int, ...], int, int, int]:
    """``(grid, axis, step, patch_row_bytes)`` for a non-empty, non-pointwise case."""
    rank = spec.rank
    out = valid_output_sizes(x_shape[1:-1], w_shape[:rank], spec.strides, spec.dilations)
    grid = (x_shape[0], *out)
    row_bytes = math.prod(w_shape[:rank]) * x_shape[-1] * itemsize
    filter_bytes = math.prod(w_shape) * itemsize
    # At least twice the filters (so each tile's GEMM amortises reading them), at most
    # MAX_PATCH_BYTES and the input + output bytes (temporaries stay proportionate).
    in_out = (math.prod(x_shape) + math.prod(grid) * w_shape[-1]) * itemsize
    target = min(max(PATCH_BYTES, 2 * filter_bytes), MAX_PATCH_BYTES, in_out)
    axis, step = plan(grid, row_bytes, target)
    return grid, axis, step, row_bytes


def workspace_bytes(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], spec: ConvSpec, itemsize: int
) -> int:
    """Bytes of the one patch buffer :func:`run` allocates (0 for pointwise kernels)."""
    if _is_pointwise(w_shape, spec):
        return 0
    grid, axis, step, row_bytes = _plan(x_shape, w_shape, spec, itemsize)
    if 0 in grid:
        return 0
    return step * math.prod(grid[axis + 1 :]) * row_bytes


def run(x: Array, w: Array, spec: ConvSpec, *, xp: Namespace) -> Array:
    """VALID convolution of padded canonical ``x (N, *S, C)`` with ``w (*k, C/g, O)``.

    Arguments and result follow the algorithm contract of
    :mod:`xconv._algorithms` (padded canonical input, filters, spec; ``(N, *out, O)``).
    """
    rank, groups = spec.rank, spec.groups
    k_sizes = tuple(w.shape[:rank])
    n, c, cg, o = x.shape[0], x.shape[-1], w.shape[-2], w.shape[-1]
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

    itemsize = itemsize_of(xp, x.dtype)
    grid, axis, step, _ = _plan(tuple(x.shape), tuple(w.shape), spec, itemsize)
    rows = step * math.prod(grid[axis + 1 :])
    total = math.prod(grid)
    dev = _backend.device(x)
    if inplace:
        y = xp.empty((total, o), dtype=x.dtype, device=dev)
        shape = (rows, kk * c) if groups == 1 else (groups, rows, kk * cg)
        buf = xp.empty(shape, dtype=x.dtype, device=dev)
    parts = []
    for tile in tiles(grid, axis, step):
        windows = _tile_windows(x, tile, grid, k_sizes, spec, xp=xp)  # (..., *k, C)
        m = tile.rows
        if groups == 1:
            if inplace:
                patch = buf[:m, ...]
                _backend.copy_into(patch, windows, xp=xp)
                _backend.product_into("matmul", patch, wmat, y[tile.row : tile.row + m, ...], xp=xp)
            else:
                parts.append(xp.matmul(xp.reshape(windows, (m, kk * c)), wmat))
            continue
        # Split C into (g, Cg) and bring g to the front: (g, nb, *tile_out, *k, Cg).
        lead = tuple(windows.shape[:-1])
        windows = xp.reshape(windows, (*lead, groups, cg))
        nd = len(lead)
        windows = xp.permute_dims(windows, (nd, *range(nd), nd + 1))
        if inplace:
            patch = buf[:, :m, ...]
            _backend.copy_into(patch, windows, xp=xp)
            dest = xp.reshape(y[tile.row : tile.row + m, ...], (m, groups, og))
            _backend.product_into("matmul", patch, wmat, xp.permute_dims(dest, (1, 0, 2)), xp=xp)
        else:
            prod = xp.matmul(xp.reshape(windows, (groups, m, kk * cg)), wmat)  # (g, m, Og)
            parts.append(xp.reshape(xp.permute_dims(prod, (1, 0, 2)), (m, o)))
    if not inplace:
        y = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    return xp.reshape(y, (n, *out, o))


def _pointwise(x: Array, wmat: Array, groups: int, inplace: bool, *, xp: Namespace) -> Array:
    """1x1 kernels, unit strides: ``(N * prod(S), C) @ (C, O)`` with no patch buffer."""
    m, c = math.prod(x.shape[:-1]), x.shape[-1]
    x2 = xp.reshape(x, (m, c))
    if groups == 1:
        y = xp.matmul(x2, wmat)
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
