"""Argument fuzzing: wrong arguments raise ``ValueError``/``TypeError`` naming them.

Every public function -- the 16 of ``xconv.__all__``, the 7 of :mod:`xconv.signal`
and the 4 of :mod:`xconv.ndimage` -- has a valid call with small fixed shapes
(:data:`TARGETS`). Hypothesis replaces one or two of its arguments with a wrong
value of one of these kinds:

- the wrong type: None, bools, floats (nan and inf too), complex numbers, strings,
  bytes, dicts, a type, NumPy scalars (``np.int64(2)``, ``np.float32(1)``, ...);
- the wrong value: zero, negative ints, ints beyond int64 (``2**70``), sequences of
  the wrong length or with wrong entries, TensorFlow's rank+2 forms with wrong batch
  or channel entries, unknown or differently spelled strings, data_format strings
  of other ranks and layouts, 1-d and 2-d arrays where ints are expected;
- wrong arrays: bool, object and string dtypes, another library's array, Python
  lists, 0-d arrays, arrays of another rank or with one extent changed (some of
  these, like int32 or complex data, are valid).

The contract of DESIGN §1 is checked on every backend (the ``xp`` fixture):

- the call raises ``ValueError`` or ``TypeError`` whose message names one of the
  replaced arguments -- any other exception (``IndexError``, ``AttributeError``,
  ``OverflowError``, a backend's own error) or warning fails the test -- or, when
  the value happens to be valid (``np.int64(2)`` as a stride), returns an array of
  the arrays' namespace (floating-point warnings of arithmetic on huge or non-finite
  values are NumPy's and allowed);
- the arguments are left untouched: arrays keep their contents and lists, tuples
  and dicts equal a deep copy taken before the call;
- the checks come at call time on lazy backends: on Dask the call computes
  nothing (a scheduler that refuses to run is installed), and under ``jax.jit``
  bad static arguments raise while tracing (one function per way of checking).

Ints beyond int64 are the only huge values generated: sizes within it that cannot
fit in memory are ``MemoryError`` by design (``tests/test_memory.py``).

``tests/test_errors.py`` holds the hand-written table of bad cases with their
exact exception classes; this module is its generative complement.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xconv
from _helpers import _same_namespace, make, to_numpy
from conftest import BACKENDS, Backend
from test_errors import APIS, Arr
from xconv import ndimage, signal

# --------------------------------------------------------------------------- values


@dataclasses.dataclass(frozen=True)
class Raw:
    """NumPy data passed as is (another library's array except on NumPy)."""

    data: np.ndarray


@dataclasses.dataclass(frozen=True)
class Foreign:
    """An array of another library than the one under test."""

    data: np.ndarray


@dataclasses.dataclass(frozen=True)
class XpDtype:
    """The dtype called ``name`` of the library under test."""

    name: str


#: Ints that no array library can index with (beyond int64).
HUGE = (2**63, 2**64, 2**70, -(2**63) - 1, -(2**70), 10**30)
NUMPY_SCALARS = (
    np.int64(2),
    np.int32(1),
    np.uint8(3),
    np.int64(0),
    np.int64(-1),
    np.float32(1),
    np.float64(1.5),
    np.float64("nan"),
    np.bool_(True),
    np.complex128(1j),
)
#: Strings that are valid for some argument of some function.
WORDS = (
    *("SAME", "same", "Valid", "FULL", "causal", ""),
    *("NWC", "NCW", "NHWC", "nchw", "NCHW", "NDHWC", "NCDHW", "NHWDC", "CHWN", "NC", "N"),
    *("full", "valid", "auto", "direct", "fft", "einsum", "winograd", "native"),
    *("zeros", "reflect", "constant", "wrap", "fill", "symm", "mirror", "nearest"),
    *("float32", "float64", "int32", "complex128", "bool", "object"),
)
SMALL = st.integers(-3, 4)

JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    SMALL,
    st.sampled_from(HUGE),
    st.floats(),
    st.complex_numbers(max_magnitude=1e3),
    st.sampled_from(NUMPY_SCALARS),
    st.text(max_size=5),
    st.sampled_from(WORDS),
    st.sampled_from([b"SAME", {"strides": 1}, ..., float, (), []]),
)
ENTRY = SMALL | JUNK
INT_ARRAYS = st.sampled_from(
    [np.array(v) for v in ([1, 1], [2], [1, 1, 1, 1], [], [1.0, 1.0], [[1, 1]], 1)]
)


def _replace(seq: Sequence[Any], index: int, value: Any) -> list[Any]:
    """``seq`` as a list with entry ``index`` (modulo the length) replaced by ``value``."""
    out = list(seq)
    out[index % len(out)] = value
    return out


def _ints(rank: int) -> st.SearchStrategy[Any]:
    """strides / dilations: ints, sequences of the wrong length or entries, arrays."""
    return st.one_of(
        JUNK,
        st.lists(ENTRY, max_size=rank + 3),
        st.lists(SMALL, max_size=rank + 3).map(tuple),
        st.builds(_replace, st.just([1] * (rank + 2)), SMALL, ENTRY),
        INT_ARRAYS,
        INT_ARRAYS.map(Arr),
    )


def _padding(rank: int) -> st.SearchStrategy[Any]:
    """padding: strings, ints, pairs of the wrong shape or entries, TF's rank+2 form."""
    pair = st.lists(ENTRY, max_size=3) | ENTRY
    return st.one_of(
        JUNK,
        st.lists(pair, max_size=rank + 3),
        st.builds(_replace, st.just([[1, 1]] * rank), SMALL, pair),
        st.builds(_replace, st.just([[0, 0], *[[1, 1]] * rank, [0, 0]]), SMALL, pair),
        INT_ARRAYS,
        st.just(np.ones((rank, 2), int)),
    )


def _sizes(valid: Sequence[int]) -> st.SearchStrategy[Any]:
    """input_sizes / filter_sizes / output_shape: one entry or the length wrong, arrays."""
    return st.one_of(
        JUNK,
        st.builds(_replace, st.just(valid), st.integers(0, 9), ENTRY),
        st.just([*valid, 1]),
        st.just(list(valid[1:])),
        st.just(tuple(valid)),
        st.sampled_from([np.array(valid), np.array(valid, float), np.array([valid])]),
        st.sampled_from([Arr(np.array(valid)), Arr(np.array(valid, float))]),
    )


def _output(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """ndimage's ``output``: dtypes (of NumPy or the library), names, arrays."""
    return st.one_of(
        JUNK,
        st.sampled_from([np.float32, np.dtype("int8"), np.dtype(object), "float16", "f8"]),
        st.sampled_from(["float32", "int64", "complex64", "bool"]).map(XpDtype),
        st.sampled_from([Arr(np.zeros(shape)), Arr(np.zeros(shape, np.int32))]),
        st.sampled_from([Arr(np.zeros(shape[1:])), Raw(np.zeros(shape)), np.zeros(shape).tolist()]),
    )


def _arrays(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """An array argument: other dtypes, ranks and extents, other libraries, lists."""
    grown = [tuple(s + 1 if i == j else s for j, s in enumerate(shape)) for i in range(len(shape))]
    emptied = [tuple(0 if i == j else s for j, s in enumerate(shape)) for i in range(len(shape))]
    strings = np.full(shape, "a")
    return st.one_of(
        JUNK,
        st.sampled_from([bool, np.int32, np.int64, np.float32, np.complex128]).map(
            lambda dtype: Arr(np.ones(shape, dtype))
        ),
        st.sampled_from([shape[1:], (*shape, 1), (), *grown, *emptied]).map(
            lambda s: Arr(np.ones(s))
        ),
        st.sampled_from([Raw(np.ones(shape, object)), Raw(strings), Raw(np.ones(shape))]),
        st.just(Foreign(np.ones(shape))),
        st.just(np.ones(shape).tolist()),
    )


def _choice() -> st.SearchStrategy[Any]:
    return JUNK | st.text(alphabet="acdefilmnorstuvwxyzACDEFILMNSV-_ ", max_size=8)


def _axes() -> st.SearchStrategy[Any]:
    return JUNK | st.lists(SMALL | st.sampled_from(HUGE), max_size=4) | INT_ARRAYS


# --------------------------------------------------------------------------- targets


@dataclasses.dataclass(frozen=True)
class Target:
    """A public function, a valid call of it and the strategy of each fuzzed argument."""

    name: str
    func: Callable[..., Any]
    arrays: dict[str, tuple[int, ...]]  # array arguments -> shape (float64 ones)
    fixed: dict[str, Any]  # the other arguments of the valid call
    values: dict[str, st.SearchStrategy[Any]]  # fuzzed argument -> wrong values
    dtypes: tuple[str, ...] = ("float64",)  # of the arrays of the valid call

    def __str__(self) -> str:
        return self.name


def _tf(
    name: str,
    arrays: dict[str, tuple[int, ...]],
    sizes: dict[str, list[int]] | None = None,
    stride: str = "strides",
) -> Target:
    """A TensorFlow-style function called with strides 1 and SAME padding."""
    sizes = sizes or {}
    rank = len(next(iter(arrays.values()))) - 2
    fixed: dict[str, Any] = {stride: 1, "padding": "SAME", **sizes}
    values = {
        **{a: _arrays(shape) for a, shape in arrays.items()},
        **{s: _sizes(valid) for s, valid in sizes.items()},
        stride: _ints(rank),
        "dilations": _ints(rank),
        "padding": _padding(rank),
        "data_format": st.sampled_from(WORDS) | JUNK,
        "padding_mode": _choice(),
        "method": _choice(),
        "memory_budget": JUNK | INT_ARRAYS,
        "precision": _choice(),
    }
    return Target(name, getattr(xconv, name), arrays, fixed, values)


_X, _DY, _W, _DW = (2, 6, 5, 4), (2, 6, 5, 6), (3, 2, 4, 6), (3, 3, 4, 2)
_X_SIZES, _W_SIZES, _DW_SIZES = list(_X), list(_W), list(_DW)
_DY_DEPTHWISE = (2, 6, 5, 8)

TF_TARGETS = [
    *(_tf(api.name, api.arrays, stride=api.stride_name) for api in APIS),
    _tf(
        "conv1d_transpose", {"input": (2, 8, 6), "filters": (3, 4, 6)}, {"output_shape": [2, 8, 4]}
    ),
    _tf("conv2d_transpose", {"input": _DY, "filters": _W}, {"output_shape": _X_SIZES}),
    _tf(
        "conv3d_transpose",
        {"input": (1, 4, 4, 3, 6), "filters": (2, 2, 2, 4, 6)},
        {"output_shape": [1, 4, 4, 3, 4]},
    ),
    _tf("conv_transpose", {"input": _DY, "filters": _W}, {"output_shape": _X_SIZES}),
    *(
        _tf(name, {"filters": _W, "out_backprop": _DY}, {"input_sizes": _X_SIZES})
        for name in ("conv2d_backprop_input", "conv_backprop_input")
    ),
    *(
        _tf(name, {"input": _X, "out_backprop": _DY}, {"filter_sizes": _W_SIZES})
        for name in ("conv2d_backprop_filter", "conv_backprop_filter")
    ),
    _tf(
        "depthwise_conv2d_backprop_input",
        {"filter": _DW, "out_backprop": _DY_DEPTHWISE},
        {"input_sizes": _X_SIZES},
    ),
    _tf(
        "depthwise_conv2d_backprop_filter",
        {"input": _X, "out_backprop": _DY_DEPTHWISE},
        {"filter_sizes": _DW_SIZES},
    ),
]

_IN1, _IN2 = (5, 4), (3, 2)
_PAIR = {"in1": _arrays(_IN1), "in2": _arrays(_IN2), "mode": _choice()}
#: A fill value must fit the data's dtype: the valid calls of those targets vary it.
FILL_DTYPES = ("float64", "float32", "int32")
SIGNAL_TARGETS = [
    Target(f"signal.{f.__name__}", f, {"in1": _IN1, "in2": _IN2}, {}, {**_PAIR, **extra}, dtypes)
    for f, extra, dtypes in (
        (signal.convolve, {"method": _choice()}, ("float64",)),
        (signal.correlate, {"method": _choice()}, ("float64",)),
        (signal.fftconvolve, {"axes": _axes()}, ("float64",)),
        (signal.oaconvolve, {"axes": _axes()}, ("float64",)),
        (signal.convolve2d, {"boundary": _choice(), "fillvalue": JUNK}, FILL_DTYPES),
        (signal.correlate2d, {"boundary": _choice(), "fillvalue": JUNK}, FILL_DTYPES),
        (signal.choose_conv_method, {"measure": JUNK}, ("float64",)),
    )
]


def _ndimage(func: Callable[..., Any], weights: tuple[int, ...], axis: str) -> Target:
    values = {
        "input": _arrays(_IN1),
        "weights": _arrays(weights) | st.lists(ENTRY, max_size=3),
        axis: _axes(),
        "output": _output(_IN1),
        "mode": _choice(),
        "cval": JUNK,
        "origin": _axes(),
    }
    arrays = {"input": _IN1, "weights": weights}
    return Target(f"ndimage.{func.__name__}", func, arrays, {}, values, FILL_DTYPES)


NDIMAGE_TARGETS = [
    _ndimage(ndimage.convolve, _IN2, "axes"),
    _ndimage(ndimage.correlate, _IN2, "axes"),
    _ndimage(ndimage.convolve1d, (3,), "axis"),
    _ndimage(ndimage.correlate1d, (3,), "axis"),
]

TARGETS = [*TF_TARGETS, *SIGNAL_TARGETS, *NDIMAGE_TARGETS]


def test_every_public_function_is_fuzzed() -> None:
    """:data:`TARGETS` has every public function, no more."""
    fuzzed = {t.name for t in TARGETS}
    public = {
        *xconv._api.__all__,  # the convolutions (not the workspace controls)
        *(f"signal.{n}" for n in signal.__all__),
        *(f"ndimage.{n}" for n in ndimage.__all__),
    }
    assert fuzzed == public


# --------------------------------------------------------------------------- checks


def _overrides(target: Target, names: Sequence[str] | None = None) -> st.SearchStrategy[Any]:
    """One or two of ``target``'s arguments (among ``names``) with a wrong value each."""
    names = list(target.values) if names is None else list(names)
    chosen = st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)
    return chosen.flatmap(lambda keys: st.fixed_dictionaries({k: target.values[k] for k in keys}))


def _resolve(xp: ModuleType, device: Any, value: Any) -> Any:
    """An override as passed to the function: markers become arrays and dtypes."""
    if isinstance(value, Arr):
        return make(xp, value.data, device)
    if isinstance(value, Raw):
        return value.data.copy()
    if isinstance(value, Foreign):
        if _same_namespace(array_api_compat.array_namespace(value.data), xp):
            return make(pytest.importorskip("array_api_strict"), value.data)
        return value.data.copy()
    if isinstance(value, XpDtype):
        return getattr(xp, value.name, value.name)
    return value


def _snapshot(value: Any) -> Any:
    """A deep copy of ``value`` to compare with after the call (arrays as NumPy)."""
    if isinstance(value, list | tuple):
        return type(value)(_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type):
        return ("array", type(value), str(value.dtype), tuple(value.shape), to_numpy(value))
    return copy.deepcopy(value)


def _same(a: Any, b: Any) -> bool:
    """Equality of two snapshots, NaN equal to NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if (a.dtype, a.shape) != (b.dtype, b.shape):
            return False
        nan_aware = a.dtype.kind in "fc"
        return bool(np.array_equal(a, b, equal_nan=nan_aware))
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float | complex | np.inexact) and a != a:  # NaN (also in complex)
        return type(a) is type(b) and b != b
    return type(a) is type(b) and bool(a == b)


def names_argument(exc: BaseException, names: Sequence[str]) -> bool:
    """Whether the message of ``exc`` names one of ``names`` as a whole word."""
    return any(re.search(rf"\b{re.escape(n)}\b", str(exc)) for n in names)


def check_call(
    target: Target,
    kwargs: dict[str, Any],
    fuzzed: Sequence[str],
    *,
    expect: Callable[[Any], None],
    guard: contextlib.AbstractContextManager[Any] | None = None,
) -> None:
    """Call ``target`` with ``kwargs``: ValueError/TypeError naming ``fuzzed``, or ``expect``.

    The call runs inside ``guard`` (e.g. :func:`no_compute`). Also checks that no
    argument changed (except ``output``, which a successful ndimage call writes into).
    """
    before = {k: _snapshot(v) for k, v in kwargs.items()}
    with guard or contextlib.nullcontext(), warnings.catch_warnings():
        # Arithmetic on huge or non-finite values warns as NumPy's does.
        warnings.filterwarnings("ignore", "(overflow|invalid value) encountered", RuntimeWarning)
        error, result = outcome(target.func, **kwargs)
    if error is None:
        expect(result)
    else:
        assert names_argument(error, fuzzed), f"{error!r} names none of {fuzzed}"
    for k, v in kwargs.items():
        if not (k == "output" and error is None):
            assert _same(before[k], _snapshot(v)), f"argument {k} was modified"


def outcome(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Exception | None, Any]:
    """``(None, func(...))``, or ``(error, None)`` where the call raises ValueError/TypeError."""
    try:
        return None, func(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        return exc, None


def expect_array(xp: ModuleType) -> Callable[[Any], None]:
    """A check that a successful call returned what it promises, in namespace ``xp``."""

    def check(result: Any) -> None:
        if isinstance(result, str | tuple):  # choose_conv_method
            method = result if isinstance(result, str) else result[0]
            assert method in ("direct", "fft")
            return
        got = array_api_compat.array_namespace(result)
        assert _same_namespace(got, xp), f"result in {got.__name__}, not {xp.__name__}"

    return check


def namespace_of(target: Target, kwargs: dict[str, Any]) -> ModuleType:
    """The namespace of the array arguments in ``kwargs`` (all of one library if valid)."""
    arrays = [kwargs[k] for k in target.arrays if array_api_compat.is_array_api_obj(kwargs[k])]
    if not arrays:  # numbers and sequences alone are NumPy arrays (SciPy's rule)
        return array_api_compat.array_namespace(np.empty(0))
    return array_api_compat.array_namespace(*arrays)


@contextlib.contextmanager
def no_compute(library: Backend) -> Iterator[None]:
    """On Dask: any computation inside the block fails the test."""
    if library is not Backend.DASK:
        yield
        return
    import dask

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("computed at call time")

    with dask.config.set(scheduler=refuse):
        yield


def _computes(target: Target, overrides: dict[str, Any]) -> bool:
    """Whether a call may compute by design: ints read from a library's array (strides
    or sizes given as one) or ``choose_conv_method(measure=True)`` (it times calls)."""
    read = [k for k, v in overrides.items() if isinstance(v, Arr) and k not in target.arrays]
    return bool(overrides.get("measure")) or bool(set(read) - {"output"})


# --------------------------------------------------------------------------- tests


def valid_arrays(xp: ModuleType, device: Any, target: Target, dtype: str) -> dict[str, Any]:
    """The array arguments of ``target``'s valid call (ones of ``dtype``)."""
    return {k: make(xp, np.ones(s, dtype), device) for k, s in target.arrays.items()}


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_valid_call(xp: ModuleType, device: Any, library: Backend, target: Target) -> None:
    """The calls that the fuzzer perturbs are valid, and lazy on Dask."""
    for dtype in target.dtypes:
        with no_compute(library):
            result = target.func(**valid_arrays(xp, device, target, dtype), **target.fixed)
        expect_array(xp)(result)


@pytest.mark.parametrize("target", TARGETS, ids=str)
@given(data=st.data())
def test_fuzz(
    xp: ModuleType, device: Any, library: Backend, target: Target, data: st.DataObject
) -> None:
    """One or two wrong arguments: ValueError/TypeError naming one, or a valid result."""
    dtype = data.draw(st.sampled_from(target.dtypes), label="dtype")
    overrides = data.draw(_overrides(target), label="overrides")
    kwargs = {**valid_arrays(xp, device, target, dtype), **target.fixed}
    kwargs.update({k: _resolve(xp, device, v) for k, v in overrides.items()})
    try:  # a valid call's result is in the namespace of the arrays given (e.g. another one)
        xp_of_arrays = namespace_of(target, kwargs)
    except TypeError:
        xp_of_arrays = xp  # then the call must fail
    guard = None if _computes(target, overrides) else no_compute(library)
    check_call(target, kwargs, list(overrides), expect=expect_array(xp_of_arrays), guard=guard)


def test_cached_specs_keep_argument_types(xp: ModuleType, device: Any) -> None:
    """A wrong value equal to a valid one (``1.0 == True == 1``, ``0j == 0``) is not
    answered from the spec cache filled by the valid one."""
    x, w = make(xp, np.ones((1, 5, 5, 2)), device), make(xp, np.ones((3, 3, 2, 2)), device)
    xconv.conv2d(x, w, 1, 1)
    xconv.conv2d(x, w, 1, [[1, 1], [1, 1]])
    for bad in (1.0, True, np.float64(1), [[1.0, 1], [1, 1]], [[True, 1], [1, 1]]):
        with pytest.raises(TypeError, match="padding"):
            xconv.conv2d(x, w, 1, bad)
    a, b = np.ones((4, 4)), np.ones((2, 2))
    signal.convolve2d(make(xp, a + 0j, device), make(xp, b + 0j, device), fillvalue=0j)
    y = signal.convolve2d(make(xp, a, device), make(xp, b, device), fillvalue=0)  # no warning
    assert xp.isdtype(y.dtype, "real floating")


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_dask_checks_at_call_time(target: Target) -> None:
    """Each argument's error comes before any computation; a valid call stays lazy."""
    if Backend.DASK not in BACKENDS:
        pytest.skip("dask is not among XCONV_TEST_BACKENDS")
    da = pytest.importorskip("dask.array")
    kwargs = {k: da.ones(s, chunks={0: 1}) for k, s in target.arrays.items()}
    with no_compute(Backend.DASK):
        result = target.func(**kwargs, **target.fixed)
        assert isinstance(result, str | da.Array)
        for name in target.values:
            if name != "measure":  # a truthy measure times the methods
                with pytest.raises((ValueError, TypeError), match=rf"\b{name}\b"):
                    target.func(**{**kwargs, **target.fixed, name: "?"})


#: One function per way of checking arguments (tracing all of them would be slow);
#: ``choose_conv_method`` returns no array, so it cannot be traced.
JIT_NAMES = (
    *("conv2d", "depthwise_conv2d", "separable_conv2d", "conv_transpose"),
    *("conv2d_backprop_filter", "depthwise_conv2d_backprop_input"),
    *("depthwise_conv2d_backprop_filter", "signal.correlate", "signal.convolve2d"),
    *("signal.fftconvolve", "ndimage.correlate", "ndimage.correlate1d"),
)
JIT_TARGETS = [t for t in TARGETS if t.name in JIT_NAMES]


#: Wrong values tried for every static argument under ``jax.jit``: a fixed list, not
#: drawn. The drawn version failed once in CI with hypothesis' FlakyStrategyDefinition
#: on an xdist worker (not reproduced alone: 300 examples passed); the same error came
#: later from examples the parametrized fuzz test saved in hypothesis' database, which
#: the test profile no longer keeps (``tests/conftest.py``). A fixed list checks the
#: same thing.
JIT_BAD_VALUES: tuple[Any, ...] = ("?", -3, 2.5, None, (), [1.5])


@pytest.mark.parametrize("target", JIT_TARGETS, ids=str)
def test_jax_jit_static_arguments(target: Target) -> None:
    """Under ``jax.jit``, wrong static arguments raise while tracing, naming them."""
    if Backend.JAX not in BACKENDS:
        pytest.skip("jax is not among XCONV_TEST_BACKENDS")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)  # as the xp fixture does
    names = list(target.arrays)
    arrays = [jax.numpy.ones(s) for s in target.arrays.values()]
    for name in (k for k in target.values if k not in target.arrays):
        for bad in JIT_BAD_VALUES:
            static = {**target.fixed, name: bad}

            def call(*arrays: Any, static: dict[str, Any] = static) -> Any:
                return target.func(**dict(zip(names, arrays, strict=True)), **static)

            error, _ = outcome(jax.jit(call).trace, *arrays)
            assert error is None or names_argument(error, [name]), f"{name}={bad!r}: {error!r}"
