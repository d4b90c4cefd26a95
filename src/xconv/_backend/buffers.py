"""Raw byte buffers in host memory, and typed views of them, for :mod:`xconv._workspace`.

Only where :func:`host_workspace` is true: NumPy arrays, and torch tensors on the CPU
that may be written in place. A buffer is a 1-d array of bytes; :func:`buffer_view`
sees its first bytes as an array of any dtype and shape, without a copy.
"""

from __future__ import annotations

from typing import Any

from .._typing import Array, Namespace
from .inplace import supports_inplace
from .libraries import capabilities

__all__ = [
    "buffer_key",
    "buffer_view",
    "fresh_copy",
    "host_workspace",
    "itemsize",
    "raw_buffer",
    "shares_buffer",
]


def host_workspace(xp: Namespace, *arrays: Array) -> bool:
    """Whether temporaries for ``arrays`` may come from xconv's cache of host buffers.

    NumPy arrays, and torch tensors on the CPU, when they may be written in place
    (:func:`~xconv._backend.supports_inplace`: not while autograd tracks them). CuPy
    and torch on CUDA have caching allocators of their own; JAX, Dask and
    array-api-strict arrays are immutable or lazy.
    """
    caps = capabilities(xp)
    if not caps.host_workspace:
        return False
    if caps.library == "torch" and any(a.device.type != "cpu" for a in arrays):
        return False
    return supports_inplace(xp, *arrays)


def itemsize(xp: Namespace, dtype: Any) -> int:
    """Bytes per element of a NumPy or torch ``dtype``."""
    if capabilities(xp).library == "torch":
        return int(dtype.itemsize)
    import numpy

    return int(numpy.dtype(dtype).itemsize)


def buffer_key(xp: Namespace, like: Array) -> tuple[str, str]:
    """Buffers are shared between arrays of the same library and device."""
    lib = capabilities(xp).library
    return lib, str(like.device) if lib == "torch" else "cpu"


def raw_buffer(xp: Namespace, nbytes: int, like: Array) -> Array:
    """A fresh, uninitialised 1-d buffer of ``nbytes`` bytes on ``like``'s device."""
    if capabilities(xp).library == "torch":
        import torch

        return torch.empty((nbytes,), dtype=torch.uint8, device=like.device)
    import numpy

    return numpy.empty((nbytes,), dtype=numpy.uint8)


def buffer_view(raw: Array, shape: tuple[int, ...], dtype: Any, *, xp: Namespace) -> Array:
    """The first bytes of ``raw`` seen as a C-contiguous ``shape`` array of ``dtype``."""
    size = 1
    for n in shape:
        size *= n
    if capabilities(xp).library == "torch":
        return raw[: size * dtype.itemsize].view(dtype).view(shape)
    import numpy

    dt = numpy.dtype(dtype)
    return raw[: size * dt.itemsize].view(dt).reshape(shape)


def shares_buffer(a: Any, raw: Array, *, xp: Namespace) -> bool:
    """Whether array ``a`` may share memory with the buffer ``raw`` (a bounds check:
    True when unsure). Anything that is not an array of the library does not."""
    if capabilities(xp).library == "torch":
        import torch

        if not isinstance(a, torch.Tensor) or a.device != raw.device:
            return False
        start, end = raw.data_ptr(), raw.data_ptr() + raw.numel()
        base = a.untyped_storage().data_ptr()
        return bool(base < end and base + a.untyped_storage().nbytes() > start)
    import numpy

    return isinstance(a, numpy.ndarray) and bool(numpy.may_share_memory(a, raw))


def fresh_copy(a: Array, *, xp: Namespace) -> Array:
    """A copy of ``a`` in fresh memory of its own."""
    if capabilities(xp).library == "torch":
        import torch

        return a.clone(memory_format=torch.contiguous_format)
    import numpy

    return numpy.array(a, copy=True)
