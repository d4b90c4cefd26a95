"""A NumPy emulation of cuDNN's convolution operations on raw memory.

Each function reads and writes memory only through the dims and strides of a
description (anything with cuDNN's ``x_dim``, ``x_stride``, ``w_dim``, ``w_stride``,
``y_dim``, ``y_stride``, ``pre_padding``, ``post_padding``, ``stride`` and ``dilation``:
a :class:`xconv._backend.cudnn.CudnnConv`, or what a fake cudnn module recorded), and computes
what cuDNN's cross-correlation defines: grouped by the filter's channel dimension,
zero padding ``pre`` before and ``post`` after each spatial axis, in float64.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

NDArray = npt.NDArray[Any]
Pairs = tuple[tuple[int, int], ...]


def _view(memory: NDArray, dim: Sequence[int], stride: Sequence[int]) -> NDArray:
    flat = memory.reshape(-1)
    size = flat.itemsize
    return np.lib.stride_tricks.as_strided(flat, tuple(dim), tuple(s * size for s in stride))


def cudnn_out(desc: Any) -> tuple[int, ...]:
    return tuple(
        (n + lo + hi - (k - 1) * dl - 1) // st + 1
        for n, k, st, dl, lo, hi in zip(
            desc.x_dim[2:],
            desc.w_dim[2:],
            desc.stride,
            desc.dilation,
            desc.pre_padding,
            desc.post_padding,
        )
    )


def _windows(
    desc: Any,
) -> tuple[tuple[int, ...], int, list[tuple[tuple[int, ...], tuple[slice, ...]]]]:
    out = cudnn_out(desc)
    assert out == tuple(desc.y_dim[2:]), "cuDNN's output size rule disagrees with the Y dims"
    taps = []
    for kk in itertools.product(*map(range, desc.w_dim[2:])):
        sl = tuple(
            slice(k * dl, k * dl + (m - 1) * st + 1, st)
            for k, dl, m, st in zip(kk, desc.dilation, out, desc.stride)
        )
        taps.append((kk, sl))
    return out, desc.x_dim[1] // desc.w_dim[1], taps


def emulate_fprop(xmem: NDArray, wmem: NDArray, ymem: NDArray, desc: Any) -> None:
    x = _view(xmem, desc.x_dim, desc.x_stride)
    w = _view(wmem, desc.w_dim, desc.w_stride)
    out, g, taps = _windows(desc)
    n = desc.x_dim[0]
    o, cg, *_ = desc.w_dim
    xp = np.pad(x, [(0, 0), (0, 0), *zip(desc.pre_padding, desc.post_padding)])
    xg = xp.reshape(n, g, cg, *xp.shape[2:])
    wg = w.reshape(g, o // g, cg, *w.shape[2:])
    y = np.zeros((n, g, o // g, *out))
    for kk, sl in taps:
        y += np.einsum("ngc...,goc->ngo...", xg[(..., *sl)], wg[(..., *kk)])
    _view(ymem, desc.y_dim, desc.y_stride)[...] = y.reshape(n, o, *out)


def emulate_dgrad(dymem: NDArray, wmem: NDArray, dxmem: NDArray, desc: Any) -> None:
    dy = _view(dymem, desc.y_dim, desc.y_stride)
    w = _view(wmem, desc.w_dim, desc.w_stride)
    out, g, taps = _windows(desc)
    n, c, *spatial = desc.x_dim
    o, cg, *_ = desc.w_dim
    padded = [s + lo + hi for s, lo, hi in zip(spatial, desc.pre_padding, desc.post_padding)]
    dxp = np.zeros((n, g, cg, *padded))
    dyg = dy.reshape(n, g, o // g, *out)
    wg = w.reshape(g, o // g, cg, *w.shape[2:])
    for kk, sl in taps:
        dxp[(..., *sl)] += np.einsum("ngo...,goc->ngc...", dyg, wg[(..., *kk)])
    crop = tuple(slice(lo, lo + s) for lo, s in zip(desc.pre_padding, spatial))
    _view(dxmem, desc.x_dim, desc.x_stride)[...] = dxp.reshape(n, c, *padded)[(..., *crop)]


def emulate_wgrad(xmem: NDArray, dymem: NDArray, dwmem: NDArray, desc: Any) -> None:
    x = _view(xmem, desc.x_dim, desc.x_stride)
    dy = _view(dymem, desc.y_dim, desc.y_stride)
    out, g, taps = _windows(desc)
    n = desc.x_dim[0]
    o, cg, *k = desc.w_dim
    xp = np.pad(x, [(0, 0), (0, 0), *zip(desc.pre_padding, desc.post_padding)])
    xg = xp.reshape(n, g, cg, *xp.shape[2:])
    dyg = dy.reshape(n, g, o // g, *out)
    dw = np.zeros((g, o // g, cg, *k))
    for kk, sl in taps:
        window = xg[(..., *sl)].reshape(n, g, cg, -1)
        dw[(..., *kk)] = np.einsum("ngoz,ngcz->goc", dyg.reshape(n, g, o // g, -1), window)
    _view(dwmem, desc.w_dim, desc.w_stride)[...] = dw.reshape(o, cg, *k)


def fwd_shape(
    x: Sequence[int], w: Sequence[int], s: Sequence[int], d: Sequence[int], pads: Pairs
) -> tuple[int, ...]:
    out = [
        (n + lo + hi - (k - 1) * dl - 1) // st + 1
        for n, k, st, dl, (lo, hi) in zip(x[1:-1], w[:-2], s, d, pads)
    ]
    return (x[0], *out, w[-1])
