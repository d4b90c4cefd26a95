"""Winograd's minimal filtering: ``F(m, 3)`` on every spatial axis (``method="winograd"``).

For a 3-wide kernel, stride 1 and dilation 1, ``m`` outputs of a 1-d correlation are
computed from a tile of ``a = m + 2`` inputs with ``a`` multiplications instead of
``3 m``:

.. math:: y = A^T \\left[ (G g) \\odot (B^T d) \\right]

The r-d algorithm is the tensor product of the 1-d one (``F(2x2, 3x3)`` and
``F(4x4, 3x3)`` in 2-d): tiles of ``a`` inputs per axis, ``m`` apart, are gathered with
strided slices; ``B^T`` is applied axis by axis as one small matmul per axis, the
filter is transformed by ``G`` the same way, the channel contraction becomes ``a**r``
independent GEMMs ``(tiles, C) @ (C, O)`` batched over the tile positions (and over
groups), and ``A^T`` brings each tile back to ``m**r`` outputs. The same code serves
every rank; it cuts the multiplications of the channel contraction by
``(3 m / a) ** r``: 2.25x (``m = 2``) or 4x (``m = 4``) in 2-d, 3.4x or 8x in 3-d.

Transforms are generated exactly (:class:`fractions.Fraction`) by the Toom-Cook
construction from interpolation points. ``F(4, 3)`` uses the points
``(0, 1, -1, 1/2, -2, ∞)``, which in float32 give about half the error of the classic
``(0, ±1, ±2, ∞)``. Measured against a float64 reference on ResNet-sized layers
(64-512 channels), ``max|y - ref| / max|ref|`` in float32 is about 1e-6 in 1-d, 3e-6
in 2-d and 5.5e-6 in 3-d for ``F(4, 3)``, 3e-7 to 6e-7 for ``F(2, 3)`` and direct
summation, 3e-7 for TensorFlow: within the float32 tolerance of 1e-5, so float32 and
wider use ``F(4, 3)`` (fewer multiplications, smaller transformed tiles), and 16-bit
floats computed natively (``precision="native"``) use the better-conditioned
``F(2, 3)`` (about 1e-3 in float16, direct summation 3e-4). Integer dtypes are
refused: the transforms divide, and integer convolutions must be exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

from xconv import _backend, _workspace
from xconv._backend import device
from xconv._padding import pad_canonical
from xconv._spec import ConvSpec
from xconv._typing import Array, Namespace, Shape

__all__ = [
    "TUNING",
    "Tuning",
    "output_tile",
    "prepare",
    "run",
    "transforms",
    "why_not",
    "workspace_bytes",
]

#: Finite interpolation points of ``F(m, 3)`` (the point at infinity is implied).
POINTS: dict[int, tuple[Fraction, ...]] = {
    2: (Fraction(0), Fraction(1), Fraction(-1)),
    4: (Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-2)),
}

#: Kernel width the transforms are built for.
KERNEL = 3


@dataclass(frozen=True)
class Tuning:
    """Tile size and transform layout of the Winograd method (:data:`TUNING`: defaults)."""

    #: Outputs per tile and axis, ``m`` (a key of :data:`POINTS`); None: by dtype
    #: (:func:`output_tile`).
    tile: int | None = None
    #: Tile positions (``a**r``) up to which the input and output transforms are one
    #: matmul with the transform's Kronecker power (2-d: 36) rather than one per axis.
    #: (8,56,56,64) / (8,28,28,128) F(4x4, 3x3): see ``docs/decisions.md``.
    kron_max_positions: int = 36


#: The tuning :func:`run` uses (:func:`xconv._algorithms.tuning` swaps it).
TUNING = Tuning()


def output_tile(dtype_bits: int) -> int:
    """Outputs per tile and axis, ``m``: 4 for 32-bit floats and wider, else 2.

    ``dtype_bits`` are the bits of the (real part of the) compute dtype, as
    ``xp.finfo(dtype).bits`` gives them. ``TUNING.tile``, when set, is used instead.
    """
    if TUNING.tile is not None:
        return TUNING.tile
    return 4 if dtype_bits >= 32 else 2


def _poly_mul(a: list[Fraction], b: list[Fraction]) -> list[Fraction]:
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, u in enumerate(a):
        for j, v in enumerate(b):
            out[i + j] += u * v
    return out


@cache
def transforms(m: int, r: int = KERNEL) -> tuple[tuple[tuple[float, ...], ...], ...]:
    """The Toom-Cook matrices ``(B^T, G, A^T)`` of ``F(m, r)``, as nested float tuples.

    ``B^T`` is ``(a, a)``, ``G`` is ``(a, r)`` and ``A^T`` is ``(m, a)`` with
    ``a = m + r - 1``; for every input tile ``d`` (length ``a``) and kernel ``g``
    (length ``r``), ``A^T ((G g) * (B^T d))`` is the correlation
    ``y[i] = sum_k g[k] d[i + k]``, ``i < m``. Computed exactly in fractions.

    Parameters
    ----------
    m : int
        Outputs per tile (a key of :data:`POINTS`).
    r : int
        Kernel width.

    Returns
    -------
    tuple
        ``(bt, g, at)`` as tuples of row tuples of floats.

    Examples
    --------
    >>> bt, g, at = transforms(2)
    >>> at
    ((1.0, 1.0, 1.0, 0.0), (0.0, 1.0, -1.0, 1.0))
    """
    points = POINTS[m]
    a = m + r - 1
    if len(points) != a - 1:
        raise ValueError(f"F({m}, {r}) needs {a - 1} finite points, have {len(points)}")

    def product_except(j: int) -> list[Fraction]:
        coeffs = [Fraction(1)]
        for i, p in enumerate(points):
            if i != j:
                coeffs = _poly_mul(coeffs, [-p, Fraction(1)])
        return coeffs + [Fraction(0)] * (a - len(coeffs))

    bt: list[list[Fraction]] = []
    g: list[list[Fraction]] = []
    for j, p in enumerate(points):
        scale = math.prod((p - q for i, q in enumerate(points) if i != j), start=Fraction(1))
        bt.append(product_except(j))
        g.append([p**k / scale for k in range(r)])
    bt.append(product_except(-1))  # the point at infinity: the leading coefficient
    g.append([Fraction(0)] * (r - 1) + [Fraction(1)])
    at = [[p**i for p in points] + [Fraction(int(i == m - 1))] for i in range(m)]

    def as_floats(rows: list[list[Fraction]]) -> tuple[tuple[float, ...], ...]:
        return tuple(tuple(float(v) for v in row) for row in rows)

    return as_floats(bt), as_floats(g), as_floats(at)


def why_not(spec: ConvSpec, w_shape: tuple[int, ...], dtype: Any, xp: Namespace) -> str:
    """Why ``method="winograd"`` cannot run this convolution, "" when it can."""
    if not xp.isdtype(dtype, ("real floating", "complex floating")):
        return (
            f"winograd needs a floating or complex dtype (its transforms divide, and "
            f"integer results must be exact), got {dtype}"
        )
    k_sizes = tuple(w_shape[: spec.rank])
    if any(k != KERNEL for k in k_sizes):
        return f"winograd needs a kernel of size {KERNEL} on every spatial axis, got {k_sizes}"
    if any(s != 1 for s in spec.strides):
        return f"winograd needs stride 1, got strides {spec.strides}"
    if any(d != 1 for d in spec.dilations):
        return f"winograd needs dilation 1, got dilations {spec.dilations}"
    return ""


def _tiles(sizes: tuple[int, ...], m: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """VALID output sizes and tiles per axis for inputs of ``sizes``."""
    out = tuple(max(n - KERNEL + 1, 0) for n in sizes)
    return out, tuple(-(-o // m) for o in out)


def workspace_bytes(
    x_shape: Shape, w_shape: Shape, spec: ConvSpec, itemsize: int, *, accelerator: bool = False
) -> int:
    """Bytes of the transformed tiles: input (twice, while transforming) and output."""
    m = output_tile(8 * min(itemsize, 8))  # bits; complex itemsizes count double
    a, rank = m + KERNEL - 1, spec.rank
    _, tiles = _tiles(tuple(x_shape[1:-1]), m)
    count = x_shape[0] * math.prod(tiles) * a**rank
    return itemsize * count * (2 * x_shape[-1] + 2 * w_shape[-1])


def _matrix(rows: tuple[tuple[float, ...], ...], like: Array, xp: Namespace) -> Array:
    return xp.asarray([list(r) for r in rows], dtype=like.dtype, device=device(like))


def _along(ndim: int, axis: int, index: slice) -> tuple[slice, ...]:
    key = [slice(None)] * ndim
    key[axis] = index
    return tuple(key)


def _apply(mat: Array, v: Array, axis: int, xp: Namespace) -> Array:
    """Multiply ``v`` by ``mat`` along ``axis``, where every axis before it is batch.

    One matmul ``mat @ (..., n, rest)``: the transformed axis stays in place and every
    later axis is flattened into the GEMM's columns.
    """
    shape = tuple(v.shape)
    lead = (math.prod(shape[:axis]),) if axis else ()
    flat = xp.reshape(v, (*lead, shape[axis], math.prod(shape[axis + 1 :])))
    out = _workspace.matmul(mat, flat, xp=xp)
    return xp.reshape(out, (*shape[:axis], mat.shape[0], *shape[axis + 1 :]))


def prepare(w: Array, spec: ConvSpec, xp: Namespace) -> dict[str, Array]:
    """The transformed filters ``{"u": G w G^T}``, ``(a**r, C/g, O)``, for :func:`run`.

    Kernel axes reversed to match the input tiles: ``G`` is applied along each, giving
    ``(a_{r-1}, ..., a_0, Cg, O)``. The core makes them once for all chunks of a call.
    """
    rank = spec.rank
    m = output_tile(xp.finfo(w.dtype).bits)
    a = m + KERNEL - 1
    g_mat = _matrix(transforms(m)[1], w, xp)
    u = xp.permute_dims(w, (*range(rank - 1, -1, -1), rank, rank + 1)) if rank > 1 else w
    for d in range(rank):
        u = _apply(g_mat, u, d, xp)
    return {"u": xp.reshape(u, (a**rank, *w.shape[-2:]))}


def _kron(mat: Array, rank: int, xp: Namespace) -> Array:
    """``mat`` applied along ``rank`` axes at once: the Kronecker power ``mat (x) ... (x)
    mat``, rows and columns ordered like the reversed axes of the tiles."""
    r, c = mat.shape
    out = mat
    for _ in range(rank - 1):
        rows, cols = out.shape
        prod = xp.reshape(out, (rows, 1, cols, 1)) * xp.reshape(mat, (1, r, 1, c))
        out = xp.reshape(prod, (rows * r, cols * c))
    return out


def _transform_kron(x: Array, bt: Array, tiles: tuple[int, ...], m: int, xp: Namespace) -> Array:
    """Input tiles transformed by one matmul with ``B^T``'s Kronecker power.

    The ``a**r`` tile positions are gathered from a strided window view of ``x``
    (stride ``m``, window ``a``) into a ``(a**r, tiles * C)`` matrix, in the reversed
    axis order of :func:`prepare`'s filters: one copy and one GEMM, where the axis-by-axis
    transform makes a stacked copy and a matmul per axis. The GEMM costs ``a**r``
    multiply-adds per value instead of ``r * a``: used while ``a**r`` is small
    (``TUNING.kron_max_positions``).
    """
    rank = len(tiles)
    a = bt.shape[0]
    windows = _backend.sliding_windows(x, (a,) * rank, (m,) * rank, (1,) * rank, xp=xp)
    # (N, *t, *k, C) -> (k_{r-1}, ..., k_0, N, *t, C)
    order = (*range(2 * rank, rank, -1), 0, *range(1, rank + 1), 2 * rank + 1)
    tiles_view = xp.permute_dims(windows, order)
    if _backend.supports_inplace(xp, x):  # one copy into a workspace buffer
        gathered = _workspace.empty(xp, (a**rank, math.prod(tiles_view.shape[rank:])), x.dtype, x)
        _backend.copy_into(gathered, tiles_view, xp=xp)
    else:
        gathered = xp.reshape(tiles_view, (a**rank, -1))
    return _workspace.matmul(_kron(bt, rank, xp), gathered, xp=xp)


def _transform_separable(
    x: Array, bt: Array, tiles: tuple[int, ...], m: int, xp: Namespace
) -> Array:
    """Input tiles transformed axis by axis (``a**r`` positions first, reversed order).

    Per axis, the ``a`` strided slices (tile offsets) are gathered into a new *leading*
    axis and ``B^T`` is applied to it: one 2-d matmul per axis. Layout after axis d:
    ``(a_d, ..., a_0, N, t_0..t_d, S_{d+1}.., C)``.
    """
    a = bt.shape[0]
    v = x
    for d in range(len(tiles)):
        stop = (tiles[d] - 1) * m + 1
        v = xp.stack(
            [v[_along(v.ndim, 2 * d + 1, slice(off, off + stop, m))] for off in range(a)],
            axis=0,
        )
        v = _apply(bt, v, 0, xp)
    return v


def run(x: Array, w: Array, spec: ConvSpec, *, xp: Namespace, u: Array | None = None) -> Array:
    """VALID convolution of padded canonical ``x (N, *S, C)`` with ``w (3, ..., C/g, O)``.

    Arguments and result follow the algorithm contract of
    :mod:`xconv._algorithms` (padded canonical input, filters, spec; ``(N, *out, O)``);
    ``u``: the filters already transformed by :func:`prepare`.
    """
    rank, groups = spec.rank, spec.groups
    n, sizes, c = x.shape[0], tuple(x.shape[1:-1]), x.shape[-1]
    cg, o = w.shape[-2], w.shape[-1]
    m = output_tile(xp.finfo(x.dtype).bits)
    a = m + KERNEL - 1
    out, tiles = _tiles(sizes, m)
    if 0 in (n, c, o, *out):
        return xp.zeros((n, *out, o), dtype=x.dtype, device=device(x))
    bt_rows, _, at_rows = transforms(m)
    bt, at = _matrix(bt_rows, x, xp), _matrix(at_rows, x, xp)

    positions, count = a**rank, n * math.prod(tiles)
    kron = positions <= TUNING.kron_max_positions
    # Zeros after each axis, up to (tiles - 1) * m + a (one in-place fill where possible).
    x = pad_canonical(
        x, tuple((0, t * m + a - m - size) for t, size in zip(tiles, sizes)), "zeros", xp=xp
    )
    transform = _transform_kron if kron else _transform_separable
    v = transform(x, bt, tiles, m, xp)
    v = xp.reshape(v, (positions, count, c))

    if u is None:
        u = prepare(w, spec, xp)["u"]

    # Channel contraction: one GEMM per tile position (and group).
    if groups == 1:
        prod = _workspace.matmul(v, u, xp=xp)  # (a**r, count, O)
    else:
        og = o // groups
        v = xp.permute_dims(xp.reshape(v, (positions, count, groups, cg)), (0, 2, 1, 3))
        u = xp.permute_dims(xp.reshape(u, (positions, cg, groups, og)), (0, 2, 1, 3))
        prod = xp.permute_dims(xp.matmul(v, u), (0, 2, 1, 3))  # (a**r, count, g, Og)

    # Output: A^T along each tile-position axis, then interleave tiles and offsets.
    if kron:
        y = _workspace.matmul(_kron(at, rank, xp), xp.reshape(prod, (positions, count * o)), xp=xp)
    else:
        y = xp.reshape(prod, (*(a,) * rank, count * o))
        for d in range(rank):
            y = _apply(at, y, d, xp)
    y = xp.reshape(y, (*(m,) * rank, n, *tiles, o))  # (m_{r-1}, ..., m_0, N, *t, O)
    order = [rank, *(ax for d in range(rank) for ax in (rank + 1 + d, rank - 1 - d)), 2 * rank + 1]
    y = xp.reshape(xp.permute_dims(y, tuple(order)), (n, *(t * m for t in tiles), o))
    if any(t * m != size for t, size in zip(tiles, out, strict=True)):
        crop = (slice(None), *(slice(0, size) for size in out), slice(None))
        y = y[crop]
    return y
