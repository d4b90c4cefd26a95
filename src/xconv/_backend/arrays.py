"""The caller's arrays: their namespace, device and layout, and waiting for them.

Nothing here moves data to the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import array_api_compat as compat

from .._typing import Array, Namespace
from .libraries import capabilities, jax_default_platform

__all__ = [
    "all_finite",
    "device",
    "finish",
    "is_dense",
    "namespace",
    "on_accelerator",
    "zero_size",
]


def namespace(**arrays: Any) -> Namespace:
    """The common Array API namespace of the named arrays.

    Raises
    ------
    TypeError
        If an argument is not an array, or the arrays come from different libraries.
    """
    for name, value in arrays.items():
        # A NumPy scalar (np.float64 too, a subclass of float) is a 0-d NumPy array.
        python_number = isinstance(value, int | float | complex) and not compat.is_numpy_array(
            value
        )
        if not compat.is_array_api_obj(value) or python_number:
            raise TypeError(
                f"{name} must be an array of an Array API library (numpy, cupy, torch, jax, "
                f"dask, ...), got {type(value).__module__}.{type(value).__qualname__}"
            )
    try:
        return compat.array_namespace(*arrays.values())
    except TypeError:
        kinds = ", ".join(
            f"{n}: {type(v).__module__}.{type(v).__qualname__}" for n, v in arrays.items()
        )
        raise TypeError(
            f"{' and '.join(arrays)} must be arrays of the same library; got {kinds}"
        ) from None


def device(x: Array) -> Any:
    """The device of ``x`` (array-api-compat's portable accessor)."""
    return compat.device(x)


def on_accelerator(xp: Namespace, x: Array) -> bool:
    """Whether ``x`` lives on a GPU (or another accelerator), not in host memory.

    CuPy arrays always; torch tensors off the CPU; JAX arrays on a non-CPU device (a
    tracer: where JAX computes by default). Dask arrays are not: each block runs the
    path of its own library.
    """
    lib = capabilities(xp).library
    if lib == "cupy":
        return True
    if lib == "torch":
        return bool(x.device.type != "cpu")
    if lib == "jax":
        try:
            return bool(next(iter(x.devices())).platform != "cpu")
        except Exception:  # a tracer: no concrete device
            return jax_default_platform() != "cpu"
    return False


def is_dense(xp: Namespace, x: Array) -> bool:
    """Whether ``x`` is a C-contiguous NumPy, CuPy or torch array: one that reshapes to
    any shape (a flat signal, say) as a view, and whose windows along it can be seen
    with :func:`~xconv._backend.sliding_windows`."""
    caps = capabilities(xp)
    if caps.library == "torch":
        return bool(x.is_contiguous())
    return caps.strided_views and bool(x.flags.c_contiguous)


def zero_size(shape: Sequence[int], dtype: Any, *, xp: Namespace, device: Any = None) -> Array:
    """An array of ``shape`` with no elements (some entry of ``shape`` is 0).

    Built as a reshaped ``zeros((0,))``: Dask's automatic chunking divides by zero
    when ``zeros`` is asked directly for some zero-size shapes.
    """
    return xp.reshape(xp.zeros((0,), dtype=dtype, device=device), tuple(shape))


def all_finite(xp: Namespace, *arrays: Array) -> bool:
    """Whether every element of every array is finite (integers always are).

    One reduction per floating array with the library's own ``isfinite`` and ``all``
    (a read of the data, cheap beside a convolution). Only for libraries that compute
    eagerly: on Dask it would compute the graph, under ``jax.jit`` it cannot be known.
    """
    return all(xp.isdtype(a.dtype, "integral") or bool(xp.all(xp.isfinite(a))) for a in arrays)


def finish(y: Array) -> Any:
    """Wait for ``y`` to be computed (GPU sync, JAX dispatch, Dask graph); for timing only.

    Returns ``y``, or for a Dask array its computed value (the blocks' own array type).
    """
    lib = capabilities(compat.array_namespace(y)).library
    if lib == "dask":
        return y.compute()
    if lib == "jax":
        return y.block_until_ready()
    if lib == "cupy":
        import cupy

        cupy.cuda.Device().synchronize()
    elif lib == "torch" and y.device.type == "cuda":
        import torch

        torch.cuda.synchronize()
    return y
