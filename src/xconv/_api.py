"""Public TensorFlow-style functions: translate arguments, call the core, nothing else.

Every function here checks its arguments (raising ``ValueError``/``TypeError`` that
name them), builds a :class:`~xconv._spec.ConvSpec`, and calls one of the three core
entry points: :func:`~xconv._core.conv_general` (forward),
:func:`~xconv._core.conv_input_grad` (transposed convolution, input gradient) and
:func:`~xconv._core.conv_filter_grad` (filter gradient).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import _backend
from ._core import conv_filter_grad, conv_general, conv_input_grad, result_dtype
from ._spec import (
    as_int_tuple,
    check_options,
    check_out_backprop,
    conv_spec,
    format_is_channels_first,
)
from ._typing import Array, ConvOptions, IntOrSeq, PaddingArg

if TYPE_CHECKING:
    from typing import Unpack

__all__ = [
    "conv1d",
    "conv1d_transpose",
    "conv2d",
    "conv2d_backprop_filter",
    "conv2d_backprop_input",
    "conv2d_transpose",
    "conv3d",
    "conv3d_transpose",
    "conv_backprop_filter",
    "conv_backprop_input",
    "conv_transpose",
    "convolution",
    "depthwise_conv2d",
    "depthwise_conv2d_backprop_filter",
    "depthwise_conv2d_backprop_input",
    "separable_conv2d",
]

_F = TypeVar("_F", bound=Callable[..., Any])

#: data_format strings of the fixed-rank functions (channels last first).
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}

_DOC_PARTS = {
    "padding": """padding : str, int or sequence of (int, int)
        ``"SAME"`` (TensorFlow's rule: ``out = ceil(in / stride)``, the odd pixel of
        padding after), ``"VALID"`` or ``"FULL"`` (any case); an int padded on every
        side; one ``(lo, hi)`` pair per spatial dimension; or TensorFlow's explicit list
        of rank+2 pairs in ``data_format`` order with ``(0, 0)`` at batch and channels.
        For transposed convolutions and gradients: the forward convolution's padding.""",
    "window": """strides, dilations : int or sequence of int, optional
        An int, a sequence of length 1 or of the spatial rank, or TensorFlow's rank+2
        form in ``data_format`` order with 1 at the batch and channel positions. Every
        entry is a positive int; strides > 1 together with dilations > 1 are allowed.""",
    "extras": """**options
        Keyword-only extras, see :class:`xconv.ConvOptions`: ``padding_mode``
        ("zeros", "reflect", "symmetric", "edge", "circular"; forward functions only),
        ``method`` ("auto" chooses; an algorithm this version lacks raises
        ``ValueError``), ``memory_budget`` (bytes of temporaries; larger work is
        chunked) and ``precision`` (float16/bfloat16 accumulate in float32 unless
        "native").""",
    "returns": """Returns
    -------
    array
        An array of the inputs' library, on their device, with dtype ``result_type``
        of the two array arguments (integer inputs give exact integer results).

    Raises
    ------
    TypeError
        Non-arrays, arrays of different libraries, non-numeric dtypes, non-int
        strides, unknown keyword arguments.
    ValueError
        Inconsistent shapes (for gradients, the message lists the sizes that fit),
        unknown strings, non-positive strides or dilations, negative padding; the
        message names the argument.""",
}


def _doc(func: _F) -> _F:
    """Fill the shared parameter descriptions into a docstring (``{padding}`` etc.)."""
    func.__doc__ = (func.__doc__ or "").format(**_DOC_PARTS)
    return func


def _options(options: ConvOptions, *, forward: bool) -> tuple[str, dict[str, Any]]:
    """Check the keyword-only extras; return ``padding_mode`` and the core's options."""
    unknown = set(options) - set(ConvOptions.__annotations__)
    if unknown:
        raise TypeError(
            f"unexpected keyword argument(s) {sorted(unknown)}; the keyword-only options "
            f"are {sorted(ConvOptions.__annotations__)}"
        )
    core = {k: options.get(k, d) for k, d in (("method", "auto"), ("memory_budget", None))}
    core["precision"] = options.get("precision")
    check_options(**core)
    padding_mode = options.get("padding_mode", "zeros")
    if not forward and padding_mode != "zeros":
        raise ValueError(
            f"padding_mode={padding_mode!r} is not supported by transposed convolutions and "
            "gradients, only 'zeros' (the forward functions take every mode)"
        )
    return padding_mode, core


def _forward(
    input: Array,
    filters: Array,
    strides: Any,
    padding: Any,
    data_format: str | None,
    dilations: Any,
    options: ConvOptions,
    *,
    rank: int | None = None,
    stride_name: str = "strides",
    filters_name: str = "filters",
) -> Array:
    """Validate a forward convolution's arguments and run it in the core."""
    xp = _backend.namespace(input=input, **{filters_name: filters})
    dtype = result_dtype(xp, input, filters, names=("input", filters_name))
    padding_mode, core = _options(options, forward=True)
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
        formats=_FORMATS.get(rank or 0),
        stride_name=stride_name,
        filters_name=filters_name,
    )
    return conv_general(input, filters, spec, xp=xp, dtype=dtype, **core)


def _sizes(value: Any, *, name: str, rank: int) -> tuple[int, ...]:
    """A shape argument (sequence or 1-d integer array) of ``rank + 2`` entries >= 0."""
    sizes = as_int_tuple(value, name=name)
    if len(sizes) != rank + 2 or any(v < 0 for v in sizes):
        raise ValueError(
            f"{name} must be {rank + 2} non-negative sizes in data_format order, got {list(sizes)}"
        )
    return sizes


def _input_grad(
    input_sizes: Any,
    filters: Array,
    out_backprop: Array,
    strides: Any,
    padding: Any,
    data_format: str | None,
    dilations: Any,
    options: ConvOptions,
    *,
    rank: int | None = None,
    names: tuple[str, str, str] = ("input_sizes", "filters", "out_backprop"),
) -> Array:
    """The input gradient of a forward convolution (= the transposed convolution)."""
    sizes_name, filters_name, grad_name = names
    xp = _backend.namespace(**{grad_name: out_backprop, filters_name: filters})
    dtype = result_dtype(xp, out_backprop, filters, names=(grad_name, filters_name))
    _, core = _options(options, forward=False)
    if filters.ndim < 3 or (rank is not None and filters.ndim != rank + 2):
        raise ValueError(
            f"{filters_name} must have {rank + 2 if rank else 'at least 3'} dimensions "
            f"(*spatial, out, in), got shape {tuple(filters.shape)}"
        )
    sizes = _sizes(input_sizes, name=sizes_name, rank=filters.ndim - 2)
    fwd = conv_spec(
        sizes,
        tuple(filters.shape),
        strides=strides,
        padding=padding,
        dilations=dilations,
        data_format=data_format,
        formats=_FORMATS.get(rank or 0),
        filters_name=filters_name,
    )
    check_out_backprop(
        fwd,
        sizes,
        tuple(filters.shape),
        tuple(out_backprop.shape),
        input_name=sizes_name,
        grad_name=grad_name,
        padding=padding,
    )
    in_sizes = tuple(sizes[i] for i in fwd.to_canonical)[1:-1]
    return conv_input_grad(out_backprop, filters, fwd, in_sizes, xp=xp, dtype=dtype, **core)


def _filter_grad(
    input: Array,
    filter_sizes: Any,
    out_backprop: Array,
    strides: Any,
    padding: Any,
    data_format: str | None,
    dilations: Any,
    options: ConvOptions,
    *,
    rank: int | None = None,
) -> Array:
    """The filter gradient of a forward convolution, of shape ``filter_sizes``."""
    xp = _backend.namespace(input=input, out_backprop=out_backprop)
    dtype = result_dtype(xp, input, out_backprop, names=("input", "out_backprop"))
    _, core = _options(options, forward=False)
    sizes = _sizes(filter_sizes, name="filter_sizes", rank=input.ndim - 2 if rank is None else rank)
    fwd = conv_spec(
        tuple(input.shape),
        sizes,
        strides=strides,
        padding=padding,
        dilations=dilations,
        data_format=data_format,
        formats=_FORMATS.get(rank or 0),
        filters_name="filter_sizes",
    )
    check_out_backprop(
        fwd,
        tuple(input.shape),
        sizes,
        tuple(out_backprop.shape),
        input_name="input",
        grad_name="out_backprop",
        padding=padding,
    )
    return conv_filter_grad(input, out_backprop, fwd, sizes[:-2], xp=xp, dtype=dtype, **core)


def _depthwise_grouped_shape(
    filter_shape: tuple[int, ...], c_in: int, data_format: str | None, name: str
) -> tuple[int, int, int, int]:
    """Depthwise ``[h, w, C_in, mult]`` -> grouped ``[h, w, 1, C_in * mult]``, checked.

    Output channel ``c * mult + m`` is input channel ``c`` times multiplier ``m``, as in
    TensorFlow; a reshape keeps that order and the core sees ``groups = C_in``.
    """
    if len(filter_shape) != 4:
        raise ValueError(f"{name} must have shape [h, w, in, multiplier], got {filter_shape}")
    if filter_shape[2] != c_in:
        raise ValueError(
            f"{name}.shape[2] ({filter_shape[2]}) must equal the input channels ({c_in}, "
            f"data_format={data_format!r})"
        )
    h, w, c, m = filter_shape
    return h, w, 1, c * m


def _channels(shape: tuple[int, ...], data_format: str | None, name: str) -> int:
    """Channel count of a 4-d ``shape`` in ``data_format`` (checked)."""
    if len(shape) != 4:
        raise ValueError(
            f"{name} must have 4 dimensions (batch, height, width, channels), got {shape}"
        )
    channels_first = format_is_channels_first(data_format, rank=2, allowed=_FORMATS[2])
    return shape[1] if channels_first else shape[3]


def _depthwise_filter(filter: Array, c_in: int, data_format: str | None, name: str) -> Array:
    """Reshape a depthwise filter array to its grouped form (see the shape helper)."""
    shape = _depthwise_grouped_shape(tuple(filter.shape), c_in, data_format, name)
    return _backend.namespace(**{name: filter}).reshape(filter, shape)


@_doc
def convolution(
    input: Array,
    filters: Array,
    strides: IntOrSeq | None = None,
    padding: PaddingArg = "VALID",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
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
    return _forward(input, filters, strides, padding, data_format, dilations, options)


@_doc
def conv1d(
    input: Array,
    filters: Array,
    stride: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
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
        options,
        rank=1,
        stride_name="stride",
    )


@_doc
def conv2d(
    input: Array,
    filters: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
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
    return _forward(input, filters, strides, padding, data_format, dilations, options, rank=2)


@_doc
def conv3d(
    input: Array,
    filters: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NDHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
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
    return _forward(input, filters, strides, padding, data_format, dilations, options, rank=3)


@_doc
def depthwise_conv2d(
    input: Array,
    filter: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
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
    _backend.namespace(input=input, filter=filter)
    c_in = _channels(tuple(input.shape), data_format, "input")
    grouped = _depthwise_filter(filter, c_in, data_format, "filter")
    return _forward(
        input,
        grouped,
        strides,
        padding,
        data_format,
        dilations,
        options,
        rank=2,
        filters_name="filter",
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
    **options: Unpack[ConvOptions],
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
    c_in = _channels(tuple(input.shape), data_format, "input")
    grouped = _depthwise_filter(depthwise_filter, c_in, data_format, "depthwise_filter")
    mid = grouped.shape[-1]
    if pointwise_filter.ndim != 4 or tuple(pointwise_filter.shape[:3]) != (1, 1, mid):
        raise ValueError(
            f"pointwise_filter must have shape [1, 1, {mid}, out] (in = C_in * multiplier), "
            f"got {tuple(pointwise_filter.shape)}"
        )
    y = _forward(
        input,
        grouped,
        strides,
        padding,
        data_format,
        dilations,
        options,
        rank=2,
        filters_name="depthwise_filter",
    )
    return _forward(
        y, pointwise_filter, 1, "VALID", data_format, 1, options, filters_name="pointwise_filter"
    )


@_doc
def conv_transpose(
    input: Array,
    filters: Array,
    output_shape: IntOrSeq,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """N-d transposed convolution, the twin of ``tf.nn.conv_transpose``.

    The gradient of :func:`convolution` with respect to its input: ``output_shape`` is
    the forward input's shape and ``input`` the forward output (or its gradient).

    Parameters
    ----------
    input : array
        Shape ``(N, *spatial_in, C_in)`` or channels first.
    filters : array
        Shape ``(*k, C_out / groups, C_in)``: TensorFlow's ``[..., out, in]``.
    output_shape : sequence of int or 1-d integer array
        The full output shape (rank+2 entries, ``data_format`` order). A shape that
        the forward convolution could not have mapped to ``input`` raises
        ``ValueError`` listing the sizes that fit.
    {window}
    {padding}
    data_format : str, optional
        As in :func:`convolution`.
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 2, 2, 1))
    >>> y = xconv.conv_transpose(x, np.ones((2, 2, 1, 1)), [1, 4, 4, 1], strides=2)
    >>> y[0, :, :, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    return _input_grad(
        output_shape,
        filters,
        input,
        strides,
        padding,
        data_format,
        dilations,
        options,
        names=("output_shape", "filters", "input"),
    )


@_doc
def conv1d_transpose(
    input: Array,
    filters: Array,
    output_shape: IntOrSeq,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str = "NWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """1-d transposed convolution, the twin of ``tf.nn.conv1d_transpose``.

    See :func:`conv_transpose`; ``filters`` is ``(k, C_out / groups, C_in)`` and
    ``data_format`` is "NWC" or "NCW".

    Parameters
    ----------
    input, filters, output_shape
        As in :func:`conv_transpose`.
    {window}
    {padding}
    data_format : {{"NWC", "NCW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> y = xconv.conv1d_transpose(np.ones((1, 3, 1)), np.ones((3, 1, 1)), [1, 6, 1], 2)
    >>> y[0, :, 0]
    array([1., 1., 2., 1., 2., 1.])
    """
    return _input_grad(
        output_shape,
        filters,
        input,
        strides,
        padding,
        data_format,
        dilations,
        options,
        rank=1,
        names=("output_shape", "filters", "input"),
    )


@_doc
def conv2d_transpose(
    input: Array,
    filters: Array,
    output_shape: IntOrSeq,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str = "NHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """2-d transposed convolution, the twin of ``tf.nn.conv2d_transpose``.

    See :func:`conv_transpose`; ``filters`` is ``(kh, kw, C_out / groups, C_in)`` and
    ``data_format`` is "NHWC" or "NCHW".

    Parameters
    ----------
    input, filters, output_shape
        As in :func:`conv_transpose`.
    {window}
    {padding}
    data_format : {{"NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((2, 4, 4, 8), dtype=np.float32)
    >>> xconv.conv2d_transpose(x, np.ones((4, 4, 3, 8), "f4"), [2, 8, 8, 3], 2).shape
    (2, 8, 8, 3)
    """
    return _input_grad(
        output_shape,
        filters,
        input,
        strides,
        padding,
        data_format,
        dilations,
        options,
        rank=2,
        names=("output_shape", "filters", "input"),
    )


@_doc
def conv3d_transpose(
    input: Array,
    filters: Array,
    output_shape: IntOrSeq,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str = "NDHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """3-d transposed convolution, the twin of ``tf.nn.conv3d_transpose``.

    See :func:`conv_transpose`; ``filters`` is ``(kd, kh, kw, C_out / groups, C_in)``
    and ``data_format`` is "NDHWC" or "NCDHW".

    Parameters
    ----------
    input, filters, output_shape
        As in :func:`conv_transpose`.
    {window}
    {padding}
    data_format : {{"NDHWC", "NCDHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 2, 2, 2, 4))
    >>> xconv.conv3d_transpose(x, np.ones((3, 3, 3, 2, 4)), [1, 4, 4, 4, 2], 2).shape
    (1, 4, 4, 4, 2)
    """
    return _input_grad(
        output_shape,
        filters,
        input,
        strides,
        padding,
        data_format,
        dilations,
        options,
        rank=3,
        names=("output_shape", "filters", "input"),
    )


@_doc
def conv_backprop_input(
    input_sizes: IntOrSeq,
    filters: Array,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """Gradient of an N-d :func:`convolution` with respect to its input.

    Parameters
    ----------
    input_sizes : sequence of int or 1-d integer array
        The forward input's shape (rank+2 entries, ``data_format`` order).
    filters : array
        The forward filters, ``(*k, C_in / groups, C_out)``.
    out_backprop : array
        The gradient of the forward output.
    {window}
    {padding}
    data_format : str, optional
        As in :func:`convolution`.
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.random((1, 7, 7, 2)), rng.random((3, 3, 2, 4))
    >>> dy = rng.random(xconv.convolution(x, w, 2, "SAME").shape)
    >>> dx = xconv.conv_backprop_input(x.shape, w, dy, 2, "SAME")
    >>> bool(np.isclose(np.sum(dx * x), np.sum(dy * xconv.convolution(x, w, 2, "SAME"))))
    True
    """
    return _input_grad(
        input_sizes, filters, out_backprop, strides, padding, data_format, dilations, options
    )


@_doc
def conv2d_backprop_input(
    input_sizes: IntOrSeq,
    filters: Array,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """Gradient of :func:`conv2d` w.r.t. its input, the twin of ``Conv2DBackpropInput``.

    Strides and dilations together are computed (TensorFlow's CPU kernels refuse them).

    Parameters
    ----------
    input_sizes, filters, out_backprop
        As in :func:`conv_backprop_input`, for a 2-d convolution.
    {window}
    {padding}
    data_format : {{"NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> dy = np.ones((1, 3, 3, 1))
    >>> dx = xconv.conv2d_backprop_input([1, 5, 5, 1], np.ones((3, 3, 1, 1)), dy, 1, "VALID")
    >>> dx[0, :, :, 0]
    array([[1., 2., 3., 2., 1.],
           [2., 4., 6., 4., 2.],
           [3., 6., 9., 6., 3.],
           [2., 4., 6., 4., 2.],
           [1., 2., 3., 2., 1.]])
    """
    return _input_grad(
        input_sizes,
        filters,
        out_backprop,
        strides,
        padding,
        data_format,
        dilations,
        options,
        rank=2,
    )


@_doc
def conv_backprop_filter(
    input: Array,
    filter_sizes: IntOrSeq,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """Gradient of an N-d :func:`convolution` with respect to its filters.

    Parameters
    ----------
    input : array
        The forward input.
    filter_sizes : sequence of int or 1-d integer array
        The filter shape ``(*k, C_in / groups, C_out)``.
    out_backprop : array
        The gradient of the forward output.
    {window}
    {padding}
    data_format : str, optional
        As in :func:`convolution`.
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.arange(6.0).reshape(1, 6, 1)
    >>> xconv.conv_backprop_filter(x, [2, 1, 1], np.ones((1, 5, 1)), 1, "VALID")[:, 0, 0]
    array([10., 15.])
    """
    return _filter_grad(
        input, filter_sizes, out_backprop, strides, padding, data_format, dilations, options
    )


@_doc
def conv2d_backprop_filter(
    input: Array,
    filter_sizes: IntOrSeq,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """Gradient of :func:`conv2d` w.r.t. its filters, the twin of ``Conv2DBackpropFilter``.

    Strides and dilations together are computed (TensorFlow's CPU kernels refuse them).

    Parameters
    ----------
    input, filter_sizes, out_backprop
        As in :func:`conv_backprop_filter`, for a 2-d convolution.
    {window}
    {padding}
    data_format : {{"NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((2, 9, 8, 3))
    >>> dy = np.ones(xconv.conv2d(x, np.ones((3, 3, 3, 4)), 2, "SAME", dilations=2).shape)
    >>> xconv.conv2d_backprop_filter(x, [3, 3, 3, 4], dy, 2, "SAME", dilations=2).shape
    (3, 3, 3, 4)
    """
    return _filter_grad(
        input, filter_sizes, out_backprop, strides, padding, data_format, dilations, options, rank=2
    )


@_doc
def depthwise_conv2d_backprop_input(
    input_sizes: IntOrSeq,
    filter: Array,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """Gradient of :func:`depthwise_conv2d` w.r.t. its input (``DepthwiseConv2dNativeBackpropInput``).

    Parameters
    ----------
    input_sizes : sequence of int or 1-d integer array
        The forward input's shape (4 entries, ``data_format`` order).
    filter : array
        The depthwise filter ``(kh, kw, C_in, multiplier)``.
    out_backprop : array
        The gradient of the forward output, ``C_in * multiplier`` channels.
    {window}
    {padding}
    data_format : {{"NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> dy = np.ones((1, 2, 2, 4))
    >>> dx = xconv.depthwise_conv2d_backprop_input([1, 3, 3, 2], np.ones((2, 2, 2, 2)), dy, 1, "VALID")
    >>> dx[0, :, :, 0]
    array([[2., 4., 2.],
           [4., 8., 4.],
           [2., 4., 2.]])
    """
    _backend.namespace(filter=filter, out_backprop=out_backprop)
    sizes = _sizes(input_sizes, name="input_sizes", rank=2)
    grouped = _depthwise_filter(
        filter, _channels(sizes, data_format, "input_sizes"), data_format, "filter"
    )
    return _input_grad(
        sizes,
        grouped,
        out_backprop,
        strides,
        padding,
        data_format,
        dilations,
        options,
        rank=2,
        names=("input_sizes", "filter", "out_backprop"),
    )


@_doc
def depthwise_conv2d_backprop_filter(
    input: Array,
    filter_sizes: IntOrSeq,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str = "NHWC",
    dilations: IntOrSeq | None = None,
    **options: Unpack[ConvOptions],
) -> Array:
    """Gradient of :func:`depthwise_conv2d` w.r.t. its filter (``DepthwiseConv2dNativeBackpropFilter``).

    Parameters
    ----------
    input : array
        The forward input.
    filter_sizes : sequence of int or 1-d integer array
        The depthwise filter shape ``(kh, kw, C_in, multiplier)``.
    out_backprop : array
        The gradient of the forward output, ``C_in * multiplier`` channels.
    {window}
    {padding}
    data_format : {{"NHWC", "NCHW"}}, optional
    {extras}

    {returns}

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 3, 3, 2))
    >>> dw = xconv.depthwise_conv2d_backprop_filter(x, [2, 2, 2, 1], np.ones((1, 2, 2, 2)), 1, "VALID")
    >>> dw.shape, dw[:, :, 0, 0].tolist()
    ((2, 2, 2, 1), [[4.0, 4.0], [4.0, 4.0]])
    """
    xp = _backend.namespace(input=input, out_backprop=out_backprop)
    sizes = _sizes(filter_sizes, name="filter_sizes", rank=2)
    c_in = _channels(tuple(input.shape), data_format, "input")
    grouped = _depthwise_grouped_shape(sizes, c_in, data_format, "filter_sizes")
    dw = _filter_grad(
        input, grouped, out_backprop, strides, padding, data_format, dilations, options, rank=2
    )
    return xp.reshape(dw, sizes)
