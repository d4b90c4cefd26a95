"""Public TensorFlow-style functions: translate arguments, call the core, nothing else.

Each public function is built by :func:`_public` from TensorFlow's parameter list
(DESIGN §1, written here in the same notation), a docstring, and one of the
translators below. A translator checks the arguments (``ValueError``/``TypeError``
naming them), builds a :class:`~xconv._spec.ConvSpec` and calls one of the three core
entry points: :func:`~xconv._core.conv_general` (forward),
:func:`~xconv._core.conv_input_grad` (transposed convolution, input gradient) and
:func:`~xconv._core.conv_filter_grad` (filter gradient).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import Any, TypeAlias

from . import _backend
from ._core import conv_filter_grad, conv_general, conv_input_grad, result_dtype
from ._spec import (
    ConvSpec,
    as_int_tuple,
    check_options,
    check_out_backprop,
    conv_spec,
    format_is_channels_first,
)
from ._typing import Array, ConvOptions

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

#: A call's arguments by TensorFlow's parameter names (``options`` holds the extras).
_Args: TypeAlias = dict[str, Any]

#: data_format strings of the fixed-rank functions (channels last first).
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}

#: Annotation of each public parameter, by name (shown by ``help`` and ``inspect``).
_ANNOTATIONS = {
    **dict.fromkeys(
        ("input", "filters", "filter", "depthwise_filter", "pointwise_filter", "out_backprop"),
        "Array",
    ),
    **dict.fromkeys(("input_sizes", "filter_sizes", "output_shape"), "IntOrSeq"),
    **dict.fromkeys(("strides", "stride", "dilations"), "IntOrSeq"),
    "padding": "PaddingArg",
    "data_format": "str",
}


# --- building the public functions ----------------------------------------------------


def _signature(params: str) -> inspect.Signature:
    """TensorFlow's parameters from DESIGN's notation, e.g. ``"input, padding='VALID'"``.

    Every parameter is positional-or-keyword, as in TensorFlow (annotations are
    those of the function's docstring, ``| None`` where None is the default);
    ``**options`` (the keyword-only extras of :class:`~xconv.ConvOptions`) comes last.
    """
    parameters = []
    for item in params.split(", "):
        name, _, text = item.partition("=")
        default = ast.literal_eval(text) if text else inspect.Parameter.empty
        annotation = _ANNOTATIONS[name] + (" | None" if default is None else "")
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=default,
                annotation=annotation,
            )
        )
    options = inspect.Parameter(
        "options", inspect.Parameter.VAR_KEYWORD, annotation="Unpack[ConvOptions]"
    )
    return inspect.Signature([*parameters, options], return_annotation="Array")


def _make(translate: Callable[..., Array], text: str, **fixed: Any) -> Callable[..., Array]:
    """The public function that ``text`` describes, calling ``translate``.

    ``text`` starts with TensorFlow's signature in DESIGN §1's notation (as NumPy's C
    functions' docstrings do), then paragraphs: the summary, the function's own
    parameter entries, and examples that run after ``import numpy as np`` and
    ``import xconv``. The function binds its arguments to that signature (a missing
    or surplus argument is Python's own ``TypeError``) and returns
    ``translate(arguments, **fixed)``; :func:`_doc` completes its docstring.
    """
    head, _, body = inspect.cleandoc(text).partition("\n")
    name, _, params = head.removesuffix(")").partition("(")
    signature = _signature(params)
    bind = _binder(signature)

    def public(*args: Any, **kwargs: Any) -> Array:
        arguments = bind(args, kwargs)
        if arguments is None:  # a binding error: Python's own message
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
        return translate(arguments, **fixed)

    public.__name__ = public.__qualname__ = name
    public.__module__ = "xconv"
    public.__doc__ = _doc(body, signature, fixed.get("rank"))
    public.__signature__ = signature  # type: ignore[attr-defined]
    return public


def _binder(
    signature: inspect.Signature,
) -> Callable[[tuple[Any, ...], dict[str, Any]], _Args | None]:
    """What ``signature.bind(*args, **kwargs)`` with ``apply_defaults()`` gives as
    ``arguments`` (the extras in ``options``), or None where binding fails.

    The signatures of :func:`_signature` only: positional-or-keyword parameters, then
    ``**options``. ``inspect``'s binding took about a tenth of a small convolution's
    Python time; on None the caller binds with ``inspect`` to raise its ``TypeError``.
    """
    params = [p for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    names = tuple(p.name for p in params)
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    var_keyword = next(reversed(signature.parameters))

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args | None:
        if len(args) > len(names):
            return None
        given = dict(zip(names, args))
        extras = {}
        for key, value in kwargs.items():
            if key in given:
                return None
            if key in names:
                given[key] = value
            else:
                extras[key] = value
        arguments = {}
        for key in names:
            if key in given:
                arguments[key] = given[key]
            elif key in defaults:
                arguments[key] = defaults[key]
            else:
                return None
        arguments[var_keyword] = extras
        return arguments

    return bind


def _public(
    translate: Callable[..., Array], **fixed: Any
) -> Callable[[Callable[[], None]], Callable[..., Array]]:
    """Decorator: :func:`_make` from a docstring-only stub of the same name."""

    def build(stub: Callable[[], None]) -> Callable[..., Array]:
        public = _make(translate, stub.__doc__ or "", **fixed)
        assert public.__name__ == stub.__name__, f"{stub.__name__}'s docstring names another"
        return public

    return build


def _doc(body: str, signature: inspect.Signature, rank: int | None) -> str:
    """A numpydoc docstring: a stub's paragraphs around the shared parts.

    ``body`` is the summary, then the function's own parameter entries (one
    paragraph), then its examples; the shared strides, padding, data_format and
    options entries, Returns and Raises come from here.
    """
    text, _, examples = body.partition("\n>>> ")
    *summary, params = text.strip().split("\n\n")
    stride = "stride" if "stride" in signature.parameters else "strides"
    if rank is None:
        formats = "str, optional"
    else:
        default = signature.parameters["data_format"].default
        names = [*(["None"] if default is None else []), *(f'"{f}"' for f in _FORMATS[rank])]
        formats = "{" + ", ".join(names) + "}, optional"
    shared = f"""\
{stride}, dilations : int or sequence of int, optional
    An int, a sequence of length 1 or of the spatial rank, or TensorFlow's rank+2
    form in ``data_format`` order with 1 at the batch and channel positions. Every
    entry is a positive int; strides > 1 together with dilations > 1 are allowed.
padding : str, int or sequence of (int, int)
    ``"SAME"`` (TensorFlow's rule: ``out = ceil(in / stride)``, the odd pixel of
    padding after), ``"VALID"`` or ``"FULL"`` (any case); an int padded on every
    side; one ``(lo, hi)`` pair per spatial dimension; or TensorFlow's explicit list
    of rank+2 pairs in ``data_format`` order with ``(0, 0)`` at batch and channels.
    For transposed convolutions and gradients: the forward convolution's padding.
data_format : {formats}
    Channels last (``"N...C"``, e.g. ``"NHWC"``) or channels first (``"NC..."``,
    e.g. ``"NCHW"``); None means channels last.
**options
    Keyword-only extras, see :class:`xconv.ConvOptions`: ``padding_mode``
    ("zeros", "reflect", "symmetric", "edge", "circular"; forward functions only),
    ``method`` ("auto" chooses; an algorithm this version lacks raises
    ``ValueError``), ``memory_budget`` (bytes of temporaries; larger work is
    chunked) and ``precision`` (float16/bfloat16 accumulate in float32 unless
    "native").

Returns
-------
array
    An array of the inputs' library, on their device, with dtype ``result_type``
    of the two array arguments (integer inputs give exact integer results).

Raises
------
TypeError
    Non-arrays, arrays of different libraries, non-numeric dtypes, non-int
    strides, missing or unknown arguments.
ValueError
    Inconsistent shapes (for gradients, the message lists the sizes that fit),
    unknown strings, non-positive strides or dilations, negative padding; the
    message names the argument.

Examples
--------
>>> import numpy as np
>>> import xconv
>>> """
    summary_text = "\n\n".join(summary)
    return f"{summary_text}\n\nParameters\n----------\n{params}\n{shared}{examples}\n"


# --- translators: arguments -> ConvSpec -> core -------------------------------------


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


def _spec(a: _Args, x_shape: Any, w_shape: Any, rank: int | None, **names: Any) -> ConvSpec:
    """The forward convolution's spec from ``a``'s strides, padding, dilations, format."""
    stride_name = "stride" if "stride" in a else "strides"
    return conv_spec(
        tuple(x_shape),
        tuple(w_shape),
        strides=a[stride_name],
        padding=a["padding"],
        dilations=a["dilations"],
        data_format=a["data_format"],
        formats=_FORMATS.get(rank or 0),
        stride_name=stride_name,
        **names,
    )


def _forward(a: _Args, rank: int | None, w_name: str = "filters") -> Array:
    """A forward convolution of ``a["input"]`` with ``a[w_name]``."""
    x, w = a["input"], a[w_name]
    xp = _backend.namespace(input=x, **{w_name: w})
    dtype = result_dtype(xp, x, w, names=("input", w_name))
    padding_mode, core = _options(a["options"], forward=True)
    if rank is not None and w.ndim != rank + 2:
        raise ValueError(
            f"{w_name} must have {rank + 2} dimensions (*spatial, in, out) for a "
            f"{rank}-d convolution, got shape {tuple(w.shape)}"
        )
    spec = _spec(a, x.shape, w.shape, rank, padding_mode=padding_mode, filters_name=w_name)
    return conv_general(x, w, spec, xp=xp, dtype=dtype, **core)


def _sizes(value: Any, *, name: str, rank: int, source: str = "") -> tuple[int, ...]:
    """A shape argument (sequence or 1-d integer array) of ``rank + 2`` entries >= 0.

    ``source`` names the argument that ``rank`` was read from, for the message.
    """
    sizes = as_int_tuple(value, name=name)
    if len(sizes) != rank + 2 or any(v < 0 for v in sizes):
        raise ValueError(
            f"{name} must be {rank + 2} non-negative sizes in data_format order{source}, "
            f"got {list(sizes)}"
        )
    return sizes


def _grad_spec(
    a: _Args, names: tuple[str, str, str], shapes: tuple[Any, Any, Any], rank: int | None
) -> ConvSpec:
    """The forward spec of a gradient, after checking the gradient's shape against it.

    ``names``/``shapes``: the forward input, filter and output-gradient arguments.
    """
    x_name, w_name, dy_name = names
    x_shape, w_shape, dy_shape = (tuple(s) for s in shapes)
    fwd = _spec(a, x_shape, w_shape, rank, input_name=x_name, filters_name=w_name)
    check_out_backprop(
        fwd,
        x_shape,
        w_shape,
        dy_shape,
        input_name=x_name,
        grad_name=dy_name,
        padding=a["padding"],
        filters_name=w_name,
    )
    return fwd


#: The forward arguments' names of a transposed convolution and of an input gradient.
_TRANSPOSE = ("output_shape", "filters", "input")
_INPUT_GRAD = ("input_sizes", "filters", "out_backprop")


def _input_grad(a: _Args, rank: int | None, names: tuple[str, str, str] = _INPUT_GRAD) -> Array:
    """The input gradient of a forward convolution (= the transposed convolution)."""
    sizes_name, w_name, dy_name = names
    w, dy = a[w_name], a[dy_name]
    xp = _backend.namespace(**{dy_name: dy, w_name: w})
    dtype = result_dtype(xp, dy, w, names=(dy_name, w_name))
    _, core = _options(a["options"], forward=False)
    if w.ndim < 3 or (rank is not None and w.ndim != rank + 2):
        raise ValueError(
            f"{w_name} must have {rank + 2 if rank else 'at least 3'} dimensions "
            f"(*spatial, out, in), got shape {tuple(w.shape)}"
        )
    source = f" (for {w_name} of shape {tuple(w.shape)})"
    sizes = _sizes(a[sizes_name], name=sizes_name, rank=w.ndim - 2, source=source)
    fwd = _grad_spec(a, names, (sizes, w.shape, dy.shape), rank)
    in_sizes = tuple(sizes[i] for i in fwd.to_canonical)[1:-1]
    return conv_input_grad(dy, w, fwd, in_sizes, xp=xp, dtype=dtype, **core)


def _filter_grad(a: _Args, rank: int | None) -> Array:
    """The filter gradient of a forward convolution, of shape ``filter_sizes``."""
    x, dy = a["input"], a["out_backprop"]
    xp = _backend.namespace(input=x, out_backprop=dy)
    dtype = result_dtype(xp, x, dy, names=("input", "out_backprop"))
    _, core = _options(a["options"], forward=False)
    source = "" if rank else f" (for input of shape {tuple(x.shape)})"
    sizes = _sizes(a["filter_sizes"], name="filter_sizes", rank=rank or x.ndim - 2, source=source)
    names = ("input", "filter_sizes", "out_backprop")
    fwd = _grad_spec(a, names, (x.shape, sizes, dy.shape), rank)
    return conv_filter_grad(x, dy, fwd, sizes[:-2], xp=xp, dtype=dtype, **core)


def _depthwise_grouped_shape(
    filter_shape: tuple[int, ...],
    c_in: int,
    data_format: str | None,
    name: str,
    channels_from: str = "input",
) -> tuple[int, int, int, int]:
    """Depthwise ``[h, w, C_in, mult]`` -> grouped ``[h, w, 1, C_in * mult]``, checked.

    Output channel ``c * mult + m`` is input channel ``c`` times multiplier ``m``, as in
    TensorFlow; a reshape keeps that order and the core sees ``groups = C_in``.
    ``channels_from`` names the argument ``c_in`` was read from (for the message).
    """
    if len(filter_shape) != 4:
        raise ValueError(f"{name} must have shape [h, w, in, multiplier], got {filter_shape}")
    if filter_shape[2] != c_in:
        raise ValueError(
            f"{name}.shape[2] ({filter_shape[2]}) must equal the input channels given by "
            f"{channels_from} ({c_in}, data_format={data_format!r})"
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


def _grouped(a: _Args, name: str, c_in: int, channels_from: str = "input") -> Array:
    """The depthwise filter ``a[name]`` reshaped to its grouped form (checked)."""
    shape = _depthwise_grouped_shape(
        tuple(a[name].shape), c_in, a["data_format"], name, channels_from
    )
    return _backend.namespace(**{name: a[name]}).reshape(a[name], shape)


def _depthwise(a: _Args, rank: int) -> Array:
    """``depthwise_conv2d``: a grouped convolution with ``groups = C_in``."""
    _backend.namespace(input=a["input"], filter=a["filter"])
    c_in = _channels(tuple(a["input"].shape), a["data_format"], "input")
    return _forward({**a, "filter": _grouped(a, "filter", c_in)}, rank, "filter")


def _separable(a: _Args, rank: int) -> Array:
    """``separable_conv2d``: depthwise, then a 1x1 convolution (strides 1, VALID)."""
    pointwise = a["pointwise_filter"]
    _backend.namespace(
        input=a["input"], depthwise_filter=a["depthwise_filter"], pointwise_filter=pointwise
    )
    c_in = _channels(tuple(a["input"].shape), a["data_format"], "input")
    grouped = _grouped(a, "depthwise_filter", c_in)
    mid = grouped.shape[-1]
    if pointwise.ndim != 4 or tuple(pointwise.shape[:3]) != (1, 1, mid):
        raise ValueError(
            f"pointwise_filter must have shape [1, 1, {mid}, out] (in = C_in * multiplier of "
            f"depthwise_filter {tuple(a['depthwise_filter'].shape)}), got {tuple(pointwise.shape)}"
        )
    y = _forward({**a, "depthwise_filter": grouped}, rank, "depthwise_filter")
    step = {"input": y, "strides": 1, "padding": "VALID", "dilations": 1}
    return _forward({**a, **step}, None, "pointwise_filter")


def _depthwise_input_grad(a: _Args, rank: int) -> Array:
    """``depthwise_conv2d_backprop_input``: the grouped input gradient."""
    _backend.namespace(filter=a["filter"], out_backprop=a["out_backprop"])
    sizes = _sizes(a["input_sizes"], name="input_sizes", rank=rank)
    c_in = _channels(sizes, a["data_format"], "input_sizes")
    grouped = {"input_sizes": sizes, "filter": _grouped(a, "filter", c_in, "input_sizes")}
    return _input_grad({**a, **grouped}, rank, ("input_sizes", "filter", "out_backprop"))


def _depthwise_filter_grad(a: _Args, rank: int) -> Array:
    """``depthwise_conv2d_backprop_filter``: the grouped filter gradient, reshaped back."""
    xp = _backend.namespace(input=a["input"], out_backprop=a["out_backprop"])
    sizes = _sizes(a["filter_sizes"], name="filter_sizes", rank=rank)
    c_in = _channels(tuple(a["input"].shape), a["data_format"], "input")
    grouped = _depthwise_grouped_shape(sizes, c_in, a["data_format"], "filter_sizes")
    return xp.reshape(_filter_grad({**a, "filter_sizes": grouped}, rank), sizes)


# --- the public functions (DESIGN §1) -------------------------------------------------


@_public(_forward, rank=None)
def convolution() -> None:
    """convolution(input, filters, strides=None, padding='VALID', data_format=None, dilations=None)

    N-d convolution (cross-correlation, as in TensorFlow) of any spatial rank.

    The twin of ``tf.nn.convolution``; the spatial rank is ``filters.ndim - 2`` and
    may be any number >= 1. Groups are inferred as TensorFlow infers them:
    ``groups = C_in // filters.shape[-2]``.

    input : array
        Shape ``(N, *spatial, C_in)`` (channels last) or ``(N, C_in, *spatial)``.
    filters : array
        Shape ``(*k, C_in / groups, C_out)`` (TensorFlow's HWIO layout).

    >>> x = np.arange(10.0).reshape(1, 10, 1)
    >>> w = (1.0 - np.arange(3.0)).reshape(3, 1, 1)
    >>> xconv.convolution(x, w, padding="VALID")[0, :, 0]
    array([-2., -2., -2., -2., -2., -2., -2., -2.])
    >>> xconv.convolution(np.ones((2, 4, 4, 4, 4, 3)), np.ones((2, 2, 2, 2, 3, 5))).shape
    (2, 3, 3, 3, 3, 5)
    """


@_public(_forward, rank=1)
def conv1d() -> None:
    """conv1d(input, filters, stride, padding, data_format='NWC', dilations=None)

    1-d convolution, the twin of ``tf.nn.conv1d`` (whose strides are ``stride``).

    input : array
        Shape ``(N, W, C_in)`` for ``"NWC"`` or ``(N, C_in, W)`` for ``"NCW"``.
    filters : array
        Shape ``(k, C_in / groups, C_out)``.

    >>> x = np.arange(8.0).reshape(1, 8, 1)
    >>> xconv.conv1d(x, np.ones((3, 1, 1)), stride=2, padding="SAME")[0, :, 0]
    array([ 3.,  9., 15., 13.])
    """


@_public(_forward, rank=2)
def conv2d() -> None:
    """conv2d(input, filters, strides, padding, data_format='NHWC', dilations=None)

    2-d convolution, the twin of ``tf.nn.conv2d``.

    input : array
        Shape ``(N, H, W, C_in)`` for ``"NHWC"`` or ``(N, C_in, H, W)`` for ``"NCHW"``.
    filters : array
        Shape ``(kh, kw, C_in / groups, C_out)``.

    >>> x = np.ones((1, 5, 5, 1), dtype=np.float32)
    >>> w = np.ones((3, 3, 1, 1), dtype=np.float32)
    >>> xconv.conv2d(x, w, strides=2, padding="SAME")[0, :, :, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]], dtype=float32)
    >>> xconv.conv2d(np.ones((1, 8, 8, 4), "f4"), np.ones((9, 9, 4, 6), "f4"), 1, "VALID").shape
    (1, 0, 0, 6)
    """


@_public(_forward, rank=3)
def conv3d() -> None:
    """conv3d(input, filters, strides, padding, data_format='NDHWC', dilations=None)

    3-d convolution, the twin of ``tf.nn.conv3d``.

    input : array
        Shape ``(N, D, H, W, C_in)`` for ``"NDHWC"`` or ``(N, C_in, D, H, W)``.
    filters : array
        Shape ``(kd, kh, kw, C_in / groups, C_out)``.

    >>> x = np.ones((1, 4, 4, 4, 2))
    >>> xconv.conv3d(x, np.ones((2, 2, 2, 2, 3)), strides=2, padding="VALID")[0, ..., 0]
    array([[[16., 16.],
            [16., 16.]],
    <BLANKLINE>
           [[16., 16.],
            [16., 16.]]])
    """


@_public(_depthwise, rank=2)
def depthwise_conv2d() -> None:
    """depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None)

    Depthwise 2-d convolution, the twin of ``tf.nn.depthwise_conv2d``.

    Each input channel ``c`` is convolved with ``filter[:, :, c, m]`` for every
    multiplier ``m``; output channel ``c * multiplier + m``.

    input : array
        Shape ``(N, H, W, C_in)`` (``"NHWC"``, the default) or ``(N, C_in, H, W)``.
    filter : array
        Shape ``(kh, kw, C_in, multiplier)``.

    >>> x = np.stack([np.ones((4, 4)), 2 * np.ones((4, 4))], axis=-1)[None]
    >>> y = xconv.depthwise_conv2d(x, np.ones((2, 2, 2, 3)), strides=1, padding="VALID")
    >>> y.shape, y[0, 0, 0].tolist()
    ((1, 3, 3, 6), [4.0, 4.0, 4.0, 8.0, 8.0, 8.0])
    """


@_public(_separable, rank=2)
def separable_conv2d() -> None:
    """separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, data_format=None, dilations=None)

    Depthwise then 1x1 pointwise convolution, the twin of ``tf.nn.separable_conv2d``.

    input : array
        Shape ``(N, H, W, C_in)`` (``"NHWC"``, the default) or ``(N, C_in, H, W)``.
    depthwise_filter : array
        Shape ``(kh, kw, C_in, multiplier)``; strides, padding and dilations apply to it.
    pointwise_filter : array
        Shape ``(1, 1, C_in * multiplier, C_out)``.

    >>> x = np.ones((1, 5, 5, 2))
    >>> y = xconv.separable_conv2d(x, np.ones((3, 3, 2, 2)), np.ones((1, 1, 4, 7)), 1, "SAME")
    >>> y.shape, float(y[0, 2, 2, 0])
    ((1, 5, 5, 7), 36.0)
    """


@_public(_input_grad, rank=None, names=_TRANSPOSE)
def conv_transpose() -> None:
    """conv_transpose(input, filters, output_shape, strides, padding='SAME', data_format=None, dilations=None)

    N-d transposed convolution, the twin of ``tf.nn.conv_transpose``.

    The gradient of :func:`convolution` with respect to its input: ``output_shape``
    is the forward input's shape and ``input`` the forward output (or its gradient).
    ``conv1d_transpose``, ``conv2d_transpose`` and ``conv3d_transpose`` are this
    function at a fixed rank.

    input : array
        Shape ``(N, *spatial_in, C_in)`` or channels first.
    filters : array
        Shape ``(*k, C_out / groups, C_in)``: TensorFlow's ``[..., out, in]``.
    output_shape : sequence of int or 1-d integer array
        The full output shape (rank+2 entries, ``data_format`` order). A shape that
        the forward convolution could not have mapped to ``input`` raises
        ``ValueError`` listing the sizes that fit.

    >>> x = np.ones((1, 2, 2, 1))
    >>> y = xconv.conv_transpose(x, np.ones((2, 2, 1, 1)), [1, 4, 4, 1], strides=2)
    >>> y[0, :, :, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """


def _transpose_at(rank: int) -> Callable[..., Array]:
    """``conv{rank}d_transpose``: :func:`conv_transpose` at one rank, TF's default layout."""
    name, layout = f"conv{rank}d_transpose", _FORMATS[rank][0]
    kernel = ", ".join(f"k{axis}" for axis in layout[1:-1].lower())
    sizes = ", ".join(["4"] * rank)
    text = f"""\
    {name}(input, filters, output_shape, strides, padding='SAME', \
data_format='{layout}', dilations=None)

    {rank}-d transposed convolution, the twin of ``tf.nn.{name}``.

    input, output_shape
        As in :func:`conv_transpose`, for a {rank}-d convolution.
    filters : array
        Shape ``({kernel}, C_out / groups, C_in)``.

    >>> x = np.ones((1,) + (2,) * {rank} + (4,))
    >>> xconv.{name}(x, np.ones((3,) * {rank} + (2, 4)), [1, {sizes}, 2], 2).shape
    (1, {sizes}, 2)
    """
    return _make(_input_grad, text, rank=rank, names=_TRANSPOSE)


conv1d_transpose, conv2d_transpose, conv3d_transpose = map(_transpose_at, (1, 2, 3))


@_public(_input_grad, rank=None)
def conv_backprop_input() -> None:
    """conv_backprop_input(input_sizes, filters, out_backprop, strides, padding, data_format=None, dilations=None)

    Gradient of an N-d :func:`convolution` with respect to its input.

    input_sizes : sequence of int or 1-d integer array
        The forward input's shape (rank+2 entries, ``data_format`` order).
    filters : array
        The forward filters, ``(*k, C_in / groups, C_out)``.
    out_backprop : array
        The gradient of the forward output.

    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.random((1, 7, 7, 2)), rng.random((3, 3, 2, 4))
    >>> dy = rng.random(xconv.convolution(x, w, 2, "SAME").shape)
    >>> dx = xconv.conv_backprop_input(x.shape, w, dy, 2, "SAME")
    >>> bool(np.isclose(np.sum(dx * x), np.sum(dy * xconv.convolution(x, w, 2, "SAME"))))
    True
    """


@_public(_input_grad, rank=2)
def conv2d_backprop_input() -> None:
    """conv2d_backprop_input(input_sizes, filters, out_backprop, strides, padding, data_format='NHWC', dilations=None)

    Gradient of :func:`conv2d` w.r.t. its input, the twin of ``Conv2DBackpropInput``.

    Strides > 1 together with dilations > 1 are computed too (TensorFlow's CPU
    kernel refuses them).

    input_sizes, filters, out_backprop
        As in :func:`conv_backprop_input`, for a 2-d convolution.

    >>> dy = np.ones((1, 3, 3, 1))
    >>> dx = xconv.conv2d_backprop_input([1, 5, 5, 1], np.ones((3, 3, 1, 1)), dy, 1, "VALID")
    >>> dx[0, :, :, 0]
    array([[1., 2., 3., 2., 1.],
           [2., 4., 6., 4., 2.],
           [3., 6., 9., 6., 3.],
           [2., 4., 6., 4., 2.],
           [1., 2., 3., 2., 1.]])
    """


@_public(_filter_grad, rank=None)
def conv_backprop_filter() -> None:
    """conv_backprop_filter(input, filter_sizes, out_backprop, strides, padding, data_format=None, dilations=None)

    Gradient of an N-d :func:`convolution` with respect to its filters.

    input : array
        The forward input.
    filter_sizes : sequence of int or 1-d integer array
        The filter shape ``(*k, C_in / groups, C_out)``.
    out_backprop : array
        The gradient of the forward output.

    >>> x = np.arange(6.0).reshape(1, 6, 1)
    >>> xconv.conv_backprop_filter(x, [2, 1, 1], np.ones((1, 5, 1)), 1, "VALID")[:, 0, 0]
    array([10., 15.])
    """


@_public(_filter_grad, rank=2)
def conv2d_backprop_filter() -> None:
    """conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, data_format='NHWC', dilations=None)

    Gradient of :func:`conv2d` w.r.t. its filters, the twin of ``Conv2DBackpropFilter``.

    Unlike TensorFlow's CPU kernel, it also takes strides > 1 with dilations > 1.

    input : array
        The forward input, 4-d in ``data_format`` order.
    filter_sizes : sequence of int or 1-d integer array
        ``(kh, kw, C_in / groups, C_out)``, the shape of the result.
    out_backprop : array
        The gradient of the forward output.

    >>> x = np.ones((2, 9, 8, 3))
    >>> dy = np.ones(xconv.conv2d(x, np.ones((3, 3, 3, 4)), 2, "SAME", dilations=2).shape)
    >>> xconv.conv2d_backprop_filter(x, [3, 3, 3, 4], dy, 2, "SAME", dilations=2).shape
    (3, 3, 3, 4)
    """


@_public(_depthwise_input_grad, rank=2)
def depthwise_conv2d_backprop_input() -> None:
    """depthwise_conv2d_backprop_input(input_sizes, filter, out_backprop, strides, padding, data_format='NHWC', dilations=None)

    Gradient of :func:`depthwise_conv2d` w.r.t. its input (``DepthwiseConv2dNativeBackpropInput``).

    input_sizes : sequence of int or 1-d integer array
        The forward input's shape (4 entries, ``data_format`` order).
    filter : array
        The depthwise filter ``(kh, kw, C_in, multiplier)``.
    out_backprop : array
        The gradient of the forward output, ``C_in * multiplier`` channels.

    >>> dy = np.ones((1, 2, 2, 4))
    >>> w = np.ones((2, 2, 2, 2))
    >>> xconv.depthwise_conv2d_backprop_input([1, 3, 3, 2], w, dy, 1, "VALID")[0, :, :, 0]
    array([[2., 4., 2.],
           [4., 8., 4.],
           [2., 4., 2.]])
    """


@_public(_depthwise_filter_grad, rank=2)
def depthwise_conv2d_backprop_filter() -> None:
    """depthwise_conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, data_format='NHWC', dilations=None)

    Gradient of :func:`depthwise_conv2d` w.r.t. its filter (``DepthwiseConv2dNativeBackpropFilter``).

    input : array
        The forward input.
    filter_sizes : sequence of int or 1-d integer array
        The depthwise filter shape ``(kh, kw, C_in, multiplier)``.
    out_backprop : array
        The gradient of the forward output, ``C_in * multiplier`` channels.

    >>> x, dy = np.ones((1, 3, 3, 2)), np.ones((1, 2, 2, 2))
    >>> dw = xconv.depthwise_conv2d_backprop_filter(x, [2, 2, 2, 1], dy, 1, "VALID")
    >>> dw.shape, dw[:, :, 0, 0].tolist()
    ((2, 2, 2, 1), [[4.0, 4.0], [4.0, 4.0]])
    """
