"""What ``method="auto"`` runs: the rules, measured, as one frozen object.

:class:`AutoRules` holds every threshold of the choice, each beside the measurement
it comes from; :data:`RULES` is the default. :func:`choose_method`,
:func:`prefers_fft` and :func:`select_algorithm` take the rules as a parameter, so
that a caller (a benchmark, a test) can ask what other rules would choose, e.g.
``choose_method(..., rules=dataclasses.replace(RULES, winograd={}))`` for no
Winograd at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import _backend
from ._algorithms import ALGORITHMS, Algorithm
from ._scatter import scatter_applies
from ._spec import METHODS, ConvSpec
from ._typing import Namespace

__all__ = ["RULES", "AutoRules", "choose_method", "prefers_fft", "select_algorithm"]


def _winograd_default() -> Mapping[int, tuple[int, int]]:
    return MappingProxyType({3: (16, 16)})


@dataclass(frozen=True)
class AutoRules:
    """The thresholds of ``auto``, from ``benchmarks/crossover.py`` and
    ``benchmarks/dense_rules.py`` on 2 cores (NumPy float32)."""

    #: Per-group contractions this small (C/g * O/g) use the shift method ...
    shift_max_contraction: int = 4
    #: ... and switch to FFT from this many kernel taps (5x5 = 25: shift wins; 15x15 =
    #: 225: FFT wins by 4x; the crossover is near 7x7 to 9x9) ...
    fft_min_taps: int = 64
    #: ... or from this many when there are several groups (depthwise over several
    #: channels, whose shift products run on wide rows): shift / fft time, alternating,
    #: 9x9 0.84 / 0.96 / 0.81 and 11x11 0.98 / 1.48 / 1.33 at 1024²x3, 512²x8, 512²x32.
    fft_min_taps_grouped: int = 100
    #: Winograd F(4, 3) on every axis for 3x3 (2-d) and 3x3x3 (3-d) kernels (stride 1,
    #: no dilation, one group, real floating data) with at least ``min_channels`` input
    #: and output channels and spatial sizes of at least ``min_size`` (rank ->
    #: ``(min_channels, min_size)``; empty: never Winograd), when its transformed filters
    #: fit the memory rule. Alternating calls in one process (NumPy float32, 2 cores,
    #: median of 8-12 time ratios winograd / gemm): 2-d 56²x64 0.78, 28²x128 0.95,
    #: 14²x256 1.44, 7²x512 3.96; 3-d (16,56,56)x32 0.81, 32³x64 0.73, 16³x32 0.86,
    #: (16,56,56)x16 0.63; 1-d (4000)x64 1.36 (so no 1-d rule). Since the samples of a
    #: host batch run on threads of their own (one BLAS thread each), 2-d Winograd lost
    #: to gemm and shift at every size (batch 8, median of 10-15 ms: 56²x64 15.5 vs
    #: 13.4, 28²x128 21.1 vs 13.5, 14²x256 21.2 vs 13.8, 7²x512 45.7 vs 14.2), while
    #: 3-d still won ((16,56,56)x32: 160 vs 347 for gemm): no 2-d rule.
    winograd: Mapping[int, tuple[int, int]] = field(default_factory=_winograd_default, hash=False)
    #: Dense layers with at most this many output pixels of one sample per patch column
    #: (``prod(k) * C/g``) run ``shift``: their patch matrix is much wider than tall,
    #: and one GEMM per kernel tap reads the filters once. Same protocol, shift / gemm,
    #: batches of 8 run whole: 7²x512 0.91, 14²x256 0.89 (0.085 and 0.68 pixels per
    #: column), 28²x128 1.34, 56²x64 1.16 (5.4 and 43). Run one sample at a time (as the
    #: core runs host arrays), single-threaded BLAS, best of 10: 14²x256 (0.085 per
    #: sample) shift 33 ms, gemm 37 ms; 28²x128 (0.68) shift 40 ms, gemm 37 ms; a 1-d
    #: layer of 1 channel and 129 taps (0.96) shift 110 ms, gemm 3 ms.
    shift_max_pixels_per_column: float = 0.5
    #: Input-dilated (transposed) one-group convolutions in host memory run ``gemm``
    #: as one product and a scatter-add (:mod:`xconv._scatter`) rather than as
    #: sub-pixel phases. NumPy float32, 2 cores, samples on threads, median ms,
    #: scatter vs phases by shift: 4x4/2 14²x128→64 batch 8 3.6 vs 7.0; DCGAN 4x4/2
    #: 16²x256→128 batch 16 23.6 vs 34.6; 3x3/2 28²x64→32 batch 8 2.4 vs 5.3; 2x2/2
    #: 14²x256→128 batch 8 2.7 vs 4.0.
    scatter_transposes: bool = True
    #: CuPy arrays: ``auto`` runs cuDNN (``native``, through cudnn-frontend) where it
    #: applies and the kernel has at least ``cupy_native_min_taps`` taps. H200, batch
    #: 32, float32, time of torch's cuDNN / time (``benchmarks/results/gpu-cudnn.md``):
    #: dense 3x3 56² to 7² native 0.28-0.56, xconv's own best 0.22-0.41; stem 0.14 vs
    #: 0.12; depthwise 0.29 vs 0.10; conv3d 0.54 vs 0.21; but 1x1 0.27 vs gemm's 0.58
    #: (one plain matmul). Where cuDNN finds no plan at run time, ``auto`` falls back
    #: to xconv's own methods.
    cupy_native: bool = True
    cupy_native_min_taps: int = 2


#: The rules ``auto`` follows.
RULES = AutoRules()


def choose_method(
    xp: Namespace,
    spec: ConvSpec,
    dtype: Any,
    w_shape: tuple[int, ...] | None,
    sizes: tuple[int, ...] | None = None,
    *,
    finite: bool = True,
    batch: int = 1,
    accelerator: bool = False,
    rules: AutoRules = RULES,
) -> str:
    """The method ``auto`` runs for this case (see ``docs/decisions.md``).

    ``sizes`` are the input's spatial sizes and ``batch`` the samples one run of the
    algorithm holds: the core runs the samples of arrays in host memory one at a time
    and asks with ``batch=1``, so that the choice, like each sample's result, does not
    depend on the batch; on a GPU it runs (and asks for) the whole batch.

    - torch and JAX arrays: the library's own convolution (``native``) where it has one
      for the case: it is what those users would call, and it keeps autograd and
      ``jax.jit`` graphs small; CuPy arrays too (cuDNN) when ``rules.cupy_native``;
    - depthwise and single-channel convolutions (a per-group contraction of at most
      ``rules.shift_max_contraction`` multiply-adds): ``fft`` for large kernels at
      stride 1 on floating data (:func:`prefers_fft`), else ``shift``;
    - dense one-group layers with few output pixels for their patch width
      (``rules.shift_max_pixels_per_column``): ``shift``;
    - when the arrays are in host memory (not on a GPU, ``accelerator``: there its many
      small batched products ran 2x to 4x slower than ``gemm``), wide 2-d 3x3 and 3-d
      3x3x3 layers (channels and spatial ``sizes`` of the input per
      ``rules.winograd``, transformed filters no larger than the input and output of
      the ``batch``): ``winograd``;
    - everything else: ``gemm`` (chunked patch matrix, one matmul per chunk).

    Methods whose results mix values beyond a window
    (:attr:`~xconv._algorithms.Algorithm.mixes_values`: ``fft`` and ``winograd``)
    would spread a NaN or inf beyond its receptive field: they are chosen only when
    the caller checked that the data is ``finite``, and only on libraries that compute
    eagerly (Dask graphs and JAX traces are not inspected). Integer data never goes
    to them, so integer results stay exact.
    """
    on_cupy = _backend.library(xp) == "cupy"
    taps = math.prod(w_shape[:-2]) if w_shape else 0
    cupy_ok = rules.cupy_native and taps >= rules.cupy_native_min_taps
    if (cupy_ok or not on_cupy) and ALGORITHMS["native"].applies(spec, w_shape or (), dtype, xp):
        return "native"
    if w_shape is None:
        return "gemm"
    mixing = finite and _backend.library(xp) not in ("dask", "jax")

    def allowed(name: str) -> bool:
        return mixing or not ALGORITHMS[name].mixes_values

    if allowed("fft") and prefers_fft(xp, spec, dtype, w_shape, rules=rules):
        return "fft"
    if w_shape[-2] * (w_shape[-1] // spec.groups) <= rules.shift_max_contraction:
        return "shift"
    if (
        rules.scatter_transposes
        and not accelerator
        and sizes is not None
        and scatter_applies(spec, sizes, w_shape)
    ):
        return "gemm"
    if sizes is not None and _wide_patches(spec, w_shape, sizes, batch, rules):
        return "shift"
    if (
        allowed("winograd")
        and not accelerator
        and sizes is not None
        and _winograd_fits(xp, spec, dtype, w_shape, sizes, batch, rules)
    ):
        return "winograd"
    return "gemm"


def _wide_patches(
    spec: ConvSpec, w_shape: tuple[int, ...], sizes: tuple[int, ...], batch: int, rules: AutoRules
) -> bool:
    """Whether a dense, one-group layer has at most
    ``rules.shift_max_pixels_per_column`` output pixels per patch column."""
    taps = math.prod(w_shape[: spec.rank])
    if spec.groups != 1 or taps == 1:
        return False
    pixels = batch * math.prod(-(-n // s) for n, s in zip(sizes, spec.strides))
    return pixels <= rules.shift_max_pixels_per_column * taps * w_shape[-2]


def _winograd_fits(
    xp: Namespace,
    spec: ConvSpec,
    dtype: Any,
    w_shape: tuple[int, ...],
    sizes: tuple[int, ...],
    batch: int,
    rules: AutoRules,
) -> bool:
    """Whether ``rules.winograd`` takes this layer: a wide 3x3 (3x3x3) one-group layer,
    stride 1, no dilation, real floating data, large enough sizes, and transformed
    filters that fit."""
    rule = rules.winograd.get(spec.rank)
    return (
        rule is not None
        and min(w_shape[-2], w_shape[-1]) >= rule[0]
        and spec.groups == 1
        and tuple(w_shape[: spec.rank]) == (3,) * spec.rank
        and set(spec.strides) | set(spec.dilations) | set(spec.lhs_dilations) == {1}
        and min(sizes) >= rule[1]
        and _winograd_filters_fit(w_shape, spec.rank, batch * math.prod(sizes))
        and xp.isdtype(dtype, "real floating")
        and ALGORITHMS["winograd"].applies(spec, w_shape, dtype, xp)
    )


def _winograd_filters_fit(w_shape: tuple[int, ...], rank: int, pixels: int) -> bool:
    """Whether Winograd's transformed filters (``6 ** rank`` taps per filter pair, made
    once per call) fit in the input + output elements of ``pixels`` input positions
    (batch x spatial): the temporaries the core allows
    (:func:`xconv._memory.temporaries_cap`)."""
    return 6**rank * w_shape[-2] * w_shape[-1] <= pixels * (w_shape[-2] + w_shape[-1])


def prefers_fft(
    xp: Namespace,
    spec: ConvSpec,
    dtype: Any,
    w_shape: tuple[int, ...],
    *,
    rules: AutoRules = RULES,
) -> bool:
    """Whether ``auto``'s rule for small per-group contractions picks ``fft``.

    True for a per-group contraction of at most ``rules.shift_max_contraction``
    multiply-adds, at least ``rules.fft_min_taps`` kernel taps
    (``rules.fft_min_taps_grouped`` with several groups), stride 1, and a dtype and
    library the FFT method applies to (floating or complex, an fft extension).
    :func:`choose_method` asks it after ``native``; :mod:`xconv.signal` asks it first,
    as SciPy's ``choose_conv_method`` does.
    """
    taps = math.prod(w_shape[: spec.rank])
    return (
        w_shape[-2] * (w_shape[-1] // spec.groups) <= rules.shift_max_contraction
        and taps >= (rules.fft_min_taps if spec.groups == 1 else rules.fft_min_taps_grouped)
        and all(s == 1 for s in spec.strides)
        and ALGORITHMS["fft"].applies(spec, w_shape, dtype, xp)
    )


def select_algorithm(
    method: str,
    xp: Namespace,
    spec: ConvSpec,
    dtype: Any,
    w_shape: tuple[int, ...],
    sizes: tuple[int, ...] | None = None,
    batch: int = 1,
    accelerator: bool = False,
    *,
    rules: AutoRules = RULES,
) -> Algorithm:
    """The algorithm for ``method`` (``"auto"`` chooses by ``rules``), or a ``ValueError``.

    An explicitly requested method that does not apply to the case (filters of shape
    ``w_shape``) raises ``ValueError`` with the reason
    (:meth:`~xconv._algorithms.Algorithm.why_not`). ``sizes``: the input's spatial
    sizes, and ``accelerator`` (the arrays are on a GPU), for ``auto``.
    """
    if method == "auto":
        name = choose_method(
            xp, spec, dtype, w_shape, sizes, batch=batch, accelerator=accelerator, rules=rules
        )
        return ALGORITHMS[name]
    if method in ALGORITHMS:
        algorithm = ALGORITHMS[method]
        reason = algorithm.why_not(spec, w_shape, dtype, xp)
        if reason:
            raise ValueError(f"method={method!r} does not apply: {reason}")
        return algorithm
    raise ValueError(
        f"method={method!r} is not available in this version of xconv; "
        f"available: {', '.join(repr(m) for m in METHODS if m == 'auto' or m in ALGORITHMS)}"
    )
