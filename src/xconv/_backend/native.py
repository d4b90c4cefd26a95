"""``method="native"``: the library's own convolution (torch's ``conv*d``, JAX's
``lax.conv_general_dilated``) on canonical channels-last arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._typing import Array, Namespace
from .libraries import capabilities, jax_default_platform

__all__ = ["native_batch_invariant", "native_conv", "native_pads", "native_unsupported"]


def native_unsupported(xp: Namespace, rank: int, dtype: Any) -> str | None:
    """Why ``method="native"`` cannot run here, or None when it can.

    torch offers ``conv1d``/``conv2d``/``conv3d`` for floating and complex dtypes; JAX's
    ``lax.conv_general_dilated`` takes any rank and numeric dtype on the CPU, and
    floating and complex dtypes where its default platform is an accelerator (XLA's
    GPU convolutions are cuDNN's).
    """
    lib = capabilities(xp).library
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
    return f"{lib} has no native convolution that xconv delegates to (torch and jax do)"


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
    if capabilities(xp).library == "jax":
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
    if capabilities(xp).library == "jax":
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
