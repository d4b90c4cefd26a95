"""Every algorithm (``method=``) on every backend against the naive reference.

``METHODS_UNDER_TEST`` lists the methods compared; it holds "einsum", "gemm" and
"shift", plus every other algorithm registered in ``xconv._algorithms.ALGORITHMS``
at import time ("winograd", "fft", ... as they land), so a new method is tested by
registering it. A method that does not apply to a case (``Algorithm.why_not``) must raise
``ValueError("method=... does not apply: ...")`` for it, and the methods that apply to
everything (einsum, gemm, shift) must never refuse.

The cases cover ranks 1-3 (and 4 through ``convolution``), strides, dilations, both
together, groups, depthwise with and without a multiplier, pointwise kernels, few and
single channels, explicit and FULL padding, empty batches and outputs, channels-first
layouts, every dtype (integers exactly), tiny tile sizes (many tiles, every tile axis)
and memory budgets.
"""

from __future__ import annotations

import dataclasses
import functools
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import pytest

import xconv
from _helpers import (
    FLOAT_DTYPES,
    INT_DTYPES,
    Case,
    assert_close,
    backend_dtype,
    count_calls,
    make,
    make_inputs,
    reason,
    small_case,
    to_numpy,
)
from xconv._algorithms import ALGORITHMS, gemm, shift, tuning
from xconv._backend import supports_inplace

#: Methods compared with the reference. Append a name here (or register it in
#: ``ALGORITHMS``) to test it; "native" has its own tests.
METHODS_UNDER_TEST: list[str] = ["einsum", "gemm", "shift"] + [
    name for name in ALGORITHMS if name not in ("einsum", "gemm", "shift", "native")
]
#: Methods that run every case (never raise "does not apply").
UNIVERSAL = ("einsum", "gemm", "shift")

RANKS = [1, 2, 3]


#: Defaults of this module's cases (see ``small_case``).
geometry = functools.partial(
    small_case,
    defaults={"in_sizes": {1: (11,), 2: (8, 7), 3: (5, 6, 4), 4: (4, 3, 4, 3)}, "k": (3, 3, 2, 2)},
)


#: name -> Case keywords (ints are per-dimension uniform).
VARIANTS: dict[str, dict[str, Any]] = {
    "valid": {},
    "same": {"padding": "SAME"},
    "full": {"padding": "FULL", "k": 2},
    "strided": {"strides": 2, "padding": "SAME"},
    "dilated": {"dilations": 2, "padding": "SAME"},
    "strided-dilated": {"strides": 2, "dilations": 2, "padding": "SAME"},
    "stride3-valid": {"strides": 3},
    "groups": {"c": 6, "cg": 2, "o": 9, "padding": "SAME"},
    "groups-strided": {"c": 6, "cg": 3, "o": 4, "strides": 2, "dilations": 2, "padding": "SAME"},
    "depthwise": {"c": 4, "cg": 1, "o": 4, "padding": "SAME"},
    "depthwise-multiplier": {"c": 3, "cg": 1, "o": 6, "strides": 2, "padding": "SAME"},
    "single-channel": {"c": 1, "cg": 1, "o": 1, "padding": "SAME"},
    "few-channel": {"c": 1, "cg": 1, "o": 5, "strides": 2},
    "pointwise": {"k": 1},
    "pointwise-groups": {"k": 1, "c": 4, "cg": 2, "o": 6},
    "pointwise-strided": {"k": 1, "strides": 2},
    "pointwise-padded": {"k": 1, "padding": "explicit"},
    "explicit-pads": {"padding": "explicit", "dilations": 2},
    "kernel-too-big": {"k": 12},
    "empty-batch": {"n": 0, "padding": "SAME"},
    "channels-first": {"channels_first": True, "padding": "SAME", "strides": 2},
}


def variant(rank: int, name: str) -> Case:
    kw = dict(VARIANTS[name])
    if kw.get("padding") == "explicit":
        kw["padding"] = tuple((i % 2, (i + 1) % 3) for i in range(rank))
    return geometry(rank, **kw)


def run_method(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    case: Case,
    method: str,
    *,
    dtype: str = "float64",
    **options: Any,
) -> Any:
    """Run ``case`` with ``method`` and compare with the reference.

    Returns the result, or None when the method (rightly) refused the case. Also checks
    that the inputs are left unchanged.
    """
    xdt = backend_dtype(xp, dtype)
    if xdt is None:
        pytest.skip(f"{xp.__name__} has no {dtype}")
    x_np, w_np = make_inputs(rng, case, dtype)
    x = make(xp, case.to_layout(x_np), device, dtype=xdt)
    w = make(xp, w_np, device, dtype=xdt)
    before = to_numpy(x), to_numpy(w)
    kwargs: dict[str, Any] = {**case.call_kwargs(), "method": method, **options}
    why = reason(method, case, xp, xdt)
    if why is not None:
        assert method not in UNIVERSAL, f"{method} refused a case: {why}"
        with pytest.raises(ValueError, match=f"method='{method}' does not apply"):
            xconv.convolution(x, w, **kwargs)
        return None
    out = xconv.convolution(x, w, **kwargs)
    expected = case.reference(x_np, w_np)
    assert_close(xp, out, expected, dtype=xdt, device=array_api_compat.device(x))
    np.testing.assert_array_equal(to_numpy(x), before[0], err_msg="input was modified")
    np.testing.assert_array_equal(to_numpy(w), before[1], err_msg="filters were modified")
    return out


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("method", METHODS_UNDER_TEST)
def test_method_matches_reference(
    xp: ModuleType, device: Any, rng: np.random.Generator, method: str, rank: int, name: str
) -> None:
    run_method(xp, device, rng, variant(rank, name), method)


@pytest.mark.parametrize("method", METHODS_UNDER_TEST)
def test_rank4(xp: ModuleType, device: Any, rng: np.random.Generator, method: str) -> None:
    """Ranks beyond 3 are the same code (only ``convolution`` names them)."""
    case = geometry(4, c=4, cg=2, o=4, strides=(1, 2, 1, 1), padding="SAME")
    run_method(xp, device, rng, case, method)


@pytest.mark.parametrize("dtype", [*FLOAT_DTYPES, *INT_DTYPES])
@pytest.mark.parametrize(
    "name", ["same", "groups", "depthwise-multiplier", "pointwise-groups", "strided"]
)
@pytest.mark.parametrize("method", METHODS_UNDER_TEST)
def test_method_dtypes(
    xp: ModuleType, device: Any, rng: np.random.Generator, method: str, name: str, dtype: str
) -> None:
    """Every dtype; integers exactly (the reference works in int64)."""
    run_method(xp, device, rng, variant(2, name), method, dtype=dtype)


def test_integer_wraparound(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    """int8 sums wrap like NumPy's (modulo 2**8), for every method that applies."""
    if backend_dtype(xp, "int8") is None:
        pytest.skip(f"{xp.__name__} has no int8")
    case = geometry(2, c=3, cg=3, o=2, padding="SAME")
    x_np = np.full(case.x_shape, 100, dtype=np.int8)
    w_np = np.full(case.w_shape, 3, dtype=np.int8)
    expected = case.reference(x_np, w_np).astype(np.int64).astype(np.int8)
    x, w = make(xp, x_np, device), make(xp, w_np, device)
    for method in METHODS_UNDER_TEST:
        if reason(method, case, xp, x.dtype) is not None:
            continue
        out = xconv.convolution(x, w, padding="SAME", method=method)
        np.testing.assert_array_equal(to_numpy(out), expected, err_msg=method)


@pytest.mark.parametrize("chunk", [1, 7, 1 << 22])
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((5, 9), (9, 4)), ((3, 5, 9), (3, 9, 4)), ((5, 9), (3, 9, 4)), ((5, 0), (0, 4))],
)
def test_matmul_by_products(
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    chunk: int,
    rng: np.random.Generator,
) -> None:
    """torch on CUDA has no integer matmul: its stand-in wraps like one (int8, mod 2**8).

    The stand-in is torch-only code that runs on any device, so it is checked here on
    the CPU, in chunks of the inner axis of every size (1 element, a few, all).
    """
    torch = pytest.importorskip("torch")
    from xconv import _backend

    a = rng.integers(-128, 128, a_shape).astype(np.int8)
    b = rng.integers(-128, 128, b_shape).astype(np.int8)
    expected = np.matmul(a.astype(np.int64), b.astype(np.int64)).astype(np.int8)
    got = _backend.products.matmul_by_products(
        torch.from_numpy(a), torch.from_numpy(b), chunk=chunk
    )
    assert got.dtype == torch.int8
    np.testing.assert_array_equal(got.numpy(), expected)


#: tile target bytes, and gemm's ``min_tile_rows``: 1 keeps whole patch rows, a huge
#: value splits the kernel's first axis into parts whose products accumulate.
TILE_SIZES = {"tiny": (1, 10**9), "small": (600, 1), "medium": (5000, 10**9)}


@pytest.mark.parametrize("tile", list(TILE_SIZES))
@pytest.mark.parametrize(
    "name", ["same", "strided-dilated", "groups", "depthwise-multiplier", "few-channel"]
)
@pytest.mark.parametrize("rank", RANKS)
def test_tiles(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    rank: int,
    name: str,
    tile: str,
) -> None:
    """Tiny tile targets give many tiles along every axis, with gemm's kernel split
    into accumulated parts or not: still exact."""
    if tile != "medium" and not supports_inplace(xp):
        # Out of place, every tile is one more array to concatenate (and on JAX one
        # more piece of the compiled program): hundreds of tiles only cost time there.
        pytest.skip("tiles this small only where they are filled in place; see 'medium'")
    size, min_rows = TILE_SIZES[tile]
    tiles = gemm.Tuning(patch_bytes=size, max_patch_bytes=size, min_tile_rows=min_rows)
    case = dataclasses.replace(variant(rank, name), n=3)
    with tuning(gemm=tiles, shift=shift.Tuning(tile_bytes=size)):
        for method in ("gemm", "shift"):
            run_method(xp, device, rng, case, method)


def test_tuning_applies_inside_its_block() -> None:
    """``tuning`` swaps an algorithm's tile sizes for its block only, and plans cached
    under the old sizes are not reused."""
    case = geometry(2, n=3, in_sizes=(40, 40), c=8, cg=8, o=8, padding="VALID")
    args = (case.x_shape, case.w_shape, case.spec(), 8)
    default = gemm.workspace_bytes(*args)
    with tuning(gemm=gemm.Tuning(patch_bytes=1000, max_patch_bytes=1000)):
        assert gemm.workspace_bytes(*args) < default
    assert gemm.workspace_bytes(*args) == default
    assert gemm.Tuning() == gemm.TUNING


@pytest.mark.parametrize("method", METHODS_UNDER_TEST)
def test_memory_budget(xp: ModuleType, device: Any, rng: np.random.Generator, method: str) -> None:
    """A budget far below the temporaries: the core chunks batch and rows."""
    case = geometry(2, n=3, in_sizes=(13, 9), c=3, cg=3, o=4, padding="SAME", strides=(1, 2))
    run_method(xp, device, rng, case, method, memory_budget=2048)


@pytest.mark.parametrize("method", ["gemm", "shift"])
def test_flat_grid_waste(
    xp: ModuleType, device: Any, rng: np.random.Generator, method: str
) -> None:
    """Shift's flattened padded grid on and off (``flat_waste``) gives the same result."""
    case = geometry(2, in_sizes=(12, 10), c=2, cg=1, o=4, k=(3, 2), padding="SAME")
    for waste in (0.0, 10.0):
        with tuning(shift=shift.Tuning(flat_waste=waste)):
            run_method(xp, device, rng, case, method)


@pytest.mark.parametrize("wide_row", [1, 8, 20])
@pytest.mark.parametrize("tile", [64, 600, 10**9])
@pytest.mark.parametrize("rank", RANKS)
def test_depthwise_wide_rows(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    rank: int,
    tile: int,
    wide_row: int,
) -> None:
    """Depthwise products on the flat grid with several pixels per product row
    (shift's ``wide_row``: 1, 2 or 5 pixels of 4 channels): rows that fill whole
    product rows, a tile's partial last row, and tiles shorter than one product row."""
    case = dataclasses.replace(variant(rank, "depthwise"), n=3)
    with tuning(shift=shift.Tuning(wide_row=wide_row, tile_bytes=tile)):
        run_method(xp, device, rng, case, "shift")


@pytest.mark.parametrize("panel", [1, 100, 10**9])
@pytest.mark.parametrize("waste", [0.0, 10.0])
@pytest.mark.parametrize(
    ("length", "k", "stride", "padding"),
    [
        (13, 3, 1, "SAME"),
        (12, 5, 2, "VALID"),  # length a multiple of the stride: one joined signal
        (13, 5, 2, "VALID"),  # not a multiple: one signal per image
        (14, 2, 3, "VALID"),  # stride > kernel: one product per tile (g = 1)
        (16, 4, 4, "SAME"),
        (9, 7, 1, "VALID"),
    ],
)
def test_strided_rows(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    length: int,
    k: int,
    stride: int,
    padding: str,
    waste: float,
    panel: int,
) -> None:
    """1-d gemm without a patch copy (windows as rows of a strided view): tiles of one
    row per product or more, the batch as one signal or one signal per image."""
    case = geometry(
        1, n=3, in_sizes=(length,), c=3, cg=3, o=4, k=k, strides=stride, padding=padding
    )
    tuned = gemm.Tuning(rows_panel_bytes=panel, rows_waste=waste, min_strided_rows=0)
    with tuning(gemm=tuned):
        run_method(xp, device, rng, case, "gemm")


@pytest.mark.parametrize(("rows", "strided"), [(0, True), (512, False)])
def test_strided_rows_only_for_tall_products(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, rows: int, strided: bool
) -> None:
    """1-d gemm reads the windows in place only where each residue class of an image
    has ``min_strided_rows`` output rows (here 13 // ceil(5 / 2) = 4); shorter ones
    go through the copied patch matrix, with the same result."""
    calls = count_calls(monkeypatch, gemm, "_strided_rows")
    x = rng.standard_normal((2, 30, 3))
    w = rng.standard_normal((5, 3, 4))
    expected = geometry(
        1, n=2, in_sizes=(30,), c=3, cg=3, o=4, k=5, strides=2, padding="VALID"
    ).reference(x, w)
    with tuning(gemm=gemm.Tuning(min_strided_rows=rows)):
        out = xconv.conv1d(x, w, 2, "VALID", method="gemm")
    assert bool(calls) is strided
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_noncontiguous_numpy(rng: np.random.Generator) -> None:
    """Strided, read-only NumPy views as input and filters."""
    x_big = rng.standard_normal((2, 16, 14, 6))
    w_big = rng.standard_normal((3, 3, 6, 8))
    x = x_big[:, ::2, ::2, ::2]
    w = np.transpose(np.transpose(w_big, (3, 2, 1, 0)).copy(), (3, 2, 1, 0))[:, :, ::2, ::2]
    x.flags.writeable = False
    case = geometry(2, in_sizes=(8, 7), c=3, cg=3, o=4, padding="SAME")
    expected = case.reference(np.array(x), np.array(w))
    for method in METHODS_UNDER_TEST:
        if reason(method, case, np, x.dtype) is not None:
            continue
        out = xconv.convolution(x, w, padding="SAME", method=method)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12, err_msg=method)


def test_explicit_requests_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A method that refuses a case raises a ValueError with the reason."""
    refusing = dataclasses.replace(
        ALGORITHMS["gemm"], refusal=lambda spec, w_shape, dtype, xp: f"not for {w_shape}"
    )
    monkeypatch.setitem(ALGORITHMS, "gemm", refusing)
    x, w = np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 1))
    with pytest.raises(ValueError, match=r"method='gemm' does not apply: not for \(3, 3, 2, 1\)"):
        xconv.conv2d(x, w, 1, "SAME", method="gemm")
    # "auto" never asks a refusing method, and the others still run.
    np.testing.assert_allclose(xconv.conv2d(x, w, 1, "VALID", method="shift"), 18.0)


@pytest.mark.skipif("winograd" not in ALGORITHMS, reason="winograd not registered")
@pytest.mark.parametrize("kw", [{"strides": 2}, {"k": 5}], ids=["stride2", "5x5"])
def test_winograd_refuses(kw: dict[str, Any]) -> None:
    """Winograd is for 3x3 stride-1 kernels: other cases are a clear ValueError."""
    case = geometry(2, in_sizes=(9, 9), padding="SAME", **kw)
    x, w = np.ones(case.x_shape), np.ones(case.w_shape)
    with pytest.raises(ValueError, match="method='winograd' does not apply"):
        xconv.convolution(x, w, strides=case.strides, padding="SAME", method="winograd")


@pytest.mark.parametrize("method", ["gemm", "shift"])
def test_torch_autograd(rng: np.random.Generator, method: str) -> None:
    """Tensors that require grad take the out-of-place path; gradients are right."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 7, 6, 4))
    w = rng.standard_normal((3, 3, 2, 6))  # two groups
    args: dict[str, Any] = {"strides": 1, "padding": "SAME", "dilations": 1}
    dy = rng.standard_normal(xconv.conv2d(x, w, **args).shape)
    grads = []
    for m in (method, "native"):
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        (xconv.conv2d(xt, wt, **args, method=m) * torch.tensor(dy)).sum().backward()
        grads.append((xt.grad.numpy(), wt.grad.numpy()))
    for got, want in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", ["gemm", "shift"])
def test_jax_jit_and_grad(rng: np.random.Generator, method: str) -> None:
    """The methods trace under ``jax.jit`` and differentiate with ``jax.grad``."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x = jnp.asarray(rng.standard_normal((2, 9, 8, 3)))
    w = jnp.asarray(rng.standard_normal((3, 3, 1, 6)))  # depthwise, multiplier 2

    def f(a: Any, b: Any, m: str) -> Any:
        return jnp.sum(xconv.conv2d(a, b, 1, "SAME", method=m) ** 2)

    got = jax.jit(lambda a, b: f(a, b, method))(x, w)
    want = f(x, w, "native")
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10)
    g_got = jax.grad(lambda b: f(x, b, method))(w)
    g_want = jax.grad(lambda b: f(x, b, "native"))(w)
    np.testing.assert_allclose(np.asarray(g_got), np.asarray(g_want), rtol=1e-10, atol=1e-10)
