"""Which library is behind a namespace, and what it can do (:class:`Capabilities`).

Library checks use array-api-compat's ``is_*_namespace`` helpers, which test
``sys.modules`` first and so never import a library the caller has not imported.
Both :func:`library` and :func:`capabilities` are looked up once per namespace object:
the core asks them a few dozen times per convolution.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import array_api_compat as compat

from .._typing import Namespace

__all__ = [
    "Capabilities",
    "array_module",
    "capabilities",
    "has_einsum",
    "has_strided_views",
    "jax_default_platform",
    "library",
]

# (name, predicate) in the order they are tested; the predicates never import a library.
_LIBRARIES: tuple[tuple[str, Callable[[Namespace], bool]], ...] = (
    ("numpy", compat.is_numpy_namespace),
    ("cupy", compat.is_cupy_namespace),
    ("torch", compat.is_torch_namespace),
    ("jax", compat.is_jax_namespace),
    ("dask", compat.is_dask_namespace),
    ("array_api_strict", compat.is_array_api_strict_namespace),
)


@dataclass(frozen=True)
class Capabilities:
    """What xconv may use of one library, decided once per namespace.

    Code outside :mod:`xconv._backend` can ask ``capabilities(xp).einsum`` instead of
    comparing library names; the names stay available for messages and for the few
    rules that are measurements of one library (:attr:`library`).

    Attributes
    ----------
    library : str
        ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``, ``"dask"``,
        ``"array_api_strict"`` or ``"other"``.
    strided_views : bool
        Zero-copy ``as_strided`` views (NumPy, CuPy, torch): windows without copies.
    einsum : bool
        An ``einsum`` that the contraction may use (NumPy, CuPy, torch, JAX, Dask).
    inplace : bool
        Fresh arrays may be filled in place (``out=``, ``copyto``, ``+=``): NumPy, CuPy
        and torch (torch tensors that autograd tracks excepted, see
        :func:`~xconv._backend.supports_inplace`).
    native_conv : bool
        The library has a convolution that ``method="native"`` delegates to (torch,
        JAX; CuPy: cuDNN, where cudnn-frontend is installed and finds a GPU, see
        :func:`~xconv._backend.cudnn_unavailable`).
    host_threads : bool
        xconv splits its own elementwise loops over host threads (NumPy only; the
        other libraries parallelise or offload their own kernels).
    staged : bool
        Whole algorithms are compiled as one program (``jax.jit``).
    lazy : bool
        Arrays are lazy graphs (Dask): convolved block by block; reading their values
        would compute them.
    integer_matmul_on_accelerator : bool
        Integer matrix products run on the library's accelerator (not torch's CUDA).
    host_workspace : bool
        Temporaries in host memory may come from xconv's per-thread cache of byte
        buffers (:mod:`xconv._workspace`): NumPy, and torch on the CPU. CuPy's and
        torch's CUDA caching allocators already keep device memory.
    """

    library: str
    strided_views: bool
    einsum: bool
    inplace: bool
    native_conv: bool
    host_threads: bool
    staged: bool
    lazy: bool
    integer_matmul_on_accelerator: bool
    host_workspace: bool


def _library_of(xp: Namespace) -> str:
    for name, predicate in _LIBRARIES:
        if predicate(xp):
            return name
    return "other"


def _capabilities_of(xp: Namespace) -> Capabilities:
    lib = _library_of(xp)
    return Capabilities(
        library=lib,
        strided_views=lib in ("numpy", "cupy", "torch"),
        einsum=lib in ("numpy", "cupy", "torch", "jax", "dask") and hasattr(xp, "einsum"),
        inplace=lib in ("numpy", "cupy", "torch"),
        native_conv=lib in ("torch", "jax", "cupy"),
        host_threads=lib == "numpy",
        staged=lib == "jax",
        lazy=lib == "dask",
        integer_matmul_on_accelerator=lib != "torch",
        host_workspace=lib in ("numpy", "torch"),
    )


#: namespaces are modules (hashable by identity): each is described once
_capabilities_of_module = functools.cache(_capabilities_of)


def capabilities(xp: Namespace) -> Capabilities:
    """The :class:`Capabilities` of namespace ``xp`` (cached per namespace object).

    Parameters
    ----------
    xp : namespace
        An Array API namespace (array-api-compat's, or a library's own).

    Returns
    -------
    Capabilities
        The same object for every call with the same namespace.

    Examples
    --------
    >>> import array_api_compat.numpy as np
    >>> caps = capabilities(np)
    >>> caps.library, caps.strided_views, caps.staged
    ('numpy', True, False)
    """
    try:
        return _capabilities_of_module(xp)
    except TypeError:  # an unhashable namespace object: describe it each time
        return _capabilities_of(xp)


def library(xp: Namespace) -> str:
    """Name of the library behind namespace ``xp`` (``"other"`` when unknown)."""
    return capabilities(xp).library


def has_strided_views(xp: Namespace) -> bool:
    """Whether ``xp``'s arrays support zero-copy strided (``as_strided``) views."""
    return capabilities(xp).strided_views


def has_einsum(xp: Namespace) -> bool:
    """Whether ``xp`` offers an ``einsum`` that xconv may use for the contraction."""
    return capabilities(xp).einsum


@functools.cache
def array_module(lib: str) -> Any:
    """The library module whose functions take ``out=``: CuPy for ``"cupy"``, else NumPy."""
    return importlib.import_module("cupy" if lib == "cupy" else "numpy")


def jax_default_platform() -> str:
    """The platform JAX computes on by default (``"cpu"``, ``"gpu"``, ``"tpu"``)."""
    import jax

    return str(jax.default_backend())
