"""Checks of plain Python arguments: ints, sequences of ints, choices among strings, axes.

Pure functions of the caller's values that raise ``TypeError``/``ValueError`` naming
the argument. This module imports nothing from xconv, so every other module
(:mod:`xconv._padding`, :mod:`xconv._spec`, the public modules) may import it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, TypeVar, cast

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "as_int",
    "as_int_tuple",
    "check_axes",
    "check_choice",
    "ints_per_axis",
    "is_sequence",
]

_T = TypeVar("_T")

#: Integer arguments are sizes, offsets or steps of some library's int64 indexing.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def as_int(value: Any, *, name: str) -> int:
    """Return ``value`` as a Python int; bools, floats and strings are a ``TypeError``.

    Ints outside the int64 range (``2**70``) are a ``ValueError``: no array library
    can index, pad or stride by them.

    Examples
    --------
    >>> as_int(3, name="stride")
    3
    >>> as_int(1.5, name="stride")
    Traceback (most recent call last):
    ...
    TypeError: stride must be an integer, got 1.5 of type float
    """
    if isinstance(value, bool | str):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}"
        ) from None
    if not INT64_MIN <= result <= INT64_MAX:
        raise ValueError(f"{name} must be an integer in the int64 range, got {result}")
    return result


def is_sequence(value: Any) -> bool:
    """True for lists, tuples and 1-d arrays (not strings, scalars or 0-d arrays)."""
    if isinstance(value, str | bytes):
        return False
    return isinstance(value, Sequence) or getattr(value, "ndim", None) == 1


def as_int_tuple(value: Any, *, name: str) -> tuple[int, ...]:
    """Return a sequence of ints (list, tuple, 1-d integer array) as a tuple of ints."""
    if not is_sequence(value):
        raise TypeError(
            f"{name} must be an int or a sequence of ints, got {type(value).__name__} {value!r}"
        )
    return tuple(as_int(v, name=f"{name}[{i}]") for i, v in enumerate(value))


def check_choice(value: Any, allowed: Sequence[_T], *, name: str) -> _T:
    """``value`` if it is one of ``allowed`` (strings, and None where allowed lists it).

    Anything else, of any type, is a ``ValueError`` that names ``name`` and lists
    the allowed values.

    Examples
    --------
    >>> check_choice("same", ("full", "same", "valid"), name="mode")
    'same'
    >>> check_choice("sam", ("full", "same", "valid"), name="mode")
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of 'full', 'same', 'valid', got 'sam'
    """
    if (value is None or isinstance(value, str)) and value in allowed:
        return cast(_T, value)
    raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def check_axes(axes: Any, ndim: int, *, name: str = "axes") -> tuple[int, ...]:
    """``axes`` (None = all, an int, or a sequence of ints) as unique non-negative ints."""
    if axes is None:
        return tuple(range(ndim))
    items = axes if is_sequence(axes) else [axes]
    found = []
    for i, a in enumerate(items):
        ax = as_int(a, name=f"{name}[{i}]" if is_sequence(axes) else name)
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name}: axis {ax} is out of range for an array of {ndim} dimensions")
        found.append(ax % ndim)
    if len(set(found)) != len(found):
        raise ValueError(f"{name} must be unique, got {axes!r}")
    return tuple(found)


def ints_per_axis(value: Any, count: int, *, name: str) -> tuple[int, ...]:
    """An int or a sequence of ``count`` ints (ndimage's ``origin``) as a tuple of ints."""
    if not is_sequence(value):
        return (as_int(value, name=name),) * count
    values = tuple(as_int(v, name=f"{name}[{i}]") for i, v in enumerate(value))
    if len(values) != count:
        raise ValueError(f"{name} must be an int or {count} ints (one per axis), got {value!r}")
    return values
