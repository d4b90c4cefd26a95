"""Plans of repeated calls: what a call decided, kept for the next call like it.

Before a public function touches the data it decides a lot: the arrays' namespace and
result dtype, the checked and normalised arguments (a :class:`~xconv._spec.ConvSpec`),
the compute dtype, the algorithm of ``method="auto"`` and whether the work fits in
memory. None of that reads the values in the arrays, only their types, shapes, dtypes
and devices and the other arguments, so a call that repeats another (a layer in a
loop) reuses what the first one decided: its *plan*. The public functions' helpers in
:mod:`xconv._api` build their plans with the checks and decisions they always made,
and look them up here first.

- :func:`key` is the key of a call: its kind (which helper, at which rank, with which
  argument names), each array's type, shape, dtype and device, and every other
  argument. Only arguments made of ``int``, ``str``, None, and lists and tuples of
  them have a key (lists and tuples alike: the checks treat them alike); anything
  else (an array passed as strides or sizes, a float, a bool, a NumPy integer) has
  none, and such a call decides everything again, as if there were no cache. Exact
  types keep ``1``, ``True`` and ``1.0``, equal as dictionary keys, apart: only the
  first is valid.
- :func:`cached` returns the plan of a key, or builds it. A plan is stored only once
  its build returned, so only calls whose arguments passed every check are ever
  served from the cache; a bad call raises the same error every time.
- The cache is one least recently used map of at most :data:`MAX_PLANS` plans, for
  every thread (its operations run under a lock; a plan is immutable once stored,
  except for the plans it memoises for itself, which are the same whichever thread
  makes them).
- :func:`clear` empties it. :func:`xconv._algorithms.tuning` calls it when it swaps
  the algorithms' tile sizes and thresholds, on which the memory check and JAX's
  compiled programs in the plans depend. A plan whose build started before a
  :func:`clear` is not stored. A forked child starts with an empty cache.

What a plan never holds: the arrays, and anything read from their values or from the
context of a call, which stay per call where they were: ``auto``'s finiteness check,
and whether torch's autograd tracks the arrays (the algorithms ask it as they run).
The memory check is made once, when the plan is built, against the memory of the
arrays' device then.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar

__all__ = ["MAX_PLANS", "cached", "clear", "key", "size"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: Plans kept at most (the least recently used goes first).
MAX_PLANS = 256

_LOCK = threading.Lock()
_PLANS: OrderedDict[Hashable, Any] = OrderedDict()
#: Incremented by :func:`clear`: a build that began under another generation is not stored.
_generation = 0


class _NoKey(Exception):
    """An argument of the call has no key (see :func:`key`)."""


def _argument(value: Any) -> Hashable:
    """``value`` as a part of a key: ints, strings and None as they are, lists and
    tuples of them as tuples; :class:`_NoKey` for anything else."""
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value
    if kind is tuple or kind is list:
        return tuple([_argument(v) for v in value])
    raise _NoKey


def _array(a: Any) -> tuple[Any, ...]:
    """The parts of a key that describe array ``a``: type, shape, dtype, device.

    The device is the array's ``device`` attribute (None where there is none, as for
    a JAX tracer, whose decisions follow JAX's default platform); one that is not
    hashable is represented by its type and ``repr``.
    """
    try:
        shape = a.shape
        dtype = a.dtype
    except AttributeError:  # not an array: the build raises the TypeError
        raise _NoKey from None
    for n in shape:
        if type(n) is not int:  # unknown (Dask's NaN) or symbolic sizes
            raise _NoKey
    try:
        device = a.device
    except AttributeError:
        device = None
    except Exception:  # e.g. an array spread over several devices
        raise _NoKey from None
    try:
        hash(device)
    except TypeError:
        device = (type(device), repr(device))
    return type(a), tuple(shape), dtype, device


def key(kind: Hashable, arrays: tuple[Any, ...], args: tuple[Any, ...]) -> Hashable | None:
    """The key of a call, or None when it has none (see the module docstring).

    Parameters
    ----------
    kind : hashable
        What the call is: the helper, and its fixed arguments (rank, argument names).
    arrays : tuple
        The call's arrays (their type, shape, dtype and device are in the key).
    args : tuple
        The call's other arguments, each as the caller gave it.

    Returns
    -------
    hashable or None
        A flat tuple, or None when an array or argument cannot be part of a key.
    """
    try:
        parts: list[Hashable] = [kind]
        for a in arrays:
            parts.extend(_array(a))
        parts.extend([_argument(v) for v in args])
    except _NoKey:
        return None
    return tuple(parts)


def cached(
    call_key: Hashable | None, build: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """The plan stored under ``call_key``, or ``build(*args, **kwargs)``, stored.

    A call without a key (None), or whose key cannot be hashed, builds its plan and
    stores nothing. A build that raises stores nothing.
    """
    if call_key is None:
        return build(*args, **kwargs)
    try:
        with _LOCK:
            plan = _PLANS.get(call_key)
            if plan is not None:
                _PLANS.move_to_end(call_key)
                return plan
            generation = _generation
    except TypeError:  # an unhashable part (a dtype of some library)
        return build(*args, **kwargs)
    plan = build(*args, **kwargs)
    with _LOCK:
        if generation == _generation:
            _PLANS[call_key] = plan
            if len(_PLANS) > MAX_PLANS:
                _PLANS.popitem(last=False)
    return plan


def clear() -> None:
    """Drop every plan, and keep any build running now from storing its plan."""
    global _generation
    with _LOCK:
        _generation += 1
        _PLANS.clear()


def size() -> int:
    """How many plans are stored."""
    with _LOCK:
        return len(_PLANS)


def _forget_in_child() -> None:
    """A forked child starts with no plans (some hold compiled programs of the parent,
    JAX's) and a lock of its own (a thread of the parent may have held it)."""
    global _LOCK, _PLANS
    _LOCK = threading.Lock()
    _PLANS = OrderedDict()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
