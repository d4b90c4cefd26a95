"""In-place primitives: they write only into xconv's own fresh temporaries.

NumPy and CuPy use ``out=`` and ``copyto``; torch its in-place methods (``copy_``,
``addmm_``, ``baddbmm_``, ``addcmul_``); CuPy accumulates with cuBLAS's GEMM
(``beta = 1``) and a fused multiply-add kernel. Only for libraries where
:func:`supports_inplace` is true.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

from .._typing import Array, Namespace
from .libraries import Capabilities, array_module, capabilities
from .products import lacks_integer_matmul, matmul, matmul_by_products

__all__ = ["add_into", "copy_into", "product_into", "supports_inplace"]


def supports_inplace(xp: Namespace, *arrays: Array) -> bool:
    """Whether the algorithms may fill fresh arrays of ``xp`` in place.

    True on NumPy, CuPy and torch (``out=`` arguments, ``copyto``, ``+=``), except for
    torch tensors that autograd tracks (an in-place write would break their graph):
    those, and JAX, Dask and array-api-strict arrays (immutable or lazy), go out of
    place with standard operations only.

    Parameters
    ----------
    xp : namespace
        The caller's namespace.
    *arrays : array
        The inputs of the computation (checked for autograd on torch).

    Returns
    -------
    bool
        True when :func:`copy_into` and :func:`product_into`
        may be used.
    """
    caps = capabilities(xp)
    if not caps.inplace:
        return False
    if caps.library == "torch":
        import torch

        return not (torch.is_grad_enabled() and any(a.requires_grad for a in arrays))
    return True


def copy_into(dst: Array, src: Array, *, xp: Namespace) -> None:
    """Copy ``src`` into ``dst``, a fresh array (or a view of one) of the same size.

    ``dst`` is seen with ``src``'s shape (splitting or merging its axes without a
    copy), so a 2-d patch buffer can receive an ``(m, *k, C)`` window view directly.
    Only for libraries where :func:`supports_inplace` is true.
    """
    lib = capabilities(xp).library
    target = _view(lib, dst, tuple(src.shape))
    if lib == "torch":
        target.copy_(src)
    elif lib == "cupy":
        import cupy

        cupy.copyto(target, src)
    else:
        import numpy

        numpy.copyto(target, src)


def add_into(dst: Array, src: Array, *, xp: Namespace) -> None:
    """``dst += src`` for ``dst`` a fresh array or a strided view of one (``src``
    broadcasting to it). Only for libraries where :func:`supports_inplace` is true."""
    lib = capabilities(xp).library
    if lib == "torch":
        dst.add_(src)
    else:
        array_module(lib).add(dst, src, out=dst)


def product_into(
    op: Literal["matmul", "multiply"],
    a: Array,
    b: Array,
    out: Array,
    *,
    xp: Namespace,
    accumulate: bool = False,
    scratch: Array | None = None,
) -> None:
    """``out = op(a, b)``, or ``out += op(a, b)`` with ``accumulate``, into a fresh ``out``.

    ``op`` is ``"matmul"`` or ``"multiply"`` (broadcasting to ``out``); ``out`` may be
    a strided view of a fresh array (e.g. a permuted slice of the output). torch
    accumulates inside the kernel (``addmm_``, ``baddbmm_``, ``addcmul_``); NumPy and
    CuPy compute the product into ``scratch`` (a 1-d buffer of at least ``out.size``
    elements, allocated when None) and add it. Only where :func:`supports_inplace`.
    """
    caps = capabilities(xp)
    lib = caps.library
    if lib == "torch":
        _torch_product_into(caps, op, a, b, out, accumulate)
        return
    if lib == "cupy" and accumulate and _cupy_accumulate(op, a, b, out):
        return
    mod = array_module(lib)
    func = getattr(mod, op) if op == "multiply" else functools.partial(matmul, xp=xp)
    if not accumulate:
        func(a, b, out=out)
        return
    tmp = _scratch(lib, scratch, tuple(out.shape))
    tmp = func(a, b) if tmp is None else func(a, b, out=tmp)
    mod.add(out, tmp, out=out)


def _cupy_accumulate(op: str, a: Array, b: Array, out: Array) -> bool:
    """``out += op(a, b)`` in one CUDA kernel, as torch's ``addmm_``/``addcmul_`` do.

    A 2-d ``matmul`` of one floating or complex dtype is cuBLAS's GEMM with
    ``beta = 1``; a ``multiply`` is a fused multiply-add elementwise kernel. False (and
    nothing done) for other cases, which compute the product and add it.
    """
    import cupy

    if a.dtype != b.dtype or a.dtype != out.dtype or a.dtype.char not in "fdFD":
        return False
    if op == "matmul":
        if not a.ndim == b.ndim == out.ndim == 2:
            return False
        try:
            from cupy import cublas
        except ImportError:  # a CuPy without its cuBLAS wrappers
            return False
        cublas.gemm("N", "N", a, b, out=out, alpha=1.0, beta=1.0)
        return True
    _fma_kernel(cupy)(a, b, out)
    return True


@functools.cache
def _fma_kernel(cupy: Any) -> Any:
    """CuPy's elementwise ``y += a * b`` (broadcasting ``a`` and ``b`` to ``y``)."""
    return cupy.ElementwiseKernel("T a, T b", "T y", "y += a * b", "xconv_fma")


def _torch_product_into(
    caps: Capabilities, op: str, a: Array, b: Array, out: Array, accumulate: bool
) -> None:
    import torch

    if op == "multiply":
        if accumulate:
            out.addcmul_(a, b)
        else:
            torch.mul(a, b, out=out)
    elif lacks_integer_matmul(caps, a):
        y = matmul_by_products(a, b)
        if accumulate:
            out.add_(y)
        else:
            out.copy_(y)
    elif not accumulate:
        if out.is_contiguous():
            torch.matmul(a, b, out=out)
        else:
            out.copy_(torch.matmul(a, b))
    elif a.ndim == b.ndim == out.ndim == 2:
        out.addmm_(a, b)
    elif a.ndim == b.ndim == out.ndim == 3 and a.shape[0] == b.shape[0]:
        out.baddbmm_(a, b)
    else:
        out.add_(torch.matmul(a, b))


def _view(lib: str, a: Array, shape: tuple[int, ...]) -> Array:
    """``a`` seen with ``shape`` without a copy (an error, never a silent copy)."""
    if tuple(a.shape) == shape:
        return a
    if lib == "torch":
        return a.view(shape)
    if lib == "numpy":
        import numpy

        try:
            return numpy.reshape(a, shape, copy=False)
        except TypeError:  # NumPy < 2.1 has no copy=
            pass
    view = a.view()
    view.shape = shape  # NumPy and CuPy refuse when this would need a copy
    return view


def _scratch(lib: str, scratch: Array | None, shape: tuple[int, ...]) -> Array | None:
    """The first ``prod(shape)`` elements of the 1-d buffer ``scratch``, as ``shape``."""
    if scratch is None:
        return None
    return _view(lib, scratch[: math.prod(shape)], shape)
