"""Matrix products and the windows x filters contraction.

:func:`contract` uses ``einsum`` where the library has one, else one batched
:func:`matmul` (standard operations only). :func:`matmul` adds the library-specific
fast paths and stand-ins: a loop of 2-d BLAS calls for large NumPy stacks, ``out=``
on NumPy and CuPy, and broadcast products for integer torch tensors on CUDA.
"""

from __future__ import annotations

import math
from typing import Any

from .._typing import Array, Namespace
from . import threads
from .libraries import Capabilities, array_module, capabilities

__all__ = [
    "LOOP_MAX_BATCH",
    "LOOP_MIN_WORK",
    "PRODUCTS_CHUNK",
    "contract",
    "contraction_dtype",
    "lacks_integer_matmul",
    "matmul",
    "matmul_by_products",
]

#: A stack of NumPy products runs as one BLAS call per product when each product
#: has at least this many multiply-adds and there are at most :data:`LOOP_MAX_BATCH`
#: of them: NumPy's stacked ``matmul`` does not hand the stack to BLAS as such and
#: ran 1.3-17x slower than such a loop on Winograd's 36 tile-position products.
LOOP_MIN_WORK = 2**16
LOOP_MAX_BATCH = 256

#: elements of one broadcast product in :func:`matmul_by_products`
PRODUCTS_CHUNK = 1 << 22


def contraction_dtype(xp: Namespace, dtype: Any) -> Any:
    """A dtype the library's contraction supports for ``dtype`` data.

    torch's CPU ``bmm`` has no kernels for uint16/uint32/uint64: those compute in int64,
    which gives the same result modulo 2**bits (two's-complement arithmetic), and the
    core casts back.
    """
    if (
        capabilities(xp).library == "torch"
        and xp.isdtype(dtype, "unsigned integer")
        and xp.iinfo(dtype).bits > 8
    ):
        return xp.int64
    return dtype


def lacks_integer_matmul(caps: Capabilities, a: Array) -> bool:
    """Whether ``a`` is an integer array on an accelerator whose library has no integer
    matrix product there (torch on CUDA has no integer ``mm``/``bmm``)."""
    return (
        not caps.integer_matmul_on_accelerator
        and a.device.type != "cpu"
        and not (a.dtype.is_floating_point or a.dtype.is_complex)
    )


def matmul(a: Array, b: Array, *, xp: Namespace, out: Array | None = None) -> Array:
    """``a @ b`` for 2-d or 3-d operands (a 2-d one is shared by every product).

    ``out`` (NumPy and CuPy only; a fresh array or view of the result's shape)
    receives the result. On NumPy a stack of large products is computed as a loop of
    2-d BLAS calls (see :data:`LOOP_MIN_WORK`); everything else is ``xp.matmul``.
    NumPy products of fewer than :data:`~xconv._backend.threads.BLAS_SMALL_WORK`
    multiply-adds each run on one BLAS thread
    (:func:`~xconv._backend.threads.blas_threads`).
    """
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    caps = capabilities(xp)
    if lacks_integer_matmul(caps, a):
        return matmul_by_products(a, b)
    if caps.library != "numpy":
        return _matmul(caps, a, b, batch, m, k, n, xp=xp, out=out)
    with threads.blas_threads(m * k * n < threads.BLAS_SMALL_WORK):
        return _matmul(caps, a, b, batch, m, k, n, xp=xp, out=out)


def _matmul(
    caps: Capabilities,
    a: Array,
    b: Array,
    batch: int,
    m: int,
    k: int,
    n: int,
    *,
    xp: Namespace,
    out: Array | None,
) -> Array:
    if (
        caps.library == "numpy"
        and max(a.ndim, b.ndim) == 3
        and 1 < batch <= LOOP_MAX_BATCH
        and m * k * n >= LOOP_MIN_WORK
    ):
        import numpy

        if out is None:
            out = numpy.empty((batch, m, n), dtype=numpy.result_type(a, b))
        for i in range(batch):
            numpy.matmul(a[i] if a.ndim == 3 else a, b[i] if b.ndim == 3 else b, out=out[i])
        return out
    if out is None:
        return xp.matmul(a, b)
    return array_module(caps.library).matmul(a, b, out=out)


def matmul_by_products(a: Array, b: Array, *, chunk: int = PRODUCTS_CHUNK) -> Array:
    """``a @ b`` for torch tensors as broadcast products summed over chunks of the inner axis.

    For integer tensors on CUDA, which has no integer matrix product: the same result
    as a matmul, modulo ``2**bits`` of the operands' dtype, with temporaries of at most
    ``chunk`` elements (one inner index at least).
    """
    import torch

    k = a.shape[-1]
    outer = math.prod(a.shape[:-1]) * math.prod(b.shape[:-2]) * b.shape[-1]  # at least
    step = max(1, min(k, chunk // max(1, outer)))
    y = None
    for lo in range(0, max(k, 1), step):  # k == 0: one empty sum, the zeros
        part = torch.sum(
            a[..., lo : lo + step, None] * b[..., None, lo : lo + step, :], dim=-2, dtype=a.dtype
        )
        y = part if y is None else y.add_(part)
    return y


def contract(windows: Array, w: Array, groups: int, *, xp: Namespace) -> Array:
    """Contract windows ``(N, *out, *k, C)`` with filters ``(*k, C/groups, O)``.

    Returns ``(N, *out, O)``. Output channel ``o`` belongs to group
    ``o // (O // groups)`` and sees input channels ``[g * C/groups, (g + 1) * C/groups)``,
    as in TensorFlow. Uses ``einsum`` where the library has one, otherwise one batched
    ``matmul`` over the groups (standard operations only).
    """
    rank = w.ndim - 2
    n, out = windows.shape[0], windows.shape[1 : rank + 1]
    k_sizes, cg, o = w.shape[:rank], w.shape[-2], w.shape[-1]
    og = o // groups
    windows = xp.reshape(windows, (n, *out, *k_sizes, groups, cg))
    w = xp.reshape(w, (*k_sizes, cg, groups, og))
    caps = capabilities(xp)
    if caps.einsum and not lacks_integer_matmul(caps, windows):
        letters = "abdefhijklmpqrstuvwxyz"
        o_sub, k_sub = letters[:rank], letters[rank : 2 * rank]
        if groups == 1:
            expr = f"n{o_sub}{k_sub}gc,{k_sub}cgo->n{o_sub}o"
        else:
            expr = f"n{o_sub}{k_sub}gc,{k_sub}cgo->n{o_sub}go"
        if caps.library == "numpy":
            work = n * math.prod(out) * math.prod(k_sizes) * cg * og  # per group
            with threads.blas_threads(work < threads.BLAS_SMALL_WORK):
                y = xp.einsum(expr, windows, w, optimize=True)
        else:
            y = xp.einsum(expr, windows, w)
    else:
        m, kk = n * math.prod(out), math.prod(k_sizes)
        lhs = xp.permute_dims(xp.reshape(windows, (m, kk, groups, cg)), (2, 0, 1, 3))
        rhs = xp.permute_dims(xp.reshape(w, (kk, cg, groups, og)), (2, 0, 1, 3))
        y = matmul(
            xp.reshape(lhs, (groups, m, kk * cg)), xp.reshape(rhs, (groups, kk * cg, og)), xp=xp
        )
        y = xp.permute_dims(y, (1, 0, 2))
    return xp.reshape(y, (n, *out, o))
