"""``method="native"``: the library's own convolution (torch's ``conv*d``, JAX's
``lax.conv_general_dilated``, cuDNN for CuPy through cudnn-frontend,
:mod:`xconv._backend.cudnn`) on canonical channels-last arrays, and for CuPy also
cuDNN's own gradients (:func:`native_input_grad`, :func:`native_filter_grad`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from .._typing import Array, Namespace
from . import cudnn
from .libraries import capabilities, jax_default_platform

__all__ = [
    "CUDNN_INSTALL",
    "NativeRefused",
    "cudnn_status",
    "cudnn_unavailable",
    "native_accumulates_half",
    "native_batch_invariant",
    "native_conv",
    "native_filter_grad",
    "native_grads",
    "native_input_grad",
    "native_pads",
    "native_unsupported",
]


class NativeRefused(ValueError):
    """The library's own convolution refused a case at run time (cuDNN found no plan):
    a ``ValueError`` for ``method="native"``; ``auto`` runs xconv's own methods."""


#: What to install for ``method="native"`` on CuPy arrays.
CUDNN_INSTALL = "pip install 'xconv[cudnn13]' (CUDA 13; 'xconv[cudnn12]' for CUDA 12)"


def native_unsupported(xp: Namespace, rank: int, dtype: Any) -> str | None:
    """Why ``method="native"`` cannot run here, or None when it can.

    torch offers ``conv1d``/``conv2d``/``conv3d`` for floating and complex dtypes; JAX's
    ``lax.conv_general_dilated`` takes any rank and numeric dtype on the CPU, and
    floating and complex dtypes where its default platform is an accelerator (XLA's
    GPU convolutions are cuDNN's). CuPy reaches cuDNN through cudnn-frontend
    (:mod:`xconv._backend.cudnn`) where it is installed: ranks 1 to 3, float16,
    bfloat16, float32 and float64.
    """
    lib = capabilities(xp).library
    if lib == "cupy":
        return _cupy_unsupported(rank, dtype)
    if lib == "jax":
        platform = jax_default_platform()
        if platform != "cpu" and not xp.isdtype(dtype, ("real floating", "complex floating")):
            return f"XLA on {platform} lowers convolutions to cuDNN, which takes no {dtype}"
        return None
    if lib == "torch":
        if rank > 3:
            return f"torch has no native {rank}-d convolution (ranks 1 to 3)"
        if not xp.isdtype(dtype, ("real floating", "complex floating")):
            return f"torch's native convolution does not take {dtype}"
        return None
    return f"{lib} has no native convolution that xconv delegates to (torch, jax and cupy do)"


def native_batch_invariant(xp: Namespace) -> bool:
    """Whether the library's own convolution gives each sample the same bits whatever
    the rest of the batch is, on the CPU.

    JAX's (XLA's) does: identical rows at batch 1, 3 and 16 in ``tests/test_robustness.py``.
    torch's (oneDNN's) does not: a 3x3 ``conv2d`` of 32 channels gave row 1 of a batch of
    16 and the same row alone 2.7e-5 apart, so the core runs it one sample at a time.
    """
    return capabilities(xp).library == "jax"


def native_pads(xp: Namespace, x: Array, spec: Any) -> tuple[tuple[int, int], ...]:
    """The part of ``spec``'s non-negative zero pads that :func:`native_conv` applies itself.

    JAX's ``conv_general_dilated`` takes any ``(lo, hi)``; torch's ``conv*d`` one
    symmetric amount per axis, ``min(lo, hi)`` (the caller pads the rest), except for
    dilated kernels on the CPU, where oneDNN's padded kernels ran slower than on a
    padded copy (4x64²x128, d=2: the whole call 1.22x the time; undilated layers
    0.81x-0.93x, depthwise 0.55x with the pads passed): there the caller pads it all.
    """
    if capabilities(xp).library in ("jax", "cupy"):  # cuDNN for CuPy: any (lo, hi)
        return tuple(spec.pads)
    if x.device.type == "cpu" and any(d > 1 for d in spec.dilations):
        return tuple((0, 0) for _ in spec.pads)
    return tuple((min(lo, hi), min(lo, hi)) for lo, hi in spec.pads)


def native_conv(
    x: Array,
    w: Array,
    spec: Any,
    *,
    xp: Namespace,
    pads: Sequence[tuple[int, int]] | None = None,
) -> Array:
    """Convolution of canonical ``x`` by the library's own convolution.

    ``x`` is padded already (a VALID convolution), or ``pads`` says what zero padding
    the library adds itself (from :func:`native_pads`).
    """
    rank = w.ndim - 2
    pads = [(0, 0)] * rank if pads is None else list(pads)
    lib = capabilities(xp).library
    if lib == "cupy":
        return _cupy_conv(x, w, spec, pads, xp=xp)
    if lib == "jax":
        return _jax_conv(x, w, spec, pads)
    return _torch_conv(x, w, spec, pads)


def _jax_conv(x: Array, w: Array, spec: Any, pads: Sequence[tuple[int, int]]) -> Array:
    from jax import lax

    rank = w.ndim - 2
    canonical = (0, rank + 1, *range(1, rank + 1))
    numbers = lax.ConvDimensionNumbers(
        lhs_spec=canonical, rhs_spec=(rank + 1, rank, *range(rank)), out_spec=canonical
    )
    return lax.conv_general_dilated(
        x,
        w,
        window_strides=spec.strides,
        padding=pads,
        rhs_dilation=spec.dilations,
        dimension_numbers=numbers,
        feature_group_count=spec.groups,
    )


def _torch_conv(x: Array, w: Array, spec: Any, pads: Sequence[tuple[int, int]]) -> Array:
    import torch.nn.functional

    rank = w.ndim - 2
    strides, dilations, sym = spec.strides, spec.dilations, tuple(lo for lo, _ in pads)
    lift = rank == 1 and x.shape[-1] > 1
    if lift:
        # A 1-d convolution of (N, L, C) data as a 2-d one of unit height: moved to
        # channels-first, (N, 1, L, C) is a channels_last tensor, which torch's 2-d
        # convolutions read in place, while conv1d first copies (N, C, L) contiguous.
        x, w, rank = x[:, None], w[None], 2
        strides, dilations, sym = (1, *strides), (1, *dilations), (0, *sym)
    conv = getattr(torch.nn.functional, f"conv{rank}d")
    y = conv(
        torch.movedim(x, -1, 1),
        torch.permute(w, (rank + 1, rank, *range(rank))),
        stride=strides,
        padding=sym,
        dilation=dilations,
        groups=spec.groups,
    )
    y = torch.movedim(y, 1, -1)
    return y[:, 0] if lift else y


# --- CuPy: cuDNN through cudnn-frontend -------------------------------------------------


@functools.cache
def cudnn_unavailable() -> str | None:
    """Why cuDNN cannot run CuPy convolutions in this process, None when it can.

    :func:`xconv._backend.cudnn.available`, asked once per process (it imports cupy
    and cudnn-frontend, and loads cuDNN).
    """
    return cudnn.available()


def cudnn_status() -> str:
    """One line for ``python -m xconv info``: whether CuPy's ``method="native"`` (cuDNN)
    can run here, with the versions, or why not and what to install."""
    reason = cudnn_unavailable()
    if reason is None:
        return f"available ({cudnn.versions()})"
    return f"not available: {reason}; {CUDNN_INSTALL}"


def _cupy_unsupported(rank: int, dtype: Any) -> str | None:
    """Why cuDNN cannot run a CuPy convolution of this rank and dtype, None when it can."""
    reason = cudnn_unavailable()
    if reason is not None:
        return f"cuDNN for CuPy is not available: {reason}; {CUDNN_INSTALL}"
    if rank not in (1, 2, 3):
        return f"cuDNN has no {rank}-d convolution (ranks 1 to 3)"
    name = cudnn.dtype_name(dtype)
    if name not in cudnn.COMPUTE_DTYPES:
        return f"cuDNN convolutions take float16, bfloat16, float32 and float64, not {name}"
    return None


def native_accumulates_half(xp: Namespace) -> bool:
    """Whether ``method="native"`` takes float16/bfloat16 arrays as they are and
    accumulates in float32 itself (cuDNN for CuPy), so the core need not upcast them."""
    return capabilities(xp).library == "cupy"


def _cupy_conv(
    x: Array, w: Array, spec: Any, pads: Sequence[tuple[int, int]], *, xp: Namespace
) -> Array:
    """cuDNN's forward convolution of canonical CuPy arrays, ``pads`` applied by cuDNN."""
    if 0 in x.shape or 0 in w.shape:  # cuDNN takes no empty tensors
        out = tuple(
            max((n + lo + hi - (k - 1) * d - 1) // s + 1, 0)
            for n, k, s, d, (lo, hi) in zip(
                x.shape[1:-1], w.shape[:-2], spec.strides, spec.dilations, pads
            )
        )
        return xp.zeros((x.shape[0], *out, w.shape[-1]), dtype=x.dtype, device=x.device)
    try:
        return cudnn.conv_forward(x, w, spec.strides, spec.dilations, pads)
    except (cudnn.CudnnUnsupported, ValueError) as exc:
        raise NativeRefused(f"method='native' does not apply: {exc}") from None


def _cupy_grad_dtype(xp: Namespace, dtype: Any) -> str | None:
    """cuDNN's name for a gradient's result dtype on CuPy, None where cuDNN is not used."""
    if capabilities(xp).library != "cupy" or cudnn_unavailable() is not None:
        return None
    name = cudnn.dtype_name(dtype)
    return name if name in cudnn.COMPUTE_DTYPES else None


def native_grads(xp: Namespace, dtype: Any) -> bool:
    """Whether :func:`native_input_grad` and :func:`native_filter_grad` may run for
    arrays of ``xp`` with result ``dtype``: CuPy's with cuDNN, of a dtype it takes.
    Elsewhere they return None at once."""
    return _cupy_grad_dtype(xp, dtype) is not None


def native_input_grad(
    dy: Array, w: Array, fwd: Any, in_sizes: Sequence[int], *, xp: Namespace, dtype: Any
) -> Array | None:
    """The input gradient (transposed convolution) by cuDNN's ``dgrad``, or None.

    Parameters
    ----------
    dy : Array
        Output gradient in the caller's layout (``fwd.channels_first`` or not).
    w : Array
        Forward filters ``(*k, C/g, O)``.
    fwd : ConvSpec
        The forward convolution, with zero padding, no crops and no input dilation
        (the caller checks).
    in_sizes : sequence of int
        Spatial sizes of the forward input.
    xp : namespace
        The arrays' namespace.
    dtype : dtype
        The result dtype.

    Returns
    -------
    Array or None
        ``(N, *in_sizes, C)`` in the caller's layout, of ``dtype``; None for arrays
        other than CuPy's, without cuDNN, or for a case cuDNN does not take (the core
        then computes it as a convolution).
    """
    name = _cupy_grad_dtype(xp, dtype)
    if name is None:
        return None
    dy, w = xp.astype(dy, dtype, copy=False), xp.astype(w, dtype, copy=False)
    if fwd.channels_first:
        dy = xp.permute_dims(dy, fwd.to_canonical)
    x_shape = (dy.shape[0], *in_sizes, w.shape[-2] * fwd.groups)
    args = (fwd.strides, fwd.dilations, fwd.pads)
    if cudnn.unsupported("dgrad", name, x_shape, w.shape, *args, dy.shape) is not None:
        return None
    try:
        dx = cudnn.conv_backprop_input(x_shape, w, dy, *args)
    except cudnn.CudnnUnsupported:
        return None
    return xp.permute_dims(dx, fwd.from_canonical) if fwd.channels_first else dx


def native_filter_grad(
    x: Array, dy: Array, fwd: Any, k_sizes: Sequence[int], *, xp: Namespace, dtype: Any
) -> Array | None:
    """The filter gradient ``(*k, C/g, O)`` by cuDNN's ``wgrad``, or None.

    Parameters
    ----------
    x, dy : Array
        Forward input and output gradient in the caller's layout.
    fwd : ConvSpec
        The forward convolution, with zero padding, no crops and no input dilation
        (the caller checks).
    k_sizes : sequence of int
        Spatial sizes of the filters.
    xp : namespace
        The arrays' namespace.
    dtype : dtype
        The result dtype.

    Returns
    -------
    Array or None
        The gradient of ``dtype``; None where :func:`native_input_grad` gives None.
    """
    name = _cupy_grad_dtype(xp, dtype)
    if name is None:
        return None
    x, dy = xp.astype(x, dtype, copy=False), xp.astype(dy, dtype, copy=False)
    if fwd.channels_first:
        x, dy = xp.permute_dims(x, fwd.to_canonical), xp.permute_dims(dy, fwd.to_canonical)
    w_shape = (*k_sizes, x.shape[-1] // fwd.groups, dy.shape[-1])
    args = (fwd.strides, fwd.dilations, fwd.pads)
    if cudnn.unsupported("wgrad", name, x.shape, w_shape, *args, dy.shape) is not None:
        return None
    try:
        return cudnn.conv_backprop_filter(x, w_shape, dy, *args)
    except cudnn.CudnnUnsupported:
        return None
