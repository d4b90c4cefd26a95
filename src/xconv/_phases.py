"""Input-dilated (transposed) convolutions as interleaved sub-pixel phases.

With input dilation ``s`` each output residue modulo ``s`` meets only every ``s``-th
kernel tap: :func:`phase_plan` splits such a convolution into ``prod(s)`` dense,
stride-1 ones on the undilated input, and :func:`run_phases` runs them and interleaves
their results (the sub-pixel decomposition: ``prod(s)`` times less work, and no
dilated copy of the input).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _backend
from ._algorithms import Algorithm
from ._padding import pad_canonical
from ._spec import ConvSpec, output_size
from ._typing import Array, Namespace

__all__ = ["MAX_PHASES", "Phases", "phase_plan", "run_phases"]


#: Most sub-pixel phases one input-dilated convolution is split into (one algorithm
#: call each); beyond, the input is dilated with zeros instead.
MAX_PHASES = 64


@dataclass(frozen=True)
class Phases:
    """Sub-pixel plan of an input-dilated convolution (see :func:`phase_plan`).

    Per spatial axis: the output size, the rows each phase computes (``ceil(out /
    s)``), the zero padding of the undilated input, and per residue ``r < s`` the
    first kernel tap, the number of taps and the input offset of its phase.
    """

    spec: ConvSpec  # the phases' own spec: stride 1, the kernel dilation, no padding
    out: tuple[int, ...]
    rows: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    taps: tuple[tuple[tuple[int, int, int], ...], ...]  # axis -> residue -> (k0, count, c)


def phase_plan(
    spec: ConvSpec,
    sizes: tuple[int, ...],
    w_shape: tuple[int, ...],
    algorithm: Algorithm,
    dtype: Any,
    xp: Namespace,
) -> Phases | None:
    """Split an input-dilated (transposed) convolution into ``prod(s)`` dense ones.

    With input dilation ``s`` (the forward strides of a transposed convolution or an
    input gradient), output ``y[s q + r]`` only meets the kernel taps ``k`` with
    ``(r + k d - lo) % s == 0``: taps ``k0, k0 + s, ...`` applied to the *undilated*
    input from offset ``c_r = (r + k0 d - lo) / s``. Each residue (phase) is thus an
    ordinary stride-1 convolution with a sub-kernel, and the phases interleave into
    the output: ``prod(s)`` times less work and no dilated copy of the input (the
    sub-pixel decomposition). None where it does not apply: no input dilation, output
    strides, padding other than zeros, ``gcd(s, d) > 1``, empty sizes, an algorithm
    that refuses a sub-kernel (Winograd needs 3-wide kernels), a stride larger than
    the kernel (phases without taps: the loop over ``prod(s)`` phases would cost more
    than it saves) or more than :data:`MAX_PHASES` phases.
    """
    if math.prod(spec.lhs_dilations) > MAX_PHASES:
        return None
    lhs = spec.lhs_dilations
    if (
        all(f == 1 for f in lhs)
        or any(t != 1 for t in spec.strides)
        or spec.padding_mode != "zeros"
        or spec.pad_value != 0
        or 0 in sizes
    ):
        return None
    rank = spec.rank
    outs, rows, pads, taps = [], [], [], []
    for n, k, f, d, (lo, hi) in zip(
        sizes, w_shape[:rank], lhs, spec.dilations, spec.pads, strict=True
    ):
        out = output_size((n - 1) * f + 1, k, 1, d, lo, hi)
        if out == 0 or math.gcd(f, d) != 1 or f > k:
            return None
        length = -(-out // f)
        inverse = pow(d, -1, f)
        axis_taps = []
        for r in range(f):
            k0 = ((lo - r) * inverse) % f
            count = max(0, -(-(k - k0) // f))
            axis_taps.append((k0, count, (r + k0 * d - lo) // f))
        used = [(c, c + length - 1 + (m - 1) * d) for _, m, c in axis_taps if m]
        if not used:  # every phase of this axis is empty: the kernel is 0-wide
            return None
        low = max(0, -min(a for a, _ in used))
        high = max(0, max(b for _, b in used) - (n - 1))
        outs.append(out)
        rows.append(length)
        pads.append((low, high))
        taps.append(tuple(axis_taps))
    phase_spec = ConvSpec(
        rank=rank,
        strides=(1,) * rank,
        dilations=spec.dilations,
        pads=((0, 0),) * rank,
        groups=spec.groups,
    )
    for combo in itertools.product(*taps):
        counts = tuple(m for _, m, _ in combo)
        if 0 not in counts:
            sub = (*counts, *w_shape[rank:])
            if not algorithm.applies(phase_spec, sub, dtype, xp):
                return None
    return Phases(phase_spec, tuple(outs), tuple(rows), tuple(pads), tuple(taps))


def run_phases(
    plan: Phases,
    run: Callable[[ConvSpec, Array, Array], Array],
    x: Array,
    w: Array,
    *,
    xp: Namespace,
) -> Array:
    """The input-dilated convolution of canonical ``x`` as ``plan``'s interleaved phases.

    ``run(spec, x, w)`` convolves one phase (the core's VALID convolution of a padded
    canonical input, its options bound).
    """
    rank = plan.spec.rank
    n, o = x.shape[0], w.shape[-1]
    dev = _backend.device(x)
    x = pad_canonical(x, plan.pads, "zeros", xp=xp)
    factors = tuple(len(t) for t in plan.taps)
    inplace = _backend.supports_inplace(xp, x, w)
    full = (n, *(r * f for r, f in zip(plan.rows, factors, strict=True)), o)
    y = xp.empty(full, dtype=x.dtype, device=dev) if inplace else None
    parts = []
    for residues, combo in zip(
        itertools.product(*(range(f) for f in factors)), itertools.product(*plan.taps), strict=True
    ):
        if any(m == 0 for _, m, _ in combo):
            part = xp.zeros((n, *plan.rows, o), dtype=x.dtype, device=dev)
        else:
            x_index, w_index = [slice(None)], []
            for (k0, m, c), (low, _), length, d, f in zip(
                combo, plan.pads, plan.rows, plan.spec.dilations, factors, strict=True
            ):
                x_index.append(slice(c + low, c + low + length + (m - 1) * d))
                w_index.append(slice(k0, None, f))
            part = run(
                plan.spec, x[(*x_index, slice(None))], w[(*w_index, slice(None), slice(None))]
            )
        if y is not None:
            dest = (slice(None), *(slice(r, None, f) for r, f in zip(residues, factors)))
            _backend.copy_into(y[dest], part, xp=xp)
        else:
            parts.append(part)
    if y is None:
        # (prod f, N, *rows, O) -> (*f, N, *rows, O) -> (N, rows_0, f_0, ..., O) -> merge.
        y = xp.reshape(xp.stack(parts, axis=0), (*factors, n, *plan.rows, o))
        order = (rank, *(a for d in range(rank) for a in (rank + 1 + d, d)), 2 * rank + 1)
        y = xp.reshape(xp.permute_dims(y, order), full)
    crop = (slice(None), *(slice(0, size) for size in plan.out), slice(None))
    return y[crop] if tuple(y.shape[1:-1]) != plan.out else y
