"""SciPy's ``scipy.signal`` convolutions, computed natively by every Array API library.

The functions take SciPy's arguments and return SciPy's shapes and dtypes, but the
result is an array of the inputs' own library, on their device: nothing goes through
NumPy. Each is a translation into the one core convolution of xconv (a
single-channel convolution, see :mod:`xconv._scipy_api`); ``method="direct"`` is
one of the core's direct algorithms, ``method="fft"`` its FFT (with overlap-save
blocks for long axes). SciPy is never imported.

Inputs are SciPy's: arrays, or array-likes (lists, NumPy scalars: NumPy arrays;
Python numbers: 0-d arrays of the other input's library), booleans included.
Differences from SciPy are listed in ``docs/decisions.md`` ("xconv.signal and
xconv.ndimage"): integer inputs never go to the FFT under ``method="auto"``; empty
inputs give zero-filled results of the shapes that the formulas below give.

Output sizes per axis, for inputs of sizes ``n1`` and ``n2``: ``"full"``
``n1 + n2 - 1``; ``"same"`` ``n1`` (centred on the full output, its start at
``(n2 - 1) // 2``; ``n2 // 2`` for :func:`correlate2d`, as SciPy); ``"valid"``
``|n1 - n2| + 1``, where one input must be at least as large as the other in every
dimension (SciPy swaps them when the second is the larger).
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

from . import _backend
from ._scipy_api import (
    Extension,
    as_arrays,
    core_method,
    correlate_axes,
    finite,
    flip,
    is_complex,
    plan,
    promote,
    scalar,
    unbool,
    zeros,
)
from ._typing import (
    BOUNDARIES,
    SIGNAL_METHODS,
    SIGNAL_MODES,
    Array,
    Boundary,
    Namespace,
    PaddingMode,
    Pads,
    SignalMethod,
    SignalMode,
)
from ._validate import check_choice

__all__ = [
    "choose_conv_method",
    "convolve",
    "convolve2d",
    "correlate",
    "correlate2d",
    "fftconvolve",
    "oaconvolve",
]

#: convolve2d's ``boundary`` names (with SciPy's aliases) -> the core's padding modes.
BOUNDARY_MODES: dict[Boundary, PaddingMode] = {
    "fill": "zeros",
    "pad": "zeros",
    "wrap": "circular",
    "circular": "circular",
    "symm": "symmetric",
    "symmetric": "symmetric",
}
#: What each function computes: ``convolve`` (convolve, convolve2d), ``correlate``
#: (conjugates ``in2``) and ``correlate2d`` (like correlate, with SciPy's centring
#: of ``same`` and its unconjugated result when ``valid`` swaps the inputs).
_Kind: TypeAlias = Literal["convolve", "correlate", "correlate2d"]


# --- shapes ----------------------------------------------------------------------------


def _swap_for_valid(mode: str, s1: tuple[int, ...], s2: tuple[int, ...], axes: Any) -> bool:
    """Whether ``valid`` mode swaps the inputs (``in2`` larger); ``ValueError`` if neither is."""
    if mode != "valid" or not axes:
        return False
    ok1 = all(s1[a] >= s2[a] for a in axes)
    ok2 = all(s2[a] >= s1[a] for a in axes)
    if not (ok1 or ok2):
        raise ValueError(
            f"For 'valid' mode, one must be at least as large as the other in every "
            f"dimension: in1 and in2 have shapes {s1} and {s2}"
        )
    return not ok1


def _pads(mode: str, n: int, k: int, start: int) -> tuple[int, int]:
    """The core's padding of an ``n``-long input for a ``k``-tap kernel.

    ``full``: ``k - 1`` on both sides; ``valid``: none (or ``k - n`` on both sides
    when the kernel is the longer, which gives ``k - n + 1`` outputs); ``same``: the
    output ``[start, start + n)`` of the full one.
    """
    if mode == "full":
        return k - 1, k - 1
    if mode == "same":
        return k - 1 - start, start
    return max(k - n, 0), max(k - n, 0)


def _empty_shape(mode: str, s1: tuple[int, ...], s2: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape by the size formulas (for empty inputs: a sum over nothing)."""
    if mode == "full":
        return tuple(max(a + b - 1, 0) for a, b in zip(s1, s2, strict=True))
    if mode == "same":
        return s1
    return tuple(abs(a - b) + 1 for a, b in zip(s1, s2, strict=True))


def _linear_plan(
    mode: str, s1: tuple[int, ...], s2: tuple[int, ...], kind: _Kind, zero_fill: bool
) -> tuple[bool, Pads]:
    """Whether the core's input is ``in2`` (swapped), and the core's pads.

    ``valid`` swaps when ``in2`` is the larger (SciPy); ``full`` swaps when ``in2`` has
    more elements and the padding is zeros, so that the smaller array is the kernel.
    """
    axes = range(len(s1))
    swap = _swap_for_valid(mode, s1, s2, axes) or (
        mode == "full" and zero_fill and math.prod(s2) > math.prod(s1)
    )
    n, k = (s2, s1) if swap else (s1, s2)
    pads = tuple(
        _pads(mode, n[a], k[a], k[a] // 2 if kind == "correlate2d" else (k[a] - 1) // 2)
        for a in axes
    )
    return swap, pads


def _operands(
    a: Array, b: Array, kind: _Kind, swap: bool, mode: str, xp: Namespace
) -> tuple[Array, Array]:
    """The core's input ``x`` and kernel ``w``: the core correlates, SciPy convolves.

    ``convolve(a, b)`` correlates ``a`` with ``flip(b)``, ``correlate(a, b)`` with
    ``conj(b)``. Swapped (convolution commutes): ``b`` with ``flip(a)``, and for a
    correlation, ``flip(conj(b))`` with ``flip(a)``; SciPy's ``correlate2d`` returns
    the conjugate of that when ``valid`` swaps its inputs.
    """
    axes = tuple(range(a.ndim))

    def conj(u: Array) -> Array:
        return xp.conj(u) if is_complex(xp, u.dtype) else u

    if not swap:
        return a, flip(b, axes, xp=xp) if kind == "convolve" else conj(b)
    if kind == "convolve":
        return b, flip(a, axes, xp=xp)
    if kind == "correlate2d" and mode == "valid":
        return flip(b, axes, xp=xp), flip(conj(a), axes, xp=xp)
    return flip(conj(b), axes, xp=xp), flip(a, axes, xp=xp)


def _inputs(in1: Any, in2: Any) -> tuple[Namespace, Array, Array, bool]:
    """SciPy's inputs as arrays of one namespace, promoted to one numeric dtype.

    Array-likes and Python numbers become arrays (:func:`xconv._scipy_api.as_arrays`),
    booleans numbers (:func:`~xconv._scipy_api.unbool`), and both inputs take the dtype
    that SciPy's promotion gives them. The last value says whether both were boolean
    (the result is then ``!= 0`` of the integer one).
    """
    xp, (a, b) = as_arrays(in1=in1, in2=in2)
    (a, b), boolean = unbool(xp, a, b)
    dtype = promote(xp, a, b, names=("in1", "in2"))
    return xp, xp.astype(a, dtype, copy=False), xp.astype(b, dtype, copy=False), boolean


def _check(xp: Namespace, in1: Array, in2: Array, mode: Any, method: Any = "auto") -> Any:
    """Check modes and dimensions; the result dtype (both inputs have it)."""
    if not isinstance(mode, str) or mode not in SIGNAL_MODES:
        raise ValueError(f"acceptable mode flags are 'valid', 'same', or 'full'; got mode={mode!r}")
    check_choice(method, SIGNAL_METHODS, name="method")
    if in1.ndim != in2.ndim:
        raise ValueError(
            f"in1 and in2 should have the same dimensionality, got shapes "
            f"{tuple(in1.shape)} and {tuple(in2.shape)}"
        )
    return in1.dtype


def _linear(
    in1: Array,
    in2: Array,
    mode: SignalMode,
    method: SignalMethod,
    kind: _Kind,
    boundary: Boundary = "fill",
    fillvalue: complex = 0,
    two_d: str | None = None,
) -> Array:
    """:func:`convolve`, :func:`correlate`, :func:`convolve2d` and :func:`correlate2d`
    (``two_d``: the name of the function whose inputs must be 2-d)."""
    xp, in1, in2, boolean = _inputs(in1, in2)
    if two_d is not None and not in1.ndim == in2.ndim == 2:
        raise ValueError(
            f"{two_d} inputs must both be 2-D arrays, got in1 and in2 of shapes "
            f"{tuple(in1.shape)} and {tuple(in2.shape)}"
        )
    y = _linear_arrays(xp, in1, in2, mode, method, kind, boundary, fillvalue)
    return y != 0 if boolean else y


def _fill(fillvalue: Any, xp: Namespace, dtype: Any) -> complex:
    """``fillvalue`` (a number, or an array-like of one element) as a number of ``dtype``."""
    if isinstance(fillvalue, list | tuple) or hasattr(fillvalue, "shape"):
        fxp, (array,) = as_arrays(fillvalue=fillvalue)
        if math.prod(array.shape) != 1:
            raise ValueError(
                f"`fillvalue` must be scalar or an array with one element, got shape "
                f"{tuple(array.shape)}"
            )
        item = fxp.reshape(array, (-1,))[0] if array.ndim else array
        if fxp.isdtype(array.dtype, "complex floating"):
            fillvalue = complex(item)
        elif fxp.isdtype(array.dtype, "integral") or array.dtype == fxp.bool:
            fillvalue = int(item)
        else:
            fillvalue = float(item)
    complex_fill = isinstance(fillvalue, numbers.Complex) and not isinstance(
        fillvalue, numbers.Real
    )
    if complex_fill and not is_complex(xp, dtype):
        raise ValueError(
            f"could not cast `fillvalue` directly to the output type: fillvalue="
            f"{fillvalue!r} is complex but the result dtype {dtype} is real"
        )
    return scalar(fillvalue, dtype, xp=xp, name="fillvalue")


def _linear_arrays(
    xp: Namespace,
    in1: Array,
    in2: Array,
    mode: SignalMode,
    method: SignalMethod,
    kind: _Kind,
    boundary: Boundary,
    fillvalue: Any,
) -> Array:
    """:func:`_linear` on arrays of one numeric dtype."""
    dtype = _check(xp, in1, in2, mode, method)
    padding_mode = BOUNDARY_MODES[check_choice(boundary, BOUNDARIES, name="boundary")]
    value = _fill(fillvalue, xp, dtype)
    if in1.ndim == 0:
        return xp.multiply(in1, _operands(in1, in2, kind, False, mode, xp)[1])
    s1, s2 = tuple(in1.shape), tuple(in2.shape)
    swap, pads = _linear_plan(mode, s1, s2, kind, padding_mode == "zeros" and value == 0)
    if 0 in s1 or 0 in s2:
        return zeros(_empty_shape(mode, s1, s2), dtype, xp=xp, like=in1)
    if (
        method == "fft"
        and not finite(xp, (in1, in2))
        and _backend.library(xp) not in ("dask", "jax")
    ):
        warnings.warn(
            "Use of fft convolution on input with NAN or inf results in NAN or inf output. "
            "Consider using method='direct' instead.",
            RuntimeWarning,
            stacklevel=4,
        )
    x, w = _operands(in1, in2, kind, swap, mode, xp)
    # SciPy's method="fft" on integers: transform in float64, round, cast back.
    rounded = method == "fft" and xp.isdtype(dtype, "integral")
    y = correlate_axes(
        x,
        w,
        tuple(range(x.ndim)),
        Extension(pads, padding_mode, value),
        xp=xp,
        dtype=xp.float64 if rounded else dtype,
        method=method,
    )
    return xp.astype(xp.round(y), dtype) if rounded else y


# --- public functions ------------------------------------------------------------------


def convolve(
    in1: Array, in2: Array, mode: SignalMode = "full", method: SignalMethod = "auto"
) -> Array:
    """Convolve two N-d arrays, as ``scipy.signal.convolve``.

    Parameters
    ----------
    in1 : array
        First input.
    in2 : array
        Second input, with as many dimensions as ``in1`` (0-d inputs multiply).
    mode : {"full", "same", "valid"}, optional
        Output size per axis: ``n1 + n2 - 1``, ``n1`` (centred on the full output)
        or ``|n1 - n2| + 1`` (one input must be at least as large as the other in
        every dimension).
    method : {"auto", "direct", "fft"}, optional
        ``"direct"`` sums products (exact for integers), ``"fft"`` multiplies spectra
        (integers are rounded back), ``"auto"`` chooses as
        :func:`choose_conv_method` says.

    Returns
    -------
    array
        ``in1`` convolved with ``in2``, an array of the inputs' library on their
        device, of dtype ``result_type(in1, in2)``.

    Raises
    ------
    TypeError
        Inputs that are neither arrays nor array-likes of numbers, arrays of different
        libraries.
    ValueError
        Unknown ``mode`` or ``method``, different numbers of dimensions, ``"valid"``
        with neither input the larger.

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import signal
    >>> signal.convolve(np.arange(1, 4), np.arange(3) / 2)
    array([0. , 0.5, 2. , 3.5, 3. ])
    >>> signal.convolve(np.arange(1, 4), np.ones(2, dtype=int), mode="same")
    array([1, 3, 5])
    >>> signal.convolve(np.ones((2, 2)), np.ones((3, 4)), mode="valid")  # swapped
    array([[4., 4., 4.],
           [4., 4., 4.]])
    """
    return _linear(in1, in2, mode, method, "convolve")


def correlate(
    in1: Array, in2: Array, mode: SignalMode = "full", method: SignalMethod = "auto"
) -> Array:
    """Cross-correlate two N-d arrays, as ``scipy.signal.correlate``.

    ``z[k] = sum_l in1[l + k - (n2 - 1)] * conj(in2[l])`` for the full output: the
    second input is conjugated. Parameters, return value and errors as in
    :func:`convolve`.

    Parameters
    ----------
    in1, in2, mode, method
        As in :func:`convolve`.

    Returns
    -------
    array
        The correlation, of dtype ``result_type(in1, in2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import signal
    >>> signal.correlate(np.arange(1.0, 4.0), np.linspace(1.0, 0.5, 2), mode="valid")
    array([2. , 3.5])
    >>> signal.correlate(1j * np.arange(1, 3), np.full(1, 1j))
    array([1.+0.j, 2.+0.j])
    """
    return _linear(in1, in2, mode, method, "correlate")


def convolve2d(
    in1: Array,
    in2: Array,
    mode: SignalMode = "full",
    boundary: Boundary = "fill",
    fillvalue: complex = 0,
) -> Array:
    """Convolve two 2-d arrays with a boundary condition, as ``scipy.signal.convolve2d``.

    SciPy's twin is a direct loop; here ``method="auto"`` of :func:`convolve`
    applies, so large kernels of floating data go through the FFT.

    Parameters
    ----------
    in1, in2 : array
        2-d inputs.
    mode : {"full", "same", "valid"}, optional
        Output size, as in :func:`convolve`.
    boundary : {"fill", "wrap", "symm"}, optional
        How ``in1`` is extended: with ``fillvalue`` (alias ``"pad"``), periodically
        (alias ``"circular"``) or mirrored with the edge repeated (alias
        ``"symmetric"``). Irrelevant for ``"valid"``.
    fillvalue : number, optional
        The value of ``"fill"``; cast to the result dtype (integers truncate).

    Returns
    -------
    array
        The convolution, of dtype ``result_type(in1, in2)``.

    Raises
    ------
    TypeError
        Inputs that are neither arrays nor array-likes of numbers, different libraries,
        a non-numeric ``fillvalue``.
    ValueError
        Inputs that are not 2-d, unknown ``mode`` or ``boundary``, a complex
        ``fillvalue`` for a real result, ``"valid"`` with neither input the larger.

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import signal
    >>> x = np.arange(9.0).reshape(3, 3)
    >>> signal.convolve2d(x, np.ones((2, 2)), mode="same", boundary="wrap")
    array([[16., 14., 18.],
           [10.,  8., 12.],
           [22., 20., 24.]])
    """
    return _linear(in1, in2, mode, "auto", "convolve", boundary, fillvalue, two_d="convolve2d")


def correlate2d(
    in1: Array,
    in2: Array,
    mode: SignalMode = "full",
    boundary: Boundary = "fill",
    fillvalue: complex = 0,
) -> Array:
    """Cross-correlate two 2-d arrays, as ``scipy.signal.correlate2d``.

    As :func:`convolve2d` with ``in2`` conjugated and not flipped. Two SciPy quirks
    are kept: ``"same"`` centres on the full output at ``n2 // 2`` (not
    ``(n2 - 1) // 2`` as :func:`correlate`), and when ``"valid"`` swaps the inputs the
    result is not conjugated back (it is the conjugate of :func:`correlate`'s).

    Parameters
    ----------
    in1, in2 : array
        2-d inputs.
    mode, boundary, fillvalue : optional
        As in :func:`convolve2d`.

    Returns
    -------
    array
        ``in1`` correlated with ``in2``, of dtype ``result_type(in1, in2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import signal
    >>> x = np.arange(9).reshape(3, 3)
    >>> signal.correlate2d(x, np.arange(1, -2, -2).reshape(1, 2), mode="same", boundary="symm")
    array([[-1, -1,  0],
           [-1, -1,  0],
           [-1, -1,  0]])
    """
    return _linear(in1, in2, mode, "auto", "correlate2d", boundary, fillvalue, two_d="correlate2d")


def _freq_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    """``axes`` of :func:`fftconvolve` as unique non-negative ints (SciPy's messages)."""
    if axes is None:
        return tuple(range(ndim))
    items = list(axes) if isinstance(axes, list | tuple) else [axes]
    if not items:
        raise ValueError("when provided, axes cannot be empty")
    try:
        found = [operator.index(a) for a in items]
    except TypeError:
        raise ValueError(
            f"axes must be a scalar or iterable of integers, got axes={axes!r}"
        ) from None
    if any(not -ndim <= a < ndim for a in found):
        raise ValueError(
            f"axes exceeds dimensionality of input: axes={axes!r} for inputs of {ndim} dimensions"
        )
    found = [a % ndim for a in found]
    if len(set(found)) != len(found):
        raise ValueError(f"all axes must be unique, got axes={axes!r}")
    return tuple(found)


def _fft_dtype(xp: Namespace, dtype: Any) -> Any:
    """The dtype SciPy's FFTs give a real or complex input (integers: float64)."""
    if xp.isdtype(dtype, "integral"):
        return xp.float64
    if xp.isdtype(dtype, "real floating") and xp.finfo(dtype).bits < 32:
        return xp.float32
    return dtype


def _frequency(in1: Array, in2: Array, mode: SignalMode, axes: int | Sequence[int] | None) -> Array:
    """:func:`fftconvolve` and :func:`oaconvolve`: the core's FFT along ``axes``."""
    xp, in1, in2, _ = _inputs(in1, in2)
    _check(xp, in1, in2, mode)
    dtype = _fft_dtype(xp, in1.dtype)
    if in1.ndim == 0:
        return xp.multiply(in1, in2)
    conv_axes = _freq_axes(axes, in1.ndim)
    s1, s2 = tuple(in1.shape), tuple(in2.shape)
    if 0 in s1 or 0 in s2:
        return zeros((0,), dtype, xp=xp, like=in1)  # SciPy's empty result
    for a in range(in1.ndim):
        if a not in conv_axes and s1[a] != s2[a] and 1 not in (s1[a], s2[a]):
            raise ValueError(
                f"incompatible shapes for in1 and in2: {s1} and {s2} (along the axes not "
                f"convolved, axes={axes!r}, extents must be equal or one of them 1)"
            )
    # As SciPy: axes where either input has extent 1 are a broadcast product and do
    # not count towards the valid-mode comparison.
    if all(1 in (s1[a], s2[a]) for a in conv_axes):  # a product, in the inputs' dtype
        y = xp.multiply(in1, in2)
        if mode != "same":
            return y
        starts = [(n - m) // 2 for n, m in zip(y.shape, s1, strict=True)]
        return y[tuple(slice(b, b + m) for b, m in zip(starts, s1, strict=True))]
    swap = _swap_for_valid(mode, s1, s2, [a for a in conv_axes if 1 not in (s1[a], s2[a])])
    if mode == "same":  # SciPy centres un-convolved axes too: in1's extent 1 keeps in2's middle
        index = tuple(
            slice((s2[a] - 1) // 2, (s2[a] + 1) // 2)
            if a not in conv_axes and s1[a] == 1
            else slice(None)
            for a in range(in2.ndim)
        )
        in2 = in2[index]
    x, k = (in2, in1) if swap else (in1, in2)
    pads = tuple(_pads(mode, x.shape[a], k.shape[a], (k.shape[a] - 1) // 2) for a in conv_axes)
    w = flip(k, conv_axes, xp=xp)
    return correlate_axes(x, w, conv_axes, Extension(pads), xp=xp, dtype=dtype, method="fft")


def fftconvolve(
    in1: Array, in2: Array, mode: SignalMode = "full", axes: int | Sequence[int] | None = None
) -> Array:
    """Convolve two N-d arrays with the FFT, as ``scipy.signal.fftconvolve``.

    Parameters
    ----------
    in1, in2 : array
        Inputs with the same number of dimensions; along axes not in ``axes`` their
        extents must be equal or one of them 1 (the result broadcasts there).
    mode : {"full", "same", "valid"}, optional
        Output size along ``axes``, as in :func:`convolve`.
    axes : int or sequence of int, optional
        The axes to convolve over (default: all).

    Returns
    -------
    array
        The convolution, of SciPy's dtype: complex if an input is complex, else
        real floating (integers give float64, float16 gives float32). Empty inputs
        give SciPy's empty result, of shape ``(0,)``.

    Raises
    ------
    TypeError
        Inputs that are neither arrays nor array-likes of numbers, different libraries.
    ValueError
        Unknown ``mode``, bad ``axes``, incompatible shapes, ``"valid"`` with neither
        input the larger, or a library without an fft extension.

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import signal
    >>> rows = np.ones((3, 8))
    >>> signal.fftconvolve(rows, np.arange(1.0, -2.0, -2.0).reshape(1, 2), mode="valid", axes=1).shape
    (3, 7)
    >>> signal.fftconvolve(np.ones(4), np.ones(3)).round(12)  # FFT rounding is ~1e-16
    array([1., 2., 3., 3., 2., 1.])
    """
    return _frequency(in1, in2, mode, axes)


def oaconvolve(
    in1: Array, in2: Array, mode: SignalMode = "full", axes: int | Sequence[int] | None = None
) -> Array:
    """Convolve two N-d arrays by overlapping blocks, as ``scipy.signal.oaconvolve``.

    The core's FFT already cuts long axes into blocks where that is cheaper
    (overlap-save rather than SciPy's overlap-add: the same result), so this is
    :func:`fftconvolve` under SciPy's other name. Parameters, return value and
    errors as there.

    Parameters
    ----------
    in1, in2 : array
        Inputs with the same number of dimensions.
    mode : {"full", "same", "valid"}, optional
        Output size along ``axes``.
    axes : int or sequence of int, optional
        The axes to convolve over (default: all).

    Returns
    -------
    array
        The convolution, of the dtype :func:`fftconvolve` gives.

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import signal
    >>> y = signal.oaconvolve(np.ones(10_000), np.ones(50) / 50, mode="same")
    >>> y.shape, round(float(y[5_000]), 12)
    ((10000,), 1.0)
    """
    return _frequency(in1, in2, mode, axes)


def choose_conv_method(
    in1: Array, in2: Array, mode: SignalMode = "full", measure: bool = False
) -> str | tuple[str, dict[str, float]]:
    """The method :func:`convolve` and :func:`correlate` use, as SciPy's twin.

    Without ``measure`` the choice reads shapes and dtypes only (never the data):
    ``"fft"`` for large kernels of floating data where the library has an fft
    extension (the core's rule, ``xconv._core.prefers_fft``), else ``"direct"``.
    Integer inputs always get ``"direct"`` (exact).

    Parameters
    ----------
    in1, in2 : array
        The inputs that would be convolved.
    mode : {"full", "same", "valid"}, optional
        The mode they would be convolved in.
    measure : bool, optional
        Time both methods (best of three runs after one warm-up, waiting for the
        result) and return the faster with the times.

    Returns
    -------
    method : str
        ``"direct"`` or ``"fft"``.
    times : dict of str to float
        With ``measure=True`` only: seconds per method (``inf`` where the method
        does not apply).

    Examples
    --------
    >>> import numpy as np
    >>> from xconv import signal
    >>> signal.choose_conv_method(np.ones(1000), np.ones(5))
    'direct'
    >>> signal.choose_conv_method(np.ones((256, 256)), np.ones((15, 15)))
    'fft'
    >>> signal.choose_conv_method(np.ones(1000, dtype=int), np.ones(500, dtype=int))
    'direct'
    >>> method, times = signal.choose_conv_method(np.ones(64), np.ones(3), measure=True)
    >>> sorted(times)
    ['direct', 'fft']
    """
    if measure:
        times: dict[str, float] = {
            m: _seconds(functools.partial(convolve, in1, in2, mode, m)) for m in ("fft", "direct")
        }
        return min(times, key=lambda m: times[m]), times
    xp, in1, in2, boolean = _inputs(in1, in2)
    dtype = _check(xp, in1, in2, mode)
    s1, s2 = tuple(in1.shape), tuple(in2.shape)
    swap, pads = _linear_plan(mode, s1, s2, "convolve", True)
    if boolean or in1.ndim == 0 or 0 in s1 or 0 in s2:
        return "direct"
    x_shape, w_shape = (s2, s1) if swap else (s1, s2)
    axes = tuple(range(in1.ndim))
    spec, _, w_canon, _ = plan(x_shape, w_shape, axes, pads)
    return "fft" if core_method("auto", xp, spec, dtype, w_canon) == "fft" else "direct"


def _seconds(run: Callable[[], Array]) -> float:
    """Best time of three calls of ``run`` after a warm-up; ``inf`` if it does not apply."""
    try:
        _backend.finish(run())
    except ValueError:  # e.g. no fft extension: the method is not a candidate
        return math.inf
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        _backend.finish(run())
        best = min(best, time.perf_counter() - start)
    return best
