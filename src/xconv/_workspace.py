"""Reusable temporary buffers: a small per-thread cache, bounded by the memory budget.

A convolution on NumPy allocates the same large temporaries on every call (the padded
input, GEMM's patch tiles, Winograd's transformed tiles). glibc returns such blocks to
the system when they are freed and maps fresh pages for the next call, which then
fault one page at a time: about 3,000 minor page faults and half the time of a 3x3
convolution of ``(8, 28, 28, 128)`` float32 (see ``docs/measurements.md``). Here those
temporaries come from a cache of byte buffers that each thread keeps between calls.

How it is used inside xconv:

- the core runs a convolution inside :func:`call`, which opens the outermost *scope*
  of the calling thread with the call's ``memory_budget`` as the cache's bound;
- an algorithm's ``run`` is wrapped in :func:`scoped`, a nested scope;
- :func:`empty` (and :func:`matmul`, a product written into such a buffer) hand out a
  buffer that no other part of the computation holds: it is taken off the free list
  and given back when the scope that took it ends, so nested calls (chunks, phases,
  gradients running the forward core) never receive a buffer twice;
- a scope's result is checked against the buffers it took and copied when it shares
  memory with one: what a scope returns, and so what the user gets, is never a cached
  buffer.

The cache is used only where :func:`xconv._backend.host_workspace` says so (NumPy;
torch on the CPU), outside any ``workspace(enabled=False)`` block, and only for
buffers of at least :data:`MIN_BYTES`; everything else is ``xp.empty``. Each thread has
its own cache (``threading.local``; helper threads of one call, which hold no scope,
allocate plainly); :func:`clear_workspace` empties every thread's, and a forked child
starts with none. The bytes a thread's cache owns (idle and in use) never exceed the
budget of its current call; a request beyond it is a plain allocation.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec

from . import _backend
from ._typing import Array, Namespace

__all__ = [
    "MIN_BYTES",
    "call",
    "clear_workspace",
    "empty",
    "held_bytes",
    "matmul",
    "scoped",
    "workspace",
]

#: Requests smaller than this are plain allocations: malloc serves them from its heap
#: without fresh pages, and a cache lookup would cost more than it saves.
MIN_BYTES = 64 * 2**10

#: Buffers are whole multiples of this many bytes (one page), so that sizes that differ
#: by a few elements share a buffer.
GRANULE = 4096

_P = ParamSpec("_P")


class _Buffer:
    """One cached byte buffer of a library on a device."""

    __slots__ = ("key", "nbytes", "raw")

    def __init__(self, raw: Array, nbytes: int, key: tuple[str, str]) -> None:
        self.raw = raw
        self.nbytes = nbytes
        self.key = key


class _Cache:
    """One thread's buffers: the idle ones in least-recently-used order, and a count
    of the bytes it owns (idle and in use)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # clear_workspace may come from another thread
        self.idle: dict[int, _Buffer] = {}  # insertion order = LRU order
        self.owned = 0

    def take(self, nbytes: int, key: tuple[str, str]) -> _Buffer | None:
        """The smallest idle buffer of ``key`` with ``nbytes`` to ``2 * nbytes`` bytes."""
        with self.lock:
            best: _Buffer | None = None
            for buf in self.idle.values():
                fits = buf.key == key and nbytes <= buf.nbytes <= 2 * nbytes
                if fits and (best is None or buf.nbytes < best.nbytes):
                    best = buf
            if best is not None:
                del self.idle[id(best)]
            return best

    def make_room(self, nbytes: int, bound: int) -> bool:
        """Drop idle buffers, oldest first, until ``nbytes`` more fit in ``bound``;
        when they do, count them as owned and return True."""
        with self.lock:
            while self.owned + nbytes > bound and self.idle:
                oldest = next(iter(self.idle))
                self.owned -= self.idle.pop(oldest).nbytes
            if self.owned + nbytes > bound:
                return False
            self.owned += nbytes
            return True

    def give_back(self, buffers: list[_Buffer], bound: int | None) -> None:
        """Return ``buffers`` as the most recently used; with ``bound``, then drop the
        oldest idle buffers until the cache owns at most ``bound`` bytes."""
        with self.lock:
            for buf in buffers:
                self.idle[id(buf)] = buf
            if bound is not None:
                while self.owned > bound and self.idle:
                    self.owned -= self.idle.pop(next(iter(self.idle))).nbytes

    def clear(self) -> None:
        """Drop every idle buffer (buffers in use return to the cache when their scope ends)."""
        with self.lock:
            for buf in self.idle.values():
                self.owned -= buf.nbytes
            self.idle.clear()


class _Scope:
    """Buffers taken since a scope opened, with the library that made each."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        self.taken: list[tuple[_Buffer, Namespace]] = []


class _State(threading.local):
    """Per-thread state: the cache, the open scopes, the bound and the switch."""

    def __init__(self) -> None:
        self.cache = _Cache()
        self.scopes: list[_Scope] = []
        self.bound = 0
        self.enabled = True
        with _REGISTRY_LOCK:
            _REGISTRY.add(self.cache)


_REGISTRY_LOCK = threading.Lock()
#: Every thread's cache, for :func:`clear_workspace` (a thread's goes with the thread).
_REGISTRY: weakref.WeakSet[_Cache] = weakref.WeakSet()
_LOCAL = _State()


def _forget_in_child() -> None:
    """A forked child starts with no cache (its copies would only cost memory)."""
    global _LOCAL, _REGISTRY
    _REGISTRY = weakref.WeakSet()
    _LOCAL = _State()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def clear_workspace() -> None:
    """Release the temporary buffers that xconv keeps between calls, in every thread.

    On NumPy (and torch on the CPU) each thread keeps the large temporaries of its
    convolutions (padded copies, patch matrices, transformed tiles) for its next
    call, at most the call's ``memory_budget`` bytes, so that a loop of calls maps no
    fresh memory. Buffers that a running call is using are released when it ends.
    Results never share memory with these buffers.

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> y = xconv.conv2d(np.ones((1, 64, 64, 8)), np.ones((3, 3, 8, 8)), 1, "SAME")
    >>> xconv.clear_workspace()
    """
    with _REGISTRY_LOCK:
        caches = list(_REGISTRY)
    for cache in caches:
        cache.clear()


@contextlib.contextmanager
def workspace(enabled: bool = True) -> Iterator[None]:
    """Turn the reuse of temporary buffers on or off in the current thread.

    Inside ``with xconv.workspace(enabled=False):`` every temporary is a fresh
    allocation, as in a library without a workspace; results are bit-identical
    either way. The previous setting is restored when the block ends.

    Parameters
    ----------
    enabled : bool, default True
        Whether convolutions in this block reuse buffers (see :func:`clear_workspace`).

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> with xconv.workspace(enabled=False):
    ...     y = xconv.conv1d(np.ones((1, 8, 1)), np.ones((3, 1, 1)), 1, "VALID")
    >>> y[0, :, 0]
    array([3., 3., 3., 3., 3., 3.])
    """
    state = _LOCAL
    saved = state.enabled
    state.enabled = bool(enabled)
    try:
        yield
    finally:
        state.enabled = saved


def held_bytes() -> int:
    """Bytes the calling thread's cache owns (idle and in use)."""
    return _LOCAL.cache.owned


def call(budget: int, func: Callable[_P, Array], *args: _P.args, **kwargs: _P.kwargs) -> Array:
    """``func(*args, **kwargs)`` in a scope whose buffers the cache keeps, at most
    ``budget`` bytes of them (the outermost scope of a thread sets the bound; a nested
    one keeps its caller's)."""
    state = _LOCAL
    outer = not state.scopes
    if outer:
        state.bound = max(int(budget), 0)
    return _in_scope(state, outer, func, *args, **kwargs)


def carried(func: Callable[_P, Array]) -> Callable[_P, Array]:
    """``func`` for another thread to run as part of this thread's convolution.

    On this thread it runs in a nested scope (as :func:`scoped`); on another, in a
    scope of that thread's own cache with this thread's switch (:func:`workspace`)
    and bound, so that the helper threads of one call follow its caller's settings.
    """
    home = _LOCAL
    enabled, bound = home.enabled, home.bound

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Array:
        state = _LOCAL
        if state is home:
            return _in_scope(state, False, func, *args, **kwargs)
        saved = state.enabled
        state.enabled = enabled
        try:
            return call(bound, func, *args, **kwargs)
        finally:
            state.enabled = saved

    return wrapper


def scoped(func: Callable[_P, Array]) -> Callable[_P, Array]:
    """Run ``func`` (an algorithm's ``run``) in a nested scope: the buffers it takes
    return to the cache when it returns, and its result never shares memory with them.
    Outside any :func:`call` it allocates plainly."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Array:
        state = _LOCAL
        if not state.scopes:
            return func(*args, **kwargs)
        return _in_scope(state, False, func, *args, **kwargs)

    return wrapper


def _in_scope(
    state: _State, outer: bool, func: Callable[_P, Array], *args: _P.args, **kwargs: _P.kwargs
) -> Array:
    scope = _Scope()
    state.scopes.append(scope)
    cache = state.cache
    try:
        result = func(*args, **kwargs)
        for buf, xp in scope.taken:
            if _backend.shares_buffer(result, buf.raw, xp=xp):
                result = _backend.fresh_copy(result, xp=xp)
                break
        return result
    finally:
        state.scopes.pop()
        cache.give_back([buf for buf, _ in scope.taken], state.bound if outer else None)


def _active(xp: Namespace, *arrays: Array) -> bool:
    state = _LOCAL
    return (
        bool(state.scopes)
        and state.enabled
        and state.bound > 0
        and _backend.host_workspace(xp, *arrays)
    )


def empty(xp: Namespace, shape: tuple[int, ...], dtype: Any, like: Array) -> Array:
    """An uninitialised array of ``shape`` and ``dtype`` on ``like``'s device, for
    temporaries the current scope alone uses: a cached buffer where the workspace
    applies, else ``xp.empty``. It must not outlive the scope (the scopes check the
    result they return)."""
    itemsize = _backend.itemsize(xp, dtype)
    nbytes = math.prod(shape) * itemsize
    if nbytes < MIN_BYTES or not _active(xp, like):
        return xp.empty(shape, dtype=dtype, device=_backend.device(like))
    state = _LOCAL
    cache = state.cache
    key = _backend.buffer_key(xp, like)
    buf = cache.take(nbytes, key)
    if buf is None:
        size = -(-nbytes // GRANULE) * GRANULE
        if not cache.make_room(size, state.bound):
            return xp.empty(shape, dtype=dtype, device=_backend.device(like))
        buf = _Buffer(_backend.raw_buffer(xp, size, like), size, key)
    state.scopes[-1].taken.append((buf, xp))
    return _backend.buffer_view(buf.raw, shape, dtype, xp=xp)


def matmul(a: Array, b: Array, *, xp: Namespace) -> Array:
    """``a @ b`` (2-d or 3-d, as :func:`xconv._backend.matmul`) written into an
    :func:`empty` buffer where the workspace applies, else a fresh array."""
    if not _active(xp, a, b):
        return _backend.matmul(a, b, xp=xp)
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    shape = (a.shape[-2], b.shape[-1])
    dtype = xp.result_type(a, b)
    out = empty(xp, (batch, *shape) if max(a.ndim, b.ndim) == 3 else shape, dtype, a)
    _backend.product_into("matmul", a, b, out, xp=xp)
    return out
