"""The libraries installed here, for the command line, the benchmarks and the docs.

Never used by the convolution itself: :func:`available_backends` imports every
candidate library, and :func:`to_numpy` is an explicit host copy (for checking results
against NumPy, never on the convolution's path).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from . import _backend
from ._typing import Array

__all__ = ["CANDIDATES", "available_backends", "to_numpy", "version_of"]

#: Libraries the command line tries, with the module that holds their arrays.
CANDIDATES = ("numpy", "array_api_strict", "torch", "jax", "dask", "cupy")


def available_backends() -> list[tuple[str, str, Callable[[Any], Array]]]:
    """``(name, device, from_numpy)`` for each installed library (and each GPU device).

    Imports the candidate libraries, so only the command line and benchmarks call it.
    """
    found: list[tuple[str, str, Callable[[Any], Array]]] = []
    for name in CANDIDATES:
        try:
            mod = importlib.import_module("dask.array" if name == "dask" else name)
        except Exception:  # not installed, or broken: simply not offered
            continue
        if name == "cupy":
            try:
                if mod.cuda.runtime.getDeviceCount() == 0:
                    continue
            except Exception:
                continue
            found.append((name, "cuda:0", mod.asarray))
        elif name == "dask":
            found.append((name, "cpu", functools.partial(mod.from_array, chunks=-1)))
        elif name == "torch":
            found.append((name, "cpu", mod.from_numpy))
            if mod.cuda.is_available():
                found.append((name, "cuda", functools.partial(_torch_to_cuda, mod)))
        elif name == "jax":
            mod.config.update("jax_enable_x64", True)
            jnp = importlib.import_module("jax.numpy")
            dev = str(mod.devices()[0])
            found.append((name, dev, jnp.asarray))
        else:
            found.append((name, "cpu", mod.asarray))
    return found


def _torch_to_cuda(torch: Any, a: Any) -> Array:
    return torch.from_numpy(a).to("cuda")


def version_of(name: str) -> str:
    """Installed version of a library (``"-"`` when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    dists = {
        "cupy": ("cupy-cuda13x", "cupy-cuda12x", "cupy"),
        "tensorflow": ("tensorflow-cpu", "tensorflow"),
    }.get(name, (name.replace("_", "-"),))
    for dist in dists:
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "-"


def to_numpy(y: Array) -> Any:
    """An explicit host copy as a NumPy array, for the demo's and benchmarks' checks."""
    import numpy

    y = _backend.finish(y)
    if hasattr(y, "get"):
        return y.get()
    if hasattr(y, "detach"):
        return y.detach().cpu().numpy()
    return numpy.asarray(y)
