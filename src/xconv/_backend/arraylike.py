"""SciPy's array-likes: the arguments of :mod:`xconv.signal` and :mod:`xconv.ndimage`.

SciPy's rule (``scipy._lib._array_api.array_namespace``): arguments that are not
arrays of any library (lists, tuples, NumPy scalars) are NumPy arrays, Python numbers
take the namespace of the arrays beside them, and arrays of two libraries are an
error. Only values that are not arrays yet are converted; an array is never copied.
"""

from __future__ import annotations

from typing import Any

import array_api_compat as compat
import numpy as np

from .._typing import Array, Namespace
from .arrays import device, namespace

__all__ = ["as_arrays"]

#: NumPy dtype kinds SciPy accepts: booleans and numbers.
_KINDS = "biufc"


def _to_numpy(name: str, value: Any) -> Array:
    """A list, tuple or NumPy scalar as a NumPy array (``TypeError`` if not numeric)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as err:
        raise TypeError(
            f"{name} must be an array or a (nested) sequence of numbers of one shape, "
            f"got {value!r} ({type(err).__name__}: {err})"
        ) from None
    if array.dtype.kind not in _KINDS:
        raise TypeError(
            f"{name} must hold booleans or numbers, got {value!r} (NumPy dtype {array.dtype})"
        )
    return array


def as_arrays(**values: Any) -> tuple[Namespace, tuple[Array, ...]]:
    """The common namespace of the named arguments and each one as an array of it.

    NumPy arrays and arrays of other libraries stay as they are; lists, tuples and
    NumPy scalars become NumPy arrays; Python numbers (``bool``, ``int``, ``float``,
    ``complex``) become 0-d arrays of the namespace of the other arguments (NumPy's when
    all are numbers or array-likes).

    Raises
    ------
    TypeError
        An argument that is none of these, array-likes that are not numeric, or arrays
        of two libraries (naming the arguments).
    """
    arrays: dict[str, Any] = {}
    numbers: list[str] = []
    for name, value in values.items():
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, list | tuple | np.generic):
            arrays[name] = _to_numpy(name, value)
        elif isinstance(value, bool | int | float | complex):
            numbers.append(name)
        else:
            arrays[name] = value
    if not arrays:  # numbers only: NumPy's
        xp = compat.array_namespace(np.empty(0))
        return xp, tuple(xp.asarray(value) for value in values.values())
    xp = namespace(**arrays)
    where = device(next(iter(arrays.values())))
    for name in numbers:
        try:
            arrays[name] = xp.asarray(values[name], device=where)
        except (TypeError, ValueError, OverflowError, RuntimeError) as err:
            raise TypeError(
                f"{name} must be a number {xp.__name__} can hold, got {values[name]!r} "
                f"({type(err).__name__}: {err})"
            ) from None
    return xp, tuple(arrays[name] for name in values)
