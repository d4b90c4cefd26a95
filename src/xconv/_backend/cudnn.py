"""cuDNN convolutions for CuPy arrays through NVIDIA's cudnn-frontend Python bindings.

CuPy 14 has no cuDNN bindings of its own; NVIDIA's ``nvidia-cudnn-frontend`` package
(module ``cudnn``) reaches the same library through its graph API. This module has two
layers:

1. A pure-Python translation, importable and testable without a GPU: from xconv's
   canonical convolution (input ``(N, *spatial, C)``, filters ``(*k, C/g, O)``, output
   ``(N, *out, O)``) it builds a :class:`CudnnConv`, the frozen description of one
   cuDNN operation (``fprop``, ``dgrad`` or ``wgrad``): the X, W and Y dimensions in
   cuDNN's ``(N, C, *spatial)`` order with strides that read the caller's memory in
   place (C-contiguous channels-last, or the permuted view of a channels-first
   caller's array), paddings, strides, dilations and data types.
   :func:`unsupported` says why cuDNN cannot take a convolution (``None`` when it can).
2. The execution on CuPy arrays (:func:`run_fprop`, :func:`run_dgrad`,
   :func:`run_wgrad`, and :func:`conv_forward`, :func:`conv_backprop_input`,
   :func:`conv_backprop_filter` that describe and run in one call). Built graphs are
   kept in an LRU cache keyed by the description, the device and the TF32 setting;
   there is one cuDNN handle per device; work runs on CuPy's current stream with a
   workspace from CuPy's memory pool.

``cudnn`` and ``cupy`` are imported only inside the functions of the second layer.

Translation rules
-----------------
- 1-d convolutions run as 2-d ones of unit height (cuDNN takes 2 and 3 spatial dims).
- The filters are handed to cuDNN as ``(O, *k, C/g)`` ("KRSC", ``filter_layout="krsc"``,
  a transposed copy of the small filter array), the layout cuDNN's channels-last
  engines are written for; ``filter_layout="in_place"`` describes xconv's own
  ``(*k, C/g, O)`` memory with strides instead (no copy, fewer engines accept it).
- Groups are implied by the filter's channel dimension being ``C / groups``.
- Padding: a ``hi`` pad larger than the last window reads is trimmed (it changes no
  output). Where ``lo`` and the trimmed ``hi`` still differ, ``asymmetric="pad"``
  (the default) hands cuDNN the symmetric ``min(lo, hi)`` and describes an explicit
  zero extension of the input by the rest (``x_pad``): the input is padded before a
  ``fprop`` or ``wgrad``, and a ``dgrad`` computes the gradient of the extended input
  and crops it. ``asymmetric="native"`` passes ``pre_padding`` / ``post_padding`` to
  cuDNN as they are, which the graph API accepts for all three operations but not
  every engine serves.
- Data types: float16, bfloat16, float32 and float64 in and out; float32 compute for
  the half types and float32, float64 for float64. TF32 is off unless asked for:
  plans whose numerical notes say ``TENSOR_CORE`` or ``DOWN_CONVERT_INPUTS`` are
  deselected for float32 (as PyTorch does for its cuDNN v8 convolutions).
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from math import prod
from typing import Any, Literal

__all__ = [
    "ALIGNMENT",
    "COMPUTE_DTYPES",
    "MAX_ELEMENTS",
    "CudnnConv",
    "CudnnUnsupported",
    "applies",
    "available",
    "clear_cache",
    "conv_backprop_filter",
    "conv_backprop_input",
    "conv_forward",
    "describe",
    "describe_dgrad",
    "describe_fprop",
    "describe_wgrad",
    "dtype_name",
    "element_strides",
    "run",
    "run_dgrad",
    "run_fprop",
    "run_wgrad",
    "unsupported",
    "versions",
]

Operation = Literal["fprop", "dgrad", "wgrad"]
Asymmetric = Literal["pad", "native"]
FilterLayout = Literal["krsc", "in_place"]
Pads = tuple[tuple[int, int], ...]

#: Input/output data type -> the data type cuDNN computes (accumulates) in.
COMPUTE_DTYPES: dict[str, str] = {
    "float16": "float32",
    "bfloat16": "float32",
    "float32": "float32",
    "float64": "float64",
}

#: Largest element count of any one tensor handed to cuDNN (32-bit indexing).
MAX_ELEMENTS = 2**31 - 1

#: Byte alignment of every pointer handed to cuDNN: cudnn-frontend's tensors promise
#: 16 (its default ``alignment``) and engines are chosen assuming it; a view whose
#: first element is not aligned so is copied.
ALIGNMENT = 16

_OPERATIONS = ("fprop", "dgrad", "wgrad")


class CudnnUnsupported(RuntimeError):
    """cuDNN (or the cudnn-frontend bindings) cannot run this convolution here.

    Raised by the execution layer when ``cupy`` or ``cudnn`` is missing, or when
    cuDNN finds no engine for a graph; the caller falls back to another algorithm.
    """


@dataclass(frozen=True)
class CudnnConv:
    """One cuDNN convolution operation, described with Python ints only.

    Roles follow cuDNN: ``X`` is the image (the result of a ``dgrad``), ``W`` the
    filter (the result of a ``wgrad``) and ``Y`` the output (the incoming gradient of
    a ``dgrad`` / ``wgrad``, the result of a ``fprop``).

    Attributes
    ----------
    operation : {"fprop", "dgrad", "wgrad"}
        Forward convolution, gradient with respect to the input, or to the filter.
    dtype : str
        Data type of X, W and Y: ``"float16"``, ``"bfloat16"``, ``"float32"`` or
        ``"float64"``.
    compute_dtype : str
        Data type cuDNN accumulates in (:data:`COMPUTE_DTYPES`).
    rank : int
        Spatial rank of the caller's convolution (1, 2 or 3).
    groups : int
        Feature groups.
    x_shape, w_shape, y_shape : tuple of int
        The caller's canonical shapes: ``(N, *spatial, C)``, ``(*k, C/g, O)`` and
        ``(N, *out, O)``.
    x_pad : tuple of (int, int)
        Zero extension of X per spatial axis of the caller's convolution, applied by
        the execution layer (padding the input before a ``fprop`` / ``wgrad``,
        cropping the result of a ``dgrad``); all zeros when cuDNN pads it all.
    filter_layout : {"krsc", "in_place"}
        Memory cuDNN reads or writes for W: a C-contiguous ``(O, *k, C/g)`` array, or
        the caller's ``(*k, C/g, O)`` array itself.
    x_dim, x_stride, w_dim, w_stride, y_dim, y_stride : tuple of int
        The tensors as cuDNN sees them: dims ``(N, C, *s)``, ``(O, C/g, *k)`` and
        ``(N, O, *o)`` (with a unit leading spatial axis for a 1-d convolution, and X
        extended by ``x_pad``), strides in elements of the memory described by
        :attr:`x_memory_shape`, :attr:`w_memory_shape` and :attr:`y_shape`.
    pre_padding, post_padding, stride, dilation : tuple of int
        The convolution descriptor, per cuDNN spatial axis.
    """

    operation: Operation
    dtype: str
    compute_dtype: str
    rank: int
    groups: int
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    y_shape: tuple[int, ...]
    x_pad: Pads
    filter_layout: FilterLayout
    x_dim: tuple[int, ...]
    x_stride: tuple[int, ...]
    w_dim: tuple[int, ...]
    w_stride: tuple[int, ...]
    y_dim: tuple[int, ...]
    y_stride: tuple[int, ...]
    pre_padding: tuple[int, ...]
    post_padding: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]

    @property
    def key(self) -> tuple[Any, ...]:
        """A hashable key naming this description exactly (for caching built graphs)."""
        return astuple(self)

    @property
    def x_memory_shape(self) -> tuple[int, ...]:
        """Canonical shape of the X array cuDNN reads or writes (``x_shape`` extended)."""
        n, *spatial, c = self.x_shape
        ext = [s + a + b for s, (a, b) in zip(spatial, self.x_pad)]
        return (n, *ext, c)

    @property
    def w_memory_shape(self) -> tuple[int, ...]:
        """Shape of the W array cuDNN reads or writes: ``(O, *k, C/g)`` or ``(*k, C/g, O)``."""
        if self.filter_layout == "krsc":
            return (self.w_shape[-1], *self.w_shape[:-2], self.w_shape[-2])
        return self.w_shape

    @property
    def symmetric(self) -> bool:
        """Whether cuDNN pads every axis by the same amount on both sides."""
        return self.pre_padding == self.post_padding


# --- Pure-Python translation --------------------------------------------------------------


def dtype_name(dtype: Any) -> str:
    """The name of a NumPy/CuPy dtype, scalar type or dtype name (``"float32"``)."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, type):  # a scalar type such as numpy.float32
        return dtype.__name__
    name = getattr(dtype, "name", None)
    if isinstance(name, str):
        return name
    return str(dtype)


def _out_size(n: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    span = n + lo + hi - (k - 1) * d - 1
    return span // s + 1 if span >= 0 else 0


def _channels_last_strides(memory_shape: Sequence[int]) -> tuple[int, ...]:
    """Strides, in cuDNN's ``(N, C, *spatial)`` order, of a C-contiguous ``(N, *spatial, C)``.

    Also the filter strides of a C-contiguous ``(O, *k, C/g)`` array for dims
    ``(O, C/g, *k)``.
    """
    row = _row_major(memory_shape)
    return (row[0], row[-1], *row[1:-1])


def _in_place_filter_strides(memory_shape: Sequence[int]) -> tuple[int, ...]:
    """Strides, for dims ``(O, C/g, *k)``, of a C-contiguous ``(*k, C/g, O)`` array."""
    row = _row_major(memory_shape)
    return (row[-1], row[-2], *row[:-2])


def _row_major(shape: Sequence[int]) -> tuple[int, ...]:
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * max(shape[i + 1], 1)
    return tuple(strides)


def _reader_strides(
    strides: Sequence[int], shape: Sequence[int], lift: bool
) -> tuple[int, ...] | None:
    """cuDNN-order strides that read an array of canonical ``shape`` and element
    ``strides`` in place (``None`` where they cannot: a zero or negative stride).

    A unit axis may have any stride; it gets its row-major one, so equal layouts give
    equal descriptions. ``lift`` adds the unit leading spatial axis of a 1-d convolution.
    """
    given = _ints(strides, "strides")
    if len(given) != len(shape):
        return None
    row = _row_major(shape)
    canon = [r if n == 1 else g for g, n, r in zip(given, shape, row)]
    if any(g < 1 for g in canon):
        return None
    if lift:
        canon.insert(1, canon[1] * shape[1])
    return (canon[0], canon[-1], *canon[1:-1])


def _ints(values: Sequence[int], name: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of ints, got {values!r}") from None


def unsupported(
    operation: str,
    dtype: Any,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dy_shape: Sequence[int] | None = None,
    *,
    lhs_dilations: Sequence[int] | None = None,
) -> str | None:
    """Why cuDNN cannot take this convolution, or ``None`` when it can.

    Parameters
    ----------
    operation : {"fprop", "dgrad", "wgrad"}
        The cuDNN operation wanted.
    dtype : dtype or str
        Data type of the input, filters and output gradient (all the same).
    x_shape : sequence of int
        Canonical input shape ``(N, *spatial, C)`` (for ``dgrad``: the shape of the
        input gradient wanted).
    w_shape : sequence of int
        Filter shape ``(*k, C/groups, O)`` (for ``wgrad``: the shape wanted).
    strides, dilations : sequence of int
        Window strides and kernel dilations of the forward convolution.
    pads : sequence of (int, int)
        Zero padding ``(lo, hi)`` per spatial axis of the forward convolution.
    dy_shape : sequence of int, optional
        Canonical shape of the output gradient ``(N, *out, O)``; required for
        ``dgrad`` and ``wgrad``, where it must be the forward output shape.
    lhs_dilations : sequence of int, optional
        Input dilations of the forward convolution; cuDNN's ``fprop`` takes none
        (a transposed convolution is a ``dgrad``).

    Returns
    -------
    str or None
        A reason for ``info`` / error messages, or ``None``.
    """
    if operation not in _OPERATIONS:
        return f"operation must be one of {', '.join(_OPERATIONS)}, got {operation!r}"
    name = dtype_name(dtype)
    if name not in COMPUTE_DTYPES:
        kind = (
            "complex"
            if "complex" in name
            else "integer"
            if "int" in name or name == "bool"
            else "unsupported"
        )
        return f"cuDNN convolutions take float16, bfloat16, float32 and float64, not {kind} {name}"
    x_shape, w_shape = _ints(x_shape, "x_shape"), _ints(w_shape, "w_shape")
    rank = len(w_shape) - 2
    if rank not in (1, 2, 3):
        return f"cuDNN convolutions have 1 to 3 spatial dimensions, not {rank}"
    if len(x_shape) != rank + 2:
        return f"input shape {x_shape} does not have rank {rank} + 2 of filters {w_shape}"
    strides, dilations = _ints(strides, "strides"), _ints(dilations, "dilations")
    pad_pairs = tuple(_ints(p, "pads") for p in pads)
    if len(strides) != rank or len(dilations) != rank or len(pad_pairs) != rank:
        return f"strides, dilations and pads need {rank} entries each"
    if any(len(p) != 2 for p in pad_pairs):
        return f"pads must be (lo, hi) pairs, got {tuple(pads)}"
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations):
        return f"strides {strides} and dilations {dilations} must be positive"
    if lhs_dilations is not None and any(int(d) != 1 for d in lhs_dilations):
        return "input (lhs) dilation is a transposed convolution: run it as a dgrad"
    if any(lo < 0 or hi < 0 for lo, hi in pad_pairs):
        return f"negative padding (a crop) {tuple(pad_pairs)}: crop the input first"
    if any(v == 0 for v in (*x_shape, *w_shape)):
        return "zero-size arrays: cuDNN takes no empty tensors"
    c, cg, o = x_shape[-1], w_shape[-2], w_shape[-1]
    if c % cg:
        return f"input channels {c} are not a multiple of the filter's input channels {cg}"
    groups = c // cg
    if o % groups:
        return f"output channels {o} are not a multiple of the {groups} groups"
    out = tuple(
        _out_size(n, k, s, d, lo, hi)
        for n, k, s, d, (lo, hi) in zip(x_shape[1:-1], w_shape[:-2], strides, dilations, pad_pairs)
    )
    if any(m <= 0 for m in out):
        return "the kernel is larger than the padded input: the output is empty"
    expected = (x_shape[0], *out, o)
    if operation != "fprop":
        if dy_shape is None:
            return f"a {operation} needs the output gradient's shape"
        dy = _ints(dy_shape, "dy_shape")
        if dy != expected:
            return f"output gradient shape {dy} is not the forward output shape {expected}"
    largest = max(prod(x_shape), prod(w_shape), prod(expected))
    extended = x_shape[0] * c * prod(n + lo + hi for n, (lo, hi) in zip(x_shape[1:-1], pad_pairs))
    if max(largest, extended) > MAX_ELEMENTS:
        return f"a tensor of over {MAX_ELEMENTS} elements (cuDNN indexes with 32 bits)"
    return None


def applies(
    operation: str,
    dtype: Any,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dy_shape: Sequence[int] | None = None,
    *,
    lhs_dilations: Sequence[int] | None = None,
) -> bool:
    """Whether cuDNN can take this convolution (:func:`unsupported` gives the reason)."""
    return (
        unsupported(
            operation,
            dtype,
            x_shape,
            w_shape,
            strides,
            dilations,
            pads,
            dy_shape,
            lhs_dilations=lhs_dilations,
        )
        is None
    )


def _axis_padding(
    n: int, k: int, s: int, d: int, lo: int, hi: int, asymmetric: Asymmetric
) -> tuple[int, int, tuple[int, int]]:
    """``(pre, post, (a, b))`` for one axis: cuDNN's pads and the explicit extension.

    Every ``hi`` in ``[r, r + s - 1]`` (``r`` = what the last window needs beyond the
    input) gives the same windows, so ``hi`` is moved as close to ``lo`` as that allows.
    """
    out = _out_size(n, k, s, d, lo, hi)
    needed = (out - 1) * s + (k - 1) * d + 1
    first = needed - lo - n
    hi_t = min(max(lo, first, 0), first + s - 1)
    if asymmetric == "native" or hi_t == lo:
        return lo, hi_t, (0, 0)
    p = min(lo, hi_t)
    return p, p, (lo - p, hi_t - p)


def describe(
    operation: str,
    dtype: Any,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dy_shape: Sequence[int] | None = None,
    *,
    asymmetric: Asymmetric = "pad",
    filter_layout: FilterLayout = "krsc",
    x_strides: Sequence[int] | None = None,
    y_strides: Sequence[int] | None = None,
) -> CudnnConv:
    """Describe one cuDNN convolution operation (see the module notes for the rules).

    Parameters are those of :func:`unsupported`, plus

    asymmetric : {"pad", "native"}
        How unequal ``lo`` / ``hi`` pads reach cuDNN: an explicit zero extension of
        the input plus symmetric pads, or ``pre_padding`` / ``post_padding`` as they are.
    filter_layout : {"krsc", "in_place"}
        The filter memory cuDNN works on (:attr:`CudnnConv.filter_layout`).
    x_strides, y_strides : sequence of int, optional
        Element strides of the caller's canonical ``x`` (read by a ``fprop`` /
        ``wgrad``) and ``dy`` (read by a ``dgrad`` / ``wgrad``) arrays, for cuDNN to
        read them in place: a channels-first caller's permuted view, for one. Ignored
        for an X that is padded first and for the operation's output, which are
        C-contiguous; ``None`` (or strides with a zero or negative entry) means
        C-contiguous, a copy where the array is not.

    Returns
    -------
    CudnnConv

    Raises
    ------
    ValueError
        When :func:`unsupported` gives a reason, or for an unknown option.
    """
    if asymmetric not in ("pad", "native"):
        raise ValueError(f"asymmetric must be 'pad' or 'native', got {asymmetric!r}")
    if filter_layout not in ("krsc", "in_place"):
        raise ValueError(f"filter_layout must be 'krsc' or 'in_place', got {filter_layout!r}")
    reason = unsupported(operation, dtype, x_shape, w_shape, strides, dilations, pads, dy_shape)
    if reason is not None:
        raise ValueError(f"cuDNN does not apply: {reason}")
    name = dtype_name(dtype)
    xs, ws = _ints(x_shape, "x_shape"), _ints(w_shape, "w_shape")
    ss, ds = _ints(strides, "strides"), _ints(dilations, "dilations")
    ps = tuple((int(lo), int(hi)) for lo, hi in pads)
    rank = len(ws) - 2
    n, c, cg, o = xs[0], xs[-1], ws[-2], ws[-1]
    ks, spatial = ws[:-2], xs[1:-1]
    axes = [
        _axis_padding(*a, lo, hi, asymmetric) for a, (lo, hi) in zip(zip(spatial, ks, ss, ds), ps)
    ]
    out = tuple(_out_size(*a, lo, hi) for a, (lo, hi) in zip(zip(spatial, ks, ss, ds), ps))
    x_pad = tuple(ext for _, _, ext in axes)
    ext_spatial = tuple(s + a + b for s, (a, b) in zip(spatial, x_pad))
    pre = tuple(p for p, _, _ in axes)
    post = tuple(q for _, q, _ in axes)
    stride, dilation = ss, ds
    # 1-d runs as 2-d of unit height: a leading spatial axis of size 1 everywhere.
    lift = rank == 1
    if lift:
        ext_spatial, ks, out = (1, *ext_spatial), (1, *ks), (1, *out)
        pre, post, stride, dilation = (0, *pre), (0, *post), (1, *stride), (1, *dilation)
    x_mem = (n, *ext_spatial, c)
    y_mem = (n, *out, o)
    x_stride = _channels_last_strides(x_mem)
    y_stride = _channels_last_strides(y_mem)
    padded = any(a or b for a, b in x_pad)
    if x_strides is not None and operation != "dgrad" and not padded:
        x_stride = _reader_strides(x_strides, xs, lift) or x_stride
    if y_strides is not None and operation != "fprop":
        y_stride = _reader_strides(y_strides, (n, *out[1:], o) if lift else y_mem, lift) or y_stride
    if filter_layout == "krsc":
        w_mem = (o, *ks, cg)
        w_stride = _channels_last_strides(w_mem)
    else:
        w_mem = (*ks, cg, o)
        w_stride = _in_place_filter_strides(w_mem)
    return CudnnConv(
        operation=operation,  # type: ignore[arg-type]
        dtype=name,
        compute_dtype=COMPUTE_DTYPES[name],
        rank=rank,
        groups=c // cg,
        x_shape=xs,
        w_shape=ws,
        y_shape=(n, *out[1:], o) if lift else y_mem,
        x_pad=x_pad,
        filter_layout=filter_layout,
        x_dim=(n, c, *ext_spatial),
        x_stride=x_stride,
        w_dim=(o, cg, *ks),
        w_stride=w_stride,
        y_dim=(n, o, *out),
        y_stride=y_stride,
        pre_padding=pre,
        post_padding=post,
        stride=stride,
        dilation=dilation,
    )


def describe_fprop(
    dtype: Any,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    *,
    asymmetric: Asymmetric = "pad",
    filter_layout: FilterLayout = "krsc",
    x_strides: Sequence[int] | None = None,
    y_strides: Sequence[int] | None = None,
) -> CudnnConv:
    """:func:`describe` of the forward convolution ``y = conv(x, w)``."""
    return describe(
        "fprop",
        dtype,
        x_shape,
        w_shape,
        strides,
        dilations,
        pads,
        asymmetric=asymmetric,
        filter_layout=filter_layout,
        x_strides=x_strides,
        y_strides=y_strides,
    )


def describe_dgrad(
    dtype: Any,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    dy_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    *,
    asymmetric: Asymmetric = "pad",
    filter_layout: FilterLayout = "krsc",
    x_strides: Sequence[int] | None = None,
    y_strides: Sequence[int] | None = None,
) -> CudnnConv:
    """:func:`describe` of the input gradient ``dx`` (shape ``x_shape``) from ``dy``.

    Also every transposed convolution: ``conv_transpose(dy, w, output_shape=x_shape)``
    is this gradient of the forward convolution with the same strides, dilations
    and padding.
    """
    return describe(
        "dgrad",
        dtype,
        x_shape,
        w_shape,
        strides,
        dilations,
        pads,
        dy_shape,
        asymmetric=asymmetric,
        filter_layout=filter_layout,
        x_strides=x_strides,
        y_strides=y_strides,
    )


def describe_wgrad(
    dtype: Any,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    dy_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    *,
    asymmetric: Asymmetric = "pad",
    filter_layout: FilterLayout = "krsc",
    x_strides: Sequence[int] | None = None,
    y_strides: Sequence[int] | None = None,
) -> CudnnConv:
    """:func:`describe` of the filter gradient ``dw`` (shape ``w_shape``) from ``x`` and ``dy``."""
    return describe(
        "wgrad",
        dtype,
        x_shape,
        w_shape,
        strides,
        dilations,
        pads,
        dy_shape,
        asymmetric=asymmetric,
        filter_layout=filter_layout,
        x_strides=x_strides,
        y_strides=y_strides,
    )


# --- Execution on CuPy arrays ---------------------------------------------------------------

_CACHE_SIZE = 128
_LOCK = threading.RLock()
_HANDLES: dict[int, Any] = {}
_GRAPHS: OrderedDict[tuple[Any, ...], _Built | str] = OrderedDict()


@dataclass
class _Built:
    """A built cuDNN graph, its tensors by role and its workspace size in bytes."""

    graph: Any
    tensors: dict[str, Any]
    workspace: int


def _import_cudnn() -> Any:
    """The ``cudnn`` module of ``nvidia-cudnn-frontend`` (it ships no type information)."""
    return importlib.import_module("cudnn")


def available() -> str | None:
    """Why the cuDNN path cannot run in this process (``None`` when it can)."""
    try:
        import cupy
    except Exception as exc:
        return f"cupy is not importable ({type(exc).__name__}: {exc})"
    try:
        cudnn = _import_cudnn()
    except Exception as exc:
        return f"cudnn-frontend (module cudnn) is not importable ({type(exc).__name__}: {exc})"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device"
        version = int(cudnn.backend_version())
    except Exception as exc:
        return f"no cuDNN library or device ({type(exc).__name__}: {exc})"
    if version <= 0:
        return "no cuDNN library loaded"
    return None


def versions() -> str:
    """cudnn-frontend's version and the cuDNN library's, as one line (for ``info``)."""
    try:
        cudnn = _import_cudnn()
    except Exception:
        return "cudnn-frontend not installed"
    frontend = getattr(cudnn, "__version__", "?")
    try:
        backend = str(cudnn.backend_version())
    except Exception as exc:
        backend = f"? ({type(exc).__name__})"
    return f"cudnn-frontend {frontend}, cuDNN {backend}"


def clear_cache() -> None:
    """Forget every built graph (the handles stay)."""
    with _LOCK:
        _GRAPHS.clear()


def _cudnn_modules() -> tuple[Any, Any]:
    try:
        import cupy

        cudnn = _import_cudnn()
    except Exception as exc:
        raise CudnnUnsupported(f"cupy and cudnn-frontend are needed: {exc}") from exc
    return cupy, cudnn


def _handle(cupy: Any, cudnn: Any, device: int) -> Any:
    with _LOCK:
        handle = _HANDLES.get(device)
        if handle is None:
            with cupy.cuda.Device(device):
                handle = cudnn.create_handle()
            _HANDLES[device] = handle
        return handle


def _data_type(cudnn: Any, name: str) -> Any:
    return {
        "float16": cudnn.data_type.HALF,
        "bfloat16": cudnn.data_type.BFLOAT16,
        "float32": cudnn.data_type.FLOAT,
        "float64": cudnn.data_type.DOUBLE,
    }[name]


def _build(cudnn: Any, desc: CudnnConv, handle: Any, allow_tf32: bool) -> _Built:
    io = _data_type(cudnn, desc.dtype)
    compute = _data_type(cudnn, desc.compute_dtype)
    graph = cudnn.pygraph(
        io_data_type=io, intermediate_data_type=compute, compute_data_type=compute, handle=handle
    )
    conv = {
        "pre_padding": list(desc.pre_padding),
        "post_padding": list(desc.post_padding),
        "stride": list(desc.stride),
        "dilation": list(desc.dilation),
        "compute_data_type": compute,
    }
    layouts = {
        "X": (desc.x_dim, desc.x_stride),
        "W": (desc.w_dim, desc.w_stride),
        "Y": (desc.y_dim, desc.y_stride),
    }

    def tensor(role: str) -> Any:
        dim, stride = layouts[role]
        return graph.tensor(name=role, dim=list(dim), stride=list(stride), data_type=io)

    def output(role: str, t: Any) -> Any:
        dim, stride = layouts[role]
        return t.set_output(True).set_dim(list(dim)).set_stride(list(stride)).set_data_type(io)

    tensors: dict[str, Any] = {}
    if desc.operation == "fprop":
        tensors["X"], tensors["W"] = tensor("X"), tensor("W")
        y = graph.conv_fprop(image=tensors["X"], weight=tensors["W"], name="fprop", **conv)
        tensors["Y"] = output("Y", y)
    elif desc.operation == "dgrad":
        tensors["Y"], tensors["W"] = tensor("Y"), tensor("W")
        dx = graph.conv_dgrad(loss=tensors["Y"], filter=tensors["W"], name="dgrad", **conv)
        tensors["X"] = output("X", dx)
    else:
        tensors["X"], tensors["Y"] = tensor("X"), tensor("Y")
        dw = graph.conv_wgrad(image=tensors["X"], loss=tensors["Y"], name="wgrad", **conv)
        tensors["W"] = output("W", dw)
    graph.validate()
    graph.build_operation_graph()
    graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
    if desc.dtype == "float32" and not allow_tf32:
        notes = cudnn.numerical_note
        graph.deselect_numeric_notes([notes.TENSOR_CORE, notes.DOWN_CONVERT_INPUTS])
    # The first plan of the ranked list that builds. A deselected plan refuses to
    # build; the walk is done here rather than by ``build_plans`` because the
    # bindings advance past a refusal only for some exception types.
    failures = []
    for index in range(int(graph.get_execution_plan_count())):
        try:
            graph.build_plan_at_index(index)
        except Exception as exc:
            failures.append(f"plan {index}: {type(exc).__name__}: {exc}")
            continue
        return _Built(graph, tensors, int(graph.get_workspace_size()))
    raise CudnnUnsupported("no plan builds (" + ("; ".join(failures) or "no plans") + ")")


def _built(cupy: Any, cudnn: Any, desc: CudnnConv, device: int, allow_tf32: bool) -> _Built:
    key = (desc.key, device, bool(allow_tf32 and desc.dtype == "float32"))
    with _LOCK:
        found = _GRAPHS.get(key)
        if found is not None:
            _GRAPHS.move_to_end(key)
    if isinstance(found, str):
        raise CudnnUnsupported(found)
    if found is not None:
        return found
    handle = _handle(cupy, cudnn, device)
    try:
        with cupy.cuda.Device(device):
            built: _Built | str = _build(cudnn, desc, handle, allow_tf32)
    except Exception as exc:
        built = f"cuDNN has no plan for {desc.operation} {desc.x_dim}x{desc.w_dim}: {type(exc).__name__}: {exc}"
    with _LOCK:
        _GRAPHS[key] = built
        while len(_GRAPHS) > _CACHE_SIZE:
            _GRAPHS.popitem(last=False)
    if isinstance(built, str):
        raise CudnnUnsupported(built)
    return built


def _execute(
    cupy: Any, cudnn: Any, desc: CudnnConv, device: int, buffers: dict[str, Any], allow_tf32: bool
) -> None:
    """Run ``desc`` on CuPy's current stream with ``buffers`` (role -> array) on ``device``."""
    built = _built(cupy, cudnn, desc, device, allow_tf32)
    handle = _handle(cupy, cudnn, device)
    with cupy.cuda.Device(device):
        workspace = cupy.empty(max(built.workspace, 1), dtype=cupy.uint8)
        pack = {built.tensors[role]: int(a.data.ptr) for role, a in buffers.items()}
        stream = cupy.cuda.get_current_stream().ptr
        with _LOCK:
            cudnn.set_stream(handle=handle, stream=stream)
            try:
                built.graph.execute(pack, int(workspace.data.ptr), handle=handle)
            except Exception as exc:
                raise CudnnUnsupported(f"cuDNN {desc.operation} failed to run: {exc}") from exc


def _check(a: Any, shape: tuple[int, ...], desc: CudnnConv, what: str) -> None:
    if tuple(a.shape) != shape:
        raise ValueError(f"{what} has shape {tuple(a.shape)}, the description says {shape}")
    if dtype_name(a.dtype) != desc.dtype:
        raise ValueError(f"{what} has dtype {a.dtype}, the description says {desc.dtype}")


# The array steps around the cuDNN call, for any NumPy-like module ``xp`` (cupy here,
# numpy in the tests, which emulate cuDNN on the memory these produce).


def element_strides(a: Any) -> tuple[int, ...]:
    """An array's strides in elements (NumPy and CuPy give them in bytes)."""
    return tuple(int(s) // a.itemsize for s in a.strides)


def _address(a: Any) -> int:
    """Where an array's first element is (CuPy: ``data.ptr``; NumPy: its interface)."""
    ptr = getattr(getattr(a, "data", None), "ptr", None)
    if ptr is None:
        ptr = a.__array_interface__["data"][0]
    return int(ptr)


def _as_described(xp: Any, a: Any, stride: tuple[int, ...], desc: CudnnConv, what: str) -> Any:
    """``a`` itself where ``stride`` reads it in place and it is aligned as cuDNN's
    engines assume (:data:`ALIGNMENT`), else a C-contiguous copy of it."""
    lift = desc.rank == 1
    if (
        _address(a) % ALIGNMENT == 0
        and _reader_strides(element_strides(a), a.shape, lift) == stride
    ):
        return a
    a = a.copy(order="C")
    if _reader_strides(element_strides(a), a.shape, lift) != stride:
        raise ValueError(f"{what}'s layout is not the described one (strides {stride})")
    return a


def _x_in(xp: Any, x: Any, desc: CudnnConv) -> Any:
    """The X memory cuDNN reads: ``x`` as described, or zero-extended by ``desc.x_pad``."""
    if any(a or b for a, b in desc.x_pad):
        return xp.pad(xp.ascontiguousarray(x), [(0, 0), *desc.x_pad, (0, 0)])
    return _as_described(xp, x, desc.x_stride, desc, "x")


def _y_in(xp: Any, dy: Any, desc: CudnnConv) -> Any:
    """The Y memory a dgrad or wgrad reads: ``dy`` as described."""
    return _as_described(xp, dy, desc.y_stride, desc, "dy")


def _w_in(xp: Any, w: Any, desc: CudnnConv) -> Any:
    """The W memory cuDNN reads: ``(O, *k, C/g)`` for ``krsc``, else ``w`` itself."""
    if desc.filter_layout == "krsc":
        w = xp.ascontiguousarray(xp.moveaxis(w, -1, 0))
    if w.flags.c_contiguous and _address(w) % ALIGNMENT == 0:
        return w
    return w.copy(order="C")


def _dx_out(xp: Any, dx: Any, desc: CudnnConv) -> Any:
    """The input gradient from the X memory a dgrad wrote (cropped by ``desc.x_pad``)."""
    if any(a or b for a, b in desc.x_pad):
        crop = tuple(slice(a, a + s) for (a, _), s in zip(desc.x_pad, desc.x_shape[1:-1]))
        dx = xp.ascontiguousarray(dx[(slice(None), *crop, slice(None))])
    return dx


def _dw_out(xp: Any, dw: Any, desc: CudnnConv) -> Any:
    """The ``(*k, C/g, O)`` filter gradient from the W memory a wgrad wrote."""
    if desc.filter_layout == "krsc":
        dw = xp.ascontiguousarray(xp.moveaxis(dw, 0, -1))
    return dw


def _device_of(x: Any) -> int:
    """The CUDA device ordinal of a CuPy array."""
    device = getattr(getattr(x, "device", None), "id", None)
    if device is None:
        raise TypeError(f"the cuDNN path takes CuPy arrays, got {type(x).__name__}")
    return int(device)


def run_fprop(x: Any, w: Any, desc: CudnnConv, *, allow_tf32: bool = False) -> Any:
    """``y = conv(x, w)`` by cuDNN.

    Parameters
    ----------
    x : cupy.ndarray
        Canonical input ``desc.x_shape`` (``(N, *spatial, C)``), dtype ``desc.dtype``.
    w : cupy.ndarray
        Filters ``desc.w_shape`` (``(*k, C/g, O)``).
    desc : CudnnConv
        From :func:`describe_fprop`.
    allow_tf32 : bool
        Let float32 convolutions use TF32 tensor cores.

    Returns
    -------
    cupy.ndarray
        ``(N, *out, O)``, C-contiguous, on ``x``'s device, computed on CuPy's current
        stream.

    Raises
    ------
    CudnnUnsupported
        When cuDNN has no plan for it (or the bindings are missing).
    """
    cupy, cudnn = _cudnn_modules()
    if desc.operation != "fprop":
        raise ValueError(f"run_fprop needs an fprop description, got {desc.operation}")
    _check(x, desc.x_shape, desc, "x")
    _check(w, desc.w_shape, desc, "w")
    device = _device_of(x)
    with cupy.cuda.Device(device):
        xi, wi = _x_in(cupy, x, desc), _w_in(cupy, w, desc)
        y = cupy.empty(desc.y_shape, dtype=x.dtype)
        _execute(cupy, cudnn, desc, device, {"X": xi, "W": wi, "Y": y}, allow_tf32)
    return y


def run_dgrad(dy: Any, w: Any, desc: CudnnConv, *, allow_tf32: bool = False) -> Any:
    """The input gradient ``dx`` (shape ``desc.x_shape``) from ``dy`` by cuDNN.

    Parameters
    ----------
    dy : cupy.ndarray
        Output gradient ``desc.y_shape`` (``(N, *out, O)``).
    w : cupy.ndarray
        Filters ``desc.w_shape`` (``(*k, C/g, O)``).
    desc : CudnnConv
        From :func:`describe_dgrad`.
    allow_tf32 : bool
        Let float32 convolutions use TF32 tensor cores.

    Returns
    -------
    cupy.ndarray
        ``(N, *spatial, C)``, C-contiguous.

    Raises
    ------
    CudnnUnsupported
        When cuDNN has no plan for it (or the bindings are missing).
    """
    cupy, cudnn = _cudnn_modules()
    if desc.operation != "dgrad":
        raise ValueError(f"run_dgrad needs a dgrad description, got {desc.operation}")
    _check(dy, desc.y_shape, desc, "dy")
    _check(w, desc.w_shape, desc, "w")
    device = _device_of(dy)
    with cupy.cuda.Device(device):
        dyi, wi = _y_in(cupy, dy, desc), _w_in(cupy, w, desc)
        dx = cupy.empty(desc.x_memory_shape, dtype=dy.dtype)
        _execute(cupy, cudnn, desc, device, {"X": dx, "W": wi, "Y": dyi}, allow_tf32)
        return _dx_out(cupy, dx, desc)


def run_wgrad(x: Any, dy: Any, desc: CudnnConv, *, allow_tf32: bool = False) -> Any:
    """The filter gradient ``dw`` (shape ``desc.w_shape``) from ``x`` and ``dy`` by cuDNN.

    Parameters
    ----------
    x : cupy.ndarray
        Canonical input ``desc.x_shape``.
    dy : cupy.ndarray
        Output gradient ``desc.y_shape``.
    desc : CudnnConv
        From :func:`describe_wgrad`.
    allow_tf32 : bool
        Let float32 convolutions use TF32 tensor cores.

    Returns
    -------
    cupy.ndarray
        ``(*k, C/g, O)``, C-contiguous.

    Raises
    ------
    CudnnUnsupported
        When cuDNN has no plan for it (or the bindings are missing).
    """
    cupy, cudnn = _cudnn_modules()
    if desc.operation != "wgrad":
        raise ValueError(f"run_wgrad needs a wgrad description, got {desc.operation}")
    _check(x, desc.x_shape, desc, "x")
    _check(dy, desc.y_shape, desc, "dy")
    device = _device_of(x)
    with cupy.cuda.Device(device):
        xi, dyi = _x_in(cupy, x, desc), _y_in(cupy, dy, desc)
        dw = cupy.empty(desc.w_memory_shape, dtype=x.dtype)
        _execute(cupy, cudnn, desc, device, {"X": xi, "W": dw, "Y": dyi}, allow_tf32)
        return _dw_out(cupy, dw, desc)


def run(desc: CudnnConv, a: Any, b: Any, *, allow_tf32: bool = False) -> Any:
    """Run ``desc``: ``run_fprop(x, w)``, ``run_dgrad(dy, w)`` or ``run_wgrad(x, dy)``."""
    if desc.operation == "fprop":
        return run_fprop(a, b, desc, allow_tf32=allow_tf32)
    if desc.operation == "dgrad":
        return run_dgrad(a, b, desc, allow_tf32=allow_tf32)
    return run_wgrad(a, b, desc, allow_tf32=allow_tf32)


def _pads(pads: Sequence[tuple[int, int]]) -> Pads:
    return tuple((int(lo), int(hi)) for lo, hi in pads)


def conv_forward(
    x: Any,
    w: Any,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    *,
    allow_tf32: bool = False,
    asymmetric: Asymmetric = "pad",
    filter_layout: FilterLayout = "krsc",
) -> Any:
    """Describe and run the forward convolution of canonical CuPy arrays.

    Raises ``ValueError`` where :func:`unsupported` gives a reason and
    :class:`CudnnUnsupported` where cuDNN has no plan.
    """
    desc = describe_fprop(
        x.dtype,
        x.shape,
        w.shape,
        strides,
        dilations,
        _pads(pads),
        asymmetric=asymmetric,
        filter_layout=filter_layout,
        x_strides=element_strides(x),
    )
    return run_fprop(x, w, desc, allow_tf32=allow_tf32)


def conv_backprop_input(
    input_shape: Sequence[int],
    w: Any,
    dy: Any,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    *,
    allow_tf32: bool = False,
    asymmetric: Asymmetric = "pad",
    filter_layout: FilterLayout = "krsc",
) -> Any:
    """Describe and run the input gradient (or transposed convolution), canonical shapes."""
    desc = describe_dgrad(
        dy.dtype,
        input_shape,
        w.shape,
        dy.shape,
        strides,
        dilations,
        _pads(pads),
        asymmetric=asymmetric,
        filter_layout=filter_layout,
        y_strides=element_strides(dy),
    )
    return run_dgrad(dy, w, desc, allow_tf32=allow_tf32)


def conv_backprop_filter(
    x: Any,
    filter_shape: Sequence[int],
    dy: Any,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    *,
    allow_tf32: bool = False,
    asymmetric: Asymmetric = "pad",
    filter_layout: FilterLayout = "krsc",
) -> Any:
    """Describe and run the filter gradient of canonical CuPy arrays."""
    desc = describe_wgrad(
        x.dtype,
        x.shape,
        filter_shape,
        dy.shape,
        strides,
        dilations,
        _pads(pads),
        asymmetric=asymmetric,
        filter_layout=filter_layout,
        x_strides=element_strides(x),
        y_strides=element_strides(dy),
    )
    return run_wgrad(x, dy, desc, allow_tf32=allow_tf32)
