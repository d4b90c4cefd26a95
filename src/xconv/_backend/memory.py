"""How much memory there is where an array lives (the core's budget rule asks)."""

from __future__ import annotations

import functools
import os

from .._typing import Array, Namespace
from .libraries import capabilities, jax_default_platform

__all__ = ["host_memory", "memory_limit"]


def memory_limit(xp: Namespace, x: Array) -> int | None:
    """Bytes of memory where ``x`` lives, or None where no single limit applies.

    CuPy and CUDA torch: the device's total memory; JAX on an accelerator: its
    allocator's limit; host arrays: physical memory, or the process's address-space
    limit (``ulimit -v``) when that is lower. None for Dask (its blocks are computed
    one at a time, so the whole result never needs to fit) and where the platform
    does not say (a JAX tracer on an accelerator, Windows).
    """
    caps = capabilities(xp)
    lib = caps.library
    if caps.lazy:
        return None
    if lib == "cupy":
        return _cupy_total_memory(int(x.device.id))
    if lib == "torch" and x.device.type == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(x.device).total_memory)
    if lib == "jax":
        try:
            dev = next(iter(x.devices()))
        except Exception:  # a tracer: no concrete device
            return host_memory() if jax_default_platform() == "cpu" else None
        if dev.platform != "cpu":
            stats = dev.memory_stats() or {}
            limit = stats.get("bytes_limit")
            return int(limit) if limit else None
    return host_memory()


@functools.cache
def _cupy_total_memory(device_id: int) -> int:
    """Total memory of CUDA device ``device_id`` (asked once: a driver call per
    convolution would cost as much as a small convolution on the GPU)."""
    import cupy

    return int(cupy.cuda.runtime.getDeviceProperties(device_id)["totalGlobalMem"])


def host_memory() -> int | None:
    """Physical memory, capped by ``RLIMIT_AS`` when that is set (POSIX only)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX
        return None
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return int(total)
    return int(total if soft in (resource.RLIM_INFINITY, -1) else min(total, soft))
