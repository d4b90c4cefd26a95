"""Input-dilated (transposed) convolutions as one matrix product and a scatter-add.

A transposed convolution (an input gradient) with input dilation ``s`` sends each
input pixel ``x[i]`` to the outputs ``i * s + t * d - shift`` through the kernel taps
``t``. :func:`run_scatter` computes every pixel's contributions to every tap with one
matrix product, ``cols = x (pixels, C) @ w (C, taps * O)``, and adds each tap's slice
of ``cols`` into a strided view of the output (col2im): one large BLAS call where the
sub-pixel phases (:mod:`xconv._phases`) make ``prod(s)`` algorithm calls of
``taps / prod(s)`` products each. The GEMM method of input-dilated convolutions, in
place on libraries whose arrays can be written (:func:`scatter_applies`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from . import _backend, _workspace
from ._algorithms._tiling import itemsize_of
from ._memory import temporaries_cap
from ._spec import ConvSpec, output_size
from ._typing import Array, Namespace

__all__ = ["run_scatter", "scatter_applies"]


def scatter_applies(spec: ConvSpec, sizes: tuple[int, ...], w_shape: tuple[int, ...]) -> bool:
    """Whether :func:`run_scatter` can run the case (the library permitting in-place writes).

    An input dilation (transposed convolution or input gradient), stride 1, one group,
    zero padding and a non-empty input and kernel.
    """
    return (
        any(f > 1 for f in spec.lhs_dilations)
        and all(t == 1 for t in spec.strides)
        and spec.groups == 1
        and spec.padding_mode == "zeros"
        and spec.pad_value == 0
        and 0 not in sizes
        and 0 not in w_shape[: spec.rank]
    )


def _tap_range(first: int, count: int, start: int, step: int, out: int) -> tuple[int, int] | None:
    """Input indices ``[a, b)`` within ``[first, first + count)`` whose output
    ``i * step + start`` falls inside ``[0, out)``, or None when there is none."""
    lo = max(first, -(start // step) if start < 0 else 0)
    hi = min(first + count, (out - 1 - start) // step + 1 if out - 1 >= start else 0)
    return (lo, hi) if lo < hi else None


def run_scatter(spec: ConvSpec, x: Array, w: Array, budget: int, *, xp: Namespace) -> Array:
    """The input-dilated convolution of the unpadded canonical ``x`` (``(N, *m, C)``)
    with ``w`` (``(*k, C, O)``), as :func:`scatter_applies` allows.

    Output ``o`` receives ``x[i] @ w[t]`` for ``o = i * s + lo - t * d`` (``lo`` the low
    padding of the dilated input): the terms of the convolution of the dilated, padded
    input, without its zeros. In host memory each sample has products of its own
    (with the same shapes in any batch, so its result is the same bits), on a GPU one
    product holds the whole batch. A product's ``cols`` stays under the temporaries'
    cap of the rows it holds (:func:`xconv._memory.temporaries_cap`): the taps go in
    groups, one product per group, and where a single tap is over the cap its rows go
    in chunks along the first spatial axis, from the last to the first. Every output
    thus adds its terms in the order of the taps, however the work is cut. Host
    samples go in batches that run on several threads where the products are small
    (:func:`xconv._backend.sample_threads`), each batch's adds once for all its
    samples.
    """
    rank = spec.rank
    n, m, c = x.shape[0], tuple(x.shape[1:-1]), x.shape[-1]
    k, o = tuple(w.shape[:rank]), w.shape[-1]
    out = tuple(
        output_size((mi - 1) * si + 1, ki, 1, di, lo, hi)
        for mi, ki, si, di, (lo, hi) in zip(
            m, k, spec.lhs_dilations, spec.dilations, spec.pads, strict=True
        )
    )
    y = xp.zeros((n, *out, o), dtype=x.dtype, device=_backend.device(x))
    if n == 0 or o == 0 or 0 in out:
        return y
    taps = list(itertools.product(*(range(ki) for ki in k)))
    host = not _backend.on_accelerator(xp, x)
    sample = 1 if host else n  # the rows one product holds: one sample's, or all
    itemsize = itemsize_of(xp, x.dtype)
    per_tap = sample * math.prod(m) * o * itemsize  # bytes of one tap's block of cols
    cap = temporaries_cap(budget, itemsize, (sample, *m, c), (sample, *out, o))
    group = max(1, min(len(taps), cap // per_tap))
    step = m[0] if per_tap <= cap else max(1, m[0] * cap // per_tap)
    # (C, *k, O) -> (C, taps * O), one block of columns per group of taps.
    wmat = xp.reshape(xp.permute_dims(w, (rank, *range(rank), rank + 1)), (c, len(taps) * o))
    blocks = [
        (taps[t0 : t0 + group], wmat[:, t0 * o : (t0 + group) * o])
        for t0 in range(0, len(taps), group)
    ]
    rows = sample * min(step, m[0]) * math.prod(m[1:])
    threads = _backend.sample_threads(xp, rows * c * group * o) if host else 1
    # Host samples go in batches, one per thread, each as many samples as the call's
    # cap holds the products of: the adds then run once per batch.
    whole_cap = temporaries_cap(budget, itemsize, tuple(x.shape), (n, *out, o))
    per_sample = rows * group * o * itemsize
    batch = n if not host else max(1, min(-(-n // threads), whole_cap // per_sample))
    add = _workspace.scoped(_product_and_add)  # cols returns to the workspace each time

    def run_batch(i: int) -> Array:
        b0, b1 = i * batch, min(n, (i + 1) * batch)
        y_part = y[b0:b1, ...]
        for block_taps, block in blocks:
            for r0 in reversed(range(0, m[0], step)):
                part = x[b0:b1, r0 : min(r0 + step, m[0]), ...]
                add(part, block, y_part, r0, block_taps, spec, host, xp=xp)
        return y_part

    # each thread's temporaries come from its own workspace, as the caller's would
    _backend.parallel_map(_workspace.carried(run_batch), -(-n // batch), threads)
    return y


def _product_and_add(
    part: Array,
    block: Array,
    y: Array,
    r0: int,
    taps: list[tuple[int, ...]],
    spec: ConvSpec,
    per_sample: bool,
    *,
    xp: Namespace,
) -> Array:
    """``cols = part @ block`` for input rows ``r0, r0 + 1, ...`` of the first axis and
    the ``taps`` of ``block``'s columns (one product per sample with ``per_sample``),
    each tap's slice added into its strided view of ``y`` (returned; ``cols`` is a
    workspace temporary of this call alone)."""
    n, m, c = part.shape[0], tuple(part.shape[1:-1]), part.shape[-1]
    out, o = tuple(y.shape[1:-1]), y.shape[-1]
    if per_sample:
        rows = math.prod(m)
        cols = _workspace.empty(xp, (n, rows, block.shape[-1]), part.dtype, part)
        for i in range(n):
            lhs = xp.reshape(part[i, ...], (rows, c))
            _backend.product_into("matmul", lhs, block, cols[i, ...], xp=xp)
    else:
        cols = _workspace.matmul(xp.reshape(part, (-1, c)), block, xp=xp)
    cols = xp.reshape(cols, (n, *m, len(taps), o))
    firsts = (r0, *(0,) * (len(m) - 1))
    for j, tap in enumerate(taps):
        dst: list[Any] = [slice(None)]
        src: list[Any] = [slice(None)]
        for axis, t in enumerate(tap):
            s, d, lo = spec.lhs_dilations[axis], spec.dilations[axis], spec.pads[axis][0]
            start = lo - t * d  # output of input index 0 through tap t
            span = _tap_range(firsts[axis], m[axis], start, s, out[axis])
            if span is None:
                break
            a, b = span
            dst.append(slice(a * s + start, (b - 1) * s + start + 1, s))
            src.append(slice(a - firsts[axis], b - firsts[axis]))
        else:
            _backend.add_into(y[(*dst, slice(None))], cols[(*src, j, slice(None))], xp=xp)
    return y
