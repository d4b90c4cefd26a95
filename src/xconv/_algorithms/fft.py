"""Convolution by the FFT (``method="fft"``), with overlap-save blocks for long inputs.

The (dilated) kernel is flipped, so that the correlation TensorFlow computes becomes a
convolution, and transformed once; the input is transformed over its spatial axes;
the channels are contracted frequency by frequency (``Y[n, f, o] = sum_c X[n, f, c]
W[f, c, o]``: a broadcast product when each group has one input channel, else one
batched matmul over the frequencies and groups); the inverse transform gives the
circular convolution, whose valid part is cropped, and strides are applied by slicing.

Transform lengths: a circular convolution of length ``L >= S`` (the input length) is
exact on the ``S - span + 1`` outputs that TensorFlow's VALID convolution keeps, so an
axis is transformed whole at the first fast length ``>= S``. When the input is much
longer than the kernel span, the axis is cut into overlapping blocks of a fast length
``L`` that advance by ``B = L - span + 1`` (overlap-save, the block method that needs no
scatter-add: each block's valid outputs are simply concatenated); ``L`` minimises a
per-axis cost ``blocks * L * (log2 L + 2)``. Blocks also bound the transform sizes.

Fast lengths come from ``scipy.fft.next_fast_len`` for NumPy arrays when SciPy is
installed (the transforms are then SciPy's, on every core), otherwise from a search of
``2**a 3**b 5**c`` numbers (:func:`smooth_length`). The FFTs themselves come from
:func:`xconv._backend.fft_namespace`. Integer inputs are refused: rounding would make
their results inexact. 16-bit floats are transformed in float32 (no library offers
half-precision FFTs on every device) and cast back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from xconv._backend import device, fft_namespace, library
from xconv._spec import ConvSpec
from xconv._typing import Array, Namespace, Shape

__all__ = ["TUNING", "Tuning", "axis_plan", "run", "smooth_length", "why_not", "workspace_bytes"]


@dataclass(frozen=True)
class Tuning:
    """When the FFT method cuts an axis into blocks (:data:`TUNING`: the defaults)."""

    #: Extra per-sample cost of a block (copies, the channel product), in units of
    #: ``log2(L)`` butterflies; favours longer blocks a little.
    block_overhead: float = 2.0
    #: An axis is blocked only when that is at least this much cheaper than one transform.
    block_gain: float = 0.8
    #: Shortest block: shorter transforms cost more per sample than the model says.
    min_block: int = 64
    #: Longest transform along one axis before blocks are mandatory: beyond the caches
    #: a transform costs more per sample than ``log2(L)`` (measured on 10**6 samples:
    #: 16384- to 65536-long blocks ran 1.6-1.8x faster than one transform of the whole
    #: signal).
    max_length: int = 2**16


#: The tuning :func:`run` uses (:func:`xconv._algorithms.tuning` swaps it).
TUNING = Tuning()


@lru_cache(maxsize=1024)
def smooth_length(n: int) -> int:
    """The smallest ``2**a * 3**b * 5**c >= n`` (a fast FFT length for every library).

    Examples
    --------
    >>> smooth_length(1000), smooth_length(1001), smooth_length(2049)
    (1000, 1024, 2160)
    """
    if n <= 1:
        return 1
    best = 1 << (n - 1).bit_length()  # a power of two always qualifies
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # Smallest power of two that lifts p35 to at least n.
            quotient = -(-n // p35)
            candidate = p35 * (1 << (quotient - 1).bit_length())
            best = min(best, candidate)
            p35 *= 3
        p5 *= 5
    return best


def _smooth_between(lo: int, hi: int) -> list[int]:
    """Every 5-smooth number in ``[lo, hi]``, ascending."""
    found = []
    p5 = 1
    while p5 <= hi:
        p35 = p5
        while p35 <= hi:
            v = p35
            while v <= hi:
                if v >= lo:
                    found.append(v)
                v *= 2
            p35 *= 3
        p5 *= 5
    return sorted(found)


@lru_cache(maxsize=1024)
def axis_plan(size: int, span: int, whole: int) -> tuple[int, int]:
    """Transform length ``L`` and block count for one axis.

    Parameters
    ----------
    size : int
        Input length along the axis (at least ``span``).
    span : int
        Dilated kernel extent ``(k - 1) * d + 1``.
    whole : int
        The fast length ``>= size`` used when the axis is transformed whole.

    Returns
    -------
    length, blocks : int
        ``blocks == 1`` means the axis is transformed whole at ``length = whole``;
        otherwise ``blocks`` blocks of ``length`` advance by ``length - span + 1``.
        Blocks are chosen when they cost less than ``TUNING.block_gain`` times one
        transform (cost ``blocks * L * (log2 L + TUNING.block_overhead)``), and always
        when ``whole`` exceeds ``TUNING.max_length``; they are at least
        ``TUNING.min_block`` and twice the span long. Cached (a new tuning clears
        the cache).

    Examples
    --------
    >>> axis_plan(64, 5, 64)
    (64, 1)
    >>> length, blocks = axis_plan(1_000_000, 101, 1_000_000)
    >>> blocks > 1 and (length - 100) * blocks >= 1_000_000 - 100
    True
    """
    full = size - span + 1
    t = TUNING

    def cost(length: int, blocks: int) -> float:
        return blocks * length * (math.log2(max(length, 2)) + t.block_overhead)

    must_block = whole > t.max_length
    lo = max(2 * span, t.min_block)
    hi = min(whole - 1, max(t.max_length, smooth_length(lo)))
    best = (math.inf if must_block else t.block_gain * cost(whole, 1), whole, 1)
    for length in _smooth_between(lo, hi):
        blocks = -(-full // (length - span + 1))
        c = cost(length, blocks)
        if blocks > 1 and c < best[0]:
            best = (c, length, blocks)
    return best[1], best[2]


def why_not(spec: ConvSpec, w_shape: tuple[int, ...], dtype: Any, xp: Namespace) -> str:
    """Why ``method="fft"`` cannot run this convolution, "" when it can."""
    if not xp.isdtype(dtype, ("real floating", "complex floating")):
        return (
            f"fft needs a floating or complex dtype (rounding would make integer results "
            f"inexact), got {dtype}"
        )
    if fft_namespace(xp) is None:
        return f"{library(xp)} offers no fft extension (rfftn/irfftn/fftn/ifftn)"
    return ""


def _spans(spec: ConvSpec, k_sizes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple((k - 1) * d + 1 for k, d in zip(k_sizes, spec.dilations, strict=True))


def _plans(
    sizes: tuple[int, ...], spans: tuple[int, ...], whole: Callable[[int], int]
) -> list[tuple[int, int]]:
    return [axis_plan(n, e, whole(n)) for n, e in zip(sizes, spans, strict=True)]


def workspace_bytes(
    x_shape: Shape, w_shape: Shape, spec: ConvSpec, itemsize: int, *, accelerator: bool = False
) -> int:
    """Bytes of the spectra: input blocks, their product with the filters, the kernel."""
    rank = spec.rank
    sizes, spans = tuple(x_shape[1:-1]), _spans(spec, tuple(w_shape[:rank]))
    if any(n < e for n, e in zip(sizes, spans, strict=True)):
        return 0
    plans = _plans(sizes, spans, smooth_length)
    itemsize = max(itemsize, 4)  # 16-bit floats are transformed in float32
    blocks = x_shape[0] * math.prod(length * count for length, count in plans)
    kernel = math.prod(length for length, _ in plans) * w_shape[-2] * w_shape[-1]
    return itemsize * (blocks * (2 * x_shape[-1] + 3 * w_shape[-1]) + 2 * kernel)


def _along(ndim: int, axis: int, index: slice) -> tuple[slice, ...]:
    key = [slice(None)] * ndim
    key[axis] = index
    return tuple(key)


def _resize(x: Array, axis: int, size: int, xp: Namespace) -> Array:
    """``x`` cropped, or padded with zeros at the end, to ``size`` along ``axis``."""
    n = x.shape[axis]
    if size <= n:
        return x if size == n else x[_along(x.ndim, axis, slice(0, size))]
    shape = list(x.shape)
    shape[axis] = size - n
    return xp.concat([x, xp.zeros(tuple(shape), dtype=x.dtype, device=device(x))], axis=axis)


def _blocks(x: Array, axis: int, length: int, count: int, step: int, xp: Namespace) -> Array:
    """Split ``axis`` into ``count`` blocks of ``length`` that advance by ``step``.

    The axis (zero-padded) is reshaped into ``count + q`` rows of ``step`` samples;
    block ``b`` is rows ``b, ..., b + q`` side by side, cut to ``length``. That is
    ``q + 1 = 1 + ceil((length - step) / step)`` slices and one ``concat``, whatever
    the block count. Returns ``x`` with ``axis`` replaced by ``(count, length)``.
    """
    extra = -(-(length - step) // step)
    x = _resize(x, axis, (count + extra) * step, xp)
    shape = tuple(x.shape)
    rows = xp.reshape(x, (*shape[:axis], count + extra, step, *shape[axis + 1 :]))
    pieces = [rows[_along(rows.ndim, axis, slice(j, j + count))] for j in range(extra + 1)]
    joined = xp.concat(pieces, axis=axis + 1) if len(pieces) > 1 else pieces[0]
    return _resize(joined, axis + 1, length, xp)


def _dilate_kernel(w: Array, dilations: tuple[int, ...], xp: Namespace) -> Array:
    """Insert ``d - 1`` zeros between neighbouring taps along each kernel axis."""
    for axis, f in enumerate(dilations):
        k = w.shape[axis]
        if f == 1 or k <= 1:
            continue
        zeros = xp.zeros_like(w)
        w = xp.stack([w, *([zeros] * (f - 1))], axis=axis + 1)
        w = xp.reshape(w, (*w.shape[:axis], k * f, *w.shape[axis + 2 :]))
        w = w[_along(w.ndim, axis, slice(0, (k - 1) * f + 1))]
    return w


def run(x: Array, w: Array, spec: ConvSpec, *, xp: Namespace) -> Array:
    """VALID convolution of padded canonical ``x (N, *S, C)`` with ``w (*k, C/g, O)``.

    Arguments and result follow the algorithm contract of
    :mod:`xconv._algorithms` (padded canonical input, filters, spec; ``(N, *out, O)``).
    """
    rank, groups = spec.rank, spec.groups
    n, sizes, c = x.shape[0], tuple(x.shape[1:-1]), x.shape[-1]
    k_sizes, cg, o = tuple(w.shape[:rank]), w.shape[-2], w.shape[-1]
    og = o // groups
    spans = _spans(spec, k_sizes)
    full = tuple(size - e + 1 for size, e in zip(sizes, spans, strict=True))  # stride 1
    out = tuple((f - 1) // st + 1 if f > 0 else 0 for f, st in zip(full, spec.strides, strict=True))
    dtype = x.dtype
    if 0 in (n, c, o, *out):
        return xp.zeros((n, *out, o), dtype=dtype, device=device(x))
    fft = fft_namespace(xp)
    assert fft is not None, "checked by why_not()"
    is_complex = xp.isdtype(dtype, "complex floating")
    if not is_complex and xp.finfo(dtype).bits < 32:
        x, w = xp.astype(x, xp.float32), xp.astype(w, xp.float32)

    def whole(size: int) -> int:
        if fft.next_fast_len is None:
            return smooth_length(size)
        return fft.next_fast_len(size, not is_complex)

    plans = _plans(sizes, spans, whole)
    lengths = tuple(length for length, _ in plans)
    steps = list(zip(plans, spans, full, strict=True))

    # Input as (N, nb_1, X_1, ..., nb_r, X_r, C): blocked axes hold blocks of L samples;
    # an axis transformed whole keeps its S samples (the transform zero-pads to L).
    for d, ((length, count), span) in enumerate(zip(plans, spans, strict=True)):
        axis = 1 + 2 * d
        if count > 1:
            x = _blocks(x, axis, length, count, length - span + 1, xp)
        else:
            x = xp.reshape(x, (*x.shape[:axis], 1, *x.shape[axis:]))
    axes = tuple(2 + 2 * d for d in range(rank))
    forward, inverse = (fft.fftn, fft.ifftn) if is_complex else (fft.rfftn, fft.irfftn)
    spectrum = forward(x, s=lengths, axes=axes)

    # Kernel: dilate, flip (correlation -> convolution), transform at the same lengths.
    kernel = xp.flip(_dilate_kernel(w, spec.dilations, xp), axis=tuple(range(rank)))
    kspec = forward(kernel, s=lengths, axes=tuple(range(rank)))  # (*F, Cg, O)
    freqs = tuple(kspec.shape[:rank])

    if cg == 1:
        # One input channel per group: a broadcast product, no reduction.
        # kspec (*F, 1, O) -> (F_1, 1, F_2, 1, ..., F_r, g, Og) against
        # spectrum (N, nb_1, F_1, ..., nb_r, F_r, g, 1).
        interleaved: list[int] = []
        for f in freqs:
            interleaved += [f, 1]
        kb = xp.reshape(kspec, (*interleaved[:-1], groups, og))
        prod = xp.reshape(spectrum, (*spectrum.shape, 1)) * kb
        prod = xp.reshape(prod, (*prod.shape[:-2], o))
        y = inverse(prod, s=lengths, axes=axes)  # (N, nb_1, L_1, ..., O)
    else:
        # Batched matmul over frequencies and groups: (F, g, M, Cg) @ (F, g, Cg, Og).
        counts = tuple(count for _, count in plans)
        nf, rows = math.prod(freqs), n * math.prod(counts)
        to_front = (*axes, 0, *(a - 1 for a in axes), 2 * rank + 1)
        lhs = xp.reshape(xp.permute_dims(spectrum, to_front), (nf, rows, groups, cg))
        lhs = xp.permute_dims(lhs, (0, 2, 1, 3))
        rhs = xp.permute_dims(xp.reshape(kspec, (nf, cg, groups, og)), (0, 2, 1, 3))
        prod = xp.permute_dims(xp.matmul(lhs, rhs), (0, 2, 1, 3))  # (F, M, g, Og)
        prod = xp.reshape(prod, (*freqs, n, *counts, o))
        y = inverse(prod, s=lengths, axes=tuple(range(rank)))  # (*L, N, nb.., O)
        back = [rank]
        for d in range(rank):
            back += [rank + 1 + d, d]
        y = xp.permute_dims(y, (*back, 2 * rank + 1))  # (N, nb_1, L_1, ..., O)

    # Valid part of each block (views), blocks joined (one copy), then strides.
    kept = [length - e + 1 if count > 1 else f for (length, count), e, f in steps]
    crop = [slice(None)] * y.ndim
    for d, (e, b) in enumerate(zip(spans, kept, strict=True)):
        crop[2 + 2 * d] = slice(e - 1, e - 1 + b)
    joined = tuple(count * b for (_, count), b in zip(plans, kept, strict=True))
    y = xp.reshape(y[tuple(crop)], (n, *joined, o))
    strided = (slice(0, f, st) for f, st in zip(full, spec.strides, strict=True))
    y = y[(slice(None), *strided, slice(None))]
    if y.dtype != dtype:
        y = xp.astype(y, dtype)
    return y
