"""Argument normalisation: every public form becomes a frozen :class:`ConvSpec` of ints.

Nothing here touches an array's data: the functions read shapes (plain ints) and the
caller's Python arguments, check them, and raise ``ValueError``/``TypeError`` naming the
argument before any work starts. JAX's ``ConvDimensionNumbers`` + ``padtype_to_pads``
are the model: the public wrappers translate, the core computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from ._padding import resolve_pads
from ._typing import METHODS, PADDING_MODES, PRECISIONS, Pads
from ._validate import as_int, as_int_tuple, check_choice, is_sequence

__all__ = [
    "METHODS",
    "PRECISIONS",
    "ConvSpec",
    "as_int",
    "as_int_tuple",
    "check_options",
    "conv_spec",
    "format_is_channels_first",
    "is_sequence",
    "normalize_ints",
    "output_size",
]


def format_is_channels_first(
    data_format: str | None, *, rank: int, allowed: Sequence[str] | None = None
) -> bool:
    """Parse a ``data_format`` string: True for ``NC...`` (channels first), False for ``N...C``.

    ``allowed`` restricts the strings (``conv2d`` takes NHWC/NCHW only); with ``None`` any
    ``N`` + ``rank`` distinct spatial letters + ``C`` form, or ``NC`` + letters, is accepted.
    """
    if data_format is None:
        return False
    if not isinstance(data_format, str):
        raise TypeError(f"data_format must be a string or None, got {data_format!r}")
    fmt = data_format.upper()
    if allowed is not None:
        if fmt not in allowed:
            raise ValueError(
                f"data_format must be one of {', '.join(map(repr, allowed))}, got {data_format!r}"
            )
        return fmt[1] == "C"
    spatial = fmt[2:] if fmt[1:2] == "C" else fmt[1:-1]
    ok = (
        len(fmt) == rank + 2
        and fmt[0] == "N"
        and "C" in (fmt[1], fmt[-1])
        and len(set(spatial)) == rank
        and not set(spatial) & {"N", "C"}
        and spatial.isalpha()
    )
    if not ok:
        raise ValueError(
            f"data_format must be 'N' + {rank} spatial letters + 'C' (channels last) or "
            f"'NC' + {rank} spatial letters (channels first) for a {rank}-d convolution, "
            f"got {data_format!r}"
        )
    return fmt[1] == "C"


def normalize_ints(value: Any, *, name: str, rank: int, channels_first: bool) -> tuple[int, ...]:
    """Normalise strides/dilations: None, an int, a length-1, rank or rank+2 sequence.

    The rank+2 form is TensorFlow's, in ``data_format`` order, with 1 at the batch and
    channel positions. Every entry must be a positive int.
    """
    if value is None:
        values: tuple[int, ...] = (1,) * rank
    elif not is_sequence(value):
        values = (as_int(value, name=name),) * rank
    else:
        seq = as_int_tuple(value, name=name)
        if len(seq) == 1:
            values = seq * rank
        elif len(seq) == rank:
            values = seq
        elif len(seq) == rank + 2:
            c = 1 if channels_first else rank + 1
            if seq[0] != 1 or seq[c] != 1:
                raise ValueError(
                    f"{name} in the rank+2 form must be 1 at the batch and channel positions "
                    f"(data_format order), got {list(seq)}"
                )
            values = tuple(v for i, v in enumerate(seq) if i not in (0, c))
        else:
            raise ValueError(
                f"{name} must be an int or a sequence of length 1, {rank} or {rank + 2} "
                f"for a {rank}-d convolution, got length {len(seq)}: {list(seq)}"
            )
    if any(v <= 0 for v in values):
        raise ValueError(f"{name} must be positive integers, got {value!r}")
    return values


def output_size(size: int, k: int, stride: int, dilation: int, lo: int, hi: int) -> int:
    """``floor((size + lo + hi - (k - 1) * dilation - 1) / stride) + 1``, clamped at 0."""
    span = size + lo + hi - (k - 1) * dilation - 1
    return span // stride + 1 if span >= 0 else 0


@dataclass(frozen=True)
class ConvSpec:
    """A convolution, fully normalised to Python ints (hashable, immutable).

    Attributes
    ----------
    rank : int
        Number of spatial dimensions.
    strides, dilations : tuple of int
        Window strides and kernel (rhs) dilations per spatial dimension.
    pads : tuple of (int, int)
        ``(lo, hi)`` padding per spatial dimension; a negative entry crops.
    groups : int
        Feature groups (``C_in // filters.shape[-2]``).
    lhs_dilations : tuple of int
        Input dilation per spatial dimension (1 = none; >1 for transposed convolution).
    padding_mode : str
        How padded values are filled: zeros, reflect, symmetric, edge or circular.
    pad_value : int, float or complex
        The constant that ``"zeros"`` padding fills with: 0, except for the SciPy-style
        functions (``cval`` of :mod:`xconv.ndimage`, ``fillvalue`` of
        :func:`xconv.signal.convolve2d`).
    channels_first : bool
        Whether the caller's layout is ``NC...`` (permuted to canonical ``N...C``).
    """

    rank: int
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: Pads
    groups: int = 1
    lhs_dilations: tuple[int, ...] = ()
    padding_mode: str = "zeros"
    channels_first: bool = False
    pad_value: complex = 0

    def __post_init__(self) -> None:
        if not self.lhs_dilations:
            object.__setattr__(self, "lhs_dilations", (1,) * self.rank)

    @property
    def to_canonical(self) -> tuple[int, ...]:
        """Axis permutation from the caller's layout to ``(N, *spatial, C)``."""
        if self.channels_first:
            return (0, *range(2, self.rank + 2), 1)
        return tuple(range(self.rank + 2))

    @property
    def from_canonical(self) -> tuple[int, ...]:
        """Axis permutation from ``(N, *spatial, C)`` back to the caller's layout."""
        if self.channels_first:
            return (0, self.rank + 1, *range(1, self.rank + 1))
        return tuple(range(self.rank + 2))

    def dilated_sizes(self, in_sizes: Sequence[int]) -> tuple[int, ...]:
        """Spatial sizes after input (lhs) dilation."""
        return tuple(
            (n - 1) * d + 1 if n else 0 for n, d in zip(in_sizes, self.lhs_dilations, strict=True)
        )

    def output_sizes(self, in_sizes: Sequence[int], k_sizes: Sequence[int]) -> tuple[int, ...]:
        """Spatial output sizes for the given (un-dilated) input and kernel sizes."""
        return tuple(
            output_size(n, k, s, d, lo, hi)
            for n, k, s, d, (lo, hi) in zip(
                self.dilated_sizes(in_sizes),
                k_sizes,
                self.strides,
                self.dilations,
                self.pads,
                strict=True,
            )
        )


def check_options(method: Any, memory_budget: Any, precision: Any) -> None:
    """Validate the keyword-only extras shared by every public function."""
    check_choice(method, METHODS, name="method")
    if memory_budget is not None and as_int(memory_budget, name="memory_budget") <= 0:
        raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
    check_choice(precision, PRECISIONS, name="precision")


def conv_spec(
    input_shape: tuple[int, ...],
    filter_shape: tuple[int, ...],
    *,
    strides: Any,
    padding: Any,
    dilations: Any,
    data_format: str | None,
    padding_mode: Any = "zeros",
    pad_value: complex = 0,
    formats: Sequence[str] | None = None,
    stride_name: str = "strides",
    input_name: str = "input",
    filters_name: str = "filters",
) -> ConvSpec:
    """Check shapes and arguments of a forward convolution and return its :class:`ConvSpec`.

    ``input_shape`` is in the caller's ``data_format`` order; ``filter_shape`` is
    ``(*k, C_in / groups, C_out)``. Raises ``ValueError``/``TypeError`` naming the
    argument when anything is off.
    """
    rank = len(filter_shape) - 2
    if rank < 1:
        raise ValueError(
            f"{filters_name} must have at least 3 dimensions (*spatial, in, out), "
            f"got shape {filter_shape}"
        )
    if len(input_shape) != rank + 2:
        raise ValueError(
            f"{input_name} must have {rank + 2} dimensions (batch, {rank} spatial, channels; "
            f"or more: extra leading batch dimensions) to match {filters_name} of shape "
            f"{filter_shape}, got shape {input_shape}"
        )
    channels_first = format_is_channels_first(data_format, rank=rank, allowed=formats)
    strides_t = normalize_ints(strides, name=stride_name, rank=rank, channels_first=channels_first)
    dilations_t = normalize_ints(
        dilations, name="dilations", rank=rank, channels_first=channels_first
    )
    check_choice(padding_mode, PADDING_MODES, name="padding_mode")
    spec = _shape_spec(
        tuple(input_shape),
        tuple(filter_shape),
        strides_t,
        dilations_t,
        _hashable_padding(padding),
        channels_first,
        padding_mode,
        input_name,
        filters_name,
    )
    # Not in the cache key: 0, 0.0 and 0j are equal keys but different fill values.
    return replace(spec, pad_value=pad_value)


def _hashable_padding(padding: Any, name: str = "padding") -> Any:
    """``padding`` as the spec builder's cache key: nested sequences (lists, arrays) as
    tuples, numbers as ints (checked here: ``1.0`` and ``True`` must not hit the cache
    entry of ``1``), strings as they are."""
    if isinstance(padding, str):
        return padding
    if is_sequence(padding) or getattr(padding, "ndim", 0) == 2:
        return tuple(_hashable_padding(p, f"{name}[{i}]") for i, p in enumerate(padding))
    return as_int(padding, name=name)


@lru_cache(maxsize=512)
def _shape_spec(
    input_shape: tuple[int, ...],
    filter_shape: tuple[int, ...],
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    padding: Any,
    channels_first: bool,
    padding_mode: str,
    input_name: str,
    filters_name: str,
) -> ConvSpec:
    rank = len(filter_shape) - 2
    perm = (0, *range(2, rank + 2), 1) if channels_first else tuple(range(rank + 2))
    canon = tuple(input_shape[i] for i in perm)
    in_sizes, c_in = canon[1:-1], canon[-1]
    k_sizes, c_per_group, c_out = filter_shape[:-2], filter_shape[-2], filter_shape[-1]
    if any(k <= 0 for k in k_sizes):
        raise ValueError(f"{filters_name} spatial sizes must be positive, got shape {filter_shape}")
    channels = (
        f"{input_name} channels ({c_in}: {input_name} has shape {input_shape}, channels "
        f"{'first' if channels_first else 'last'} as data_format says)"
    )
    if c_per_group <= 0 or c_in <= 0 or c_in % c_per_group:
        raise ValueError(
            f"{channels} must be a positive multiple of {filters_name}.shape[-2] "
            f"({c_per_group}); {filters_name} has shape {filter_shape}"
        )
    groups = c_in // c_per_group
    if c_out % groups:
        raise ValueError(
            f"{filters_name} output channels ({c_out}) must be divisible by the number of "
            f"groups ({groups} = {channels} / {c_per_group} per group)"
        )
    pads = resolve_pads(
        padding,
        in_sizes=in_sizes,
        k_sizes=k_sizes,
        strides=strides,
        dilations=dilations,
        channels_first=channels_first,
    )
    if padding_mode != "zeros":
        for n, (lo, hi) in zip(in_sizes, pads, strict=True):
            if n == 0 and (lo or hi):
                raise ValueError(
                    f"padding_mode={padding_mode!r} cannot pad an empty spatial dimension "
                    f"(input shape {input_shape})"
                )
    return ConvSpec(
        rank=rank,
        strides=strides,
        dilations=dilations,
        pads=pads,
        groups=groups,
        padding_mode=padding_mode,
        channels_first=channels_first,
    )


# --- Transposed convolution and gradients: the same core with other numbers (as JAX) ---


def transpose_spec(fwd: ConvSpec, in_sizes: Sequence[int], k_sizes: Sequence[int]) -> ConvSpec:
    """The spec that maps a forward convolution's output gradient to its input gradient.

    ``grad_x = conv(dilate(dy, strides), flip(w)ᵀ, stride 1, dilation d, pads (lo', hi'))``
    with ``lo' = (k - 1) d - lo`` and ``hi' = n + lo - (m - 1) s - 1`` (negative crops),
    where ``n`` is the forward input size and ``m`` its output size: the result has
    exactly ``n`` entries. An empty ``dy`` axis (``m = 0``: the kernel does not fit
    the input) has no dilated rows to count from; it is padded with ``(0, n + (k - 1) d)``
    zeros, which again gives ``n`` entries, all zero.
    """
    out = fwd.output_sizes(in_sizes, k_sizes)
    pads = tuple(
        ((k - 1) * d - lo, n + lo - (m - 1) * s - 1) if m else (0, n + (k - 1) * d)
        for n, m, k, s, d, (lo, _) in zip(
            in_sizes, out, k_sizes, fwd.strides, fwd.dilations, fwd.pads, strict=True
        )
    )
    return ConvSpec(
        rank=fwd.rank,
        strides=(1,) * fwd.rank,
        dilations=fwd.dilations,
        pads=pads,
        groups=fwd.groups,
        lhs_dilations=fwd.strides,
        channels_first=fwd.channels_first,
    )


def filter_grad_spec(fwd: ConvSpec, in_sizes: Sequence[int], k_sizes: Sequence[int]) -> ConvSpec:
    """The spec that computes a forward convolution's filter gradient, channels last.

    The input (batch and channels swapped, groups moved into channels) is convolved
    with the output gradient as the kernel: stride = forward dilation, dilation =
    forward stride, pads ``(lo, (k - 1) d + (m - 1) s + 1 - n - lo)``.
    """
    out = fwd.output_sizes(in_sizes, k_sizes)
    pads = tuple(
        (lo, (k - 1) * d + (m - 1) * s + 1 - n - lo)
        for n, m, k, s, d, (lo, _) in zip(
            in_sizes, out, k_sizes, fwd.strides, fwd.dilations, fwd.pads, strict=True
        )
    )
    return ConvSpec(
        rank=fwd.rank, strides=fwd.dilations, dilations=fwd.strides, pads=pads, groups=fwd.groups
    )


def check_out_backprop(
    fwd: ConvSpec,
    input_shape: Sequence[int],
    filter_shape: Sequence[int],
    grad_shape: Sequence[int],
    *,
    input_name: str,
    grad_name: str,
    padding: Any,
    filters_name: str = "filters",
) -> None:
    """Check that ``grad_shape`` is the forward output shape of ``input_shape``.

    On a mismatch, the ``ValueError`` names both arguments and, per spatial dimension,
    the input sizes that would give the gradient's size.
    """
    perm = fwd.to_canonical
    canon_in = [input_shape[i] for i in perm]
    rank = fwd.rank
    if len(grad_shape) != rank + 2:
        raise ValueError(
            f"{grad_name} must have {rank + 2} dimensions, got shape {tuple(grad_shape)}"
        )
    canon_grad = [grad_shape[i] for i in perm]
    k_sizes = filter_shape[:-2]
    expected = [canon_in[0], *fwd.output_sizes(canon_in[1:-1], k_sizes), filter_shape[-1]]
    if canon_grad == expected:
        return
    hints = []
    for i, m in enumerate(canon_grad[1:-1]):
        n0, k, s, d = canon_in[1 + i], k_sizes[i], fwd.strides[i], fwd.dilations[i]
        axis = (k, s, d, padding, i, rank, fwd.channels_first)
        top = m * s + (k - 1) * d + 2
        first, stop = (_least_input(out, top, axis) for out in (m, m + 1))
        found = f"{first}..{stop - 1}" if first < stop else "none"
        hints.append(f"dim {i}: {m} <- {found} (given {n0})")
    raise ValueError(
        f"{grad_name} shape {tuple(grad_shape)} is inconsistent with {input_name} "
        f"{tuple(input_shape)}, {filters_name} {tuple(filter_shape)}, strides {fwd.strides}, "
        f"dilations {fwd.dilations} and padding {padding!r}, shapes in data_format order "
        f"(channels {'first' if fwd.channels_first else 'last'}): the forward output would be "
        f"{tuple(expected[i] for i in fwd.from_canonical)}. Spatial sizes of {input_name} that "
        f"give {grad_name}'s sizes: {'; '.join(hints)}"
    )


def _least_input(out: int, top: int, axis: tuple[Any, ...]) -> int:
    """The least input size ``n < top`` whose forward size (:func:`_forward_size` with
    ``axis``'s arguments) is at least ``out``, or ``top``: a bisection, as the forward
    size grows with ``n`` (a loop over every size would take forever for huge strides)."""
    lo, hi = 0, top
    while lo < hi:
        mid = (lo + hi) // 2
        if _forward_size(mid, *axis) >= out:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _forward_size(
    n: int, k: int, s: int, d: int, padding: Any, axis: int, rank: int, channels_first: bool
) -> int:
    """Forward output size along one axis for input size ``n`` under ``padding``."""
    sizes = [1] * rank
    sizes[axis] = n
    ks, ss, ds = [1] * rank, [1] * rank, [1] * rank
    ks[axis], ss[axis], ds[axis] = k, s, d
    pads = resolve_pads(
        padding, in_sizes=sizes, k_sizes=ks, strides=ss, dilations=ds, channels_first=channels_first
    )
    lo, hi = pads[axis]
    return output_size(n, k, s, d, lo, hi)
