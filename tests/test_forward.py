"""Forward convolutions on every backend against the naive reference.

Covers ``conv1d/2d/3d``, ``convolution`` (ranks 1-4), ``depthwise_conv2d`` and
``separable_conv2d``: every argument form, layouts, groups, dtypes, padding modes,
empty results, read-only and non-contiguous inputs, methods and memory budgets, plus a
hypothesis property test. Every call also checks that its inputs are left unchanged
and that the result is of the input's namespace, dtype and device.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xconv
from _helpers import (
    FLOAT_DTYPES,
    INT_DTYPES,
    Case,
    assert_close,
    backend_dtype,
    conv_cases,
    encode_ints,
    encode_padding,
    make,
    make_inputs,
    random_array,
    small_case,
    to_numpy,
)
from _reference import reference_depthwise, reference_separable, same_pads

RANKS = [1, 2, 3]
APIS = ["convN", "convolution"]
PADDING_MODES = ["zeros", "reflect", "symmetric", "edge", "circular"]


def conv_n(rank: int) -> Callable[..., Any]:
    return {1: xconv.conv1d, 2: xconv.conv2d, 3: xconv.conv3d}[rank]


def call(
    api: str,
    x: Any,
    w: Any,
    case: Case,
    *,
    strides_form: str = "per_dim",
    dilations_form: str = "per_dim",
    padding_form: str | None = None,
    **extra: Any,
) -> Any:
    """Call ``xconv`` for ``case`` with the arguments in the given forms."""
    strides = encode_ints(case.strides, strides_form, case.rank, case.channels_first)
    dilations = encode_ints(case.dilations, dilations_form, case.rank, case.channels_first)
    if padding_form is None:
        padding_form = "string" if isinstance(case.padding, str) else "pairs"
    padding = encode_padding(case, padding_form)
    data_format = case.data_format() or None
    if api == "convN":
        return conv_n(case.rank)(
            x, w, strides, padding, data_format=data_format, dilations=dilations, **extra
        )
    return xconv.convolution(
        x,
        w,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilations=dilations,
        **extra,
    )


def check(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    case: Case,
    *,
    api: str = "convolution",
    dtype: str = "float64",
    padding_mode: str | None = None,
    x_np: np.ndarray | None = None,
    w_np: np.ndarray | None = None,
    prepare: Callable[[Any, Any], tuple[Any, Any]] | None = None,
    **kwargs: Any,
) -> Any:
    """Run one case on ``xp`` and compare it with the reference; return the result.

    ``x_np``/``w_np`` (canonical layout) default to random data of ``dtype``;
    ``prepare`` may turn the backend arrays into views before the call.
    """
    xdt = backend_dtype(xp, dtype)
    if xdt is None:
        pytest.skip(f"{xp.__name__} has no {dtype}")
    if x_np is None or w_np is None:
        x_np, w_np = make_inputs(rng, case, dtype)
    x = make(xp, case.to_layout(x_np), device, dtype=xdt)
    w = make(xp, w_np, device, dtype=xdt)
    if prepare is not None:
        x, w = prepare(x, w)
    before = to_numpy(x), to_numpy(w)
    if padding_mode is not None:  # None: rely on the default, "zeros"
        kwargs["padding_mode"] = padding_mode
    out = call(api, x, w, case, **kwargs)
    expected = case.reference(x_np, w_np, padding_mode or "zeros")
    assert_close(xp, out, expected, dtype=xdt, device=array_api_compat.device(x))
    np.testing.assert_array_equal(to_numpy(x), before[0], err_msg="input was modified")
    np.testing.assert_array_equal(to_numpy(w), before[1], err_msg="filters were modified")
    return out


#: Defaults of this module's cases (see ``small_case``).
geometry = functools.partial(
    small_case,
    defaults={
        "in_sizes": {1: (9,), 2: (9, 7), 3: (5, 6, 5), 4: (5, 6, 5, 3)},
        "k": (3, 2, 2, 2),
        "cg": 2,
        "o": 6,
    },
)


# --------------------------------------------------------------------------- argument forms

# (strides form, dilations form, padding kind, padding form, channels first)
FORMS = [
    ("int", "int", "SAME", "string", False),
    ("len1", "len1", "VALID", "string", True),
    ("per_dim", "per_dim", "FULL", "string", False),
    ("full", "full", "pairs", "tf", True),
    ("full", "full", "pairs", "tf", False),
    ("per_dim", "none", "pairs", "pairs", True),
    ("int", "per_dim", "uniform", "int", False),
    ("per_dim", "len1", "SAME", "string", True),
]


def _form_case(rank: int, sform: str, dform: str, pkind: str, channels_first: bool) -> Case:
    uniform = ("int", "len1")
    strides = (2,) * rank if sform in uniform else (2, 1, 3)[:rank]
    dilations = {"none": (1,) * rank}.get(
        dform, (2,) * rank if dform in uniform else (1, 2, 2)[:rank]
    )
    padding: Any = {
        "pairs": ((1, 2), (0, 1), (2, 0))[:rank],
        "uniform": ((1, 1),) * rank,
    }.get(pkind, pkind)
    return geometry(
        rank,
        strides=strides,
        dilations=dilations,
        padding=padding,
        channels_first=channels_first,
    )


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize(("sform", "dform", "pkind", "pform", "channels_first"), FORMS)
def test_argument_forms(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    api: str,
    rank: int,
    sform: str,
    dform: str,
    pkind: str,
    pform: str,
    channels_first: bool,
) -> None:
    case = _form_case(rank, sform, dform, pkind, channels_first)
    check(
        xp, device, rng, case, api=api, strides_form=sform, dilations_form=dform, padding_form=pform
    )


@pytest.mark.parametrize("rank", RANKS)
def test_default_arguments(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int
) -> None:
    """Defaults: channels-last layouts, dilations None, convolution's strides/padding."""
    case = geometry(rank, padding="SAME")
    x_np, w_np = make_inputs(rng, case)
    x, w = make(xp, x_np, device), make(xp, w_np, device)
    assert_close(xp, conv_n(rank)(x, w, 1, "SAME"), case.reference(x_np, w_np), dtype=xp.float64)
    valid = geometry(rank)
    assert_close(xp, xconv.convolution(x, w), valid.reference(x_np, w_np), dtype=xp.float64)


@pytest.mark.parametrize(
    ("sform", "padding", "pform"),
    [
        ("per_dim", "SAME", "string"),
        ("full", ((1, 0), (0, 1), (1, 1), (0, 0)), "tf"),
        ("int", ((1, 2),) * 4, "pairs"),
    ],
)
def test_rank4_convolution(
    xp: ModuleType, device: Any, rng: np.random.Generator, sform: str, padding: Any, pform: str
) -> None:
    uniform = sform == "int"
    case = Case(
        n=1,
        in_sizes=(4, 3, 4, 3),
        c=2,
        k=(2, 2, 1, 2),
        cg=1,
        o=4,
        strides=(2,) * 4 if uniform else (1, 2, 1, 2),
        dilations=(1,) * 4 if uniform else (1, 1, 2, 1),
        padding=padding,
    )
    check(xp, device, rng, case, strides_form=sform, dilations_form=sform, padding_form=pform)


# --------------------------------------------------------------------------- groups, dtypes


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize(("c", "cg", "o"), [(3, 3, 4), (6, 2, 6), (4, 1, 8), (4, 1, 4), (6, 3, 2)])
def test_groups(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int, c: int, cg: int, o: int
) -> None:
    case = geometry(rank, c=c, cg=cg, o=o, strides=(2,) * rank, padding="SAME")
    check(xp, device, rng, case)


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("dtype", [*FLOAT_DTYPES, *INT_DTYPES])
def test_dtypes(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int, dtype: str
) -> None:
    case = geometry(rank, n=1, in_sizes=(5, 4, 3)[:rank], strides=(1, 2, 1)[:rank], padding="SAME")
    check(xp, device, rng, case, dtype=dtype)


@pytest.mark.parametrize(
    ("xdtype", "wdtype"),
    [
        ("float32", "float64"),
        ("int8", "int16"),
        ("uint8", "int16"),
        ("complex64", "float64"),
        ("float16", "float32"),
    ],
)
def test_mixed_dtypes(
    xp: ModuleType, device: Any, rng: np.random.Generator, xdtype: str, wdtype: str
) -> None:
    xdt, wdt = backend_dtype(xp, xdtype), backend_dtype(xp, wdtype)
    if xdt is None or wdt is None:
        pytest.skip(f"{xp.__name__} lacks {xdtype} or {wdtype}")
    case = geometry(2, padding="SAME")
    x_np, w_np = random_array(rng, case.x_shape, xdtype), random_array(rng, case.w_shape, wdtype)
    x, w = make(xp, x_np, device), make(xp, w_np, device)
    out = call("convN", x, w, case)
    assert_close(xp, out, case.reference(x_np, w_np), dtype=xp.result_type(x, w))


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize(
    ("kw", "empty"),
    [
        ({"n": 0, "padding": "SAME", "strides": 2}, True),
        ({"in_sizes": 8, "k": 9, "n": 1, "c": 4, "cg": 4, "o": 6}, True),
        ({"in_sizes": 5, "k": 3, "dilations": 3}, True),  # dilated kernel spans 7 > 5
        ({"in_sizes": 3, "k": 5, "padding": "SAME", "strides": 2}, False),
        ({"in_sizes": 0, "k": 1}, True),
    ],
    ids=["batch0", "kernel>input", "dilated>input", "kernel>input-same", "spatial0"],
)
def test_sizes(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    rank: int,
    kw: dict[str, Any],
    empty: bool,
) -> None:
    per_dim = {"in_sizes", "k", "strides", "dilations"}
    kw = {key: (v,) * rank if key in per_dim else v for key, v in kw.items()}
    case = geometry(rank, **kw)
    out = check(xp, device, rng, case, api="convN")  # checks the shape against the reference
    assert (0 in tuple(out.shape)) == empty


def test_kernel_larger_than_input_shape(xp: ModuleType, device: Any) -> None:
    """The contract's example: (1, 8, 8, 4) ones with (9, 9, 4, 6) ones, VALID."""
    out = xconv.conv2d(make(xp, np.ones((1, 8, 8, 4))), make(xp, np.ones((9, 9, 4, 6))), 1, "VALID")
    assert_close(xp, out, np.zeros((1, 0, 0, 6)), dtype=xp.float64)


# --------------------------------------------------------------------------- padding modes


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("padding", ["SAME", "pairs"])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_padding_modes(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int, padding: str, mode: str
) -> None:
    pads: Any = "SAME" if padding == "SAME" else ((2, 1), (0, 3), (1, 0))[:rank]
    case = geometry(
        rank,
        in_sizes=(6, 5, 4)[:rank],
        strides=(2, 1, 1)[:rank],
        padding=pads,
        channels_first=rank == 2,
    )
    check(xp, device, rng, case, api="convN", padding_mode=mode)


# --------------------------------------------------------------------------- memory and views


@pytest.mark.parametrize("rank", RANKS)
def test_readonly_numpy_inputs(rng: np.random.Generator, rank: int) -> None:
    case = geometry(rank, padding="SAME", strides=(2,) * rank)
    x_np, w_np = make_inputs(rng, case)
    x, w = x_np.copy(), w_np.copy()
    x.flags.writeable = False
    w.flags.writeable = False
    out = call("convN", x, w, case)
    assert_close(
        array_api_compat.array_namespace(x), out, case.reference(x_np, w_np), dtype=np.float64
    )
    np.testing.assert_array_equal(x, x_np)
    np.testing.assert_array_equal(w, w_np)


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("channels_first", [False, True])
def test_noncontiguous_inputs(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int, channels_first: bool
) -> None:
    """Strided input (every other element of the first spatial axis), transposed filters."""
    case = geometry(rank, padding="SAME", dilations=(2,) * rank, channels_first=channels_first)
    big = random_array(rng, (case.n, 2 * case.in_sizes[0], *case.in_sizes[1:], case.c), "float64")
    x_np = big[:, ::2]
    w_np = random_array(rng, case.w_shape, "float64")
    axis = 2 if channels_first else 1
    perm = tuple(reversed(range(rank + 2)))

    def prepare(x: Any, w: Any) -> tuple[Any, Any]:
        xb = make(xp, case.to_layout(big), device)
        index = tuple(slice(None, None, 2) if i == axis else slice(None) for i in range(rank + 2))
        wt = xp.permute_dims(make(xp, np.transpose(w_np, perm), device), perm)
        return xb[index], wt

    check(xp, device, rng, case, x_np=x_np, w_np=w_np, prepare=prepare)


@pytest.mark.parametrize("rank", RANKS)
def test_methods_agree(xp: ModuleType, device: Any, rng: np.random.Generator, rank: int) -> None:
    case = geometry(rank, padding="SAME", strides=(2, 1, 2)[:rank], dilations=(1, 2, 1)[:rank])
    x_np, w_np = make_inputs(rng, case)
    outs = [
        check(xp, device, rng, case, x_np=x_np, w_np=w_np, method=method, precision=None)
        for method in ("auto", "einsum")
    ]
    np.testing.assert_allclose(to_numpy(outs[0]), to_numpy(outs[1]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rank", RANKS)
def test_memory_budget_chunks(
    xp: ModuleType, device: Any, rng: np.random.Generator, rank: int
) -> None:
    """A 4 KiB budget is far below the window buffer; chunked results are the same."""
    in_sizes = {1: (40,), 2: (10, 8), 3: (5, 4, 4)}[rank]
    case = geometry(rank, n=2, in_sizes=in_sizes, c=4, cg=4, o=8, k=(3,) * rank, padding="SAME")
    x_np, w_np = make_inputs(rng, case)
    chunked = check(xp, device, rng, case, x_np=x_np, w_np=w_np, memory_budget=4096)
    whole = check(xp, device, rng, case, x_np=x_np, w_np=w_np)
    np.testing.assert_allclose(to_numpy(chunked), to_numpy(whole), rtol=1e-12, atol=1e-12)


def test_dask_multichunk(rng: np.random.Generator) -> None:
    """Dask input split into several chunks (batch, space, channels) still gives the right result.

    The channel axis is merged into one chunk, with a warning (chunking edges are in
    ``tests/test_dask.py``).
    """
    da = pytest.importorskip("dask.array")
    import dask

    case = geometry(2, n=3, in_sizes=(10, 9), padding="SAME", strides=(2, 1))
    x_np, w_np = make_inputs(rng, case)
    x = da.from_array(x_np, chunks=(1, 4, 5, 2))
    w = da.from_array(w_np, chunks=(2, 1, 2, 3))
    with dask.config.set(scheduler="synchronous"):
        with pytest.warns(da.PerformanceWarning, match="channel axis"):
            out = call("convN", x, w, case)
        assert_close(
            array_api_compat.array_namespace(x), out, case.reference(x_np, w_np), dtype=np.float64
        )


# --------------------------------------------------------------------------- depthwise, separable

# (strides, strides form, padding, padding form, dilations, dilations form, channels first)
DEPTHWISE = [
    ((2, 2), "int", "SAME", "string", (1, 1), "none", False),
    ((2, 2), "full", "VALID", "string", (1, 1), "int", True),
    ((1, 2), "per_dim", ((1, 2), (0, 1)), "pairs", (2, 2), "len1", False),
    ((1, 1), "len1", ((2, 0), (1, 1)), "tf", (2, 1), "per_dim", True),
    ((2, 2), "per_dim", "SAME", "string", (2, 2), "full", False),
]


def _depthwise_case(
    row: tuple[Any, ...], m: int, *, name_nhwc: bool
) -> tuple[Case, dict[str, Any]]:
    """The case for a DEPTHWISE row; channels-last passes "NHWC" or None by ``name_nhwc``."""
    strides, sform, padding, pform, dilations, dform, cf = row
    fixed = {"in_sizes": (8, 7), "c": 3, "k": (3, 2), "cg": 3, "o": 3 * m}
    case = Case(n=2, **fixed, strides=strides, dilations=dilations, padding=padding,
                channels_first=cf)  # fmt: skip
    kwargs = {
        "strides": encode_ints(strides, sform, 2, cf),
        "padding": encode_padding(case, pform),
        "data_format": case.data_format() if cf or name_nhwc else None,
        "dilations": encode_ints(dilations, dform, 2, cf),
    }
    return case, kwargs


@pytest.mark.parametrize("separable", [False, True], ids=["depthwise", "separable"])
@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("row", DEPTHWISE)
def test_depthwise_and_separable_conv2d(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    row: tuple[Any, ...],
    multiplier: int,
    separable: bool,
) -> None:
    """``depthwise_conv2d``, and ``separable_conv2d`` (a 1x1 conv after it) to 5 outputs."""
    case, kwargs = _depthwise_case(row, multiplier, name_nhwc=separable)
    x_np = random_array(rng, case.x_shape, "float64")
    filters = [random_array(rng, (*case.k, case.c, multiplier), "float64")]
    if separable:
        filters.append(random_array(rng, (1, 1, case.c * multiplier, 5), "float64"))
    reference = reference_separable if separable else reference_depthwise
    expected = reference(x_np, *filters, case.strides, case.dilations, case.pads())
    func = xconv.separable_conv2d if separable else xconv.depthwise_conv2d
    x = make(xp, case.to_layout(x_np), device)
    out = func(x, *(make(xp, f, device) for f in filters), **kwargs)
    assert_close(
        xp, out, case.to_layout(expected), dtype=xp.float64, device=array_api_compat.device(x)
    )


def test_depthwise_float32_and_modes(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    """float32 and a non-zero padding mode through the depthwise path."""
    case = geometry(2, n=1, in_sizes=(6, 6), c=2, k=3, cg=2, o=4, padding="SAME")
    x_np = random_array(rng, case.x_shape, "float32")
    f_np = random_array(rng, (3, 3, 2, 2), "float32")
    out = xconv.depthwise_conv2d(
        make(xp, x_np, device), make(xp, f_np, device), 1, "SAME", padding_mode="reflect"
    )
    expected = reference_depthwise(
        x_np, f_np, (1, 1), (1, 1), same_pads((6, 6), (3, 3), (1, 1), (1, 1)), "reflect"
    )
    assert_close(xp, out, expected, dtype=xp.float32)


# --------------------------------------------------------------------------- properties


@given(
    drawn=conv_cases(),
    api=st.sampled_from(APIS),
    method=st.sampled_from(["auto", "einsum"]),
)
def test_property_matches_reference(
    xp: ModuleType, device: Any, drawn: tuple[Case, dict[str, Any]], api: str, method: str
) -> None:
    case, options = drawn
    rng = np.random.default_rng(options.pop("stream"))
    check(xp, device, rng, case, api=api, method=method, **options)
