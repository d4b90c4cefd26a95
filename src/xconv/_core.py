"""The one N-d convolution: :func:`conv_general`.

Every public function translates its arguments into a :class:`~xconv._spec.ConvSpec`
and runs :func:`conv_general` (in its two halves, below), which

1. permutes the input to the canonical channels-last layout ``(N, *spatial, C)``,
2. casts to the compute dtype (float16/bfloat16 accumulate in float32),
3. dilates the input (transposed convolution; or splits it into sub-pixel phases,
   :mod:`xconv._phases`) and pads or crops it,
4. runs one algorithm on the padded array (chosen by :mod:`xconv._auto` for
   ``method="auto"``), in chunks that keep its temporaries under the memory budget
   (:mod:`xconv._memory`; a Dask array is instead convolved chunk by chunk with
   halos, each block by this same step: :func:`xconv._dask.convolve`),
5. casts back to the result dtype and permutes to the caller's layout.

The gradients with respect to the input and the filters are the same convolution
with other numbers. Only standard ``xp`` operations are used here; library-specific
work is in :mod:`xconv._backend`.

Each entry point is two halves: a *plan* of everything decided from shapes, dtypes,
devices and arguments (:func:`plan_general`, :func:`plan_input_grad`,
:func:`plan_filter_grad`: the algorithm, the compute dtype, the memory check), and its
run on the data (:func:`run_plan`, :func:`run_input_grad`, :func:`run_filter_grad`),
which decides what depends on the values (``auto``'s finiteness check). The public
functions keep the plans of their calls (:mod:`xconv._plan`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, Literal

from . import _backend, _dask, _workspace
from ._algorithms import ALGORITHMS, Algorithm
from ._algorithms._tiling import itemsize_of
from ._auto import RULES, AutoRules, choose_method, prefers_fft, select_algorithm
from ._memory import DEFAULT_MEMORY_BUDGET, check_memory, temporaries_cap
from ._padding import pad_canonical
from ._phases import phase_plan, run_phases
from ._scatter import run_scatter, scatter_applies
from ._spec import ConvSpec, filter_grad_spec, output_size, transpose_spec
from ._typing import Array, Namespace

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "GradPlan",
    "Plan",
    "check_memory",
    "choose_method",
    "compute_dtype",
    "conv_filter_grad",
    "conv_general",
    "conv_input_grad",
    "plan_filter_grad",
    "plan_general",
    "plan_input_grad",
    "prefers_fft",
    "result_dtype",
    "run_filter_grad",
    "run_input_grad",
    "run_plan",
    "select_algorithm",
]


def result_dtype(xp: Namespace, x: Array, w: Array, *, names: tuple[str, str]) -> Any:
    """``xp.result_type(x, w)``, after checking both are numeric.

    NumPy's extension floats from ``ml_dtypes`` (bfloat16, float8) count as numeric
    and promote as NumPy promotes them (bfloat16 with bfloat16 is bfloat16, with
    float32 float32).

    Raises
    ------
    TypeError
        If either dtype is not numeric (bool, object, strings) or they do not promote.
    """
    for name, a in zip(names, (x, w), strict=True):
        try:
            numeric = _backend.extension_float(a.dtype) or xp.isdtype(a.dtype, "numeric")
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

    NumPy's extension floats (``ml_dtypes``' bfloat16 and float8 formats) always compute
    in float32: NumPy has no arithmetic kernels of its own for them.

    Integer dtypes the library cannot contract in compute in a wider integer of the
    same library (exact modulo 2**bits, see :func:`xconv._backend.contraction_dtype`).
    """
    if _backend.extension_float(dtype):
        return xp.float32
    if precision != "native" and xp.isdtype(dtype, "real floating") and xp.finfo(dtype).bits < 32:
        return xp.float32
    return _backend.contraction_dtype(xp, dtype)


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


@dataclasses.dataclass(frozen=True, eq=False)
class Plan:
    """What :func:`conv_general` decides for one case, before it reads any data.

    Made by :func:`plan_general` from the input's shape, dtype and device, the
    filters' shape and the arguments, and run on data of that description by
    :func:`run_plan` (:mod:`xconv._plan` keeps plans for the calls that repeat).
    """

    xp: Namespace
    spec: ConvSpec
    #: The result dtype.
    dtype: Any
    w_shape: tuple[int, ...]
    method: str
    precision: str | None
    memory_budget: int | None
    per_chunk: bool
    rules: AutoRules
    algorithm: Algorithm
    #: The memory budget in bytes (the default where ``memory_budget`` is None).
    budget: int
    #: ``run(x, w)``: the pipeline with every decision fixed (staged where that pays).
    run: Callable[[Array, Array], Array]
    #: The plans that replace this one for non-finite data (``"non-finite"``) or after
    #: cuDNN refused the case (``"native refused"``), made the first time they are
    #: needed (:meth:`instead`).
    others: dict[str, Plan] = dataclasses.field(default_factory=dict, repr=False)

    def instead(self, reason: Literal["non-finite", "native refused"], x: Array) -> Plan:
        """The plan that replaces this one for ``reason`` (for input ``x``), made once."""
        plan = self.others.get(reason)
        if plan is None:
            rules = self.rules
            if reason == "native refused":
                rules = dataclasses.replace(rules, cupy_native=False)
            plan = plan_general(
                x, self.w_shape, self.spec, xp=self.xp, dtype=self.dtype, method=self.method,
                memory_budget=self.memory_budget, precision=self.precision,
                per_chunk=self.per_chunk, rules=rules, finite=reason != "non-finite",
            )  # fmt: skip
            self.others[reason] = plan
        return plan


def plan_general(
    x: Array,
    w_shape: tuple[int, ...],
    spec: ConvSpec,
    *,
    xp: Namespace,
    dtype: Any,
    method: str = "auto",
    memory_budget: int | None = None,
    precision: str | None = None,
    per_chunk: bool = True,
    rules: AutoRules = RULES,
    x_shape: tuple[int, ...] | None = None,
    finite: bool = True,
) -> Plan:
    """The decisions of :func:`conv_general` for input ``x`` and filters of ``w_shape``.

    Only ``x``'s dtype and device are read, and its shape unless ``x_shape`` gives the
    shape of the input the plan will run on (one not made yet). ``finite=False`` plans
    for data with NaN or inf: ``auto`` then chooses among the methods that do not mix
    values. Raises ``ValueError`` for an explicit ``method`` that does not apply and
    ``MemoryError`` for work that cannot fit (:func:`~xconv._memory.check_memory`).
    """
    shape = tuple(x.shape) if x_shape is None else x_shape
    cdtype = compute_dtype(xp, dtype, precision)
    sizes = tuple(shape[i] for i in spec.to_canonical)[1:-1]
    accelerator = _backend.on_accelerator(xp, x)
    # In host memory every sample runs alone (:func:`_chunked`): auto chooses for one.
    batch = shape[spec.to_canonical[0]] if accelerator or not per_chunk else 1
    if finite:
        algorithm = select_algorithm(
            method, xp, spec, cdtype, w_shape, sizes, batch, accelerator, rules=rules
        )
    else:  # Keep NaN and inf where a direct sum puts them.
        name = choose_method(
            xp, spec, cdtype, w_shape, sizes, finite=False, batch=batch,
            accelerator=accelerator, rules=rules,
        )  # fmt: skip
        algorithm = ALGORITHMS[name]
    if algorithm.pads_itself and _backend.native_accumulates_half(xp):
        cdtype = compute_dtype(xp, dtype, "native")  # (cuDNN accumulates halves in float32)
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else int(memory_budget)
    check_memory(xp, x, w_shape, spec, algorithm, cdtype, dtype, budget, accelerator, shape=shape)
    run = _backend.staged(xp, _pipeline, algorithm, spec, cdtype, dtype, budget, per_chunk, xp)
    return Plan(
        xp, spec, dtype, w_shape, method, precision, memory_budget, per_chunk, rules,
        algorithm, budget, run,
    )  # fmt: skip


def run_plan(plan: Plan, x: Array, w: Array) -> Array:
    """Convolve ``x`` with ``w`` as ``plan`` says (arrays of the shapes, dtypes and
    device it was made for).

    What depends on the data is decided here, on every call: ``auto`` with a method
    that mixes values checks that the data is finite (after the memory check, which
    the plan passed: the check reads the data, in bounded slices) and runs the plan
    for non-finite data where it is not; where cuDNN finds no plan for the case at
    run time, ``auto`` runs xconv's own methods (their plan is made once and kept).
    """
    mixing = plan.method == "auto" and plan.algorithm.mixes_values
    if mixing and not _backend.all_finite(plan.xp, x, w):
        plan = plan.instead("non-finite", x)
    try:
        return _workspace.call(plan.budget, plan.run, x, w)  # temporaries: the thread's cache
    except _backend.NativeRefused:
        if plan.method != "auto" or not plan.rules.cupy_native:
            raise
    return run_plan(plan.instead("native refused", x), x, w)


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
    rules: AutoRules = RULES,
) -> Array:
    """Convolve ``x`` (caller's layout) with ``w (*k, C/groups, O)`` as ``spec`` says.

    ``dtype`` is the result dtype (see :func:`result_dtype`). Arguments are assumed
    validated by :mod:`xconv._spec`; the inputs are never modified. ``per_chunk=False``
    says that the leading axis is not a batch of independent samples (the filter
    gradient: its contraction runs over the batch): it keeps a Dask input on the
    whole-array path instead of convolving it chunk by chunk (no halo splits it), and
    the axis is not run one sample at a time.

    In host memory each sample of the batch runs alone (:func:`_chunked`), with the
    same tiles and the same choice of ``auto`` whatever the batch is, so that a
    sample's result is bit for bit the same in any batch (BLAS rounds a row of a
    product differently as the number of rows changes).

    :func:`plan_general` then :func:`run_plan`: the decisions, then the work.
    """
    plan = plan_general(
        x, tuple(w.shape), spec, xp=xp, dtype=dtype, method=method,
        memory_budget=memory_budget, precision=precision, per_chunk=per_chunk, rules=rules,
    )  # fmt: skip
    return run_plan(plan, x, w)


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
    sizes, w_shape = tuple(x.shape[1:-1]), tuple(w.shape)
    phases = phase_plan(spec, sizes, w_shape, algorithm, cdtype, xp)
    if (
        algorithm.name == "gemm"
        and scatter_applies(spec, sizes, w_shape)
        and _backend.supports_inplace(xp, x, w)
    ):  # GEMM of an input-dilated convolution: one product and a scatter-add
        y = run_scatter(spec, x, w, budget, xp=xp)
    elif phases is not None:
        y = run_phases(phases, run, x, w, xp=xp)
    elif algorithm.pads_itself and _plain_zero_padding(spec):
        y = _self_padded(algorithm, x, w, spec, per_chunk, xp=xp)
    else:
        x = dilate_canonical(x, spec.lhs_dilations, xp=xp)
        # Depthwise filters (C/g == 1) that run on host threads: so does their padded copy.
        threaded = algorithm.host_threaded and w.shape[-2] == 1
        threads = _backend.host_threads(xp) if threaded else 1
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


def _self_padded(
    algorithm: Algorithm, x: Array, w: Array, spec: ConvSpec, per_sample: bool, *, xp: Namespace
) -> Array:
    """An algorithm that pads itself (``native``) on the unpadded canonical ``x``: the
    library pads what it can (:func:`xconv._backend.native_pads`), no padded copy of
    the input is made for it. With ``per_sample``, in host memory, a library whose
    convolution rounds a sample differently in another batch
    (:func:`xconv._backend.native_batch_invariant`) runs one sample at a time."""
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
    # Nothing to compute, or an empty input the library would pad itself to a
    # non-empty one: zeros (torch's convolutions refuse empty spatial axes).
    if 0 in x.shape or o == 0 or 0 in out:
        return _zeros((n, *out, o), x, xp=xp)
    if (
        per_sample
        and n > 1
        and not _backend.on_accelerator(xp, x)
        and not _backend.native_batch_invariant(xp)
    ):
        return _backend.map_samples(lambda xi: algorithm(xi, w, spec, xp=xp, pads=takes), x, xp=xp)
    return algorithm(x, w, spec, xp=xp, pads=takes)


def _zeros(shape: tuple[int, ...], like: Array, *, xp: Namespace) -> Array:
    """Zeros of ``shape`` with ``like``'s dtype and device: an empty result, or the
    result of an empty input (:func:`xconv._backend.zero_size` when nothing is in it)."""
    if 0 in shape:
        return _backend.zero_size(shape, like.dtype, xp=xp, device=_backend.device(like))
    return xp.zeros(shape, dtype=like.dtype, device=_backend.device(like))


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
    """VALID convolution of the padded canonical ``x``: by Dask chunks, then in budget.

    With ``per_chunk``, a Dask array whose filters are small enough to copy to every
    task is convolved chunk by chunk with halos, lazily (:func:`xconv._dask.convolve`:
    each block is computed by :func:`_chunked` on the block's own array type).
    Everything else, and empty results, go to :func:`_chunked` whole.
    """
    run = functools.partial(_chunked, algorithm, spec, budget, per_sample=per_chunk)
    return _dask.by_chunks(run, x, w, spec, xp=xp) if per_chunk else run(x, w, xp=xp)


def _sample_threads(algorithm: Algorithm, xp: Namespace, work: int, depthwise: bool) -> int:
    """Host threads for the samples of a host batch (:func:`xconv._backend.sample_threads`),
    each sample's contraction ``work`` multiply-adds (its largest product at most);
    1 for a library's own convolution, and for ``depthwise`` filters (``C/g == 1``)
    where the algorithm runs them on host threads itself."""
    if algorithm.pads_itself or (algorithm.host_threaded and depthwise):
        return 1
    return _backend.sample_threads(xp, work)


def _piece_rows(algorithm: Algorithm, xp: Namespace, work: int, depthwise: bool, rows: int) -> int:
    """Output rows (first spatial axis) of each piece one sample of ``work``
    multiply-adds is cut into: all ``rows`` where its products are small enough for
    one BLAS thread, or where the samples do not run on xconv's threads (another
    library, a library's own convolution, a depthwise method that threads itself, the
    FFT: ``Algorithm.row_pieces``);
    else pieces of at most ``BLAS_SMALL_WORK / 2`` multiply-adds (rounded up to the
    algorithm's ``row_multiple``), which :func:`_chunked` runs on host threads, each on
    one BLAS thread. Fixed by the sample's shapes alone: the pieces, and with them the
    bits, are the same whatever the batch and however many threads run them."""
    if (
        work < _backend.BLAS_SMALL_WORK
        or rows <= 1
        or not _backend.capabilities(xp).host_threads
        or not algorithm.row_pieces
        or algorithm.pads_itself
        or (algorithm.host_threaded and depthwise)
    ):
        return rows
    pieces = min(rows, -(-2 * work // _backend.BLAS_SMALL_WORK))
    step = -(-rows // pieces)
    return min(rows, algorithm.row_multiple * -(-step // algorithm.row_multiple))


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
    per_sample: bool = False,
    into: Array | None = None,
) -> Array:
    """Run ``algorithm`` on batch chunks, then output-row chunks, to bound temporaries.

    With ``per_sample`` (the leading axis is a batch of samples), in host memory,
    each sample runs alone, its output-row chunks sized for one sample: every product
    then has the same shapes whatever the batch is, so each sample's result is the same
    bits in any batch. Where the library writes in place, each sample (on one of
    :func:`_sample_threads`'s threads) writes its rows ``into`` its slice of one
    result, with no result of its own; elsewhere :func:`xconv._backend.map_samples`
    joins the samples' results.

    The algorithm's temporaries (its ``workspace_bytes``) stay under
    ``min(budget, in + out bytes)``: the memory budget, and never more than the
    arrays the call reads and writes (peak extra memory at most twice the input and
    output). A chunk of output rows ``[r0, r1)`` along the first
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
        return _zeros((n, *out, o), x, xp=xp)
    inplace = _backend.supports_inplace(xp, x, w)
    work = math.prod(out) * math.prod(w.shape)  # a sample's multiply-adds
    depthwise = w.shape[-2] == 1
    host = per_sample and not _backend.on_accelerator(xp, x)
    step = _piece_rows(algorithm, xp, work, depthwise, out[0]) if host and inplace else out[0]
    if host and (n > 1 or step < out[0]):
        once = algorithm.prepare(w, spec, xp) if prepared is None else prepared
        one = functools.partial(_chunked, algorithm, spec, budget, w=w, xp=xp, prepared=once)
        if not inplace:
            return _backend.map_samples(_workspace.carried(one), x, xp=xp)
        y = xp.empty((n, *out, o), dtype=x.dtype, device=dev)
        k, s, d = w.shape[0], spec.strides[0], spec.dilations[0]
        jobs = [(i, r, min(r + step, out[0])) for i in range(n) for r in range(0, out[0], step)]
        if len(jobs) > n:  # pieces of rows, each a small enough product for one BLAS thread
            threads = _sample_threads(algorithm, xp, 0, depthwise)
            # as many at once as the temporaries cap of one sample holds (at least one)
            itemsize = itemsize_of(xp, x.dtype)
            piece = (1, (step - 1) * s + (k - 1) * d + 1, *x.shape[2:])
            need = algorithm.workspace_bytes(piece, tuple(w.shape), spec, itemsize)
            sample_cap = temporaries_cap(budget, itemsize, (1, *x.shape[1:]), (1, *out, o))
            threads = max(1, min(threads, sample_cap // max(need, 1)))
        else:
            threads = _sample_threads(algorithm, xp, work, depthwise)

        # each thread's temporaries come from its own workspace, as the caller's would
        @_workspace.carried
        def job(t: int) -> Array:
            i, r0, r1 = jobs[t]
            if r1 - r0 == out[0]:  # the whole sample, as a batch of one runs it
                return one(x[i : i + 1, ...], into=y[i : i + 1, ...])
            rows = x[i : i + 1, r0 * s : (r1 - 1) * s + (k - 1) * d + 1, ...]
            return one(rows, into=y[i : i + 1, r0:r1, ...])

        _backend.parallel_map(job, len(jobs), threads)
        return y
    itemsize = itemsize_of(xp, x.dtype)
    need = algorithm.workspace_bytes(
        tuple(x.shape), tuple(w.shape), spec, itemsize, accelerator=_backend.on_accelerator(xp, x)
    )
    if cap is None:
        cap = temporaries_cap(budget, itemsize, tuple(x.shape), (n, *out, o))
    if prepared is None:
        prepared = algorithm.prepare(w, spec, xp) if need > cap else {}
    k, s, d = w.shape[0], spec.strides[0], spec.dilations[0]
    size, axis = (n, 0) if n > 1 else (out[0], 1)  # one image: chunks of output rows
    if need <= cap or size <= 1:
        whole = algorithm(x, w, spec, xp=xp, **prepared)
        if into is None:
            return whole
        _backend.copy_into(into, whole, xp=xp)
        return into
    step = max(1, size * cap // need)
    if axis == 1:
        step = algorithm.row_multiple * max(1, step // algorithm.row_multiple)
    y = into if into is not None else xp.empty((n, *out, o), dtype=x.dtype, device=dev)
    y = y if inplace else None
    parts = []
    for i in range(0, size, step):
        j = min(i + step, size)
        if axis == 0:  # an image may still need row chunks
            part = _chunked(
                algorithm,
                spec,
                budget,
                x[i:j, ...],
                w,
                xp=xp,
                cap=cap,
                prepared=prepared,
                into=None if y is None else y[i:j, ...],
            )
            if y is not None:
                continue  # written in place
        else:
            rows = x[:, i * s : (j - 1) * s + (k - 1) * d + 1, ...]
            part = algorithm(rows, w, spec, xp=xp, **prepared)
        if y is None:
            parts.append(part)
        else:
            _backend.copy_into(y[(slice(None),) * axis + (slice(i, j),)], part, xp=xp)
    return y if y is not None else xp.concat(parts, axis=axis)


@dataclasses.dataclass(frozen=True)
class GradPlan:
    """What :func:`conv_input_grad` or :func:`conv_filter_grad` decides for one case.

    ``core`` is the plan of the convolution that computes the gradient; None where
    the library's own gradient is tried first on every call (cuDNN's, for CuPy with
    ``method="native"``: the core's plan is made only when cuDNN declines the case)
    and where the filter gradient has nothing to compute (``empty``).
    """

    xp: Namespace
    #: The result dtype.
    dtype: Any
    #: The forward convolution.
    fwd: ConvSpec
    #: The forward input's spatial sizes (input gradient) or the filters' (filter gradient).
    sizes: tuple[int, ...]
    #: The spec of the convolution that computes the gradient.
    spec: ConvSpec
    native: bool
    empty: bool
    core: Plan | None
    #: ``method``, ``memory_budget`` and ``precision``, for a core plan made later.
    options: dict[str, Any]


def _tries_native(xp: Namespace, fwd: ConvSpec, dtype: Any, options: dict[str, Any]) -> bool:
    """Whether the library's own gradient runs first: ``method="native"``, or ``auto``
    on CuPy arrays when the rules run cuDNN there; zero padding, and a library that
    has one (:func:`xconv._backend.native_grads`)."""
    method = options.get("method", "auto")
    rules = options.get("rules", RULES)
    on_cupy = method == "auto" and rules.cupy_native and _backend.library(xp) == "cupy"
    return (
        (method == "native" or on_cupy)
        and _plain_zero_padding(fwd)
        and _backend.native_grads(xp, dtype)
    )


def plan_input_grad(
    dy: Array,
    w_shape: tuple[int, ...],
    fwd: ConvSpec,
    in_sizes: tuple[int, ...],
    *,
    xp: Namespace,
    dtype: Any,
    dy_shape: tuple[int, ...] | None = None,
    **options: Any,
) -> GradPlan:
    """The decisions of :func:`conv_input_grad` for ``dy`` (of ``dy_shape`` when
    given) and forward filters of ``w_shape``; ``options`` as :func:`plan_general`'s."""
    rank, groups = fwd.rank, fwd.groups
    k_sizes, cg, o = w_shape[:rank], w_shape[-2], w_shape[-1]
    spec = transpose_spec(fwd, in_sizes, k_sizes)
    native = _tries_native(xp, fwd, dtype, options)
    core = None
    if not native:
        wt_shape = (*k_sizes, o // groups, groups * cg)
        core = plan_general(dy, wt_shape, spec, xp=xp, dtype=dtype, x_shape=dy_shape, **options)
    return GradPlan(xp, dtype, fwd, tuple(in_sizes), spec, native, False, core, options)


def run_input_grad(plan: GradPlan, dy: Array, w: Array) -> Array:
    """The input gradient that ``plan`` describes, of ``dy`` with forward filters ``w``.

    The filter is flipped in space and regrouped to ``(*k, O/g, C)``; the core then
    runs with input dilation = forward strides (see :func:`xconv._spec.transpose_spec`).
    """
    xp = plan.xp
    if plan.native:
        dx = _backend.native_input_grad(dy, w, plan.fwd, plan.sizes, xp=xp, dtype=plan.dtype)
        if dx is not None:  # the library's own gradient (cuDNN's dgrad for CuPy)
            return dx
    rank, groups = plan.fwd.rank, plan.fwd.groups
    k_sizes, cg, o = tuple(w.shape[:rank]), w.shape[-2], w.shape[-1]
    og = o // groups
    wt = xp.flip(w, axis=tuple(range(rank))) if rank else w
    wt = xp.reshape(wt, (*k_sizes, cg, groups, og))
    wt = xp.permute_dims(wt, (*range(rank), rank + 2, rank + 1, rank))
    wt = xp.reshape(wt, (*k_sizes, og, groups * cg))
    core = plan.core
    if core is None:
        core = plan_general(dy, tuple(wt.shape), plan.spec, xp=xp, dtype=plan.dtype, **plan.options)
    return run_plan(core, dy, wt)


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

    ``dy`` is in the caller's layout; ``w`` is the forward filter ``(*k, C/g, O)``.
    With zero padding, ``method="native"`` (and ``auto`` on CuPy) runs the library's own
    input gradient where it has one (cuDNN's for CuPy,
    :func:`xconv._backend.native_input_grad`).
    :func:`plan_input_grad` then :func:`run_input_grad`.
    """
    plan = plan_input_grad(dy, tuple(w.shape), fwd, in_sizes, xp=xp, dtype=dtype, **options)
    return run_input_grad(plan, dy, w)


def plan_filter_grad(
    x: Array,
    dy_shape: tuple[int, ...],
    fwd: ConvSpec,
    k_sizes: tuple[int, ...],
    *,
    xp: Namespace,
    dtype: Any,
    x_shape: tuple[int, ...] | None = None,
    **options: Any,
) -> GradPlan:
    """The decisions of :func:`conv_filter_grad` for ``x`` (of ``x_shape`` when given)
    and an output gradient of ``dy_shape``; ``options`` as :func:`plan_general`'s."""
    shape = tuple(x.shape) if x_shape is None else x_shape
    rank, groups = fwd.rank, fwd.groups
    canon_x = tuple(shape[i] for i in fwd.to_canonical)
    canon_dy = tuple(dy_shape[i] for i in fwd.to_canonical)
    n, in_sizes, c = canon_x[0], canon_x[1:-1], canon_x[-1]
    spec = filter_grad_spec(fwd, in_sizes, k_sizes)
    native = _tries_native(xp, fwd, dtype, options)
    empty = n == 0 or 0 in canon_dy[1:-1]
    core = None
    if not native and not empty:
        xs_shape = (c // groups, *in_sizes, groups * n)
        kernel_shape = (*canon_dy[1 : rank + 1], n, canon_dy[-1])
        core = plan_general(
            x, kernel_shape, spec, xp=xp, dtype=dtype, per_chunk=False, x_shape=xs_shape,
            **options,
        )  # fmt: skip
    return GradPlan(xp, dtype, fwd, tuple(k_sizes), spec, native, empty, core, options)


def run_filter_grad(plan: GradPlan, x: Array, dy: Array) -> Array:
    """The filter gradient that ``plan`` describes, of input ``x`` and output gradient ``dy``.

    The input becomes ``(C/g, *S, g * N)`` (batch and channels swapped, groups moved
    into the channel axis) and the output gradient ``(*m, N, O)`` becomes the kernel:
    a grouped convolution with stride = forward dilation and dilation = forward stride
    (see :func:`xconv._spec.filter_grad_spec`).
    """
    xp, fwd, k_sizes = plan.xp, plan.fwd, plan.sizes
    if plan.native:
        dw = _backend.native_filter_grad(x, dy, fwd, k_sizes, xp=xp, dtype=plan.dtype)
        if dw is not None:  # the library's own gradient (cuDNN's wgrad for CuPy)
            return dw
    rank, groups = fwd.rank, fwd.groups
    if fwd.channels_first:
        x = xp.permute_dims(x, fwd.to_canonical)
        dy = xp.permute_dims(dy, fwd.to_canonical)
    n, in_sizes, c = x.shape[0], tuple(x.shape[1:-1]), x.shape[-1]
    cg, o = c // groups, dy.shape[-1]
    if plan.empty:
        return xp.zeros((*k_sizes, cg, o), dtype=plan.dtype, device=_backend.device(x))
    xs = xp.reshape(x, (n, *in_sizes, groups, cg))
    xs = xp.permute_dims(xs, (rank + 2, *range(1, rank + 1), rank + 1, 0))
    xs = xp.reshape(xs, (cg, *in_sizes, groups * n))
    kernel = xp.permute_dims(dy, (*range(1, rank + 1), 0, rank + 1))
    core = plan.core
    if core is None:
        core = plan_general(
            xs, tuple(kernel.shape), plan.spec, xp=xp, dtype=plan.dtype, per_chunk=False,
            **plan.options,
        )  # fmt: skip
    g = run_plan(core, xs, kernel)  # (Cg, *k, O)
    return xp.permute_dims(g, (*range(1, rank + 1), 0, rank + 1))


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

    With zero padding, ``method="native"`` (and ``auto`` on CuPy) runs the library's own
    filter gradient where it has one (cuDNN's for CuPy). :func:`plan_filter_grad` then
    :func:`run_filter_grad`.
    """
    plan = plan_filter_grad(x, tuple(dy.shape), fwd, k_sizes, xp=xp, dtype=dtype, **options)
    return run_filter_grad(plan, x, dy)
