"""FFTs: SciPy's multi-threaded pocketfft for NumPy arrays, else the fft extension."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .._typing import Array, Namespace
from . import threads
from .libraries import capabilities

__all__ = ["FFTFunctions", "fft_namespace"]


@dataclass(frozen=True)
class FFTFunctions:
    """The n-d FFTs an algorithm may call, each ``f(x, *, s, axes)``.

    ``next_fast_len(n, real)`` is the smallest good transform length ``>= n`` when the
    library offers one (SciPy), else None (the caller searches 5-smooth lengths).
    """

    rfftn: Callable[..., Array]
    irfftn: Callable[..., Array]
    fftn: Callable[..., Array]
    ifftn: Callable[..., Array]
    next_fast_len: Callable[[int, bool], int] | None = None


def fft_namespace(xp: Namespace) -> FFTFunctions | None:
    """The FFTs for arrays of ``xp``, or None when the library has no fft extension.

    NumPy arrays use ``scipy.fft`` (imported here, lazily, only when SciPy is
    installed) with one worker per available core and its ``next_fast_len``; every
    other library uses its Array API ``fft`` extension (``xp.fft``), which keeps the
    data on the array's device. Dask arrays are rechunked to one chunk along the
    transformed axes.
    """
    caps = capabilities(xp)
    if caps.library == "numpy":
        scipy_ffts = _scipy_ffts(threads.cores())
        if scipy_ffts is not None:
            return scipy_ffts
    ext = getattr(xp, "fft", None)
    if ext is None or not all(hasattr(ext, f) for f in ("rfftn", "irfftn", "fftn", "ifftn")):
        return None
    fns: list[Callable[..., Array]] = [ext.rfftn, ext.irfftn, ext.fftn, ext.ifftn]
    if caps.lazy:
        fns = [_with_axes_whole(f) for f in fns]
    return FFTFunctions(*fns)


def _scipy_ffts(workers: int) -> FFTFunctions | None:
    """``scipy.fft`` on ``workers`` threads, or None when SciPy is not installed."""
    try:
        import scipy.fft as sfft
    except ImportError:
        return None

    def fast_len(n: int, real: bool) -> int:
        return int(sfft.next_fast_len(n, real=real))

    return FFTFunctions(
        functools.partial(sfft.rfftn, workers=workers),
        functools.partial(sfft.irfftn, workers=workers),
        functools.partial(sfft.fftn, workers=workers),
        functools.partial(sfft.ifftn, workers=workers),
        fast_len,
    )


def _with_axes_whole(fn: Callable[..., Array]) -> Callable[..., Array]:
    """Adapt a Dask FFT: transformed axes last and in one chunk, other axes merged.

    Dask's FFTs need one chunk along each transformed axis, and infer their dtype
    from a sample of shape ``(8,) * ndim`` (8 GiB for the 10-d blocked layout of a
    4-d convolution), so the other axes are merged into one leading batch axis first.
    """

    def call(x: Array, *, s: Sequence[int], axes: Sequence[int]) -> Array:
        axes = [a % x.ndim for a in axes]
        rest = [a for a in range(x.ndim) if a not in axes]
        batch = tuple(x.shape[a] for a in rest)
        moved = x.transpose((*rest, *axes)).reshape((math.prod(batch), *(x.shape[a] for a in axes)))
        inner = tuple(range(1, len(axes) + 1))
        out = fn(moved.rechunk(dict.fromkeys(inner, -1)), s=tuple(s), axes=inner)
        out = out.reshape((*batch, *out.shape[1:]))
        return out.transpose(tuple(int(i) for i in _inverse_order((*rest, *axes))))

    return call


def _inverse_order(order: Sequence[int]) -> list[int]:
    inverse = [0] * len(order)
    for i, a in enumerate(order):
        inverse[a] = i
    return inverse
