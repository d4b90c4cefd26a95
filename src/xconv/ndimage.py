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
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from . import _backend
from ._core import result_dtype
from ._scipy_api import (
    Extension,
    check_axes,
    check_choice,
    correlate_axes,
    flip,
    is_complex,
    normalize_ints,
    scalar,
    zeros,
)
from ._typing import Array, Namespace

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d"]

Mode: TypeAlias = Literal[
    "reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant", "grid-wrap"
]

#: ndimage's ``mode`` names -> the core's padding modes.
MODES = {
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
    weights: Any,
    output: Any,
    mode: Any,
    cval: Any,
    origin: Any,
    axes: tuple[int, ...] | None,
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
    given = normalize_ints(origin, len(conv_axes), name="origin")
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
    padding_mode = MODES[check_choice(mode, tuple(MODES), name="mode")]
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


_PARAMS = """\
input : array
    The input array.
weights : array or array_like
    The kernel{shape}. A list or tuple becomes an array of the input's library on
    its device.
{axis}output : dtype, str or array, optional
    The result's dtype (default: the input's, complex if the weights are), or an
    array of the input's library and shape to write the result into and return
    (not for immutable arrays such as JAX's).
mode : {{"reflect", "constant", "nearest", "mirror", "wrap"}}, optional
    How the input is extended beyond its edges (see :mod:`xconv.ndimage`).
cval : number, optional
    The value of ``mode="constant"``.
origin : int{origin_seq}, optional
    Shift of the kernel's centre ``n // 2``; each entry in
    ``[-(n // 2), (n - 1) // 2]``."""

_RETURNS = """
Returns
-------
array
    The filtered array, of the input's shape, library and device.

Raises
------
TypeError
    Non-arrays, arrays of different libraries, non-numeric dtypes, an ``output``
    that is not a dtype or array, a real ``output`` for complex data.
ValueError
    Weights of the wrong number of dimensions or empty, unknown ``mode``,
    ``origin`` out of range, bad ``axes``/``axis``, a complex ``cval`` for real data.
"""


def _doc(summary: str, one_d: bool, examples: str) -> str:
    params = _PARAMS.format(
        shape=" (1-d)" if one_d else ", one dimension per filtered axis",
        axis="axis : int, optional\n    The axis to filter along (default: the last).\n"
        if one_d
        else "",
        origin_seq="" if one_d else " or sequence of int",
    )
    if not one_d:
        params += (
            "\naxes : int or sequence of int, optional\n"
            "    The axes to filter (default: all); ``weights`` has one dimension per axis."
        )
    imports = ">>> import numpy as np\n>>> from xconv import ndimage\n"
    return (
        f"{summary}\n\nParameters\n----------\n{params}\n{_RETURNS}\nExamples\n--------\n"
        f"{imports}{examples}"
    )


def _nd(convolution: bool) -> Callable[..., Array]:
    """``correlate`` (``convolution=False``) or ``convolve``: the signature once."""

    def nd_filter(
        input: Array,
        weights: Any,
        output: Any = None,
        mode: Mode = "reflect",
        cval: complex = 0.0,
        origin: int | tuple[int, ...] = 0,
        *,
        axes: Any = None,
    ) -> Array:
        return _filter(input, weights, output, mode, cval, origin, axes, convolution=convolution)

    return _named(nd_filter, "convolve" if convolution else "correlate")


def _one_d(convolution: bool) -> Callable[..., Array]:
    """``correlate1d`` or ``convolve1d`` (SciPy puts ``axis`` third)."""

    def filter_1d(
        input: Array,
        weights: Any,
        axis: int = -1,
        output: Any = None,
        mode: Mode = "reflect",
        cval: complex = 0.0,
        origin: int = 0,
    ) -> Array:
        return _filter(
            input, weights, output, mode, cval, origin, _axis(axis),
            convolution=convolution, axes_name="axis",
        )  # fmt: skip

    return _named(filter_1d, "convolve1d" if convolution else "correlate1d")


def _named(func: Callable[..., Array], name: str) -> Callable[..., Array]:
    func.__name__ = func.__qualname__ = name
    return func


correlate, convolve = _nd(False), _nd(True)
correlate1d, convolve1d = _one_d(False), _one_d(True)


def _axis(axis: Any) -> tuple[int, ...]:
    from ._spec import as_int

    return (as_int(axis, name="axis"),)


correlate.__doc__ = _doc(
    """Multidimensional correlation, as ``scipy.ndimage.correlate``.

``out[i] = sum_j weights[j] * input_ext[i + j - c]`` with ``c = weights.shape // 2 +
origin``; complex weights are conjugated (SciPy >= 1.6).""",
    False,
    """>>> x = np.arange(12.0).reshape(3, 4)
>>> ndimage.correlate(x, np.ones((3, 3)) / 9, mode="nearest").round(2)
array([[1.67, 2.33, 3.33, 4.  ],
       [4.33, 5.  , 6.  , 6.67],
       [7.  , 7.67, 8.67, 9.33]])
>>> ndimage.correlate(x, 1.0 - np.arange(3.0), mode="constant", cval=5, axes=1)
array([[ 4., -2., -2., -3.],
       [ 0., -2., -2.,  1.],
       [-4., -2., -2.,  5.]])
""",
)
convolve.__doc__ = _doc(
    """Multidimensional convolution, as ``scipy.ndimage.convolve``.

:func:`correlate` with the weights flipped and the origin negated (minus one more
for even extents, so that an even kernel's centre stays at ``n // 2``).""",
    False,
    """>>> ndimage.convolve(np.arange(4), np.ones(3, dtype=int), mode="wrap")
array([4, 3, 6, 5])
""",
)
for _func, _result in (
    (correlate1d, "array([ 0,  3, 13, 31, 27, 21, 23, 33])"),
    (convolve1d, "array([ 1,  7, 21, 33, 23, 21, 27, 36])"),
):
    _kind = "convolution" if _func is convolve1d else "correlation"
    _func.__doc__ = _doc(
        f"One-dimensional {_kind} along ``axis``, as ``scipy.ndimage.{_func.__name__}``.",
        True,
        f">>> x = np.arange(8) ** 2 % 10\n>>> x\narray([0, 1, 4, 9, 6, 5, 6, 9])\n"
        f">>> ndimage.{_func.__name__}(x, [1, 3])\n{_result}\n",
    )
del _func, _result, _kind
