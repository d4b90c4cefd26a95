"""Public TensorFlow-style functions: translate arguments, call the core, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import _backend
from ._core import conv_general, result_dtype
from ._spec import check_options, conv_spec, format_is_channels_first
from ._typing import Array, IntOrSeq, Method, PaddingArg, PaddingMode, Precision

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "convolution",
    "depthwise_conv2d",
    "separable_conv2d",
]

_F = TypeVar("_F", bound=Callable[..., Any])

_DOC_PARTS = {
    "padding": """padding : str, int or sequence of (int, int)
        ``"SAME"`` (TensorFlow's rule: ``out = ceil(in / stride)``, the odd pixel of
        padding after), ``"VALID"`` or ``"FULL"`` (any case); an int padded on every
        side; one ``(lo, hi)`` pair per spatial dimension; or TensorFlow's explicit list
        of rank+2 pairs in ``data_format`` order with ``(0, 0)`` at batch and channels.""",
    "window": """strides, dilations : int or sequence of int, optional
        An int, a sequence of length 1 or of the spatial rank, or TensorFlow's rank+2
        form in ``data_format`` order with 1 at the batch and channel positions. Every
        entry is a positive int; strides > 1 together with dilations > 1 are allowed.""",
    "extras": """padding_mode : {"zeros", "reflect", "symmetric", "edge", "circular"}, optional
        How padded positions are filled (SAME, FULL and explicit padding). "circular"
        wraps around; "edge" repeats the border; "reflect"/"symmetric" mirror without
        and with the border value.
    method : {"auto", "einsum", "gemm", "winograd", "shift", "fft", "native"}, optional
        Algorithm; ``"auto"`` chooses. An algorithm that this version does not provide
        raises ``ValueError``.
    memory_budget : int, optional
        Bytes of temporaries one call may hold; larger work is chunked
        (default :data:`xconv._core.DEFAULT_MEMORY_BUDGET`).
    precision : {None, "float32", "native"}, optional
        float16/bfloat16 inputs accumulate in float32 unless ``"native"``.""",
    "returns": """Returns
    -------
    array
        An array of the input's library, on the input's device, with dtype
        ``result_type(input, filters)`` (integer inputs give exact integer results).

    Raises
    ------
    TypeError
        Non-arrays, arrays of different libraries, non-numeric dtypes, non-int strides.
    ValueError
        Inconsistent shapes, unknown strings, non-positive strides or dilations,
        negative padding; the message names the argument.""",
}


def _doc(func: _F) -> _F:
    """Fill the shared parameter descriptions into a docstring (``{padding}`` etc.)."""
    func.__doc__ = (func.__doc__ or "").format(**_DOC_PARTS)
    return func


def _forward(
    input: Array,
    filters: Array,
    strides: Any,
    padding: Any,
    data_format: str | None,
    dilations: Any,
    *,
    rank: int | None = None,
    formats: Sequence[str] | None = None,
    stride_name: str = "strides",
    filters_name: str = "filters",
    options: dict[str, Any],
) -> Array:
    """Validate a forward convolution's arguments and run it in the core."""
    xp = _backend.namespace(input=input, **{filters_name: filters})
    dtype = result_dtype(xp, input, filters, names=("input", filters_name))
    padding_mode = options.pop("padding_mode")
    check_options(**options)
    if rank is not None and filters.ndim != rank + 2:
        raise ValueError(
            f"{filters_name} must have {rank + 2} dimensions (*spatial, in, out) for a "
            f"{rank}-d convolution, got shape {tuple(filters.shape)}"
        )
    spec = conv_spec(
        tuple(input.shape),
        tuple(filters.shape),
        strides=strides,
        padding=padding,
        dilations=dilations,
        data_format=data_format,
        padding_mode=padding_mode,
        formats=formats,
        stride_name=stride_name,
        filters_name=filters_name,
    )
    return conv_general(input, filters, spec, xp=xp, dtype=dtype, **options)


def _options(
    padding_mode: Any, method: Any, memory_budget: Any, precision: Any
) -> dict[str, Any]:
    return {
        "padding_mode": padding_mode,
        "method": method,
        "memory_budget": memory_budget,
        "precision": precision,
    }


@_doc
def convolution(
    input: Array,
    filters: Array,
    strides: IntOrSeq | None = None,
    padding: PaddingArg = "VALID",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """N-d convolution (cross-correlation, as in TensorFlow) of any spatial rank.

    The twin of ``tf.nn.convolution``; the spatial rank is ``filters.ndim - 2`` and may
    be any number >= 1. Groups are inferred as TensorFlow infers them:
    ``groups = C_in // filters.shape[-2]``.

    Parameters
    ----------
    input : array
        Shape ``(N, *spatial, C_in)`` (channels last) or ``(N, C_in, *spatial)``.
    filters : array
        Shape ``(*k, C_in / groups, C_out)`` (TensorFlow's HWIO layout).
    {window}
    {padding}
    data_format : str, optional
        ``None`` or ``"N" + spatial letters + "C"`` for channels last (e.g. ``"NHWC"``),
        ``"NC" + spatial letters`` for channels first (e.g. ``"NCDHW"``).
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.arange(10.0).reshape(1, 10, 1)
    >>> w = np.array([1.0, 0.0, -1.0]).reshape(3, 1, 1)
    >>> xconv.convolution(x, w, padding="VALID")[0, :, 0]
    array([-2., -2., -2., -2., -2., -2., -2., -2.])
    >>> xconv.convolution(np.ones((2, 4, 4, 4, 4, 3)), np.ones((2, 2, 2, 2, 3, 5))).shape
    (2, 3, 3, 3, 3, 5)
    """
    return _forward(
        input,
        filters,
        strides,
        padding,
        data_format,
        dilations,
        options=_options(padding_mode, method, memory_budget, precision),
    )


@_doc
def conv1d(
    input: Array,
    filters: Array,
    stride: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NWC",
    dilations: IntOrSeq | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """1-d convolution, the twin of ``tf.nn.conv1d``.

    Parameters
    ----------
    input : array
        Shape ``(N, W, C_in)`` for ``"NWC"`` or ``(N, C_in, W)`` for ``"NCW"``.
    filters : array
        Shape ``(k, C_in / groups, C_out)``.
    stride : int or sequence of int
        As ``strides`` below (TensorFlow's conv1d calls it ``stride``).
    {window}
    {padding}
    data_format : {{"NWC", "NCW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.arange(8.0).reshape(1, 8, 1)
    >>> xconv.conv1d(x, np.ones((3, 1, 1)), stride=2, padding="SAME")[0, :, 0]
    array([ 3.,  9., 15., 13.])
    """
    return _forward(
        input,
        filters,
        stride,
        padding,
        data_format,
        dilations,
        rank=1,
        formats=("NWC", "NCW"),
        stride_name="stride",
        options=_options(padding_mode, method, memory_budget, precision),
    )


@_doc
def conv2d(
    input: Array,
    filters: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NHWC",
    dilations: IntOrSeq | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """2-d convolution, the twin of ``tf.nn.conv2d``.

    Parameters
    ----------
    input : array
        Shape ``(N, H, W, C_in)`` for ``"NHWC"`` or ``(N, C_in, H, W)`` for ``"NCHW"``.
    filters : array
        Shape ``(kh, kw, C_in / groups, C_out)``.
    {window}
    {padding}
    data_format : {{"NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 5, 5, 1), dtype=np.float32)
    >>> w = np.ones((3, 3, 1, 1), dtype=np.float32)
    >>> xconv.conv2d(x, w, strides=2, padding="SAME")[0, :, :, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]], dtype=float32)
    >>> xconv.conv2d(np.ones((1, 8, 8, 4), "f4"), np.ones((9, 9, 4, 6), "f4"), 1, "VALID").shape
    (1, 0, 0, 6)
    """
    return _forward(
        input,
        filters,
        strides,
        padding,
        data_format,
        dilations,
        rank=2,
        formats=("NHWC", "NCHW"),
        options=_options(padding_mode, method, memory_budget, precision),
    )


@_doc
def conv3d(
    input: Array,
    filters: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NDHWC",
    dilations: IntOrSeq | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """3-d convolution, the twin of ``tf.nn.conv3d``.

    Parameters
    ----------
    input : array
        Shape ``(N, D, H, W, C_in)`` for ``"NDHWC"`` or ``(N, C_in, D, H, W)``.
    filters : array
        Shape ``(kd, kh, kw, C_in / groups, C_out)``.
    {window}
    {padding}
    data_format : {{"NDHWC", "NCDHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 4, 4, 4, 2))
    >>> xconv.conv3d(x, np.ones((2, 2, 2, 2, 3)), strides=2, padding="VALID")[0, ..., 0]
    array([[[16., 16.],
            [16., 16.]],
    <BLANKLINE>
           [[16., 16.],
            [16., 16.]]])
    """
    return _forward(
        input,
        filters,
        strides,
        padding,
        data_format,
        dilations,
        rank=3,
        formats=("NDHWC", "NCDHW"),
        options=_options(padding_mode, method, memory_budget, precision),
    )


def _depthwise_as_grouped(input: Array, filter: Array, data_format: str | None, name: str) -> Array:
    """Reshape a depthwise filter ``[h, w, C_in, mult]`` to grouped ``[h, w, 1, C_in * mult]``.

    Output channel ``c * mult + m`` is input channel ``c`` times multiplier ``m``, as in
    TensorFlow; the reshape keeps that order and the core sees ``groups = C_in``.
    """
    if filter.ndim != 4:
        raise ValueError(f"{name} must have shape [h, w, in, multiplier], got {tuple(filter.shape)}")
    if input.ndim != 4:
        raise ValueError(
            f"input must have 4 dimensions (batch, height, width, channels), got shape "
            f"{tuple(input.shape)}"
        )
    channels_first = format_is_channels_first(data_format, rank=2, allowed=("NHWC", "NCHW"))
    c_in = input.shape[1] if channels_first else input.shape[-1]
    if filter.shape[2] != c_in:
        raise ValueError(
            f"{name}.shape[2] ({filter.shape[2]}) must equal the input channels ({c_in})"
        )
    xp = _backend.namespace(input=input, **{name: filter})
    h, w, c, m = filter.shape
    return xp.reshape(filter, (h, w, 1, c * m))


@_doc
def depthwise_conv2d(
    input: Array,
    filter: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """Depthwise 2-d convolution, the twin of ``tf.nn.depthwise_conv2d``.

    Each input channel ``c`` is convolved with ``filter[:, :, c, m]`` for every
    multiplier ``m``; output channel ``c * multiplier + m``.

    Parameters
    ----------
    input : array
        Shape ``(N, H, W, C_in)`` (``"NHWC"``, the default) or ``(N, C_in, H, W)``.
    filter : array
        Shape ``(kh, kw, C_in, multiplier)``.
    {window}
    {padding}
    data_format : {{None, "NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.stack([np.ones((4, 4)), 2 * np.ones((4, 4))], axis=-1)[None]
    >>> y = xconv.depthwise_conv2d(x, np.ones((2, 2, 2, 3)), strides=1, padding="VALID")
    >>> y.shape, y[0, 0, 0].tolist()
    ((1, 3, 3, 6), [4.0, 4.0, 4.0, 8.0, 8.0, 8.0])
    """
    grouped = _depthwise_as_grouped(input, filter, data_format, "filter")
    return _forward(
        input,
        grouped,
        strides,
        padding,
        data_format,
        dilations,
        rank=2,
        formats=("NHWC", "NCHW"),
        filters_name="filter",
        options=_options(padding_mode, method, memory_budget, precision),
    )


@_doc
def separable_conv2d(
    input: Array,
    depthwise_filter: Array,
    pointwise_filter: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """Depthwise then 1x1 pointwise convolution, the twin of ``tf.nn.separable_conv2d``.

    Parameters
    ----------
    input : array
        Shape ``(N, H, W, C_in)`` (``"NHWC"``, the default) or ``(N, C_in, H, W)``.
    depthwise_filter : array
        Shape ``(kh, kw, C_in, multiplier)``; strides, padding and dilations apply to it.
    pointwise_filter : array
        Shape ``(1, 1, C_in * multiplier, C_out)``.
    {window}
    {padding}
    data_format : {{None, "NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 5, 5, 2))
    >>> y = xconv.separable_conv2d(x, np.ones((3, 3, 2, 2)), np.ones((1, 1, 4, 7)), 1, "SAME")
    >>> y.shape, float(y[0, 2, 2, 0])
    ((1, 5, 5, 7), 36.0)
    """
    _backend.namespace(
        input=input, depthwise_filter=depthwise_filter, pointwise_filter=pointwise_filter
    )
    grouped = _depthwise_as_grouped(input, depthwise_filter, data_format, "depthwise_filter")
    mid = grouped.shape[-1]
    if pointwise_filter.ndim != 4 or tuple(pointwise_filter.shape[:3]) != (1, 1, mid):
        raise ValueError(
            f"pointwise_filter must have shape [1, 1, {mid}, out] (in = C_in * multiplier), "
            f"got {tuple(pointwise_filter.shape)}"
        )
    options = _options(padding_mode, method, memory_budget, precision)
    y = _forward(
        input,
        grouped,
        strides,
        padding,
        data_format,
        dilations,
        rank=2,
        formats=("NHWC", "NCHW"),
        filters_name="depthwise_filter",
        options=dict(options),
    )
    return _forward(
        y,
        pointwise_filter,
        1,
        "VALID",
        data_format,
        1,
        rank=2,
        formats=("NHWC", "NCHW"),
        filters_name="pointwise_filter",
        options=options,
    )

