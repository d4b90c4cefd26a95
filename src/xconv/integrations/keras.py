"""xconv as the convolution of Keras 3's NumPy backend.

Keras 3's NumPy backend (``KERAS_BACKEND=numpy``) computes its convolutions with
JAX (``jax.lax.conv_general_dilated``). :func:`install` replaces the four
convolution functions of that backend, ``conv``, ``depthwise_conv``,
``separable_conv`` and ``conv_transpose`` of ``keras.src.backend.numpy.nn``, with the
functions of this module, which translate Keras's arguments into calls of
:func:`xconv.convolution` and :func:`xconv.conv_transpose`. Every Keras layer and op
that convolves (``Conv1D`` to ``Conv3D``, ``DepthwiseConv1D/2D``,
``SeparableConv1D/2D``, ``Conv1DTranspose`` to ``Conv3DTranspose``, ``keras.ops.conv``
and its relatives) then runs on xconv. :func:`uninstall` puts Keras's own functions
back; :func:`use_xconv` does both around a ``with`` block.

Keras's ops look the backend functions up at every call, as attributes of
``keras.src.backend.nn``, which under the NumPy backend *is* the module
``keras.src.backend.numpy.nn``; replacing that module's attributes is therefore
enough (and the backend's own ``separable_conv``, which calls ``depthwise_conv`` and
``conv`` by their module-global names, follows too).

Translation
-----------
- ``data_format`` ``"channels_last"``/``"channels_first"`` (``None``: Keras's
  ``image_data_format()``) -> ``"N...C"``/``"NC..."`` of the input's rank.
- ``padding`` ``"valid"``/``"same"`` -> ``"VALID"``/``"SAME"``: Keras's NumPy backend
  hands the string to JAX, whose ``"SAME"`` is TensorFlow's rule, as is xconv's.
- Kernels: Keras's convolution kernel ``(*k, in / groups, out)`` is xconv's (and
  TensorFlow's) layout; a depthwise kernel ``(*k, in, multiplier)`` is reshaped to the
  grouped ``(*k, 1, in * multiplier)`` with ``groups = in``, at any rank; a transposed
  convolution's kernel ``(*k, out, in)`` is again xconv's layout.
- Transposed convolution: the output shape is Keras's own
  (``compute_conv_transpose_output_shape``), and the padding of the forward
  convolution whose gradient it is comes from Keras's JAX padding
  (``compute_conv_transpose_padding_args_for_jax``): ``K - 1 - pad`` on each side, with
  ``K`` the dilated kernel size. Where ``output_padding`` makes that negative at the
  end (the output reaches past the forward convolution's last window), the last rows
  are zeros, as in Keras: xconv computes the rows that are reached and the rest is
  filled with zeros.
- The result is a NumPy array of Keras's result dtype of ``inputs`` and ``kernel``
  (``keras.backend.result_type``), shaped as Keras's op promises.

Keras itself is imported when one of these functions first runs, never when this
module is imported, so ``KERAS_BACKEND`` can still be set after ``import xconv``.

Examples
--------
The examples need Keras 3 with its NumPy backend selected, so the doctest runner
skips them (xconv's own tests install no Keras; ``tests/test_keras.py`` and the
``keras`` nox environment run the same calls).

>>> import os
>>> os.environ.setdefault("KERAS_BACKEND", "numpy")  # doctest: +SKIP
'numpy'
>>> import numpy as np
>>> import keras  # doctest: +SKIP
>>> import xconv.integrations.keras as xk
>>> x = np.ones((1, 5, 5, 2), dtype="float32")
>>> with xk.use_xconv():  # doctest: +SKIP
...     y = keras.layers.Conv2D(4, 3, padding="same")(x)
>>> xk.call_counts()["conv"] >= 1  # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

import xconv

__all__ = [
    "PATCHED",
    "call_counts",
    "conv",
    "conv_transpose",
    "depthwise_conv",
    "install",
    "is_installed",
    "reset_call_counts",
    "separable_conv",
    "uninstall",
    "use_xconv",
]

#: The functions of ``keras.src.backend.numpy.nn`` that :func:`install` replaces.
PATCHED = ("conv", "depthwise_conv", "separable_conv", "conv_transpose")

#: The backend module whose attributes are replaced.
_BACKEND_MODULE = "keras.src.backend.numpy.nn"

#: Spatial letters of xconv's data_format strings, the last ``rank`` of them.
_SPATIAL_LETTERS = "ABEFGIJKLMOPQRSTUVXYZDHW"

_lock = threading.RLock()
_originals: dict[str, Any] = {}
_calls: Counter[str] = Counter()

IntOrSeq = int | Sequence[int]


# --- Keras's helpers, imported on first use ------------------------------------------


def _module(name: str) -> ModuleType:
    """``importlib.import_module(name)``: Keras's ``keras.src.backend.numpy`` attribute
    is shadowed by a submodule of the same name, so attribute chains cannot be used."""
    return importlib.import_module(name)


def _keras_backend() -> ModuleType:
    return _module("keras.src.backend")


def _keras_utils() -> ModuleType:
    return _module("keras.src.backend.common.backend_utils")


def _prepare(
    inputs: Any, kernel: Any, data_format: str | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """NumPy arrays of ``inputs`` and ``kernel`` and whether channels come first."""
    backend = _keras_backend()
    fmt = backend.standardize_data_format(data_format)
    core = _module("keras.src.backend.numpy.core")
    return core.convert_to_tensor(inputs), core.convert_to_tensor(kernel), fmt == "channels_first"


def _xconv_format(rank: int, channels_first: bool) -> str:
    """xconv's ``data_format`` for ``rank`` spatial dimensions, e.g. ``"NCHW"``."""
    spatial = _SPATIAL_LETTERS[len(_SPATIAL_LETTERS) - rank :]
    return f"NC{spatial}" if channels_first else f"N{spatial}C"


def _padding(padding: object) -> str:
    """Keras's ``"valid"``/``"same"`` (any case) as xconv's ``"VALID"``/``"SAME"``."""
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(
            f"The `padding` argument must be one of 'valid', 'same'. Received: padding={padding}"
        )
    return padding.upper()


def _per_dim(value: IntOrSeq, rank: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of ``rank`` ints as a tuple of ``rank`` ints."""
    values = (value,) * rank if isinstance(value, int | np.integer) else tuple(value)
    if len(values) != rank:
        raise ValueError(f"{name} must be an int or {rank} ints, got {value!r}")
    return tuple(int(v) for v in values)


def _result(y: Any, *operands: np.ndarray) -> np.ndarray:
    """``y`` as a NumPy array of Keras's result dtype of the ``operands``."""
    dtype = _keras_backend().result_type(*(a.dtype for a in operands))
    return y.astype(dtype, copy=False)  # xconv's result on Keras's NumPy arrays


def _convolve(
    x: np.ndarray,
    w: np.ndarray,
    strides: IntOrSeq,
    padding: str,
    channels_first: bool,
    dilation_rate: IntOrSeq,
) -> Any:
    rank = x.ndim - 2
    return xconv.convolution(
        x,
        w,
        strides=strides,
        padding=_padding(padding),
        data_format=_xconv_format(rank, channels_first),
        dilations=dilation_rate,
    )


def _grouped_depthwise(x: np.ndarray, w: np.ndarray, channels_first: bool) -> np.ndarray:
    """Depthwise ``(*k, C, multiplier)`` -> grouped ``(*k, 1, C * multiplier)``.

    Output channel ``c * multiplier + m`` is input channel ``c`` times multiplier ``m``,
    as in Keras (and TensorFlow); xconv infers ``groups = C``.
    """
    channels = x.shape[1] if channels_first else x.shape[-1]
    return np.reshape(w, (*w.shape[:-2], 1, channels * w.shape[-1]))


def _depthwise(
    x: np.ndarray,
    w: np.ndarray,
    strides: IntOrSeq,
    padding: str,
    channels_first: bool,
    dilation_rate: IntOrSeq,
) -> Any:
    w = _grouped_depthwise(x, w, channels_first)
    return _convolve(x, w, strides, padding, channels_first, dilation_rate)


# --- the four backend functions ------------------------------------------------------


def conv(
    inputs: Any,
    kernel: Any,
    strides: IntOrSeq = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: IntOrSeq = 1,
) -> np.ndarray:
    """Keras's ``backend.nn.conv`` (1-d to 3-d, grouped) computed by xconv.

    Parameters
    ----------
    inputs : array_like
        ``(batch, *spatial, channels)`` (``"channels_last"``) or
        ``(batch, channels, *spatial)``.
    kernel : array_like
        ``(*k, channels / groups, filters)``; groups are ``channels // kernel.shape[-2]``.
    strides, dilation_rate : int or sequence of int
        One per spatial dimension, or one int for all.
    padding : {"valid", "same"}
        ``"same"`` pads as TensorFlow does (the odd pixel at the end).
    data_format : {"channels_last", "channels_first"}, optional
        Default: Keras's ``image_data_format()``.

    Returns
    -------
    numpy.ndarray
        The convolution, of Keras's result dtype of ``inputs`` and ``kernel``.

    Raises
    ------
    ValueError
        For a bad argument, and, as Keras's own backend does, when the output is
        empty although the input is not.

    Examples
    --------
    Needs Keras (for its ``data_format`` default and dtype rules), hence skipped:

    >>> import numpy as np
    >>> conv(np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1)), 2)[0, :, :, 0]  # doctest: +SKIP
    array([[4., 4.],
           [4., 4.]])
    """
    _calls["conv"] += 1
    x, w, channels_first = _prepare(inputs, kernel, data_format)
    y = _convolve(x, w, strides, padding, channels_first, dilation_rate)
    if y.size == 0 and x.size != 0:
        raise ValueError(
            "The convolution operation resulted in an empty output. This can happen if "
            "the input is too small for the given kernel size, strides, dilation rate, "
            "and padding mode. Please check the input shape and convolution parameters."
        )
    return _result(y, x, w)


def depthwise_conv(
    inputs: Any,
    kernel: Any,
    strides: IntOrSeq = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: IntOrSeq = 1,
) -> np.ndarray:
    """Keras's ``backend.nn.depthwise_conv`` (1-d and 2-d; any rank) computed by xconv.

    Parameters
    ----------
    inputs : array_like
        ``(batch, *spatial, channels)`` or channels first.
    kernel : array_like
        ``(*k, channels, multiplier)``: output channel ``c * multiplier + m`` is input
        channel ``c`` convolved with ``kernel[..., c, m]``.
    strides, padding, data_format, dilation_rate
        As in :func:`conv`.

    Returns
    -------
    numpy.ndarray
        ``channels * multiplier`` output channels, of Keras's result dtype.

    Examples
    --------
    Needs Keras, hence skipped:

    >>> import numpy as np
    >>> depthwise_conv(np.ones((1, 4, 3)), np.ones((2, 3, 2))).shape  # doctest: +SKIP
    (1, 3, 6)
    """
    _calls["depthwise_conv"] += 1
    x, w, channels_first = _prepare(inputs, kernel, data_format)
    fmt = "channels_first" if channels_first else "channels_last"
    _keras_utils().check_conv_input_channels(x, w, fmt)
    y = _depthwise(x, w, strides, padding, channels_first, dilation_rate)
    return _result(y, x, w)


def separable_conv(
    inputs: Any,
    depthwise_kernel: Any,
    pointwise_kernel: Any,
    strides: IntOrSeq = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: IntOrSeq = 1,
) -> np.ndarray:
    """Keras's ``backend.nn.separable_conv`` computed by xconv.

    A depthwise convolution (``strides``, ``padding`` and ``dilation_rate`` apply to
    it), then a pointwise one with ``pointwise_kernel`` of shape
    ``(*(1,) * rank, channels * multiplier, filters)``.

    Parameters
    ----------
    inputs, depthwise_kernel
        As ``inputs`` and ``kernel`` of :func:`depthwise_conv`.
    pointwise_kernel : array_like
        The 1x1 kernel, ``(1, ..., 1, channels * multiplier, filters)``.
    strides, padding, data_format, dilation_rate
        As in :func:`conv`.

    Returns
    -------
    numpy.ndarray
        ``filters`` output channels, of Keras's result dtype of the three arrays.

    Examples
    --------
    Needs Keras, hence skipped:

    >>> import numpy as np
    >>> x, dw, pw = np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 2)), np.ones((1, 1, 4, 7))
    >>> separable_conv(x, dw, pw, padding="same")[0, 2, 2, 0]  # doctest: +SKIP
    np.float64(36.0)
    """
    _calls["separable_conv"] += 1
    x, dw, channels_first = _prepare(inputs, depthwise_kernel, data_format)
    pw = _module("keras.src.backend.numpy.core").convert_to_tensor(pointwise_kernel)
    fmt = "channels_first" if channels_first else "channels_last"
    _keras_utils().check_conv_input_channels(x, dw, fmt)
    mid = _depthwise(x, dw, strides, padding, channels_first, dilation_rate)
    y = _convolve(mid, pw, 1, "valid", channels_first, 1)
    return _result(y, x, dw, pw)


def conv_transpose(
    inputs: Any,
    kernel: Any,
    strides: IntOrSeq = 1,
    padding: str = "valid",
    output_padding: IntOrSeq | None = None,
    data_format: str | None = None,
    dilation_rate: IntOrSeq = 1,
) -> np.ndarray:
    """Keras's ``backend.nn.conv_transpose`` (1-d to 3-d) computed by xconv.

    Parameters
    ----------
    inputs : array_like
        ``(batch, *spatial, channels)`` or channels first.
    kernel : array_like
        ``(*k, filters, channels)``: Keras's (and TensorFlow's) transposed layout.
    strides, padding, data_format, dilation_rate
        As in :func:`conv`.
    output_padding : int or sequence of int, optional
        Extra rows at the end of each spatial dimension, as in Keras; ``None`` lets
        Keras choose (``input * strides`` for ``"same"``).

    Returns
    -------
    numpy.ndarray
        Of the shape ``keras.src.backend.common.backend_utils.
        compute_conv_transpose_output_shape`` gives, of Keras's result dtype.

    Examples
    --------
    Needs Keras, hence skipped:

    >>> import numpy as np
    >>> conv_transpose(np.ones((1, 2, 2, 1)), np.ones((2, 2, 3, 1)), 2).shape  # doctest: +SKIP
    (1, 4, 4, 3)
    """
    _calls["conv_transpose"] += 1
    x, w, channels_first = _prepare(inputs, kernel, data_format)
    fmt = "channels_first" if channels_first else "channels_last"
    utils = _keras_utils()
    utils.check_conv_transpose_input_channels(x, w, fmt)
    rank = x.ndim - 2
    stride = _per_dim(strides, rank, "strides")
    dilation = _per_dim(dilation_rate, rank, "dilation_rate")
    _padding(padding)
    jax_pads = utils.compute_conv_transpose_padding_args_for_jax(
        input_shape=x.shape,
        kernel_shape=w.shape,
        strides=stride,
        padding=padding,
        output_padding=output_padding,
        dilation_rate=dilation,
    )
    out_shape = [
        int(n)
        for n in utils.compute_conv_transpose_output_shape(
            x.shape,
            w.shape[:-2],
            w.shape[-2],
            stride,
            padding,
            output_padding=output_padding,
            data_format=fmt,
            dilation_rate=dilation,
        )
    ]
    first = 2 if channels_first else 1
    size_in = x.shape[first : first + rank]
    pads, reached, crops = [], list(out_shape), []
    for axis in range(rank):
        k_eff = (w.shape[axis] - 1) * dilation[axis] + 1
        lo = k_eff - 1 - int(jax_pads[axis][0])
        out = out_shape[first + axis]
        hi = (size_in[axis] - 1) * stride[axis] + k_eff - out - lo
        crop = max(-hi, 0)  # rows past the last window: zeros
        pads.append((lo, hi + crop))
        reached[first + axis] = out - crop
        crops.append((0, crop))
    y = xconv.conv_transpose(
        x,
        w,
        reached,
        stride,
        padding=pads,
        data_format=_xconv_format(rank, channels_first),
        dilations=dilation,
    )
    if any(crop for _, crop in crops):
        widths = [(0, 0)] * x.ndim
        widths[first : first + rank] = crops
        y = np.pad(y, widths)
    return _result(y, x, w)


# --- switching ---------------------------------------------------------------------

_REPLACEMENTS: dict[str, Callable[..., np.ndarray]] = {
    "conv": conv,
    "depthwise_conv": depthwise_conv,
    "separable_conv": separable_conv,
    "conv_transpose": conv_transpose,
}


def install() -> None:
    """Make Keras's NumPy backend convolve with xconv (idempotent).

    Replaces :data:`PATCHED` of ``keras.src.backend.numpy.nn`` (which Keras's ops
    reach as ``keras.src.backend.nn``) with this module's functions.

    Raises
    ------
    RuntimeError
        If Keras's active backend is not ``"numpy"`` (set ``KERAS_BACKEND=numpy``
        before Keras is first imported): other backends never call these functions.
    ImportError
        If Keras 3 (or the JAX its NumPy backend imports) is not installed.

    Examples
    --------
    Needs Keras with ``KERAS_BACKEND=numpy``, hence skipped:

    >>> import xconv.integrations.keras as xk
    >>> xk.install()  # doctest: +SKIP
    >>> xk.is_installed()  # doctest: +SKIP
    True
    >>> xk.uninstall()  # doctest: +SKIP
    """
    keras = importlib.import_module("keras")
    backend = keras.backend.backend()
    if backend != "numpy":
        raise RuntimeError(
            f"xconv's Keras adapter replaces the NumPy backend's convolutions, but Keras "
            f"runs on the {backend!r} backend: set KERAS_BACKEND=numpy before importing keras"
        )
    module = _module(_BACKEND_MODULE)
    with _lock:
        if _originals:
            return
        for name in PATCHED:
            _originals[name] = getattr(module, name)
            setattr(module, name, _REPLACEMENTS[name])


def uninstall() -> None:
    """Give Keras's NumPy backend its own convolutions back (a no-op if not installed).

    Examples
    --------
    >>> import xconv.integrations.keras as xk
    >>> xk.uninstall()
    >>> xk.is_installed()
    False
    """
    with _lock:
        if not _originals:
            return
        module = _module(_BACKEND_MODULE)
        for name, original in _originals.items():
            setattr(module, name, original)
        _originals.clear()


def is_installed() -> bool:
    """Whether :func:`install` is in effect.

    Examples
    --------
    >>> import xconv.integrations.keras as xk
    >>> xk.is_installed()
    False
    """
    return bool(_originals)


@contextmanager
def use_xconv() -> Iterator[None]:
    """Keras's NumPy backend convolves with xconv inside the ``with`` block.

    If the adapter was installed already, it stays installed on exit; otherwise
    Keras's own functions are restored, also when the block raises.

    Examples
    --------
    Needs Keras with ``KERAS_BACKEND=numpy``, hence skipped:

    >>> import numpy as np
    >>> import keras  # doctest: +SKIP
    >>> import xconv.integrations.keras as xk
    >>> with xk.use_xconv():  # doctest: +SKIP
    ...     y = keras.ops.conv(np.ones((1, 8, 3), "float32"), np.ones((3, 3, 4), "float32"))
    >>> y.shape  # doctest: +SKIP
    (1, 6, 4)
    """
    with _lock:
        already = is_installed()
        install()
    try:
        yield
    finally:
        if not already:
            uninstall()


def call_counts() -> dict[str, int]:
    """How often each of this module's four functions ran (since import or reset).

    Keys are :data:`PATCHED`; a nested call (the pointwise step of
    ``separable_conv``) is not counted separately. This proves that Keras called
    xconv, e.g. after running Keras's own tests with the adapter installed.

    Examples
    --------
    >>> import xconv.integrations.keras as xk
    >>> sorted(xk.call_counts())
    ['conv', 'conv_transpose', 'depthwise_conv', 'separable_conv']
    """
    return {name: _calls[name] for name in PATCHED}


def reset_call_counts() -> None:
    """Set every count of :func:`call_counts` to zero.

    Examples
    --------
    >>> import xconv.integrations.keras as xk
    >>> xk.reset_call_counts()
    >>> sum(xk.call_counts().values())
    0
    """
    _calls.clear()
