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
import warnings
from collections.abc import Sequence
from typing import Any

from . import _backend
from ._core import result_dtype
from ._docs import NDIMAGE_DOCS, docfiller
from ._scipy_api import Extension, correlate_axes, flip, is_complex, scalar, zeros
from ._typing import NDIMAGE_MODES, Array, Namespace, NdimageMode, PaddingMode
from ._validate import as_int, check_axes, check_choice, ints_per_axis

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


def _output_dtype(xp: Namespace, output: Any, default: Any, like: Array) -> Any:
    """The dtype ``output`` asks for: None (``default``), a dtype, its name, or an array."""
    if output is None:
        return default
    if _is_array(output):
        _backend.namespace(input=like, output=output)  # TypeError for another library
        if tuple(output.shape) != tuple(like.shape):
            raise ValueError(
                f"output must have the input's shape {tuple(like.shape)}, got {tuple(output.shape)}"
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
    return found


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
    """
    for name, a in (("input", x), ("weights", w)):
        result_dtype(xp, a, a, names=(name, name))  # numeric (the pair may mix kinds)
    inexact = [a.dtype for a in (x, w) if not xp.isdtype(a.dtype, "integral")]
    dtype = xp.result_type(*inexact) if inexact else xp.result_type(x, w)
    if constant and xp.isdtype(dtype, "integral") and _fractional(cval):
        return xp.float64
    return dtype


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
    xp = _backend.namespace(input=input)
    if isinstance(weights, list | tuple):  # SciPy's array_like weights
        try:
            weights = xp.asarray(weights, device=_backend.device(input))
        except (TypeError, ValueError, OverflowError, RuntimeError) as err:
            raise TypeError(
                f"weights must be an array or a (nested) list of numbers of one shape, got "
                f"{weights!r} ({type(err).__name__}: {err})"
            ) from None
    xp = _backend.namespace(input=input, weights=weights)
    ndim = input.ndim
    if ndim == 0:
        raise ValueError("input must have at least one dimension, got a 0-d array")
    conv_axes = check_axes(axes, ndim, name=axes_name)
    if weights.ndim != len(conv_axes):
        raise ValueError(
            f"weights must have one dimension per filtered axis ({len(conv_axes)} for input "
            f"of shape {tuple(input.shape)} and axes={axes!r}), got shape {tuple(weights.shape)}"
        )
    k = tuple(weights.shape)
    if 0 in k:
        raise ValueError(f"weights must not be empty, got shape {k}")
    # As SciPy: the weights' dimensions go to the axes in increasing order, and
    # origin[i] to axes[i] (as SciPy documents it).
    order = sorted(range(len(conv_axes)), key=conv_axes.__getitem__)
    given = ints_per_axis(origin, len(conv_axes), name="origin")
    origins = tuple(given[i] for i in order)
    conv_axes = tuple(conv_axes[i] for i in order)
    complex_weights = is_complex(xp, weights.dtype)
    if convolution:
        weights = flip(weights, tuple(range(weights.ndim)), xp=xp)
        origins = tuple(-o - (1 - n % 2) for o, n in zip(origins, k, strict=True))
    elif complex_weights:
        weights = xp.conj(weights)
    for o, n in zip(origins, k, strict=True):
        if not -(n // 2) <= o <= (n - 1) // 2:
            raise ValueError(
                f"origin {origin!r} is out of range for weights of shape {k}: each entry must "
                f"satisfy -(n // 2) <= origin <= (n - 1) // 2"
            )
    padding_mode = MODE_PADDING[check_choice(mode, NDIMAGE_MODES, name="mode")]
    dtype = _compute_dtype(xp, input, weights, cval, padding_mode == "zeros")
    value = scalar(cval, dtype, xp=xp, name="cval")
    default = input.dtype
    if complex_weights and not is_complex(xp, default):
        single = xp.isdtype(default, "real floating") and xp.finfo(default).bits <= 32
        default = xp.complex64 if single else xp.complex128
    out_dtype = _output_dtype(xp, output, default, input)
    if is_complex(xp, dtype) and not is_complex(xp, out_dtype):
        raise TypeError(f"output must have a complex dtype for complex data, got {out_dtype}")
    if padding_mode == "zeros" and xp.isdtype(out_dtype, "integral") and not cmath.isfinite(value):
        raise ValueError(
            f"cval={cval!r} is not finite but the output dtype {out_dtype} is integral"
        )
    if math.prod(input.shape) == 0:
        y = zeros(tuple(input.shape), out_dtype, xp=xp, like=input)
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
            y = xp.astype(y, out_dtype)
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
