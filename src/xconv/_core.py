"""The one N-d convolution: :func:`conv_general`.

Every public function translates its arguments into a :class:`~xconv._spec.ConvSpec`
and calls :func:`conv_general`, which

1. permutes the input to the canonical channels-last layout ``(N, *spatial, C)``,
2. casts to the compute dtype (float16/bfloat16 accumulate in float32),
3. dilates the input (transposed convolution) and pads or crops it,
4. runs one algorithm on the padded array, in chunks that keep its temporaries under
   the memory budget (a Dask array is instead convolved chunk by chunk with halos,
   each block by this same step: :func:`xconv._backend.by_chunks`),
5. casts back to the result dtype and permutes to the caller's layout.

Only standard ``xp`` operations are used here; library-specific work is in
:mod:`xconv._backend`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _backend
from ._algorithms import ALGORITHMS, Algorithm
from ._algorithms._tiling import itemsize_of
from ._padding import pad_canonical
from ._spec import METHODS, ConvSpec, filter_grad_spec, output_size, transpose_spec
from ._typing import Array, Namespace

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "check_memory",
    "conv_filter_grad",
    "conv_general",
    "conv_input_grad",
    "prefers_fft",
    "result_dtype",
    "select_algorithm",
]

#: Default bytes of temporaries (patch matrices) one call may hold at once.
DEFAULT_MEMORY_BUDGET = 256 * 2**20


def result_dtype(xp: Namespace, x: Array, w: Array, *, names: tuple[str, str]) -> Any:
    """``xp.result_type(x, w)``, after checking both are numeric.

    Raises
    ------
    TypeError
        If either dtype is not numeric (bool, object, strings) or they do not promote.
    """
    for name, a in zip(names, (x, w), strict=True):
        try:
            numeric = xp.isdtype(a.dtype, "numeric")
        except (TypeError, ValueError):
            numeric = False
        if not numeric:
            raise TypeError(
                f"{name} must have a numeric dtype (integer, real or complex floating), "
                f"got {a.dtype}"
            )
    try:
        return xp.result_type(x, w)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{names[0]} dtype {x.dtype} and {names[1]} dtype {w.dtype} have no common "
            f"result type in {xp.__name__}: {err}"
        ) from None


def compute_dtype(xp: Namespace, dtype: Any, precision: str | None) -> Any:
    """float16/bfloat16 compute in float32 unless ``precision="native"``.

    Integer dtypes the library cannot contract in compute in a wider integer of the
    same library (exact modulo 2**bits, see :func:`xconv._backend.contraction_dtype`).
    """
    if precision != "native" and xp.isdtype(dtype, "real floating") and xp.finfo(dtype).bits < 32:
        return xp.float32
    return _backend.contraction_dtype(xp, dtype)


#: ``auto`` thresholds, from ``benchmarks/crossover.py`` on 2 cores (NumPy float32):
#: per-group contractions this small (C/g * O/g) use the shift method ...
AUTO_SHIFT_MAX_CONTRACTION = 4
#: ... and switch to FFT from this many kernel taps (5x5 = 25: shift wins; 15x15 = 225:
#: FFT wins by 4x; the crossover is near 7x7 to 9x9) ...
AUTO_FFT_MIN_TAPS = 64
#: ... or from this many when there are several groups (depthwise over several
#: channels, whose shift products run on wide rows): shift / fft time, alternating,
#: 9x9 0.84 / 0.96 / 0.81 and 11x11 0.98 / 1.48 / 1.33 at 1024²x3, 512²x8, 512²x32.
AUTO_FFT_MIN_TAPS_GROUPED = 100
#: ``auto`` runs Winograd F(4, 3) on every axis for 3x3 (2-d) and 3x3x3 (3-d) kernels
#: (stride 1, no dilation, one group, real floating data) with at least
#: ``min_channels`` input and output channels and spatial sizes of at least
#: ``min_size`` (rank -> ``(min_channels, min_size)``), when its transformed filters
#: fit the memory rule. Alternating calls in one process (NumPy float32, 2 cores,
#: median of 8-12 time ratios winograd / gemm): 2-d 56²x64 0.78, 28²x128 0.95,
#: 14²x256 1.44, 7²x512 3.96; 3-d (16,56,56)x32 0.81, 32³x64 0.73, 16³x32 0.86,
#: (16,56,56)x16 0.63; 1-d (4000)x64 1.36 (so no 1-d rule).
AUTO_WINOGRAD_RULES: dict[int, tuple[int, int]] = {2: (64, 28), 3: (16, 16)}
#: Whether ``auto`` uses that rule at all (tests switch it off and on).
AUTO_WINOGRAD = True
#: Dense layers with at most this many output pixels (batch x spatial) per patch
#: column (``prod(k) * C/g``) run ``shift``: their patch matrix is much wider than
#: tall, and one GEMM per kernel tap reads the filters once. Same protocol, shift /
#: gemm: 7²x512 0.91, 14²x256 0.89 (0.085 and 0.68 pixels per column), 28²x128 1.34,
#: 56²x64 1.16 (5.4 and 43).
AUTO_SHIFT_MAX_PIXELS_PER_COLUMN = 2


def choose_method(
    xp: Namespace,
    spec: ConvSpec,
    dtype: Any,
    w_shape: tuple[int, ...] | None,
    sizes: tuple[int, ...] | None = None,
    *,
    transforms: bool = True,
    batch: int = 1,
    accelerator: bool = False,
) -> str:
    """The method ``auto`` runs for this case (see ``docs/decisions.md``).

    - torch and JAX arrays: the library's own convolution (``native``) where it has one
      for the case: it is what those users would call, and it keeps autograd and
      ``jax.jit`` graphs small;
    - depthwise and single-channel convolutions (a per-group contraction of at most
      :data:`AUTO_SHIFT_MAX_CONTRACTION` multiply-adds): ``fft`` for large kernels at
      stride 1 on floating data, else ``shift``;
    - dense one-group layers with few output pixels for their patch width
      (:data:`AUTO_SHIFT_MAX_PIXELS_PER_COLUMN`): ``shift``;
    - when :data:`AUTO_WINOGRAD` is on (the default) and the arrays are in host memory
      (not on a GPU, ``accelerator``: there its many small batched products ran 2x to
      4x slower than ``gemm``), wide 2-d 3x3 and 3-d 3x3x3 layers
      (channels and spatial ``sizes`` of the input per :data:`AUTO_WINOGRAD_RULES`,
      transformed filters no larger
      than the input and output of the ``batch``): ``winograd``;
    - everything else: ``gemm`` (chunked patch matrix, one matmul per chunk).

    ``fft`` and ``winograd`` mix every input of a block or tile into every output of
    it, so a NaN or inf would spread beyond its receptive field: they are chosen only
    with ``transforms`` (the caller checked that the data is finite) and only on
    libraries that compute eagerly (Dask graphs and JAX traces are not inspected).
    Integer data never goes to them, so integer results stay exact.
    """
    if _backend.library(xp) in ("torch", "jax") and not _backend.native_unsupported(
        xp, spec.rank, dtype
    ):
        return "native"
    if w_shape is None:
        return "gemm"
    transforms = transforms and _backend.library(xp) not in ("dask", "jax")
    if transforms and prefers_fft(xp, spec, dtype, w_shape):
        return "fft"
    if w_shape[-2] * (w_shape[-1] // spec.groups) <= AUTO_SHIFT_MAX_CONTRACTION:
        return "shift"
    if sizes is not None and _wide_patches(spec, w_shape, sizes, batch):
        return "shift"
    rule = AUTO_WINOGRAD_RULES.get(spec.rank)
    if (
        transforms
        and AUTO_WINOGRAD
        and not accelerator
        and rule is not None
        and min(w_shape[-2], w_shape[-1]) >= rule[0]
        and spec.groups == 1
        and tuple(w_shape[: spec.rank]) == (3,) * spec.rank
        and set(spec.strides) | set(spec.dilations) | set(spec.lhs_dilations) == {1}
        and sizes is not None
        and min(sizes) >= rule[1]
        and _winograd_filters_fit(w_shape, spec.rank, batch * math.prod(sizes))
        and xp.isdtype(dtype, "real floating")
        and ALGORITHMS["winograd"].reason_not_applicable(spec, w_shape, dtype, xp) is None
    ):
        return "winograd"
    return "gemm"


def _wide_patches(
    spec: ConvSpec, w_shape: tuple[int, ...], sizes: tuple[int, ...], batch: int
) -> bool:
    """Whether a dense, one-group layer has at most
    :data:`AUTO_SHIFT_MAX_PIXELS_PER_COLUMN` output pixels per patch column."""
    taps = math.prod(w_shape[: spec.rank])
    if spec.groups != 1 or taps == 1:
        return False
    pixels = batch * math.prod(-(-n // s) for n, s in zip(sizes, spec.strides))
    return pixels <= AUTO_SHIFT_MAX_PIXELS_PER_COLUMN * taps * w_shape[-2]


def _winograd_filters_fit(w_shape: tuple[int, ...], rank: int, pixels: int) -> bool:
    """Whether Winograd's transformed filters (``6 ** rank`` taps per filter pair, made
    once per call) fit in the input + output elements of ``pixels`` input positions
    (batch x spatial): the temporaries the core allows (:func:`temporaries_cap`)."""
    return 6**rank * w_shape[-2] * w_shape[-1] <= pixels * (w_shape[-2] + w_shape[-1])


def prefers_fft(xp: Namespace, spec: ConvSpec, dtype: Any, w_shape: tuple[int, ...]) -> bool:
    """Whether ``auto``'s rule for small per-group contractions picks ``fft``.

    True for a per-group contraction of at most :data:`AUTO_SHIFT_MAX_CONTRACTION`
    multiply-adds, at least :data:`AUTO_FFT_MIN_TAPS` kernel taps
    (:data:`AUTO_FFT_MIN_TAPS_GROUPED` with several groups), stride 1, and a
    dtype and library the FFT method applies to (floating or complex, an fft
    extension). :func:`choose_method` asks it after ``native``; :mod:`xconv.signal`
    asks it first, as SciPy's ``choose_conv_method`` does.
    """
    taps = math.prod(w_shape[: spec.rank])
    return (
        w_shape[-2] * (w_shape[-1] // spec.groups) <= AUTO_SHIFT_MAX_CONTRACTION
        and taps >= (AUTO_FFT_MIN_TAPS if spec.groups == 1 else AUTO_FFT_MIN_TAPS_GROUPED)
        and all(s == 1 for s in spec.strides)
        and ALGORITHMS["fft"].reason_not_applicable(spec, w_shape, dtype, xp) is None
    )


def select_algorithm(
    method: str,
    xp: Namespace,
    spec: ConvSpec,
    dtype: Any,
    w_shape: tuple[int, ...] | None = None,
    sizes: tuple[int, ...] | None = None,
    batch: int = 1,
    accelerator: bool = False,
) -> Algorithm:
    """The algorithm for ``method`` (``"auto"`` chooses), or a ``ValueError``.

    An explicitly requested method whose ``applies`` hook gives a reason for the case
    (filters of shape ``w_shape``) raises ``ValueError`` with that reason. ``sizes``:
    the input's spatial sizes, and ``accelerator`` (the arrays are on a GPU), for ``auto``.
    """
    if method == "auto":
        name = choose_method(xp, spec, dtype, w_shape, sizes, batch=batch, accelerator=accelerator)
        return ALGORITHMS[name]
    if method == "native":
        reason = _backend.native_unsupported(xp, spec.rank, dtype)
        if reason:
            raise ValueError(f"method='native' does not apply: {reason}")
    if method in ALGORITHMS:
        algorithm = ALGORITHMS[method]
        if w_shape is not None:
            reason = algorithm.reason_not_applicable(spec, w_shape, dtype, xp)
            if reason:
                raise ValueError(f"method={method!r} does not apply: {reason}")
        return algorithm
    raise ValueError(
        f"method={method!r} is not available in this version of xconv; "
        f"available: {', '.join(repr(m) for m in METHODS if m == 'auto' or m in ALGORITHMS)}"
    )


def dilate_canonical(x: Array, factors: tuple[int, ...], *, xp: Namespace) -> Array:
    """Insert ``factor - 1`` zeros between neighbours along each spatial axis.

    Each axis gets a new axis of length 1 after it, joined with one block of zeros of
    length ``factor - 1``, then the two are merged by ``reshape`` and the trailing
    zeros cut off: ``concat`` + ``reshape`` + slicing only, so it needs no item
    assignment (JAX arrays are immutable), stays lazy on Dask, and costs the same for
    any factor.
    """
    for axis, f in enumerate(factors, start=1):
        n = x.shape[axis]
        if f == 1 or n == 0:
            continue
        x = xp.expand_dims(x, axis=axis + 1)
        zeros_shape = (*x.shape[: axis + 1], f - 1, *x.shape[axis + 2 :])
        zeros = xp.zeros(zeros_shape, dtype=x.dtype, device=_backend.device(x))
        x = xp.concat([x, zeros], axis=axis + 1)
        x = xp.reshape(x, (*x.shape[:axis], n * f, *x.shape[axis + 2 :]))
        index = [slice(None)] * x.ndim
        index[axis] = slice(0, (n - 1) * f + 1)
        x = x[tuple(index)]
    return x


def conv_general(
    x: Array,
    w: Array,
    spec: ConvSpec,
    *,
    xp: Namespace,
    dtype: Any,
    method: str = "auto",
    memory_budget: int | None = None,
    precision: str | None = None,
    per_chunk: bool = True,
) -> Array:
    """Convolve ``x`` (caller's layout) with ``w (*k, C/groups, O)`` as ``spec`` says.

    ``dtype`` is the result dtype (see :func:`result_dtype`). Arguments are assumed
    validated by :mod:`xconv._spec`; the inputs are never modified. ``per_chunk=False``
    keeps a Dask input on the whole-array path instead of convolving it chunk by chunk
    (the filter gradient: its contraction runs over the batch, which no halo splits).
    """
    cdtype = compute_dtype(xp, dtype, precision)
    sizes = tuple(x.shape[i] for i in spec.to_canonical)[1:-1]
    batch = x.shape[spec.to_canonical[0]]
    accelerator = _backend.on_accelerator(xp, x)
    algorithm = select_algorithm(
        method, xp, spec, cdtype, tuple(w.shape), sizes, batch, accelerator
    )
    transforms = algorithm.name in ("fft", "winograd")
    if method == "auto" and transforms and not _backend.all_finite(xp, x, w):
        # Keep NaN and inf where a direct sum puts them: choose among the direct methods.
        name = choose_method(
            xp,
            spec,
            cdtype,
            tuple(w.shape),
            sizes,
            transforms=False,
            batch=batch,
            accelerator=accelerator,
        )
        algorithm = ALGORITHMS[name]
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else int(memory_budget)
    check_memory(xp, x, tuple(w.shape), spec, algorithm, cdtype, dtype, budget, accelerator)
    run = _backend.staged(xp, _pipeline, algorithm, spec, cdtype, dtype, budget, per_chunk, xp)
    return run(x, w)


def temporaries_cap(
    budget: int, itemsize: int, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> int:
    """Most bytes of temporaries an algorithm may hold at once in one call.

    ``min(budget, input + output bytes)`` for the padded input and the result in the
    compute dtype: the memory budget, and never more than the arrays the call reads
    and writes (issue 5's rule: peak extra memory at most twice the input and
    output). :func:`_chunked` cuts the work to stay under it, and
    :func:`check_memory` counts it.
    """
    return min(budget, itemsize * (math.prod(in_shape) + math.prod(out_shape)))


def check_memory(
    xp: Namespace,
    x: Array,
    w_shape: tuple[int, ...],
    spec: ConvSpec,
    algorithm: Algorithm,
    cdtype: Any,
    dtype: Any,
    budget: int,
    accelerator: bool,
) -> None:
    """Raise ``MemoryError`` before any work when the call cannot fit in memory.

    Counts the result, the padded (and dilated, cast) input when one is made, and the
    algorithm's temporaries (capped by :func:`temporaries_cap`: the core chunks above
    it), against the memory of the array's device (:func:`xconv._backend.memory_limit`;
    no check where that is unknown, e.g. Dask, which computes block by block).
    ``accelerator``: the arrays live on a GPU (:func:`xconv._backend.on_accelerator`,
    asked once by :func:`conv_general`), where the temporaries are sized for it.
    """
    limit = _backend.memory_limit(xp, x)
    if limit is None:
        return
    canonical = tuple(x.shape[i] for i in spec.to_canonical)
    n, sizes, c = canonical[0], canonical[1:-1], canonical[-1]
    out_shape = (n, *spec.output_sizes(sizes, w_shape[: spec.rank]), w_shape[-1])
    padded_shape = (
        n,
        *(m + lo + hi for m, (lo, hi) in zip(spec.dilated_sizes(sizes), spec.pads, strict=True)),
        c,
    )
    citem = itemsize_of(xp, cdtype)
    out_bytes = math.prod(out_shape) * itemsize_of(xp, dtype)
    copied = padded_shape != canonical or cdtype != x.dtype or spec.channels_first
    padded_bytes = math.prod(padded_shape) * citem if copied else 0
    work = 0
    if 0 not in out_shape:
        work = min(
            algorithm.workspace_bytes(padded_shape, w_shape, spec, citem, accelerator=accelerator),
            temporaries_cap(budget, citem, padded_shape, out_shape),
        )
    need = out_bytes + padded_bytes + work
    if need > limit:
        gib = 2.0**30
        raise MemoryError(
            f"this convolution needs about {need / gib:.3g} GiB: its result of shape "
            f"{out_shape} ({out_bytes / gib:.3g} GiB), the padded input of shape "
            f"{padded_shape} ({padded_bytes / gib:.3g} GiB) and {work / gib:.3g} GiB of "
            f"temporaries, more than the {limit / gib:.3g} GiB of memory on "
            f"{_backend.device(x) or 'this machine'}; check padding, output_shape and the "
            "input's size"
        )


def _pipeline(
    algorithm: Algorithm,
    spec: ConvSpec,
    cdtype: Any,
    dtype: Any,
    budget: int,
    per_chunk: bool,
    xp: Namespace,
    x: Array,
    w: Array,
) -> Array:
    """The work of :func:`conv_general`: cast, permute, dilate, pad, run, cast back.

    A pure function of ``x`` and ``w`` once the leading (static) arguments are fixed,
    so JAX compiles it as one program (:func:`xconv._backend.staged`).
    """
    x = xp.astype(x, cdtype, copy=False)  # no copy when the dtype is already right
    w = xp.astype(w, cdtype, copy=False)
    if spec.channels_first:
        x = xp.permute_dims(x, spec.to_canonical)
    run = functools.partial(_run, algorithm, budget, per_chunk, xp=xp)
    phases = phase_plan(spec, tuple(x.shape[1:-1]), tuple(w.shape), algorithm, cdtype, xp)
    if phases is not None:
        y = _run_phases(phases, run, x, w, xp=xp)
    elif algorithm.name == "native" and _plain_zero_padding(spec):
        y = _native_padded(x, w, spec, xp=xp)
    else:
        x = dilate_canonical(x, spec.lhs_dilations, xp=xp)
        # Depthwise shift (C/g == 1) runs on host threads: so does its padded copy.
        depthwise = algorithm.name == "shift" and w.shape[-2] == 1
        threads = _backend.host_threads(xp) if depthwise else 1
        x = pad_canonical(
            x, spec.pads, spec.padding_mode, xp=xp, value=spec.pad_value, threads=threads
        )
        y = run(spec, x, w)
    if y.dtype != dtype:
        y = xp.astype(y, dtype)
    if spec.channels_first:
        y = xp.permute_dims(y, spec.from_canonical)
    return y


def _plain_zero_padding(spec: ConvSpec) -> bool:
    """Zero padding (no crops) and no input dilation: what a library's own convolution
    can pad itself."""
    return (
        spec.padding_mode == "zeros"
        and spec.pad_value == 0
        and all(f == 1 for f in spec.lhs_dilations)
        and min((p for pair in spec.pads for p in pair), default=0) >= 0
    )


def _native_padded(x: Array, w: Array, spec: ConvSpec, *, xp: Namespace) -> Array:
    """``native`` on the unpadded canonical ``x``: the library pads what it can itself
    (:func:`xconv._backend.native_pads`), no padded copy of the input is made for it."""
    takes = _backend.native_pads(xp, x, spec)
    rest = tuple((lo - a, hi - b) for (lo, hi), (a, b) in zip(spec.pads, takes, strict=True))
    x = pad_canonical(x, rest, "zeros", xp=xp)
    rank = spec.rank
    out = tuple(
        output_size(n, k, s, d, lo, hi)
        for n, k, s, d, (lo, hi) in zip(
            x.shape[1:-1], w.shape[:rank], spec.strides, spec.dilations, takes, strict=True
        )
    )
    n, o = x.shape[0], w.shape[-1]
    if n == 0 or o == 0 or 0 in out:
        return xp.zeros((n, *out, o), dtype=x.dtype, device=_backend.device(x))
    return _backend.native_conv(x, w, spec, xp=xp, pads=takes)


def _run(
    algorithm: Algorithm,
    budget: int,
    per_chunk: bool,
    spec: ConvSpec,
    x: Array,
    w: Array,
    *,
    xp: Namespace,
) -> Array:
    """VALID convolution of the padded canonical ``x``: by Dask chunks, then in budget."""
    run = functools.partial(_chunked, algorithm, spec, budget)
    return _backend.by_chunks(run, x, w, spec, xp=xp) if per_chunk else run(x, w, xp=xp)


#: Most sub-pixel phases one input-dilated convolution is split into (one algorithm
#: call each); beyond, the input is dilated with zeros instead.
MAX_PHASES = 64


@dataclass(frozen=True)
class _Phases:
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
) -> _Phases | None:
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
            if algorithm.reason_not_applicable(phase_spec, sub, dtype, xp) is not None:
                return None
    return _Phases(phase_spec, tuple(outs), tuple(rows), tuple(pads), tuple(taps))


def _run_phases(
    plan: _Phases,
    run: Callable[[ConvSpec, Array, Array], Array],
    x: Array,
    w: Array,
    *,
    xp: Namespace,
) -> Array:
    """The input-dilated convolution of canonical ``x`` as ``plan``'s interleaved phases.

    ``run(spec, x, w)`` convolves one phase (:func:`_run`, its options bound).
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


def _chunked(
    algorithm: Algorithm,
    spec: ConvSpec,
    budget: int,
    x: Array,
    w: Array,
    *,
    xp: Namespace,
    cap: int | None = None,
    prepared: dict[str, Any] | None = None,
) -> Array:
    """Run ``algorithm`` on batch chunks, then output-row chunks, to bound temporaries.

    The algorithm's temporaries (its ``workspace_bytes``) stay under
    ``min(budget, in + out bytes)``: the memory budget, and never more than the
    arrays the call reads and writes (issue 5's rule: peak extra memory at most twice
    the input and output). A chunk of output rows ``[r0, r1)`` along the first
    spatial axis reads input rows ``[r0 * s, (r1 - 1) * s + (k - 1) * d + 1)`` of the
    padded input. Chunks are written into one preallocated result where the library
    allows it, else concatenated. The filters are prepared once for every chunk
    (:meth:`~xconv._algorithms.Algorithm.prepare`: Winograd's transformed filters).
    ``cap`` and ``prepared`` are the top call's, passed down to the batch chunks.
    """
    n, o = x.shape[0], w.shape[-1]
    out = tuple(
        output_size(size, k, s, d, 0, 0)
        for size, k, s, d in zip(
            x.shape[1:-1], w.shape[:-2], spec.strides, spec.dilations, strict=True
        )
    )
    dev = _backend.device(x)
    if n == 0 or 0 in out or o == 0:  # nothing to compute: no algorithm runs
        return xp.zeros((n, *out, o), dtype=x.dtype, device=dev)
    itemsize = itemsize_of(xp, x.dtype)
    need = algorithm.workspace_bytes(
        tuple(x.shape), tuple(w.shape), spec, itemsize, accelerator=_backend.on_accelerator(xp, x)
    )
    if cap is None:
        cap = temporaries_cap(budget, itemsize, tuple(x.shape), (n, *out, o))
    if prepared is None:
        prepared = algorithm.prepare(w, spec, xp) if need > cap else {}
    if need <= cap:
        return algorithm(x, w, spec, xp=xp, **prepared)
    k, s, d = w.shape[0], spec.strides[0], spec.dilations[0]
    if n > 1:
        step, size, axis = max(1, n * cap // need), n, 0
    else:  # one image: chunks of output rows along the first spatial axis
        step, size, axis = max(1, out[0] * cap // need), out[0], 1
        if size <= 1:
            return algorithm(x, w, spec, xp=xp, **prepared)
        step = algorithm.row_multiple * max(1, step // algorithm.row_multiple)
    inplace = _backend.supports_inplace(xp, x, w)
    y = xp.empty((n, *out, o), dtype=x.dtype, device=dev) if inplace else None
    parts = []
    for i in range(0, size, step):
        j = min(i + step, size)
        if axis == 0:  # an image may still need row chunks
            part = _chunked(
                algorithm, spec, budget, x[i:j, ...], w, xp=xp, cap=cap, prepared=prepared
            )
        else:
            rows = x[:, i * s : (j - 1) * s + (k - 1) * d + 1, ...]
            part = algorithm(rows, w, spec, xp=xp, **prepared)
        if y is None:
            parts.append(part)
        else:
            _backend.copy_into(y[(slice(None),) * axis + (slice(i, j),)], part, xp=xp)
    return y if y is not None else xp.concat(parts, axis=axis)


def conv_input_grad(
    dy: Array,
    w: Array,
    fwd: ConvSpec,
    in_sizes: tuple[int, ...],
    *,
    xp: Namespace,
    dtype: Any,
    **options: Any,
) -> Array:
    """Gradient of the forward convolution ``fwd`` w.r.t. its input (= transposed conv).

    ``dy`` is in the caller's layout; ``w`` is the forward filter ``(*k, C/g, O)``. The
    filter is flipped in space and regrouped to ``(*k, O/g, C)``; the core then runs
    with input dilation = forward strides (see :func:`xconv._spec.transpose_spec`).
    """
    rank, groups = fwd.rank, fwd.groups
    k_sizes, cg, o = tuple(w.shape[:rank]), w.shape[-2], w.shape[-1]
    og = o // groups
    wt = xp.flip(w, axis=tuple(range(rank))) if rank else w
    wt = xp.reshape(wt, (*k_sizes, cg, groups, og))
    wt = xp.permute_dims(wt, (*range(rank), rank + 2, rank + 1, rank))
    wt = xp.reshape(wt, (*k_sizes, og, groups * cg))
    spec = transpose_spec(fwd, in_sizes, k_sizes)
    return conv_general(dy, wt, spec, xp=xp, dtype=dtype, **options)


def conv_filter_grad(
    x: Array,
    dy: Array,
    fwd: ConvSpec,
    k_sizes: tuple[int, ...],
    *,
    xp: Namespace,
    dtype: Any,
    **options: Any,
) -> Array:
    """Gradient of the forward convolution ``fwd`` w.r.t. its filter, ``(*k, C/g, O)``.

    The input becomes ``(C/g, *S, g * N)`` (batch and channels swapped, groups moved
    into the channel axis) and the output gradient ``(*m, N, O)`` becomes the kernel:
    a grouped convolution with stride = forward dilation and dilation = forward stride
    (see :func:`xconv._spec.filter_grad_spec`).
    """
    rank, groups = fwd.rank, fwd.groups
    if fwd.channels_first:
        x = xp.permute_dims(x, fwd.to_canonical)
        dy = xp.permute_dims(dy, fwd.to_canonical)
    n, in_sizes, c = x.shape[0], tuple(x.shape[1:-1]), x.shape[-1]
    cg, o = c // groups, dy.shape[-1]
    if n == 0 or 0 in dy.shape[1:-1]:
        return xp.zeros((*k_sizes, cg, o), dtype=dtype, device=_backend.device(x))
    xs = xp.reshape(x, (n, *in_sizes, groups, cg))
    xs = xp.permute_dims(xs, (rank + 2, *range(1, rank + 1), rank + 1, 0))
    xs = xp.reshape(xs, (cg, *in_sizes, groups * n))
    kernel = xp.permute_dims(dy, (*range(1, rank + 1), 0, rank + 1))
    spec = filter_grad_spec(fwd, in_sizes, k_sizes)
    g = conv_general(xs, kernel, spec, xp=xp, dtype=dtype, per_chunk=False, **options)
    # g is (Cg, *k, O)
    return xp.permute_dims(g, (*range(1, rank + 1), 0, rank + 1))
