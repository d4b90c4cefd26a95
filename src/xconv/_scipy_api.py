"""What :mod:`xconv.signal` and :mod:`xconv.ndimage` share: one translation to the core.

SciPy's convolutions are single-channel: every one of them is a correlation of a
(padded) array ``x`` with a kernel ``w`` along some axes, the other axes being
broadcast. :func:`correlate_axes` translates that into the one core call,
:func:`xconv._core.conv_general`, with ``C = O = 1`` in the simplest case:

- axes where only ``x`` has extent go to the batch (``N``);
- axes where both have the same extent become channel groups (a depthwise
  convolution, ``groups = C``), so each slice sees its own kernel;
- axes where only ``w`` has extent become the output multiplier of each group.

:func:`core_method` maps SciPy's ``method`` (``"auto"``, ``"direct"``, ``"fft"``)
to a core algorithm name. :func:`as_arrays` and :func:`promote` take SciPy's
arguments as SciPy does: array-likes become NumPy arrays, booleans compute as
integers, and dtypes that the library cannot promote (torch's uint16 with int64,
array-api-strict's integers with floats) promote as ``scipy._lib._array_api.xp_promote``
does. Nothing here touches a library's own functions.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

from . import _backend
from ._core import choose_method, compute_dtype, conv_general, prefers_fft
from ._spec import ConvSpec, conv_spec
from ._typing import Array, Namespace, Pads, SignalMethod

__all__ = [
    "ArgumentError",
    "Extension",
    "OutputError",
    "as_arrays",
    "core_method",
    "correlate_axes",
    "finite",
    "flip",
    "is_complex",
    "plan",
    "promote",
    "scalar",
    "unbool",
    "zeros",
]


class ArgumentError(ValueError, RuntimeError):
    """A bad argument: a ``ValueError``, and the ``RuntimeError`` SciPy raises for it."""


class OutputError(TypeError, RuntimeError):
    """An ``output`` array that cannot hold the result: a ``TypeError``, and the
    ``RuntimeError`` SciPy raises for it."""


def as_arrays(**values: Any) -> tuple[Namespace, tuple[Array, ...]]:
    """SciPy's arguments as arrays of one namespace (see :func:`xconv._backend.as_arrays`).

    Lists, tuples and NumPy scalars are NumPy arrays; Python numbers take the other
    arguments' namespace; arrays of two libraries are a ``TypeError`` naming them.
    """
    return _backend.as_arrays(**values)


def _is_bool(xp: Namespace, a: Array) -> bool:
    return bool(a.dtype == xp.bool)


def unbool(xp: Namespace, *arrays: Array) -> tuple[tuple[Array, ...], bool]:
    """Boolean arrays as numbers; and whether all of them were boolean.

    A boolean array takes the dtype of the first non-boolean one (NumPy's promotion of
    ``bool`` with a number), or int64 when all are boolean: the caller then maps the
    exact integer result back with ``!= 0`` (a sum of ANDs is an OR).
    """
    numeric = [a.dtype for a in arrays if not _is_bool(xp, a)]
    target = numeric[0] if numeric else xp.int64
    out = tuple(xp.astype(a, target) if _is_bool(xp, a) else a for a in arrays)
    return out, not numeric


def promote(xp: Namespace, *arrays: Array, names: tuple[str, ...]) -> Any:
    """The result dtype of ``arrays`` as SciPy's ``xp_promote`` gives it.

    ``xp.result_type`` where the library defines it; where it does not, integers of
    mixed kinds give int64 (torch has no promotion for uint16/32/64) and a mix with
    floating arrays gives the result type of the floating ones and the library's
    default floating dtype (SciPy's rule for array-api-strict and torch).

    Raises ``TypeError`` naming an array whose dtype is not numeric.
    """
    for name, a in zip(names, arrays, strict=True):
        try:
            numeric = xp.isdtype(a.dtype, "numeric")
        except (TypeError, ValueError):
            numeric = False
        if not numeric:
            raise TypeError(
                f"{name} must have a numeric dtype (integer, real or complex floating), "
                f"got {a.dtype}"
            )
    try:
        return xp.result_type(*arrays)
    except (TypeError, ValueError, RuntimeError):
        pass
    inexact = [a.dtype for a in arrays if not xp.isdtype(a.dtype, "integral")]
    if not inexact:
        return xp.int64
    return xp.result_type(*inexact, _default_float(xp, arrays[0]))


def _default_float(xp: Namespace, like: Array) -> Any:
    """The library's default real floating dtype on ``like``'s device."""
    try:
        info = xp.__array_namespace_info__()
        return info.default_dtypes(device=_backend.device(like))["real floating"]
    except (AttributeError, TypeError, KeyError):
        return xp.asarray(0.0).dtype


def is_complex(xp: Namespace, dtype: Any) -> bool:
    """Whether ``dtype`` is a complex floating dtype of ``xp``."""
    return bool(xp.isdtype(dtype, "complex floating"))


def scalar(value: Any, dtype: Any, *, xp: Namespace, name: str) -> complex:
    """A Python number for a fill value cast to ``dtype`` as NumPy would (ints truncate).

    Raises ``TypeError`` for non-numbers and ``ValueError`` for a complex value with a
    real ``dtype`` or a value that ``dtype`` cannot hold (NaN, infinity or a number
    beyond the range of an integer dtype; a finite number beyond a floating one's).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Complex):
        raise TypeError(f"{name} must be a real or complex number, got {value!r}")
    if not is_complex(xp, dtype) and not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} is complex but the result dtype {dtype} is real")
    try:
        number = _cast(value, dtype, xp=xp)
    except (ValueError, OverflowError):  # NaN or infinity to an int; 10**400 to a float
        number = None
    if number is None:
        raise ValueError(f"{name}={value!r} is out of range for the result dtype {dtype}")
    return number


def _cast(value: Any, dtype: Any, *, xp: Namespace) -> complex | None:
    """``value`` as a Python number of ``dtype``'s kind, None where ``dtype`` cannot hold it."""
    if xp.isdtype(dtype, "integral"):
        # Integers exactly; fractions truncate, as NumPy's cast.
        whole = operator.index(value) if isinstance(value, numbers.Integral) else int(float(value))
        return whole if xp.iinfo(dtype).min <= whole <= xp.iinfo(dtype).max else None
    number = complex(value) if is_complex(xp, dtype) else float(value)
    top = float(xp.finfo(dtype).max)  # a Python float: comparing casts nothing to ``dtype``
    fits = all(abs(p) <= top or not math.isfinite(p) for p in (number.real, number.imag))
    return number if fits else None


def zeros(shape: Sequence[int], dtype: Any, *, xp: Namespace, like: Array) -> Array:
    """Zeros of ``shape`` on ``like``'s device (zero-size shapes built safely for Dask)."""
    device = _backend.device(like)
    if 0 in shape:
        return _backend.zero_size(shape, dtype, xp=xp, device=device)
    return xp.zeros(tuple(shape), dtype=dtype, device=device)


def flip(a: Array, axes: Sequence[int], *, xp: Namespace) -> Array:
    """``a`` reversed along ``axes`` (unchanged for no axes)."""
    return xp.flip(a, axis=tuple(axes)) if axes else a


def core_method(
    method: SignalMethod,
    xp: Namespace,
    spec: ConvSpec,
    dtype: Any,
    w_shape: tuple[int, ...],
    arrays: Sequence[Array] | None = None,
) -> str:
    """The core algorithm for SciPy's ``method``.

    ``"fft"`` is the core's FFT; ``"auto"`` is the FFT where the core's rule prefers
    it (:func:`xconv._core.prefers_fft`: large kernels of floating data) and the data
    ``arrays`` are finite (as the core's own ``auto``: a NaN or inf stays where the
    direct sum puts it; Dask graphs and JAX traces are not read, so there the data
    never goes to the FFT), else the direct method; ``"direct"`` is what the core's
    ``auto`` picks among the direct methods (the library's own convolution on torch and
    JAX, ``shift`` for these single-channel cases elsewhere), never the FFT.
    ``arrays=None`` (shapes only, :func:`xconv.signal.choose_conv_method`) skips the
    finiteness check.
    """
    if method == "fft":
        return "fft"
    cdtype = compute_dtype(xp, dtype, None)
    if method == "auto" and prefers_fft(xp, spec, cdtype, w_shape) and finite(xp, arrays):
        return "fft"
    chosen = choose_method(xp, spec, cdtype, w_shape)
    return "shift" if chosen == "fft" else chosen


def finite(xp: Namespace, arrays: Sequence[Array] | None) -> bool:
    """Whether ``arrays`` are known to hold no NaN or inf (None: not asked).

    Dask graphs and JAX arrays are not read: they count as not finite.
    """
    if arrays is None:
        return True
    if _backend.library(xp) in ("dask", "jax"):
        return False
    return _backend.all_finite(xp, *arrays)


def plan(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], axes: tuple[int, ...], pads: Pads, **kw: Any
) -> tuple[ConvSpec, tuple[int, ...], tuple[int, ...], list[list[int]]]:
    """The core's spec, canonical shapes and axis roles of :func:`correlate_axes`.

    Reads shapes only. Returns the spec, the canonical input ``(N, *S, C)`` and filter
    ``(*K, 1, C * M)`` shapes, and the axes grouped as ``[x_only, axes, shared,
    w_only]`` (batch, convolved, channel groups, output multiplier).
    """
    others = [a for a in range(len(x_shape)) if a not in axes]
    roles = [
        [a for a in others if w_shape[a] == 1],
        list(axes),
        [a for a in others if w_shape[a] != 1 and x_shape[a] != 1],
        [a for a in others if w_shape[a] != 1 and x_shape[a] == 1],
    ]
    x_only, _, shared, w_only = roles
    c = math.prod(x_shape[a] for a in shared)
    x_canon = (math.prod(x_shape[a] for a in x_only), *(x_shape[a] for a in axes), c)
    w_canon = (*(w_shape[a] for a in axes), 1, c * math.prod(w_shape[a] for a in w_only))
    spec = conv_spec(x_canon, w_canon, strides=1, padding=pads, dilations=1, data_format=None, **kw)
    return spec, x_canon, w_canon, roles


class Extension(NamedTuple):
    """How the input is extended along the filtered axes: one ``(lo, hi)`` pair per
    axis, filled as the core's ``padding_mode`` ``mode`` (``value`` for zeros)."""

    pads: Pads
    mode: str = "zeros"
    value: complex = 0


def correlate_axes(
    x: Array,
    w: Array,
    axes: tuple[int, ...],
    extension: Extension,
    *,
    xp: Namespace,
    dtype: Any,
    method: SignalMethod = "auto",
) -> Array:
    """``y[..., n] = sum_j xpad[..., n + j] * w[..., j]`` along ``axes``, in one core call.

    ``x`` and ``w`` have the same number of dimensions; ``xpad`` is ``x`` extended
    along ``axes`` as ``extension`` says. Along every other axis the extents are equal or one of them is 1, and the
    result broadcasts (see the module docstring). ``dtype`` is the core's result
    dtype; ``method`` is SciPy's (see :func:`core_method`).
    """
    pads, padding_mode, pad_value = extension
    spec, x_canon, w_canon, roles = plan(
        tuple(x.shape), tuple(w.shape), axes, pads, padding_mode=padding_mode, pad_value=pad_value
    )
    x_only, _, shared, w_only = roles
    # x's w_only axes and w's x_only axes have extent 1: one order serves both.
    order = (*x_only, *axes, *shared, *w_only)
    xs = xp.reshape(xp.permute_dims(x, order), x_canon)
    ws = xp.reshape(xp.permute_dims(w, order), w_canon)
    chosen = core_method(method, xp, spec, dtype, w_canon, (xs, ws))
    y = conv_general(xs, ws, spec, xp=xp, dtype=dtype, method=chosen)
    sizes = (
        *(x.shape[a] for a in x_only),
        *spec.output_sizes(x_canon[1:-1], w_canon[:-2]),
        *(x.shape[a] for a in shared),
        *(w.shape[a] for a in w_only),
    )
    inverse = [0] * len(order)
    for i, a in enumerate(order):
        inverse[a] = i
    return xp.permute_dims(xp.reshape(y, sizes), tuple(inverse))
