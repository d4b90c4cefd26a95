"""The caller's arrays: their namespace, device and layout, and waiting for them.

Nothing here moves data to the host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import array_api_compat as compat

from .._typing import Array, Namespace
from .inplace import copy_into, supports_inplace
from .libraries import capabilities, jax_default_platform
from .threads import parallel_map

__all__ = [
    "all_finite",
    "device",
    "extension_float",
    "finish",
    "is_dense",
    "map_samples",
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


#: Elements of one block of :func:`all_finite` (its boolean temporary: 1 MiB at most).
FINITE_BLOCK = 2**20


def extension_float(dtype: Any) -> bool:
    """Whether ``dtype`` is one of NumPy's extension float types from ``ml_dtypes``
    (``bfloat16``, the ``float8_*`` formats), which ``isdtype`` does not know.

    Recognised by the module of the dtype's scalar type, so asking never imports
    ``ml_dtypes``; its integer types (``int4``, ...) are not floats.
    """
    scalar = getattr(dtype, "type", None)
    module = getattr(scalar, "__module__", None) or ""
    if module.split(".")[0] != "ml_dtypes":  # first: a dtype's name is slow to build
        return False
    return str(getattr(dtype, "name", "")).startswith(("bfloat", "float"))


def _blocks(a: Array, limit: int) -> Iterator[Array]:
    """``a`` as consecutive slices of its leading axes of at most ``limit`` elements
    (one element at least): views on every library, never a reshaped copy of a
    strided or broadcast array."""
    size = math.prod(a.shape)
    if a.ndim == 0 or size <= limit:
        yield a
        return
    row = size // a.shape[0]
    if row > limit:  # one leading index is still too large: split it further
        for i in range(a.shape[0]):
            yield from _blocks(a[i, ...], limit)
        return
    step = max(1, limit // row)
    for i in range(0, a.shape[0], step):
        yield a[i : i + step, ...]


def all_finite(xp: Namespace, *arrays: Array, block: int = FINITE_BLOCK) -> bool:
    """Whether every element of every array is finite (integers always are).

    Reads each floating array in slices of its leading axes of at most ``block``
    elements, with the library's own ``isfinite`` and ``all``, and stops at the first
    slice with a NaN or an inf: its temporaries are one slice's booleans, however large
    (or broadcast) the array is. Only for libraries that compute eagerly: on Dask it
    would compute the graph, under ``jax.jit`` it cannot be known.
    """
    for a in arrays:
        if not extension_float(a.dtype) and xp.isdtype(a.dtype, "integral"):
            continue
        if not all(bool(xp.all(xp.isfinite(part))) for part in _blocks(a, block)):
            return False
    return True


def map_samples(
    run: Callable[[Array], Array], x: Array, *, xp: Namespace, threads: int = 1
) -> Array:
    """``concat([run(x[i:i+1]) for i in range(N)])``: ``run`` on each sample alone.

    Each call sees arrays of one sample's shape, so its result does not depend on the
    other samples or their number. The results are written into one preallocated
    array where the library allows it, else concatenated; JAX maps over the samples
    with ``jax.lax.map`` (one compiled body, whatever ``N`` is). With ``threads > 1``
    (and a library whose arrays can be written in place) the samples after the first
    run on that many host threads (:func:`~xconv._backend.threads.parallel_map`):
    ``run`` must then give the same result on any thread.
    """
    n = x.shape[0]
    if capabilities(xp).library == "jax":
        import jax

        return jax.lax.map(lambda xi: run(xi[None, ...])[0, ...], x)
    first = run(x[0:1, ...])
    if not supports_inplace(xp, x, first):
        return xp.concat([first, *(run(x[i : i + 1, ...]) for i in range(1, n))], axis=0)
    y = xp.empty((n, *first.shape[1:]), dtype=first.dtype, device=device(first))
    copy_into(y[0:1, ...], first, xp=xp)

    def one(i: int) -> None:
        copy_into(y[i + 1 : i + 2, ...], run(x[i + 1 : i + 2, ...]), xp=xp)

    parallel_map(one, n - 1, threads)
    return y


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
