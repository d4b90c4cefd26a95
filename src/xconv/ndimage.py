"""SciPy's ``scipy.ndimage`` convolution filters, computed natively by every library.

``correlate``, ``convolve``, ``correlate1d`` and ``convolve1d`` take SciPy's
arguments (``mode``, ``cval``, ``origin``, ``axes``, ``output``) and return an array of
the input's library on its device. Each is one call of xconv's core convolution
(see :mod:`xconv._scipy_api`): the output has the input's shape, the kernel's centre
is ``weights.shape // 2 + origin``, and the input is extended as ``mode`` says:

=========== ============================== =========================
``mode``    extension of ``a b c d``       the core's padding mode
=========== ============================== =========================
reflect     ``d c b a | a b c d | d c b a`` ``symmetric`` (NumPy's name)
mirror      ``d c b | a b c d | c b a``     ``reflect``
nearest     ``a a a | a b c d | d d d``     ``edge``
wrap        ``b c d | a b c d | a b c``     ``circular``
constant    ``k k k | a b c d | k k k``     zeros filled with ``cval``
=========== ============================== =========================

(``grid-mirror``, ``grid-wrap`` and ``grid-constant`` are SciPy's aliases of reflect,
wrap and constant for these filters.) Extensions wider than the input repeat
periodically, as SciPy's do. SciPy computes in float64; here the computation runs in
``result_type(input, weights)`` (floating when one of them is), and the result is
cast to ``output`` (default: the input's dtype, complex if the weights are;
integers truncate, as SciPy's cast does).
"""

from __future__ import annotations

import cmath
import math
import numbers
import operator
import warnings
from collections.abc import Sequence
from typing import Any

from . import _backend
from ._docs import NDIMAGE_DOCS, docfiller
from ._scipy_api import (
    ArgumentError,
    Extension,
    OutputError,
    as_arrays,
    correlate_axes,
    flip,
    is_complex,
    promote,
    scalar,
    unbool,
    zeros,
)
from ._typing import NDIMAGE_MODES, Array, Namespace, NdimageMode, PaddingMode
from ._validate import as_int, check_axes, check_choice, is_sequence

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d"]

#: ndimage's ``mode`` names -> the core's padding modes.
MODE_PADDING: dict[NdimageMode, PaddingMode] = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "circular",
    "grid-wrap": "circular",
    "constant": "zeros",
    "grid-constant": "zeros",
}

#: dtype names that ``output`` may give as a string.
_DTYPE_NAMES = (
    "bool",
    *(f"{p}int{b}" for p in ("", "u") for b in (8, 16, 32, 64)),
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
)


def _output_dtype(xp: Namespace, output: Any, default: Any, like: Array, complex_data: bool) -> Any:
    """The dtype ``output`` asks for: None (``default``), a dtype, its name, or an array.

    For complex data (``complex_data``), a real dtype is promoted to complex with a
    ``UserWarning``, and a real dtype name or array is an error, as in SciPy.
    """
    if output is None:
        return default
    if _is_array(output):
        _backend.namespace(input=like, output=output)  # TypeError for another library
        if tuple(output.shape) != tuple(like.shape):
            raise ArgumentError(
                f"output shape not correct: output must have the input's shape "
                f"{tuple(like.shape)}, got {tuple(output.shape)}"
            )
        if complex_data and not is_complex(xp, output.dtype):
            raise OutputError(
                f"output must have complex dtype for complex data, got an array of {output.dtype}"
            )
        return output.dtype
    if isinstance(output, str):
        found = getattr(xp, output, None) if output in _DTYPE_NAMES else None
    else:
        found = next(
            (
                d
                for d in (getattr(xp, n, None) for n in _DTYPE_NAMES)
                if d is not None and _same_dtype(d, output)
            ),
            None,
        )
    if found is None:
        raise TypeError(
            f"output must be None, a dtype of {xp.__name__} (or its name) or an array, "
            f"got {output!r}"
        )
    if complex_data and not is_complex(xp, found):
        if isinstance(output, str):
            raise OutputError(f"output must have complex dtype for complex data, got {output!r}")
        warnings.warn("promoting specified output dtype to complex", UserWarning, stacklevel=4)
        found = _complex_of(xp, found)
    return found


def _complex_of(xp: Namespace, dtype: Any) -> Any:
    """The complex dtype NumPy promotes ``dtype`` to with complex64 (itself if complex)."""
    if is_complex(xp, dtype):
        return dtype
    if dtype == xp.bool:
        return xp.complex64
    info = xp.iinfo(dtype) if xp.isdtype(dtype, "integral") else xp.finfo(dtype)
    small = info.bits <= (16 if xp.isdtype(dtype, "integral") else 32)
    return xp.complex64 if small else xp.complex128


def _is_array(value: Any) -> bool:
    """Whether ``value`` looks like an array (not a dtype, a scalar type or a string)."""
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type)


def _same_dtype(a: Any, b: Any) -> bool:
    """``a == b`` for a dtype ``a``: unequal, quietly, where ``b`` is another library's
    (array-api-strict warns on such comparisons)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return bool(a == b)
    except TypeError:
        return False


def _compute_dtype(xp: Namespace, x: Array, w: Array, cval: Any, constant: bool) -> Any:
    """The dtype the core computes in: exact for integers, floating when one input is.

    SciPy computes in float64; mixing an integer array with a floating one computes
    in the floating one's dtype, and a fractional ``cval`` for integer data in float64.
    Integers of kinds the library does not promote together compute in int64.
    """
    promote(xp, x, w, names=("input", "weights"))  # both numeric
    inexact = [a for a in (x, w) if not xp.isdtype(a.dtype, "integral")]
    if inexact:
        dtype = promote(xp, *inexact, names=("input", "weights")[: len(inexact)])
    else:
        dtype = promote(xp, x, w, names=("input", "weights"))
    if constant and xp.isdtype(dtype, "integral") and _fractional(cval):
        return xp.float64
    return dtype


def _arrays(input: Any, weights: Any) -> tuple[Namespace, Array, Array]:
    """``input`` and ``weights`` as arrays of one namespace (SciPy's array-likes).

    A list or tuple of weights for an array ``input`` takes the input's library and
    device; otherwise :func:`xconv._scipy_api.as_arrays` decides.
    """
    if isinstance(weights, list | tuple) and not isinstance(input, list | tuple):
        xp, (input,) = as_arrays(input=input)
        try:
            weights = xp.asarray(weights, device=_backend.device(input))
        except (TypeError, ValueError, OverflowError, RuntimeError) as err:
            raise TypeError(
                f"weights must be an array or a (nested) list of numbers of one shape, got "
                f"{weights!r} ({type(err).__name__}: {err})"
            ) from None
        return xp, input, weights
    xp, (input, weights) = as_arrays(input=input, weights=weights)
    return xp, input, weights


def _is_complex_number(value: Any) -> bool:
    """Whether ``value`` is a complex number (not a real one)."""
    return isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real)


def _axes(axes: Any, ndim: int, name: str) -> tuple[int, ...]:
    """``axes`` as unique non-negative ints, with the words of SciPy's errors."""
    for a in [] if axes is None else axes if is_sequence(axes) else [axes]:
        try:
            operator.index(a)
        except TypeError:
            raise TypeError(
                f"{name}: {a!r} of type {type(a).__name__} cannot be interpreted as an integer"
            ) from None
    return check_axes(axes, ndim, name=name)


def _origins(origin: Any, count: int) -> tuple[int, ...]:
    """``origin`` (an int, or a sequence or 1-d array of ``count`` ints) as ints."""
    values = list(origin) if is_sequence(origin) else [origin]
    try:
        ints = [operator.index(v) for v in values]
    except TypeError:
        raise TypeError(f"origin must be an int or a sequence of ints, got {origin!r}") from None
    if is_sequence(origin):
        if len(ints) != count:
            raise ArgumentError(
                f"sequence argument must have length equal to input rank: origin={origin!r} "
                f"needs one entry per filtered axis ({count})"
            )
        return tuple(ints)
    return tuple(ints) * count


def _cast(xp: Namespace, y: Array, dtype: Any) -> Array:
    """``y`` cast to ``dtype``; floating values to integers as SciPy's C cast on x86-64.

    Through int64, so that a value beyond the target's range keeps its low bits
    (``-3.0`` is ``2**32 - 3`` as uint32) where a library's own cast may clip or give
    0; uint64 from ``2**63`` up by halves, and 0 from ``2**64`` up (as that cast).
    """
    if not xp.isdtype(y.dtype, "real floating") or not xp.isdtype(dtype, "integral"):
        return xp.astype(y, dtype)
    if dtype != xp.uint64:
        return xp.astype(xp.astype(y, xp.int64), dtype)
    half = 2.0**63
    y = xp.where(y >= 2 * half, 0.0, y)
    big = y >= half
    low = xp.astype(xp.where(big, y - half, y), xp.int64)
    low = xp.where(big, xp.bitwise_or(low, -(2**63)), low)  # + 2**63, in two's complement
    return xp.astype(low, dtype)


def _fractional(cval: Any) -> bool:
    """Whether ``cval`` is a non-integral number (NaN and infinities included)."""
    if isinstance(cval, numbers.Integral) or not isinstance(cval, numbers.Complex):
        return False
    value = complex(cval)
    return value.imag != 0 or not value.real.is_integer()


def _filter(
    input: Array,
    weights: Array,
    output: Any,
    mode: NdimageMode,
    cval: complex,
    origin: int | Sequence[int],
    axes: int | Sequence[int] | None,
    *,
    convolution: bool,
    axes_name: str = "axes",
) -> Array:
    """The four public functions: checks, then one :func:`correlate_axes` call.

    ``axes_name`` is the parameter errors about ``axes`` name (``axis`` for the 1-d
    functions).
    """
    xp, input, weights = _arrays(input, weights)
    ndim = input.ndim
    if ndim == 0:
        raise ValueError("input must have at least one dimension, got a 0-d array")
    if not is_complex(xp, input.dtype) and _is_complex_number(cval):
        raise ValueError(
            f"Cannot provide a complex-valued cval when the input is real: cval={cval!r}, "
            f"input dtype {input.dtype}"
        )
    conv_axes = _axes(axes, ndim, axes_name)
    k = tuple(weights.shape)
    if weights.ndim != len(conv_axes) or 0 in k:
        raise ArgumentError(
            f"weights.ndim ({weights.ndim}) must match len(axes) ({len(conv_axes)}), and no "
            f"extent may be 0: weights of shape {k} for input of shape {tuple(input.shape)} "
            f"and {axes_name}={axes!r}"
        )
    # As SciPy: the weights' dimensions go to the axes in increasing order, and
    # origin[i] to axes[i] (as SciPy documents it).
    order = sorted(range(len(conv_axes)), key=conv_axes.__getitem__)
    given = _origins(origin, len(conv_axes))
    origins = tuple(given[i] for i in order)
    conv_axes = tuple(conv_axes[i] for i in order)
    complex_data = is_complex(xp, weights.dtype) or is_complex(xp, input.dtype)
    if convolution:
        weights = flip(weights, tuple(range(weights.ndim)), xp=xp)
        origins = tuple(-o - (1 - n % 2) for o, n in zip(origins, k, strict=True))
    elif is_complex(xp, weights.dtype):
        weights = xp.conj(weights)
    for o, n in zip(origins, k, strict=True):
        if not -(n // 2) <= o <= (n - 1) // 2:
            raise ValueError(
                f"Invalid origin; origin must satisfy -(weights.shape[k] // 2) <= origin[k] "
                f"<= (weights.shape[k]-1) // 2: origin={origin!r} for weights of shape {k}"
            )
    if is_sequence(mode):  # a str is not one
        raise ArgumentError(f"A sequence of modes is not supported: mode={mode!r}")
    padding_mode = MODE_PADDING[check_choice(mode, NDIMAGE_MODES, name="mode")]
    default = _complex_of(xp, input.dtype) if complex_data else input.dtype
    (input, weights), _ = unbool(xp, input, weights)
    dtype = _compute_dtype(xp, input, weights, cval, padding_mode == "zeros")
    value = scalar(cval, dtype, xp=xp, name="cval")
    out_dtype = _output_dtype(xp, output, default, input, complex_data)
    if padding_mode == "zeros" and xp.isdtype(out_dtype, "integral") and not cmath.isfinite(value):
        raise ValueError(
            f"cval={cval!r} is not finite but the output dtype {out_dtype} is integral"
        )
    if math.prod(input.shape) == 0:
        y = zeros(tuple(input.shape), out_dtype, xp=xp, like=input)
    elif not conv_axes:  # no axis filtered: 0-d weights scale every value, as in SciPy
        y = xp.astype(input, dtype) * xp.astype(weights, dtype)
        if y.dtype != out_dtype:
            y = _cast(xp, y, out_dtype)
    else:
        full = [1] * ndim  # the kernel with extent 1 along the other axes
        for a, n in zip(conv_axes, k, strict=True):
            full[a] = n
        pads = tuple((n // 2 + o, n - 1 - n // 2 - o) for n, o in zip(k, origins, strict=True))
        y = correlate_axes(
            input,
            xp.reshape(weights, tuple(full)),
            conv_axes,
            Extension(pads, padding_mode, value),
            xp=xp,
            dtype=dtype,
        )
        if y.dtype != out_dtype:
            y = _cast(xp, y, out_dtype)
    if not _is_array(output):
        return y
    try:
        output[...] = y
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"output: cannot write into an array of {type(output).__name__} ({err}); "
            "pass a dtype instead"
        ) from None
    return output


_doc = docfiller(NDIMAGE_DOCS)


@_doc
def correlate(
    input: Array,
    weights: Array,
    output: Array | str | None = None,
    mode: NdimageMode = "reflect",
    cval: complex = 0.0,
    origin: int | Sequence[int] = 0,
    *,
    axes: int | Sequence[int] | None = None,
) -> Array:
    """Multidimensional correlation, as ``scipy.ndimage.correlate``.

    ``out[i] = sum_j weights[j] * input_ext[i + j - c]`` with ``c = weights.shape // 2 +
    origin``; complex weights are conjugated (SciPy >= 1.6).

    Parameters
    ----------
    %(input)s
    %(weights)s
    %(output)s
    %(mode)s
    %(cval)s
    %(origin)s
    %(axes)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import ndimage
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> ndimage.correlate(x, np.ones((3, 3)) / 9, mode="nearest").round(2)
    array([[1.67, 2.33, 3.33, 4.  ],
           [4.33, 5.  , 6.  , 6.67],
           [7.  , 7.67, 8.67, 9.33]])
    >>> ndimage.correlate(x, 1.0 - np.arange(3.0), mode="constant", cval=5, axes=1)
    array([[ 4., -2., -2., -3.],
           [ 0., -2., -2.,  1.],
           [-4., -2., -2.,  5.]])
    """
    return _filter(input, weights, output, mode, cval, origin, axes, convolution=False)


@_doc
def convolve(
    input: Array,
    weights: Array,
    output: Array | str | None = None,
    mode: NdimageMode = "reflect",
    cval: complex = 0.0,
    origin: int | Sequence[int] = 0,
    *,
    axes: int | Sequence[int] | None = None,
) -> Array:
    """Multidimensional convolution, as ``scipy.ndimage.convolve``.

    :func:`correlate` with the weights flipped and the origin negated (minus one more
    for even extents, so that an even kernel's centre stays at ``n // 2``).

    Parameters
    ----------
    %(input)s
    %(weights)s
    %(output)s
    %(mode)s
    %(cval)s
    %(origin)s
    %(axes)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import ndimage
    >>> ndimage.convolve(np.arange(4), np.ones(3, dtype=int), mode="wrap")
    array([4, 3, 6, 5])
    """
    return _filter(input, weights, output, mode, cval, origin, axes, convolution=True)


@_doc
def correlate1d(
    input: Array,
    weights: Array,
    axis: int = -1,
    output: Array | str | None = None,
    mode: NdimageMode = "reflect",
    cval: complex = 0.0,
    origin: int = 0,
) -> Array:
    """One-dimensional correlation along ``axis``, as ``scipy.ndimage.correlate1d``.

    Parameters
    ----------
    %(input)s
    %(weights_1d)s
    %(axis)s
    %(output)s
    %(mode)s
    %(cval)s
    %(origin_1d)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import ndimage
    >>> x = np.arange(8) ** 2 % 10
    >>> x
    array([0, 1, 4, 9, 6, 5, 6, 9])
    >>> ndimage.correlate1d(x, [1, 3])
    array([ 0,  3, 13, 31, 27, 21, 23, 33])
    """
    return _filter(
        input, weights, output, mode, cval, origin, _axis(axis),
        convolution=False, axes_name="axis",
    )  # fmt: skip


@_doc
def convolve1d(
    input: Array,
    weights: Array,
    axis: int = -1,
    output: Array | str | None = None,
    mode: NdimageMode = "reflect",
    cval: complex = 0.0,
    origin: int = 0,
) -> Array:
    """One-dimensional convolution along ``axis``, as ``scipy.ndimage.convolve1d``.

    Parameters
    ----------
    %(input)s
    %(weights_1d)s
    %(axis)s
    %(output)s
    %(mode)s
    %(cval)s
    %(origin_1d)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import ndimage
    >>> x = np.arange(8) ** 2 % 10
    >>> x
    array([0, 1, 4, 9, 6, 5, 6, 9])
    >>> ndimage.convolve1d(x, [1, 3])
    array([ 1,  7, 21, 33, 23, 21, 27, 36])
    """
    return _filter(
        input, weights, output, mode, cval, origin, _axis(axis),
        convolution=True, axes_name="axis",
    )  # fmt: skip


def _axis(axis: int) -> tuple[int, ...]:
    """The 1-d functions' ``axis`` as the ``axes`` of :func:`_filter` (checked)."""
    return (as_int(axis, name="axis"),)
