"""Every method agrees with every other and with the reference, on random cases.

One property test over backends and dtypes: hypothesis draws a case of rank 1-3
(shapes, strides, dilations, padding and padding mode, groups, layout; half of them
ones Winograd applies to), and every method that applies to it on the backend (every
algorithm of ``xconv._algorithms.ALGORITHMS``, ``"native"`` where the library has a
convolution, and ``"auto"``) must agree with the naive float64 reference, and with
every other method, within :data:`TOLERANCE`.

The bounds are relative to the *magnitude* of the convolution, not of its result: a
sum of products with cancellation has a result much smaller than its terms, and its
rounding error is of the size of the terms. ``mag`` is the reference convolution of
``|x|`` and ``|w|`` (per output, the sum of ``|x| * |w|`` over its receptive field);
``full`` is the largest magnitude any output can have, ``max|x|`` times the largest
sum of ``|w|`` over one output channel. A method's result ``y`` must satisfy, element
by element,

    |y - ref| <= rtol * mag + atol * full + tiny

(``tiny``: the dtype's smallest subnormal, for results that round to subnormals), and
two methods ``a``, ``b`` must satisfy ``|y_a - y_b| <= bound_a + bound_b``. Direct
summation (einsum, gemm, shift, and the libraries' own convolutions) errs by a few
units of roundoff of ``mag`` at each output: ``atol`` is 0. Winograd and FFT mix every
input of a tile or block into every output of it, so their error scales with the
magnitude of the whole tile or block, which ``full`` bounds: an output whose own
receptive field is all zeros (SAME padding with stride 2 can make one) is exactly 0
for a direct method and about ``eps * full`` for FFT.

float16 and bfloat16 compute in float32 by default and round once at the end, so
their bounds are the rounding of the result (``rtol``) plus float32's transform
error (``atol``). With ``precision="native"`` they compute in their own dtype.
"""

from __future__ import annotations

import itertools
import math
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import xconv
from _helpers import (
    Case,
    backend_dtype,
    conv_cases,
    dtype_name,
    make,
    make_inputs,
    reason,
    to_numpy,
)
from xconv import _core
from xconv._algorithms import ALGORITHMS

NDArray = np.ndarray[Any, Any]


class Bound(NamedTuple):
    """``|y - ref| <= rtol * mag + atol * full`` (see the module docstring)."""

    rtol: float
    atol: float


def row(
    direct: float, *, winograd: tuple[float, float], fft: tuple[float, float]
) -> dict[str, Bound]:
    """One row of :data:`TOLERANCE`: method kind -> bound (direct summation has no atol)."""
    return {"direct": Bound(direct, 0.0), "winograd": Bound(*winograd), "fft": Bound(*fft)}


#: (dtype, precision) -> method kind -> bound; "direct" is einsum, gemm, shift and native,
#: and ``auto`` is held to the bound of the method it picks. Largest errors measured on
#: 500 random cases of this test (NumPy, torch), in units of the dtype's eps (2.2e-16,
#: 1.2e-7, 9.8e-4, 7.8e-3 for 64-bit, 32-bit, float16, bfloat16; the unit roundoff u is
#: eps / 2): direct summation 2.5 (64-bit) and 1.5 (32-bit) eps of ``mag``; FFT 1.5 and
#: Winograd F(4, 3) 5.3 eps of ``full``. The bounds are 4-13 times those. 16-bit floats
#: computed in float32: the rounding of the result, at most u of ``mag``; the bound is
#: 2u. Computed natively: shift's 16-bit sums 3 u of ``mag`` (bound 20 u), Winograd
#: F(2, 3) 1.1 u of ``full`` (bound 10 u) but up to 90 u of ``mag``, hence no ``rtol``.
TOLERANCE: dict[tuple[str, str | None], dict[str, Bound]] = {
    # (dtype, precision): row(direct rtol, winograd=(rtol, atol), fft=(rtol, atol))
    ("float64", None): row(2e-15, winograd=(0.0, 1e-14), fft=(0.0, 4e-15)),
    ("complex128", None): row(2e-15, winograd=(0.0, 1e-14), fft=(0.0, 4e-15)),
    ("float32", None): row(1e-6, winograd=(0.0, 5e-6), fft=(0.0, 2e-6)),
    ("complex64", None): row(1e-6, winograd=(0.0, 5e-6), fft=(0.0, 2e-6)),
    # 16-bit floats computed in float32 (the default): the result's rounding, plus
    # float32's transform error for Winograd and FFT.
    ("float16", None): row(1e-3, winograd=(1e-3, 5e-6), fft=(1e-3, 2e-6)),
    ("bfloat16", None): row(8e-3, winograd=(8e-3, 5e-6), fft=(8e-3, 2e-6)),
    # precision="native": sums in the 16-bit dtype (shift's; matmuls and the libraries'
    # convolutions accumulate in float32), Winograd F(2, 3) in it; FFT still in float32.
    ("float16", "native"): row(1e-2, winograd=(0.0, 5e-3), fft=(1e-3, 2e-6)),
    ("bfloat16", "native"): row(8e-2, winograd=(0.0, 4e-2), fft=(8e-3, 2e-6)),
}

#: Every method there is: the registered algorithms (with "native") and "auto".
METHODS = (*ALGORITHMS, "auto")


def kind(method: str) -> str:
    """The :data:`TOLERANCE` column of an algorithm."""
    return method if method in ("winograd", "fft") else "direct"


def applicable(xp: ModuleType, case: Case, cdtype: Any) -> list[str]:
    """The methods that run ``case`` on ``xp`` for compute dtype ``cdtype``."""
    return [m for m in METHODS if m == "auto" or reason(m, case, xp, cdtype) is None]


def magnitudes(case: Case, x: NDArray, w: NDArray, padding_mode: str) -> tuple[NDArray, float]:
    """``mag`` and ``full`` of the module docstring, for canonical ``x`` and ``w``."""
    mag = case.reference(np.abs(x), np.abs(w), padding_mode)
    column_sums = np.abs(w).reshape(-1, w.shape[-1]).sum(axis=0)
    full = float(np.max(np.abs(x), initial=0.0) * np.max(column_sums, initial=0.0))
    return mag, full


def run_all(
    xp: ModuleType,
    device: Any,
    case: Case,
    x_np: NDArray,
    w_np: NDArray,
    *,
    dtype: str,
    precision: str | None,
    padding_mode: str,
) -> tuple[dict[str, NDArray], dict[str, str]]:
    """Every applicable method's result (as float64/complex128) and the kind of its bound.

    ``auto``'s kind is that of the method it picks.
    """
    xdt = backend_dtype(xp, dtype)
    cdtype = _core.compute_dtype(xp, xdt, precision)
    x = make(xp, case.to_layout(x_np), device, dtype=xdt)
    w = make(xp, w_np, device, dtype=xdt)
    work = np.complex128 if dtype.startswith("complex") else np.float64
    results, kinds = {}, {}
    for method in applicable(xp, case, cdtype):
        y = xconv.convolution(
            x,
            w,
            **case.call_kwargs(),
            padding_mode=padding_mode,
            method=method,
            precision=precision,
        )
        assert dtype_name(y.dtype) == dtype, f"{method}: dtype {y.dtype}, not {dtype}"
        results[method] = to_numpy(y).astype(work)
        picked = method
        if method == "auto":
            picked = _core.choose_method(xp, case.spec(), cdtype, case.w_shape, case.in_sizes)
        kinds[method] = kind(picked)
    return results, kinds


def excess(diff: NDArray, bound: NDArray) -> float:
    """``max(diff / bound)`` (0/0 counts as 0, anything else over 0 as inf)."""
    if diff.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / bound)
    return float(np.max(ratio))


#: Backends that compile for every new shape and method (JAX): they run a quarter of
#: the profile's examples (each example compiles about 7 programs), but never fewer
#: than 6 (the quarter of the default 25), whatever the profile.
SLOW_BACKENDS = ("jax",)
SLOW_MIN_EXAMPLES = 6


def check_agreement(
    xp: ModuleType,
    device: Any,
    dtype: str,
    precision: str | None,
    case: Case,
    options: dict[str, Any],
) -> None:
    """Every method against the reference and against every other (module docstring)."""
    mode = options["padding_mode"]
    x_np, w_np = make_inputs(np.random.default_rng(options["stream"]), case, dtype, exact=False)
    ref = case.reference(x_np, w_np, mode)
    mag, full = magnitudes(case, x_np, w_np, mode)
    results, kinds = run_all(
        xp, device, case, x_np, w_np, dtype=dtype, precision=precision, padding_mode=mode
    )
    assert {"einsum", "gemm", "shift", "auto"} <= set(results)
    table = TOLERANCE[dtype, precision]
    info = xp.finfo(backend_dtype(xp, dtype))
    tiny = float(info.smallest_normal * info.eps)  # results that round to subnormals
    bounds = {m: table[k].rtol * mag + table[k].atol * full + tiny for m, k in kinds.items()}
    worst = {
        f"{m} vs reference": excess(np.abs(y - ref), bounds[m]) for m, y in results.items()
    } | {
        f"{a} vs {b}": excess(np.abs(results[a] - results[b]), bounds[a] + bounds[b])
        for a, b in itertools.combinations(results, 2)
    }
    bad = {k: v for k, v in worst.items() if not v <= 1.0}
    report = "\n".join(f"  {k}: {v:.3g}" for k, v in worst.items())
    assert not bad, (
        f"methods disagree on {case} ({dtype}, precision={precision!r}, padding_mode={mode!r}; "
        f"kinds {kinds}); max |error| / bound (must be <= 1):\n{report}"
    )


def test_methods_agree(xp: ModuleType, device: Any, library: object) -> None:
    """Random cases and dtypes: every applicable method agrees with all (module docstring)."""
    configs = [c for c in TOLERANCE if backend_dtype(xp, c[0]) is not None]
    examples = settings().max_examples
    if str(library) in SLOW_BACKENDS:
        examples = max(min(examples, SLOW_MIN_EXAMPLES), examples // 4)

    @settings(max_examples=examples)
    @given(config=st.sampled_from(configs), drawn=conv_cases(winograd=st.booleans()))
    def agree(config: tuple[str, str | None], drawn: tuple[Case, dict[str, Any]]) -> None:
        assume(math.prod(drawn[0].out_shape) > 0)  # empty results agree trivially
        check_agreement(xp, device, *config, *drawn)

    agree()
