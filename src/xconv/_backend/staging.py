"""Staging whole algorithms as one compiled program where that pays (JAX)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._typing import Array, Namespace
from .libraries import capabilities

__all__ = ["jax_jit", "staged"]


def staged(
    xp: Namespace, func: Callable[..., Array], *static: Any
) -> Callable[[Array, Array], Array]:
    """``func(*static, x, w)`` as a function of ``x, w``, compiled once where that pays.

    JAX runs each operation of an eager program as its own compiled kernel, which for
    the many small operations of the tiled algorithms costs far more than the
    arithmetic; there the whole function is staged with ``jax.jit`` (one program per
    ``static`` and input shape, cached; inside a caller's own ``jax.jit`` it is
    simply inlined, and ``jax.grad`` differentiates through it). Other libraries run
    ``func`` as it is. ``static`` must be hashable.
    """
    if capabilities(xp).staged:
        return jax_jit(func, static)
    return functools.partial(func, *static)


@functools.lru_cache(maxsize=512)
def jax_jit(func: Callable[..., Array], static: tuple[Any, ...]) -> Callable[[Array, Array], Array]:
    """``jax.jit(partial(func, *static))``, made once per ``(func, static)`` (512 kept)."""
    import jax

    return jax.jit(functools.partial(func, *static))
