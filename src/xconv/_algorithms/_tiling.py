"""Cache-sized tiles of an output grid, shared by the ``gemm`` and ``shift`` methods.

An output grid ``(N, *out)`` is cut into tiles that are contiguous in its row-major
order: a tile is ``step`` consecutive entries along one axis (the *tile axis*), with
every later axis whole and every earlier axis fixed at one index (the *prefix*).
Tiles of the same axis therefore cover consecutive rows of the flattened
``(N * prod(out), O)`` output, which the algorithms write into directly, and each tile
reads a box of the padded input. Everything here is plain integer arithmetic.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._typing import Namespace

__all__ = ["Tile", "itemsize_of", "plan", "tiles", "valid_output_sizes"]


@functools.lru_cache(maxsize=256)
def itemsize_of(xp: Namespace, dtype: Any) -> int:
    """Bytes per element of ``dtype`` (standard ``finfo``/``iinfo`` only; cached: a
    convolution asks several times, and each answer takes two ``isdtype`` calls)."""
    if xp.isdtype(dtype, "complex floating"):
        return 2 * xp.finfo(dtype).bits // 8
    if xp.isdtype(dtype, "real floating"):
        return xp.finfo(dtype).bits // 8
    return int(xp.iinfo(dtype).bits) // 8


def valid_output_sizes(
    sizes: Sequence[int], k_sizes: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> tuple[int, ...]:
    """VALID output sizes ``floor((n - (k - 1) * d - 1) / s) + 1``, 0 when negative."""
    return tuple(
        (n - (k - 1) * d - 1) // s + 1 if n - (k - 1) * d - 1 >= 0 else 0
        for n, k, s, d in zip(sizes, k_sizes, strides, dilations)
    )


def plan(grid: Sequence[int], entry_bytes: int, target_bytes: int) -> tuple[int, int]:
    """Choose ``(axis, step)`` so that a tile holds about ``target_bytes``.

    Parameters
    ----------
    grid : sequence of int
        The output grid ``(N, *out)``; every entry positive.
    entry_bytes : int
        Bytes one grid entry needs (a patch row, an output pixel, ...).
    target_bytes : int
        Wanted bytes per tile.

    Returns
    -------
    axis, step : int
        The outermost axis whose later axes fit in ``target_bytes``, and how many of
        its entries a tile takes (balanced so that the last tile is not tiny). When
        even one entry of the last axis is larger than the target, tiles are single
        entries of the last axis.
    """
    if 0 in grid:
        return 0, 1
    inner = entry_bytes
    axis = len(grid) - 1
    # Walk outwards while the tile of whole later axes still fits.
    while axis > 0 and inner * grid[axis] <= target_bytes:
        inner *= grid[axis]
        axis -= 1
    step = max(1, min(grid[axis], target_bytes // max(inner, 1)))
    count = -(-grid[axis] // step)
    return axis, -(-grid[axis] // count)


@dataclass(frozen=True)
class Tile:
    """One tile: fixed ``prefix`` indices, then ``[start, stop)`` along ``axis``.

    ``row`` is the tile's first row in the flattened ``(prod(grid), ...)`` output
    and ``rows`` its number of rows.
    """

    prefix: tuple[int, ...]
    axis: int
    start: int
    stop: int
    row: int
    rows: int

    def box(self, grid: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """``(lo, hi)`` output ranges per grid axis (prefix axes have length 1)."""
        fixed = tuple((p, p + 1) for p in self.prefix)
        whole = tuple((0, n) for n in grid[self.axis + 1 :])
        return (*fixed, (self.start, self.stop), *whole)


def tiles(grid: Sequence[int], axis: int, step: int) -> Iterator[Tile]:
    """Every tile of ``grid`` along ``axis`` in steps of ``step``, in row-major order."""
    inner = math.prod(grid[axis + 1 :])
    size = grid[axis]
    for prefix in itertools.product(*(range(n) for n in grid[:axis])):
        base = 0
        for p, n in zip(prefix, grid[:axis]):
            base = base * n + p
        for start in range(0, size, step):
            stop = min(start + step, size)
            yield Tile(
                prefix, axis, start, stop, (base * size + start) * inner, (stop - start) * inner
            )
