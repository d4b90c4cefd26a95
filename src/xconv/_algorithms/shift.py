"""The shift method: a multiply-accumulate of shifted input slices, no patch buffer.

``method="shift"`` loops over the kernel offsets (never over pixels, batch or groups).
For each offset it takes the slice of the padded input that the offset sees under
every output position and adds its product with that offset's filter slice to the
output:

- depthwise filters (``C / groups == 1``): an elementwise multiply-add, broadcasting
  the filter slice over the pixels (with a channel multiplier ``M > 1`` each tile is
  accumulated as ``(M, pixels, C)``, so the loops run along pixels and channels
  whatever ``M`` and ``C`` are, and reordered once);
- other filters: a ``matmul`` of the slice ``(pixels, C)`` with the ``(C/g, O/g)``
  filter slice (batched over the groups), accumulated.

With unit strides the padded input is seen as one long 1-d signal
``(N * prod(S), C)`` (the *flattened padded grid*): every offset is then a single
contiguous slice, shifted by ``sum(offset * dilation * row_stride)``, so each step is
one dense product. Positions that straddle a row or image edge are computed and
cropped at the end; the waste is ``prod(S) / prod(out) - 1`` (a few percent for
usual image sizes), so the grid is used only while the waste is small.

On NumPy, CuPy and torch the output is preallocated and processed in cache-sized
tiles of consecutive output rows, every offset accumulating into the tile while it
is in cache (:func:`~xconv._backend.product_into`); JAX, Dask and array-api-strict
add out of place.
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

__all__ = ["TUNING", "Tuning", "run", "workspace_bytes"]


@dataclass(frozen=True)
class Tuning:
    """Tile sizes and thresholds of the shift method (:data:`TUNING`: the defaults)."""

    #: Output bytes per tile of the elementwise (depthwise) products on libraries that
    #: accumulate in place: the tile and its scratch stay in cache for every offset.
    #: Alternating in one process (NumPy float32, 2 cores, median time ratio to 1 MiB
    #: tiles): 2 MiB 0.89-0.95 on 3x3 depthwise layers (8x56²x128, 8x112²x32, 8x28²x512,
    #: 8x56²x32 with a multiplier of 2, RGB 1024²) and one-channel 2048² 5x5; 512 KiB
    #: 1.28-1.33; 3-4 MiB 0.9-1.15.
    tile_bytes: int = 2 * 2**20
    #: Output bytes per tile of the matmul products: larger, since each tile costs one
    #: multithreaded BLAS call per offset (thread wake-ups dominate small calls).
    matmul_tile_bytes: int = 16 * 2**20
    #: Largest fraction of wasted positions the flattened padded grid may add.
    flat_waste: float = 0.25
    #: Depthwise products on the flattened grid see ``r`` consecutive pixels as one row
    #: of at least this many values (``r * C``), multiplied by the filter slice repeated
    #: ``r`` times. NumPy's ``multiply(x, tap, out=...)`` with ``tap`` broadcast over the
    #: rows of a 1 MiB tile took (float32, C = 32 / 128 / 512, microseconds) 125 / 87 /
    #: 66 with rows of ``C`` values, 556-647 / 424-647 / 430-450 with rows of 1024-4096
    #: values (another iteration order), and 51 / 46 / 47 with rows of 8192: about 1.3x
    #: an unbroadcast product of the same size.
    wide_row: int = 8192


#: The tuning :func:`run` uses (:func:`xconv._algorithms.tuning` swaps it).
TUNING = Tuning()


def workspace_bytes(
    x_shape: Shape, w_shape: Shape, spec: ConvSpec, itemsize: int, *, accelerator: bool = False
) -> int:
    """Bytes of one output-sized product ``N * prod(out) * O`` (out-of-place libraries)."""
    out = valid_output_sizes(x_shape[1:-1], w_shape[: spec.rank], spec.strides, spec.dilations)
    return x_shape[0] * math.prod(out) * w_shape[-1] * itemsize


def _flat_grid(x_shape: tuple[int, ...], out: tuple[int, ...], spec: ConvSpec) -> bool:
    """Whether to use the flattened padded grid (unit strides, small waste)."""
    if any(s != 1 for s in spec.strides):
        return False
    return math.prod(x_shape[1:-1]) <= (1 + TUNING.flat_waste) * math.prod(out)


def run(x: Array, w: Array, spec: ConvSpec, *, xp: Namespace) -> Array:
    """VALID convolution of padded canonical ``x (N, *S, C)`` with ``w (*k, C/g, O)``.

    Arguments and result follow the algorithm contract of
    :mod:`xconv._algorithms` (padded canonical input, filters, spec; ``(N, *out, O)``).
    """
    rank, groups = spec.rank, spec.groups
    k_sizes = tuple(w.shape[:rank])
    sizes = tuple(x.shape[1:-1])
    n, c, cg, o = x.shape[0], x.shape[-1], w.shape[-2], w.shape[-1]
    out = valid_output_sizes(sizes, k_sizes, spec.strides, spec.dilations)
    if n == 0 or o == 0 or 0 in out:
        return _backend.zero_size((n, *out, o), x.dtype, xp=xp, device=_backend.device(x))
    kk = math.prod(k_sizes)
    offsets = [
        tuple(q * d for q, d in zip(off, spec.dilations))
        for off in itertools.product(*(range(k) for k in k_sizes))
    ]
    kind = _kind(cg, o // groups, groups)

    flat = _flat_grid(tuple(x.shape), out, spec)
    if flat:
        # One long signal: offsets become 1-d shifts; positions past the last valid
        # output of the last image are never computed (they would read past the end).
        row_strides = [math.prod(sizes[i + 1 :]) for i in range(rank)]
        total = n * math.prod(sizes)
        last = (n - 1) * math.prod(sizes) + sum((m - 1) * r for m, r in zip(out, row_strides))
        grid: tuple[int, ...] = (last + 1,)
        xin = xp.reshape(x, (total, c))
        shifts: list[tuple[int, ...]] = [
            (sum(q * r for q, r in zip(off, row_strides)),) for off in offsets
        ]
        steps: tuple[int, ...] = (1,)
    else:
        grid = (n, *out)
        total = math.prod(grid)
        xin = x
        shifts = offsets
        steps = spec.strides
    taps = _filter_taps(w, kk, groups, kind, len(grid), xp=xp)
    # Depthwise on the flat grid: r pixels per row of the products (Tuning.wide_row).
    # (One channel already runs as one long loop: a scalar broadcast.)
    width = -(-TUNING.wide_row // c) if flat and kind == "scale" and c > 1 else 1
    wide = (
        [xp.reshape(xp.broadcast_to(t, (width, c)), (width * c,)) for t in taps]
        if width > 1
        else taps
    )
    offsets_plan = _Offsets(taps, shifts, grid, steps, o, kind, groups, width, wide)

    if _backend.supports_inplace(xp, x, w):
        y = _accumulate_tiles(xin, offsets_plan, total, xp=xp)
    else:
        y = _accumulate_whole(xin, offsets_plan, xp=xp)
        if flat and y.shape[0] < total:
            pad = xp.zeros((total - y.shape[0], o), dtype=y.dtype, device=_backend.device(x))
            y = xp.concat([y, pad], axis=0)
    if not flat:
        return xp.reshape(y, (n, *out, o))
    y = xp.reshape(y, (n, *sizes, o))
    crop = (slice(None), *(slice(0, m) for m in out), slice(None))
    return y[crop]


def _kind(cg: int, og: int, groups: int) -> str:
    """How each offset's product is formed.

    ``"scale"``: depthwise, multiplier 1 (``x * w`` per channel); ``"multiplier"``:
    depthwise with a channel multiplier ``M > 1``, accumulated as ``(M, pixels, C)``
    so that every elementwise loop runs along the pixels and channels, whatever ``M``
    and ``C`` are (reordered to TF's ``(pixels, C, M)`` once per tile);
    ``"matmul"``: one group; ``"grouped"``: a batched matmul over the groups.
    """
    if cg == 1:
        return "scale" if og == 1 else "multiplier"
    return "matmul" if groups == 1 else "grouped"


def _filter_taps(
    w: Array, kk: int, groups: int, kind: str, grid_rank: int, *, xp: Namespace
) -> list[Array]:
    """The filter slice of each kernel offset, shaped for its product (see :func:`_kind`).

    ``scale``: ``(C,)``; ``multiplier``: ``(M, 1, ..., 1, C)`` with ``grid_rank`` ones
    (broadcasting over a tile's pixels); ``matmul``: ``(C, O)``; ``grouped``:
    ``(g, C/g, O/g)``.
    """
    cg, o = w.shape[-2], w.shape[-1]
    og = o // groups
    if kind == "scale":
        wt = xp.reshape(w, (kk, groups))
    elif kind == "multiplier":
        wt = xp.permute_dims(xp.reshape(w, (kk, groups, og)), (0, 2, 1))
        wt = xp.reshape(wt, (kk, og, *(1,) * grid_rank, groups))
    elif groups == 1:
        wt = xp.reshape(w, (kk, cg, o))
    else:
        wt = xp.permute_dims(xp.reshape(w, (kk, cg, groups, og)), (0, 2, 1, 3))
    return [wt[j, ...] for j in range(kk)]


def _slab(
    x: Array,
    box: tuple[tuple[int, int], ...],
    shift: tuple[int, ...],
    steps: tuple[int, ...],
) -> Array:
    """The input one kernel offset sees under the output ``box``: ``(*box_shape, C)``.

    ``box`` has one ``(lo, hi)`` per axis of ``x`` but the last (channels); the first
    axis is not shifted when ``x`` is ``(N, *S, C)`` (``len(shift) == len(box) - 1``).
    """
    lead = len(box) - len(shift)
    index = [slice(lo, hi) for lo, hi in box[:lead]]
    for (lo, hi), q, s in zip(box[lead:], shift, steps):
        index.append(slice(lo * s + q, (hi - 1) * s + q + 1, s))
    index.append(slice(None))
    return x[tuple(index)]


@dataclass(frozen=True)
class _Offsets:
    """What the accumulators sum: one filter slice and input shift per kernel offset.

    ``taps``/``shifts``: per offset, the filter slice (see :func:`_filter_taps`) and
    the input shift; ``grid``: the output positions computed, read at ``steps``;
    ``o``/``groups``/``kind``: output channels, groups, product kind (:func:`_kind`);
    ``width``/``wide``: pixels per product row and the taps repeated that many times
    (depthwise on the flat grid, ``Tuning.wide_row``; else 1 and the taps).
    """

    taps: list[Array]
    shifts: list[tuple[int, ...]]
    grid: tuple[int, ...]
    steps: tuple[int, ...]
    o: int
    kind: str
    groups: int
    width: int
    wide: list[Array]


def _accumulate_tiles(x: Array, p: _Offsets, total: int, *, xp: Namespace) -> Array:
    """Accumulate every offset into a preallocated ``(total, O)`` output, tile by tile.

    Rows ``[0, prod(grid))`` are computed; any rows after them (the flattened grid's
    tail, cropped later) are left as allocated. Elementwise (depthwise) products run
    their tiles on :func:`~xconv._backend.host_threads` threads, each with its own
    scratch; matmul products leave the threads to the BLAS.
    """
    grid, o, kind = p.grid, p.o, p.kind
    dev = _backend.device(x)
    itemsize = itemsize_of(xp, x.dtype)
    elementwise = kind in ("scale", "multiplier")
    if _backend.on_accelerator(xp, x):  # no caches to fit: one tile, fewest launches
        target = math.prod(grid) * o * itemsize
    else:
        target = TUNING.tile_bytes if elementwise else TUNING.matmul_tile_bytes
    axis, step = plan(grid, o * itemsize, target)
    threads = _backend.host_threads(xp) if elementwise else 1
    if threads > 1 and axis == 0:  # as many tiles for every thread (0.93-1.0x the time)
        count = -(-grid[0] // step)
        step = -(-grid[0] // (-(-count // threads) * threads))
    if p.width > 1 and step > p.width:  # whole product rows in every tile but the last
        step -= step % p.width
    rows = step * math.prod(grid[axis + 1 :])
    y = xp.empty((total, o), dtype=x.dtype, device=dev)
    every = list(tiles(grid, axis, step))
    threads = min(threads, len(every))

    def worker(share: list[Tile], scratch: Array, stacked: Array | None) -> None:
        for tile in share:
            _accumulate_tile(x, p, tile, y, scratch, stacked, xp=xp)

    # Each thread's scratch (and the (M, pixels, C) accumulator of a channel
    # multiplier), taken here from the caller's workspace: helper threads hold none.
    jobs = [
        functools.partial(
            worker,
            every[i::threads],
            _workspace.empty(xp, (rows * o,), x.dtype, x),
            _workspace.empty(xp, (rows * o,), x.dtype, x) if kind == "multiplier" else None,
        )
        for i in range(threads)
    ]
    _backend.parallel(jobs, threads)
    return y


def _accumulate_tile(
    x: Array,
    p: _Offsets,
    tile: Tile,
    y: Array,
    scratch: Array,
    stacked: Array | None,
    *,
    xp: Namespace,
) -> None:
    """Every offset's product for one tile, accumulated into its rows of ``y``."""
    o, kind, groups = p.o, p.kind, p.groups
    c = x.shape[-1]
    og = o // groups
    box = tile.box(p.grid)
    lead = tuple(hi - lo for lo, hi in box)
    m = tile.rows
    dest = y[tile.row : tile.row + m, ...]  # contiguous rows of the output
    if kind == "scale":
        dest = xp.reshape(dest, (*lead, c))
    elif kind == "multiplier":
        assert stacked is not None
        acc = xp.reshape(stacked[: m * o], (og, *lead, c))
    elif kind == "grouped":
        dest = xp.permute_dims(xp.reshape(dest, (m, groups, og)), (1, 0, 2))
    for j, (tap, shift) in enumerate(zip(p.taps, p.shifts)):
        xs = _slab(x, box, shift, p.steps)
        if p.width > 1:
            _scale_rows(xs, tap, p.wide[j], dest, p.width, j > 0, scratch, xp=xp)
            continue
        if kind in ("scale", "multiplier"):
            target = dest if kind == "scale" else acc
            _backend.product_into(
                "multiply", xs, tap, target, xp=xp, accumulate=j > 0, scratch=scratch
            )
            continue
        xs = xp.reshape(xs, (m, c))
        if groups > 1:
            xs = xp.permute_dims(xp.reshape(xs, (m, groups, c // groups)), (1, 0, 2))
        _backend.product_into("matmul", xs, tap, dest, xp=xp, accumulate=j > 0, scratch=scratch)
    if kind == "multiplier":  # (M, pixels, C) -> (pixels, C, M), TF's channel order
        acc = xp.permute_dims(xp.reshape(acc, (og, m, c)), (1, 2, 0))
        _backend.copy_into(dest, acc, xp=xp)


def _scale_rows(
    xs: Array,
    tap: Array,
    wide: Array,
    dest: Array,
    width: int,
    accumulate: bool,
    scratch: Array,
    *,
    xp: Namespace,
) -> None:
    """``dest (m, C) (+)= xs * tap``, ``width`` pixels per row of ``width * C`` values.

    The rows that do not fill a whole product row (the last tile's) use ``tap``.
    """
    m, c = xs.shape
    whole = m - m % width
    parts = [(xs[:whole, ...], wide, dest[:whole, ...], (whole // width, width * c))]
    if whole < m:
        parts.append((xs[whole:, ...], tap, dest[whole:, ...], (m - whole, c)))
    for a, b, out, shape in parts:
        if shape[0]:
            _backend.product_into(
                "multiply",
                xp.reshape(a, shape),
                b,
                xp.reshape(out, shape),
                xp=xp,
                accumulate=accumulate,
                scratch=scratch,
            )


def _accumulate_whole(x: Array, p: _Offsets, *, xp: Namespace) -> Array:
    """Sum every offset's product out of place (standard operations): ``(prod(grid), O)``."""
    taps, shifts, grid, steps = p.taps, p.shifts, p.grid, p.steps
    o, kind, groups = p.o, p.kind, p.groups
    c = x.shape[-1]
    m = math.prod(grid)
    box = tuple((0, g) for g in grid)
    acc = None
    for tap, shift in zip(taps, shifts):
        xs = _slab(x, box, shift, steps)
        if kind == "scale":
            term = xp.reshape(xs * tap, (m, o))
        elif kind == "multiplier":
            term = xs * tap  # (M, *grid, C)
        elif kind == "matmul":
            term = xp.matmul(xp.reshape(xs, (m, c)), tap)
        else:
            lhs = xp.permute_dims(xp.reshape(xs, (m, groups, c // groups)), (1, 0, 2))
            term = xp.reshape(xp.permute_dims(xp.matmul(lhs, tap), (1, 0, 2)), (m, o))
        acc = term if acc is None else acc + term
    if kind == "multiplier":  # (M, *grid, C) -> (pixels, C * M), TF's channel order
        acc = xp.permute_dims(xp.reshape(acc, (o // groups, m, c)), (1, 2, 0))
        acc = xp.reshape(acc, (m, o))
    return acc
