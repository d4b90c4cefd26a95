"""Memory of one convolution: the cap on an algorithm's temporaries, and the check
that the whole call fits on its device before any work starts."""

from __future__ import annotations

import math
from typing import Any

from . import _backend
from ._algorithms import Algorithm
from ._algorithms._tiling import itemsize_of
from ._spec import ConvSpec
from ._typing import Array, Namespace

__all__ = ["DEFAULT_MEMORY_BUDGET", "check_memory", "temporaries_cap"]

#: Default bytes of temporaries (patch matrices) one call may hold at once.
DEFAULT_MEMORY_BUDGET = 256 * 2**20


def temporaries_cap(
    budget: int, itemsize: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> int:
    """Most bytes of temporaries an algorithm may hold at once in one call.

    ``min(budget, input + output bytes)`` for the padded input and the result in the
    compute dtype: the memory budget, and never more than the arrays the call reads
    and writes (peak extra memory at most twice the input and output). The core's
    chunking (``xconv._core._chunked``) cuts the work to stay under it, and
    :func:`check_memory` counts it.
    """
    return min(budget, itemsize * (math.prod(in_shape) + math.prod(out_shape)))


def check_memory(
    xp: Namespace,
    x: Array,
    w_shape: tuple[int, ...],
    spec: ConvSpec,
    algorithm: Algorithm,
    cdtype: Any,
    dtype: Any,
    budget: int,
    accelerator: bool,
    *,
    shape: tuple[int, ...] | None = None,
) -> None:
    """Raise ``MemoryError`` before any work when the call cannot fit in memory.

    Counts the result, the padded (and dilated, cast) input when one is made, and the
    algorithm's temporaries (capped by :func:`temporaries_cap`: the core chunks above
    it), against the memory of the array's device (:func:`xconv._backend.memory_limit`;
    no check where that is unknown, e.g. Dask, which computes block by block).
    ``accelerator``: the arrays live on a GPU (:func:`xconv._backend.on_accelerator`,
    asked once by :func:`xconv._core.plan_general`), where the temporaries are sized for it.
    ``shape``: the shape of the input the call will run on, when that is not ``x``'s
    (only ``x``'s dtype and device are read then).
    """
    limit = _backend.memory_limit(xp, x)
    if limit is None:
        return
    x_shape = tuple(x.shape) if shape is None else shape
    canonical = tuple(x_shape[i] for i in spec.to_canonical)
    n, sizes, c = canonical[0], canonical[1:-1], canonical[-1]
    out_shape = (n, *spec.output_sizes(sizes, w_shape[: spec.rank]), w_shape[-1])
    padded_shape = (
        n,
        *(m + lo + hi for m, (lo, hi) in zip(spec.dilated_sizes(sizes), spec.pads, strict=True)),
        c,
    )
    citem = itemsize_of(xp, cdtype)
    # NumPy's extension floats (ml_dtypes) are unknown to finfo: their own itemsize.
    out_item = dtype.itemsize if _backend.extension_float(dtype) else itemsize_of(xp, dtype)
    out_bytes = math.prod(out_shape) * out_item
    copied = padded_shape != canonical or cdtype != x.dtype or spec.channels_first
    padded_bytes = math.prod(padded_shape) * citem if copied else 0
    work = 0
    if 0 not in out_shape:
        work = min(
            algorithm.workspace_bytes(padded_shape, w_shape, spec, citem, accelerator=accelerator),
            temporaries_cap(budget, citem, padded_shape, out_shape),
        )
    need = out_bytes + padded_bytes + work
    if need > limit:
        gib = 2.0**30
        raise MemoryError(
            f"this convolution needs about {need / gib:.3g} GiB: its result of shape "
            f"{out_shape} ({out_bytes / gib:.3g} GiB), the padded input of shape "
            f"{padded_shape} ({padded_bytes / gib:.3g} GiB) and {work / gib:.3g} GiB of "
            f"temporaries, more than the {limit / gib:.3g} GiB of memory on "
            f"{_backend.device(x) or 'this machine'}; check padding, output_shape and the "
            "input's size"
        )
