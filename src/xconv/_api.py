"""Public TensorFlow-style functions: translate arguments, call the core, nothing else.

Each public function is a plain ``def`` with TensorFlow's parameters in TensorFlow's
order (``name`` last, accepted and ignored), then xconv's keyword-only extras
(``padding_mode``, ``method``, ``memory_budget``, ``precision``). Its docstring's
shared entries come from :data:`xconv._docs.CONV_DOCS`. Its body hands the arguments
to one of the translators below. A translator looks up the plan of the call
(:mod:`xconv._plan`: a call that repeats another skips the rest of this sentence), or
makes it: checks the arguments (``ValueError``/``TypeError`` naming them), builds a
:class:`~xconv._spec.ConvSpec` and the plan of one of the three core entry points,
:func:`~xconv._core.plan_general` (forward), :func:`~xconv._core.plan_input_grad`
(transposed convolution, input gradient) and :func:`~xconv._core.plan_filter_grad`
(filter gradient). It then runs that plan on the data
(:func:`~xconv._core.run_plan`, :func:`~xconv._core.run_input_grad`,
:func:`~xconv._core.run_filter_grad`).

TensorFlow's argument forms are translated here too: arrays of rank > N + 2 carry
extra leading batch dimensions (``batch_shape + [*spatial, channels]``), merged
into one batch axis by a reshape (a view where the library can make one) and split
again in the result (:func:`_fold`, :func:`_unfold`); an input gradient's
``input_sizes`` (a transposed convolution's ``output_shape``) may carry them too, or
give only the N spatial sizes (:func:`_input_grad_sizes`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from . import _backend, _plan
from ._core import (
    GradPlan,
    Plan,
    plan_filter_grad,
    plan_general,
    plan_input_grad,
    result_dtype,
    run_filter_grad,
    run_input_grad,
    run_plan,
)
from ._docs import CONV_DOCS, docfiller
from ._spec import (
    ConvSpec,
    as_int_tuple,
    check_options,
    check_out_backprop,
    conv_spec,
    format_is_channels_first,
)
from ._typing import (
    Array,
    IntOrSeq,
    Method,
    Namespace,
    PaddingArg,
    PaddingMode,
    Precision,
    Shape,
    Sizes,
)

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

#: data_format strings of the fixed-rank functions (channels last first).
_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}

_doc = docfiller(CONV_DOCS)


class _Extras(NamedTuple):
    """The keyword-only extras of a call, as the public function received them."""

    padding_mode: PaddingMode
    method: Method
    memory_budget: int | None
    precision: Precision


# --- translators: arguments -> ConvSpec -> core -------------------------------------


def _check_extras(extras: _Extras, *, forward: bool) -> None:
    """Check the keyword-only extras (``padding_mode`` of a forward call: in its spec)."""
    check_options(extras.method, extras.memory_budget, extras.precision)
    if not forward and extras.padding_mode != "zeros":
        raise ValueError(
            f"padding_mode={extras.padding_mode!r} is not supported by transposed convolutions "
            "and gradients, only 'zeros' (the forward functions take every mode)"
        )


def _spec(
    x_shape: Shape,
    w_shape: Shape,
    strides: IntOrSeq | None,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    *,
    rank: int | None,
    stride_name: str = "strides",
    padding_mode: PaddingMode = "zeros",
    input_name: str = "input",
    filters_name: str = "filters",
) -> ConvSpec:
    """The forward convolution's spec (``rank`` None: any rank and data_format)."""
    return conv_spec(
        x_shape,
        w_shape,
        strides=strides,
        padding=padding,
        dilations=dilations,
        data_format=data_format,
        formats=_FORMATS.get(rank or 0),
        stride_name=stride_name,
        padding_mode=padding_mode,
        input_name=input_name,
        filters_name=filters_name,
    )


def _folded(shape: Shape, rank: int) -> tuple[Shape, Shape]:
    """``shape`` with its leading batch dimensions merged into one, and their shape.

    TensorFlow's form of rank > ``rank + 2``: ``batch_shape + [*spatial, channels]``
    (``batch_shape + [channels, *spatial]`` channels first) becomes
    ``[prod(batch_shape), ...]``. A shape of ``rank + 2`` entries or fewer is returned
    as it is with ``()`` (a rank too small is reported by the spec, naming the argument).
    """
    lead = len(shape) - rank - 1
    if rank < 1 or lead <= 1:
        return shape, ()
    batch = shape[:lead]
    return (math.prod(batch), *shape[lead:]), batch


def _fold(xp: Namespace, a: Array, rank: int) -> Array:
    """``a`` of its :func:`_folded` shape, by :func:`reshape` (a view where possible)."""
    if rank < 1 or a.ndim - rank - 1 <= 1:
        return a
    return xp.reshape(a, _folded(tuple(a.shape), rank)[0])


def _unfold(xp: Namespace, y: Array, batch: Shape) -> Array:
    """The result ``y`` of a call folded by :func:`_fold`, with ``batch`` restored."""
    return xp.reshape(y, (*batch, *y.shape[1:])) if batch else y


def _batch_of(shape: Shape, rank: int) -> Shape:
    """The leading batch dimensions of ``shape`` (one, or more in TensorFlow's form;
    none when ``shape`` is too short to have any)."""
    return tuple(shape[: len(shape) - rank - 1]) if len(shape) >= rank + 2 else ()


def _check_same_batch(names: tuple[str, str], shapes: tuple[Shape, Shape], rank: int) -> None:
    """Two arguments that carry extra batch dimensions must carry the same ones.

    A single batch axis on both is left to the gradient's shape check (whose message
    lists every size).
    """
    batches = [_batch_of(shape, rank) for shape in shapes]
    if batches[0] != batches[1] and max(len(b) for b in batches) > 1:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same leading batch dimensions, got "
            f"{batches[0]} ({names[0]} shape {shapes[0]}) and {batches[1]} ({names[1]} shape "
            f"{shapes[1]}) for a {rank}-d convolution"
        )


class _ForwardPlan(NamedTuple):
    """What :func:`_forward` decides for one case (kept by :mod:`xconv._plan`)."""

    xp: Namespace
    #: The spatial rank (the filters' rank - 2), by which the input's batch folds.
    rank: int
    #: The input's extra leading batch dimensions, restored in the result (``()``: none).
    batch: Shape
    core: Plan


def _forward_plan(
    x: Array,
    w: Array,
    strides: IntOrSeq | None,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
    *,
    rank: int | None,
    w_name: str,
    stride_name: str,
) -> _ForwardPlan:
    """The checks and decisions of :func:`_forward` (the same arguments)."""
    xp = _backend.namespace(**{"input": x, w_name: w})
    dtype = result_dtype(xp, x, w, names=("input", w_name))
    _check_extras(extras, forward=True)
    if rank is not None and w.ndim != rank + 2:
        raise ValueError(
            f"{w_name} must have {rank + 2} dimensions (*spatial, in, out) for a "
            f"{rank}-d convolution, got shape {tuple(w.shape)}"
        )
    x_shape, batch = _folded(tuple(x.shape), w.ndim - 2)
    spec = _spec(
        x_shape,
        tuple(w.shape),
        strides,
        padding,
        data_format,
        dilations,
        rank=rank,
        stride_name=stride_name,
        padding_mode=extras.padding_mode,
        filters_name=w_name,
    )
    core = plan_general(
        x,
        tuple(w.shape),
        spec,
        xp=xp,
        dtype=dtype,
        method=extras.method,
        memory_budget=extras.memory_budget,
        precision=extras.precision,
        x_shape=x_shape,
    )
    return _ForwardPlan(xp, w.ndim - 2, batch, core)


def _forward(
    x: Array,
    w: Array,
    strides: IntOrSeq | None,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
    *,
    rank: int | None,
    w_name: str = "filters",
    stride_name: str = "strides",
) -> Array:
    """A forward convolution of ``x`` (``input``) with ``w`` (the argument ``w_name``)."""
    args = (strides, padding, data_format, dilations, *extras)
    call = _plan.key(("forward", rank, w_name, stride_name), (x, w), args)
    plan = _plan.cached(
        call, _forward_plan, x, w, strides, padding, data_format, dilations, extras,
        rank=rank, w_name=w_name, stride_name=stride_name,
    )  # fmt: skip
    y = run_plan(plan.core, _fold(plan.xp, x, plan.rank), w)
    return _unfold(plan.xp, y, plan.batch)


def _sizes(
    value: Sizes, *, name: str, rank: int, source: str = "", batch_forms: bool = False
) -> Shape:
    """A shape argument (sequence or 1-d integer array) of ``rank + 2`` entries >= 0.

    ``batch_forms`` also accepts more entries (extra leading batch dimensions) or only
    the ``rank`` spatial sizes (an input gradient's ``input_sizes``, as TensorFlow's
    ``Conv2DBackpropInput`` takes them). ``source`` names the argument that ``rank``
    was read from, for the message.
    """
    sizes = as_int_tuple(value, name=name)
    n = len(sizes)
    fits = n == rank + 2 or (batch_forms and (n > rank + 2 or n == rank))
    if not fits or any(v < 0 for v in sizes):
        forms = (
            f" (or more, with extra leading batch dimensions, or only the {rank} spatial sizes)"
            if batch_forms
            else ""
        )
        raise ValueError(
            f"{name} must be {rank + 2} non-negative sizes in data_format order{forms}"
            f"{source}, got {list(sizes)}"
        )
    return sizes


def _input_grad_sizes(
    sizes_arg: Sizes,
    w: Array,
    dy: Array,
    data_format: str | None,
    *,
    rank: int,
    fixed_rank: bool,
    names: tuple[str, str, str],
) -> tuple[Shape, Shape]:
    """An input gradient's sizes with their batch dimensions folded, and the batch.

    Returns the ``rank + 2`` sizes and the batch shape to restore in the result
    (``()``: none); ``dy`` folds by ``rank`` (:func:`_fold`). Spatial-only sizes take
    the batch from ``dy`` and the channels from ``w.shape[-2]`` (the filters' input
    depth), as TensorFlow's ``Conv2DBackpropInput`` does.
    """
    sizes_name, w_name, dy_name = names
    if w.ndim != rank + 2:
        raise ValueError(
            f"{w_name} must have {rank + 2} dimensions for a {rank}-d convolution, got shape "
            f"{tuple(w.shape)}"
        )
    if dy.ndim < rank + 2:
        raise ValueError(
            f"{dy_name} must have at least {rank + 2} dimensions (batch, {rank} spatial, "
            f"channels) for {w_name} of shape {tuple(w.shape)}, got shape {tuple(dy.shape)}"
        )
    source = f" (for {w_name} of shape {tuple(w.shape)})"
    sizes = _sizes(sizes_arg, name=sizes_name, rank=rank, source=source, batch_forms=True)
    if len(sizes) == rank:
        formats = _FORMATS[rank] if fixed_rank else None
        first = format_is_channels_first(data_format, rank=rank, allowed=formats)
        c = w.shape[-2]
        batch = _batch_of(tuple(dy.shape), rank)
        sizes = (*batch, c, *sizes) if first else (*batch, *sizes, c)
    else:
        _check_same_batch((sizes_name, dy_name), (sizes, tuple(dy.shape)), rank)
        batch = _batch_of(sizes, rank)
    flat = (math.prod(batch), *sizes[len(batch) :])
    return flat, batch if len(batch) > 1 else ()


def _grad_spec(
    names: tuple[str, str, str],
    shapes: tuple[Shape, Shape, Shape],
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    *,
    rank: int | None,
) -> ConvSpec:
    """The forward spec of a gradient, after checking the gradient's shape against it.

    ``names``/``shapes``: the forward input, filter and output-gradient arguments.
    """
    x_name, w_name, dy_name = names
    x_shape, w_shape, dy_shape = shapes
    fwd = _spec(
        x_shape,
        w_shape,
        strides,
        padding,
        data_format,
        dilations,
        rank=rank,
        input_name=x_name,
        filters_name=w_name,
    )
    check_out_backprop(
        fwd,
        x_shape,
        w_shape,
        dy_shape,
        input_name=x_name,
        grad_name=dy_name,
        padding=padding,
        filters_name=w_name,
    )
    return fwd


#: The forward arguments' names of a transposed convolution and of an input gradient.
_TRANSPOSE = ("output_shape", "filters", "input")
_INPUT_GRAD = ("input_sizes", "filters", "out_backprop")


class _GradPlan(NamedTuple):
    """What :func:`_input_grad` or :func:`_filter_grad` decides for one case."""

    xp: Namespace
    #: The spatial rank, by which the arrays' batch dimensions fold.
    rank: int
    #: The extra leading batch dimensions restored in the result (``()``: none).
    batch: Shape
    core: GradPlan


def _input_grad_plan(
    sizes_arg: Sizes,
    w: Array,
    dy: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
    *,
    rank: int | None,
    names: tuple[str, str, str],
) -> _GradPlan:
    """The checks and decisions of :func:`_input_grad` (the same arguments)."""
    _, w_name, dy_name = names
    xp = _backend.namespace(**{dy_name: dy, w_name: w})
    dtype = result_dtype(xp, dy, w, names=(dy_name, w_name))
    _check_extras(extras, forward=False)
    if w.ndim < 3 or (rank is not None and w.ndim != rank + 2):
        raise ValueError(
            f"{w_name} must have {rank + 2 if rank else 'at least 3'} dimensions "
            f"(*spatial, out, in), got shape {tuple(w.shape)}"
        )
    r = w.ndim - 2
    sizes, batch = _input_grad_sizes(
        sizes_arg, w, dy, data_format, rank=r, fixed_rank=rank is not None, names=names
    )
    dy_shape, _ = _folded(tuple(dy.shape), r)
    shapes = (sizes, tuple(w.shape), dy_shape)
    fwd = _grad_spec(names, shapes, strides, padding, data_format, dilations, rank=rank)
    in_sizes = tuple(sizes[i] for i in fwd.to_canonical)[1:-1]
    core = plan_input_grad(
        dy,
        tuple(w.shape),
        fwd,
        in_sizes,
        xp=xp,
        dtype=dtype,
        dy_shape=dy_shape,
        method=extras.method,
        memory_budget=extras.memory_budget,
        precision=extras.precision,
    )
    return _GradPlan(xp, r, batch, core)


def _input_grad(
    sizes_arg: Sizes,
    w: Array,
    dy: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
    *,
    rank: int | None,
    names: tuple[str, str, str] = _INPUT_GRAD,
) -> Array:
    """The input gradient of a forward convolution (= the transposed convolution).

    ``names``: the arguments' names (forward input sizes, filters, output gradient).
    """
    args = (sizes_arg, strides, padding, data_format, dilations, *extras)
    call = _plan.key(("input_grad", rank, names), (w, dy), args)
    plan = _plan.cached(
        call, _input_grad_plan, sizes_arg, w, dy, strides, padding, data_format, dilations,
        extras, rank=rank, names=names,
    )  # fmt: skip
    dx = run_input_grad(plan.core, _fold(plan.xp, dy, plan.rank), w)
    return _unfold(plan.xp, dx, plan.batch)


def _filter_grad_plan(
    x: Array,
    sizes_arg: Sizes,
    dy: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
    *,
    rank: int | None,
) -> _GradPlan:
    """The checks and decisions of :func:`_filter_grad` (the same arguments)."""
    xp = _backend.namespace(input=x, out_backprop=dy)
    dtype = result_dtype(xp, x, dy, names=("input", "out_backprop"))
    _check_extras(extras, forward=False)
    sizes = as_int_tuple(sizes_arg, name="filter_sizes")
    if rank is None and len(sizes) < 3:  # the N-d form's rank is its filters', as in convolution
        raise ValueError(
            f"filter_sizes must have at least 3 entries (*spatial, in / groups, out), got "
            f"{list(sizes)}"
        )
    sizes = _sizes(sizes, name="filter_sizes", rank=rank or len(sizes) - 2)
    r = len(sizes) - 2
    _check_same_batch(("input", "out_backprop"), (tuple(x.shape), tuple(dy.shape)), r)
    x_shape, _ = _folded(tuple(x.shape), r)
    dy_shape, _ = _folded(tuple(dy.shape), r)
    names = ("input", "filter_sizes", "out_backprop")
    shapes = (x_shape, sizes, dy_shape)
    fwd = _grad_spec(names, shapes, strides, padding, data_format, dilations, rank=rank)
    core = plan_filter_grad(
        x,
        dy_shape,
        fwd,
        sizes[:-2],
        xp=xp,
        dtype=dtype,
        x_shape=x_shape,
        method=extras.method,
        memory_budget=extras.memory_budget,
        precision=extras.precision,
    )
    return _GradPlan(xp, r, (), core)


def _filter_grad(
    x: Array,
    sizes_arg: Sizes,
    dy: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
    *,
    rank: int | None,
) -> Array:
    """The filter gradient of a forward convolution, of shape ``filter_sizes``."""
    args = (sizes_arg, strides, padding, data_format, dilations, *extras)
    call = _plan.key(("filter_grad", rank), (x, dy), args)
    plan = _plan.cached(
        call, _filter_grad_plan, x, sizes_arg, dy, strides, padding, data_format, dilations,
        extras, rank=rank,
    )  # fmt: skip
    xp, r = plan.xp, plan.rank
    return run_filter_grad(plan.core, _fold(xp, x, r), _fold(xp, dy, r))


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


def _channels(shape: Shape, data_format: str | None, name: str) -> int:
    """Channel count of a 4-d ``shape`` in ``data_format`` (checked)."""
    if len(shape) != 4:
        raise ValueError(
            f"{name} must have 4 dimensions (batch, height, width, channels; or more: extra "
            f"leading batch dimensions), got {shape}"
        )
    channels_first = format_is_channels_first(data_format, rank=2, allowed=_FORMATS[2])
    return shape[1] if channels_first else shape[3]


class _GroupedPlan(NamedTuple):
    """What the depthwise helpers decide for one case: the grouped form of the filters."""

    xp: Namespace
    #: The grouped filters' shape ``[h, w, 1, C_in * mult]`` (the filter gradient's).
    grouped: Shape
    #: An input gradient's sizes with the batch folded; the filter gradient's sizes.
    sizes: Shape = ()
    #: The extra leading batch dimensions restored in the result (``()``: none).
    batch: Shape = ()


def _depthwise_plan(
    x: Array, w: Array, data_format: str | None, pointwise: Array | None = None
) -> _GroupedPlan:
    """The checks of :func:`_depthwise` (``w``: ``filter``), or of :func:`_separable`
    with its ``pointwise`` filter (``w``: ``depthwise_filter``)."""
    if pointwise is None:
        name = "filter"
        xp = _backend.namespace(input=x, filter=w)
    else:
        name = "depthwise_filter"
        xp = _backend.namespace(input=x, depthwise_filter=w, pointwise_filter=pointwise)
    x_shape, batch = _folded(tuple(x.shape), 2)
    c_in = _channels(x_shape, data_format, "input")
    grouped = _depthwise_grouped_shape(tuple(w.shape), c_in, data_format, name)
    mid = grouped[-1]
    if pointwise is not None and (pointwise.ndim != 4 or tuple(pointwise.shape[:3]) != (1, 1, mid)):
        raise ValueError(
            f"pointwise_filter must have shape [1, 1, {mid}, out] (in = C_in * multiplier of "
            f"depthwise_filter {tuple(w.shape)}), got {tuple(pointwise.shape)}"
        )
    return _GroupedPlan(xp, grouped, batch=batch)


def _depthwise(
    x: Array,
    w: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
) -> Array:
    """``depthwise_conv2d``: a grouped convolution with ``groups = C_in``."""
    call = _plan.key("depthwise", (x, w), (data_format,))
    plan = _plan.cached(call, _depthwise_plan, x, w, data_format)
    xp = plan.xp
    y = _forward(
        _fold(xp, x, 2), xp.reshape(w, plan.grouped), strides, padding, data_format, dilations,
        extras, rank=2, w_name="filter",
    )  # fmt: skip
    return _unfold(xp, y, plan.batch)


def _separable(
    x: Array,
    depthwise: Array,
    pointwise: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
) -> Array:
    """``separable_conv2d``: depthwise, then a 1x1 convolution (strides 1, VALID)."""
    call = _plan.key("separable", (x, depthwise, pointwise), (data_format,))
    plan = _plan.cached(call, _depthwise_plan, x, depthwise, data_format, pointwise)
    xp = plan.xp
    y = _forward(
        _fold(xp, x, 2), xp.reshape(depthwise, plan.grouped), strides, padding, data_format,
        dilations, extras, rank=2, w_name="depthwise_filter",
    )  # fmt: skip
    y = _forward(
        y, pointwise, 1, "VALID", data_format, 1, extras, rank=None, w_name="pointwise_filter"
    )
    return _unfold(xp, y, plan.batch)


#: The arguments' names of a depthwise input gradient.
_DEPTHWISE_INPUT_GRAD = ("input_sizes", "filter", "out_backprop")


def _depthwise_input_grad_plan(
    input_sizes: Sizes, w: Array, dy: Array, data_format: str | None
) -> _GroupedPlan:
    """The checks of :func:`_depthwise_input_grad`."""
    xp = _backend.namespace(filter=w, out_backprop=dy)
    sizes, batch = _input_grad_sizes(
        input_sizes, w, dy, data_format, rank=2, fixed_rank=True, names=_DEPTHWISE_INPUT_GRAD
    )
    c_in = _channels(sizes, data_format, "input_sizes")
    grouped = _depthwise_grouped_shape(tuple(w.shape), c_in, data_format, "filter", "input_sizes")
    return _GroupedPlan(xp, grouped, sizes, batch)


def _depthwise_input_grad(
    input_sizes: Sizes,
    w: Array,
    dy: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
) -> Array:
    """``depthwise_conv2d_backprop_input``: the grouped input gradient."""
    call = _plan.key("depthwise_input_grad", (w, dy), (input_sizes, data_format))
    plan = _plan.cached(call, _depthwise_input_grad_plan, input_sizes, w, dy, data_format)
    xp = plan.xp
    dx = _input_grad(
        plan.sizes, xp.reshape(w, plan.grouped), _fold(xp, dy, 2), strides, padding,
        data_format, dilations, extras, rank=2, names=_DEPTHWISE_INPUT_GRAD,
    )  # fmt: skip
    return _unfold(xp, dx, plan.batch)


def _depthwise_filter_grad_plan(
    x: Array, filter_sizes: Sizes, dy: Array, data_format: str | None
) -> _GroupedPlan:
    """The checks of :func:`_depthwise_filter_grad`."""
    xp = _backend.namespace(input=x, out_backprop=dy)
    sizes = _sizes(filter_sizes, name="filter_sizes", rank=2)
    _check_same_batch(("input", "out_backprop"), (tuple(x.shape), tuple(dy.shape)), 2)
    x_shape, _ = _folded(tuple(x.shape), 2)
    c_in = _channels(x_shape, data_format, "input")
    grouped = _depthwise_grouped_shape(sizes, c_in, data_format, "filter_sizes")
    return _GroupedPlan(xp, grouped, sizes)


def _depthwise_filter_grad(
    x: Array,
    filter_sizes: Sizes,
    dy: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None,
    dilations: IntOrSeq | None,
    extras: _Extras,
) -> Array:
    """``depthwise_conv2d_backprop_filter``: the grouped filter gradient, reshaped back."""
    call = _plan.key("depthwise_filter_grad", (x, dy), (filter_sizes, data_format))
    plan = _plan.cached(call, _depthwise_filter_grad_plan, x, filter_sizes, dy, data_format)
    xp = plan.xp
    dw = _filter_grad(
        _fold(xp, x, 2), plan.grouped, _fold(xp, dy, 2), strides, padding, data_format,
        dilations, extras, rank=2,
    )  # fmt: skip
    return xp.reshape(dw, plan.sizes)


# --- the public functions --------------------------------------------------------------


@_doc
def convolution(
    input: Array,
    filters: Array,
    strides: IntOrSeq | None = None,
    padding: PaddingArg = "VALID",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """N-d convolution (cross-correlation, as in TensorFlow) of any spatial rank.

    The twin of ``tf.nn.convolution``; the spatial rank is ``filters.ndim - 2`` and
    may be any number >= 1. Groups are inferred as TensorFlow infers them:
    ``groups = C_in // filters.shape[-2]``.

    Parameters
    ----------
    input : array
        Shape ``(N, *spatial, C_in)`` (channels last) or ``(N, C_in, *spatial)``;
        ``N`` may be several leading batch dimensions, kept in the result.
    filters : array
        Shape ``(*k, C_in / groups, C_out)`` (TensorFlow's HWIO layout).
    %(strides_optional)s
    %(padding_optional)s
    %(data_format_nd)s
    %(dilations)s
    %(name)s
    %(padding_mode)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.arange(10.0).reshape(1, 10, 1)
    >>> w = (1.0 - np.arange(3.0)).reshape(3, 1, 1)
    >>> xconv.convolution(x, w, padding="VALID")[0, :, 0]
    array([-2., -2., -2., -2., -2., -2., -2., -2.])
    >>> xconv.convolution(np.ones((2, 4, 4, 4, 4, 3)), np.ones((2, 2, 2, 2, 3, 5))).shape
    (2, 3, 3, 3, 3, 5)
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _forward(input, filters, strides, padding, data_format, dilations, extras, rank=None)


@_doc
def conv1d(
    input: Array,
    filters: Array,
    stride: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = "NWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """1-d convolution, the twin of ``tf.nn.conv1d`` (whose strides are ``stride``).

    Parameters
    ----------
    input : array
        Shape ``(N, W, C_in)`` for ``"NWC"`` or ``(N, C_in, W)`` for ``"NCW"``
        (``N`` may be several leading batch dimensions).
    filters : array
        Shape ``(k, C_in / groups, C_out)``.
    %(stride)s
    %(padding)s
    %(data_format_1d)s
    %(dilations)s
    %(name)s
    %(padding_mode)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.arange(8.0).reshape(1, 8, 1)
    >>> xconv.conv1d(x, np.ones((3, 1, 1)), stride=2, padding="SAME")[0, :, 0]
    array([ 3.,  9., 15., 13.])
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _forward(
        input, filters, stride, padding, data_format, dilations, extras,
        rank=1, stride_name="stride",
    )  # fmt: skip


@_doc
def conv2d(
    input: Array,
    filters: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = "NHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
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
        Shape ``(N, H, W, C_in)`` for ``"NHWC"`` or ``(N, C_in, H, W)`` for ``"NCHW"``
        (``N`` may be several leading batch dimensions).
    filters : array
        Shape ``(kh, kw, C_in / groups, C_out)``.
    %(strides)s
    %(padding)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode)s
    %(extras)s

    %(returns_raises)s

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
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _forward(input, filters, strides, padding, data_format, dilations, extras, rank=2)


@_doc
def conv3d(
    input: Array,
    filters: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = "NDHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
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
        Shape ``(N, D, H, W, C_in)`` for ``"NDHWC"`` or ``(N, C_in, D, H, W)``
        (``N`` may be several leading batch dimensions).
    filters : array
        Shape ``(kd, kh, kw, C_in / groups, C_out)``.
    %(strides)s
    %(padding)s
    %(data_format_3d)s
    %(dilations)s
    %(name)s
    %(padding_mode)s
    %(extras)s

    %(returns_raises)s

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
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _forward(input, filters, strides, padding, data_format, dilations, extras, rank=3)


@_doc
def depthwise_conv2d(
    input: Array,
    filter: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    name: str | None = None,
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
    %(strides)s
    %(padding)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.stack([np.ones((4, 4)), 2 * np.ones((4, 4))], axis=-1)[None]
    >>> y = xconv.depthwise_conv2d(x, np.ones((2, 2, 2, 3)), strides=1, padding="VALID")
    >>> y.shape, y[0, 0, 0].tolist()
    ((1, 3, 3, 6), [4.0, 4.0, 4.0, 8.0, 8.0, 8.0])
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _depthwise(input, filter, strides, padding, data_format, dilations, extras)


@_doc
def separable_conv2d(
    input: Array,
    depthwise_filter: Array,
    pointwise_filter: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    name: str | None = None,
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
    %(strides)s
    %(padding)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 5, 5, 2))
    >>> y = xconv.separable_conv2d(x, np.ones((3, 3, 2, 2)), np.ones((1, 1, 4, 7)), 1, "SAME")
    >>> y.shape, float(y[0, 2, 2, 0])
    ((1, 5, 5, 7), 36.0)
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _separable(
        input, depthwise_filter, pointwise_filter, strides, padding, data_format, dilations,
        extras,
    )  # fmt: skip


@_doc
def conv_transpose(
    input: Array,
    filters: Array,
    output_shape: Sizes,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """N-d transposed convolution, the twin of ``tf.nn.conv_transpose``.

    The gradient of :func:`convolution` with respect to its input: ``output_shape``
    is the forward input's shape and ``input`` the forward output (or its gradient).
    ``conv1d_transpose``, ``conv2d_transpose`` and ``conv3d_transpose`` are this
    function at a fixed rank.

    Parameters
    ----------
    input : array
        Shape ``(N, *spatial_in, C_in)`` or channels first.
    filters : array
        Shape ``(*k, C_out / groups, C_in)``: TensorFlow's ``[..., out, in]``.
    output_shape : sequence of int or 1-d integer array
        The full output shape (rank+2 entries, ``data_format`` order, or more with
        ``input``'s extra batch dimensions), or only its rank spatial sizes (batch
        from ``input``, channels ``filters.shape[-2]``). A shape that
        the forward convolution could not have mapped to ``input`` raises
        ``ValueError`` listing the sizes that fit.
    %(strides)s
    %(padding_optional)s
    %(data_format_nd)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

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
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _input_grad(
        output_shape, filters, input, strides, padding, data_format, dilations, extras,
        rank=None, names=_TRANSPOSE,
    )  # fmt: skip


@_doc
def conv1d_transpose(
    input: Array,
    filters: Array,
    output_shape: Sizes,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = "NWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """1-d transposed convolution, the twin of ``tf.nn.conv1d_transpose``.

    Parameters
    ----------
    input, output_shape
        As in :func:`conv_transpose`, for a 1-d convolution.
    filters : array
        Shape ``(kw, C_out / groups, C_in)``.
    %(strides)s
    %(padding_optional)s
    %(data_format_1d)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 2, 4))
    >>> xconv.conv1d_transpose(x, np.ones((3, 2, 4)), [1, 4, 2], 2).shape
    (1, 4, 2)
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _input_grad(
        output_shape, filters, input, strides, padding, data_format, dilations, extras,
        rank=1, names=_TRANSPOSE,
    )  # fmt: skip


@_doc
def conv2d_transpose(
    input: Array,
    filters: Array,
    output_shape: Sizes,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = "NHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """2-d transposed convolution, the twin of ``tf.nn.conv2d_transpose``.

    Parameters
    ----------
    input, output_shape
        As in :func:`conv_transpose`, for a 2-d convolution.
    filters : array
        Shape ``(kh, kw, C_out / groups, C_in)``.
    %(strides)s
    %(padding_optional)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 2, 2, 4))
    >>> xconv.conv2d_transpose(x, np.ones((3, 3, 2, 4)), [1, 4, 4, 2], 2).shape
    (1, 4, 4, 2)
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _input_grad(
        output_shape, filters, input, strides, padding, data_format, dilations, extras,
        rank=2, names=_TRANSPOSE,
    )  # fmt: skip


@_doc
def conv3d_transpose(
    input: Array,
    filters: Array,
    output_shape: Sizes,
    strides: IntOrSeq,
    padding: PaddingArg = "SAME",
    data_format: str | None = "NDHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """3-d transposed convolution, the twin of ``tf.nn.conv3d_transpose``.

    Parameters
    ----------
    input, output_shape
        As in :func:`conv_transpose`, for a 3-d convolution.
    filters : array
        Shape ``(kd, kh, kw, C_out / groups, C_in)``.
    %(strides)s
    %(padding_optional)s
    %(data_format_3d)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((1, 2, 2, 2, 4))
    >>> xconv.conv3d_transpose(x, np.ones((3, 3, 3, 2, 4)), [1, 4, 4, 4, 2], 2).shape
    (1, 4, 4, 4, 2)
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _input_grad(
        output_shape, filters, input, strides, padding, data_format, dilations, extras,
        rank=3, names=_TRANSPOSE,
    )  # fmt: skip


@_doc
def conv_backprop_input(
    input_sizes: Sizes,
    filters: Array,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """Gradient of an N-d :func:`convolution` with respect to its input.

    Parameters
    ----------
    input_sizes : sequence of int or 1-d integer array
        The forward input's shape (rank+2 entries, ``data_format`` order, or more
        with ``out_backprop``'s extra batch dimensions), or only its rank spatial
        sizes (batch from ``out_backprop``, channels ``filters.shape[-2]``).
    filters : array
        The forward filters, ``(*k, C_in / groups, C_out)``.
    out_backprop : array
        The gradient of the forward output.
    %(strides)s
    %(padding)s
    %(data_format_nd)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

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
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _input_grad(
        input_sizes, filters, out_backprop, strides, padding, data_format, dilations, extras,
        rank=None,
    )  # fmt: skip


@_doc
def conv2d_backprop_input(
    input_sizes: Sizes,
    filters: Array,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = "NHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """Gradient of :func:`conv2d` w.r.t. its input, the twin of ``Conv2DBackpropInput``.

    Strides > 1 together with dilations > 1 are computed too (TensorFlow's CPU
    kernel refuses them).

    Parameters
    ----------
    input_sizes, filters, out_backprop
        As in :func:`conv_backprop_input`, for a 2-d convolution.
    %(strides)s
    %(padding)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

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
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _input_grad(
        input_sizes, filters, out_backprop, strides, padding, data_format, dilations, extras,
        rank=2,
    )  # fmt: skip


@_doc
def conv_backprop_filter(
    input: Array,
    filter_sizes: Sizes,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = None,
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
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
    %(strides)s
    %(padding)s
    %(data_format_nd)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.arange(6.0).reshape(1, 6, 1)
    >>> xconv.conv_backprop_filter(x, [2, 1, 1], np.ones((1, 5, 1)), 1, "VALID")[:, 0, 0]
    array([10., 15.])
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _filter_grad(
        input, filter_sizes, out_backprop, strides, padding, data_format, dilations, extras,
        rank=None,
    )  # fmt: skip


@_doc
def conv2d_backprop_filter(
    input: Array,
    filter_sizes: Sizes,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = "NHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """Gradient of :func:`conv2d` w.r.t. its filters, the twin of ``Conv2DBackpropFilter``.

    Unlike TensorFlow's CPU kernel, it also takes strides > 1 with dilations > 1.

    Parameters
    ----------
    input : array
        The forward input, 4-d in ``data_format`` order.
    filter_sizes : sequence of int or 1-d integer array
        ``(kh, kw, C_in / groups, C_out)``, the shape of the result.
    out_backprop : array
        The gradient of the forward output.
    %(strides)s
    %(padding)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x = np.ones((2, 9, 8, 3))
    >>> dy = np.ones(xconv.conv2d(x, np.ones((3, 3, 3, 4)), 2, "SAME", dilations=2).shape)
    >>> xconv.conv2d_backprop_filter(x, [3, 3, 3, 4], dy, 2, "SAME", dilations=2).shape
    (3, 3, 3, 4)
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _filter_grad(
        input, filter_sizes, out_backprop, strides, padding, data_format, dilations, extras,
        rank=2,
    )  # fmt: skip


@_doc
def depthwise_conv2d_backprop_input(
    input_sizes: Sizes,
    filter: Array,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = "NHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
) -> Array:
    """Gradient of :func:`depthwise_conv2d` w.r.t. its input (``DepthwiseConv2dNativeBackpropInput``).

    Parameters
    ----------
    input_sizes : sequence of int or 1-d integer array
        The forward input's shape (4 entries, ``data_format`` order, or more with
        ``out_backprop``'s extra batch dimensions), or only its 2 spatial sizes.
    filter : array
        The depthwise filter ``(kh, kw, C_in, multiplier)``.
    out_backprop : array
        The gradient of the forward output, ``C_in * multiplier`` channels.
    %(strides)s
    %(padding)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> dy = np.ones((1, 2, 2, 4))
    >>> w = np.ones((2, 2, 2, 2))
    >>> xconv.depthwise_conv2d_backprop_input([1, 3, 3, 2], w, dy, 1, "VALID")[0, :, :, 0]
    array([[2., 4., 2.],
           [4., 8., 4.],
           [2., 4., 2.]])
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _depthwise_input_grad(
        input_sizes, filter, out_backprop, strides, padding, data_format, dilations, extras
    )


@_doc
def depthwise_conv2d_backprop_filter(
    input: Array,
    filter_sizes: Sizes,
    out_backprop: Array,
    strides: IntOrSeq,
    padding: PaddingArg,
    data_format: str | None = "NHWC",
    dilations: IntOrSeq | None = None,
    name: str | None = None,
    *,
    padding_mode: PaddingMode = "zeros",
    method: Method = "auto",
    memory_budget: int | None = None,
    precision: Precision = None,
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
    %(strides)s
    %(padding)s
    %(data_format_2d)s
    %(dilations)s
    %(name)s
    %(padding_mode_zeros)s
    %(extras)s

    %(returns_raises)s

    Examples
    --------
    >>> import numpy as np
    >>> import xconv
    >>> x, dy = np.ones((1, 3, 3, 2)), np.ones((1, 2, 2, 2))
    >>> dw = xconv.depthwise_conv2d_backprop_filter(x, [2, 2, 2, 1], dy, 1, "VALID")
    >>> dw.shape, dw[:, :, 0, 0].tolist()
    ((2, 2, 2, 1), [[4.0, 4.0], [4.0, 4.0]])
    """
    extras = _Extras(padding_mode, method, memory_budget, precision)
    return _depthwise_filter_grad(
        input, filter_sizes, out_backprop, strides, padding, data_format, dilations, extras
    )


# help() and reprs name the functions as users call them (xconv.conv2d).
for _name in __all__:
    globals()[_name].__module__ = "xconv"
del _name
