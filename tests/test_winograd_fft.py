"""What is specific to ``method="winograd"`` and ``method="fft"``.

``test_methods.py`` compares every registered method (these two included) with the
naive reference on every backend. Here: the cases each method refuses (with the
reason in the ``ValueError``), the exactness of the Winograd transforms, accuracy per
dtype against a float64 reference (tolerances below), both Winograd tile sizes, sizes
that tiles do not divide, groups, complex input, the FFT's overlap-save blocks (input
much longer than the kernel), its fast-length search, and its fallback to the
library's own ``fft`` extension when SciPy is missing.

Tolerances are ``max|y - ref| <= rtol * max(1, max|ref|)`` with ``rtol`` per dtype:
float64/complex128 1e-12; float32/complex64 1e-5 for shapes of a few channels, and for
the 64-channel accuracy test 2e-5 (Winograd F(4, 3) measures about 3e-6 there, direct
summation 5e-7); float16 in float32 (the default) 1e-2 of the float16 output, and
float16 computed natively (F(2, 3) in float16) 2e-2.
"""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import pytest

import xconv
from _helpers import (
    Case,
    assert_close,
    backend_dtype,
    make,
    make_inputs,
    random_array,
    small_case,
    to_numpy,
)
from xconv import _backend
from xconv._algorithms import fft, tuning, winograd
from xconv._typing import Method

#: Defaults of this module's cases: 3-wide kernels, stride 1, SAME (see ``small_case``).
case = functools.partial(
    small_case,
    defaults={
        "in_sizes": {1: (13,), 2: (9, 10), 3: (6, 7, 5), 4: (5, 4, 5, 3)},
        "o": 3,
        "padding": "SAME",
    },
)


def run(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    c: Case,
    method: Method,
    *,
    dtype: str = "float64",
    rtol: float | None = None,
    **options: Any,
) -> Any:
    """Run ``c`` with ``method`` on ``xp`` and compare with the naive reference."""
    xdt = backend_dtype(xp, dtype)
    if xdt is None:
        pytest.skip(f"{xp.__name__} has no {dtype}")
    x_np, w_np = make_inputs(rng, c, dtype)
    x, w = make(xp, c.to_layout(x_np), device, dtype=xdt), make(xp, w_np, device, dtype=xdt)
    before = to_numpy(x), to_numpy(w)
    out = xconv.convolution(x, w, **c.call_kwargs(), method=method, **options)
    assert_close(xp, out, c.reference(x_np, w_np), dtype=xdt, rtol=rtol)
    np.testing.assert_array_equal(to_numpy(x), before[0], err_msg="input was modified")
    np.testing.assert_array_equal(to_numpy(w), before[1], err_msg="filters were modified")
    return out


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"strides": 2}, r"winograd needs stride 1, got strides \(2, 2\)"),
        ({"strides": (1, 2)}, r"winograd needs stride 1"),
        ({"dilations": 2}, r"winograd needs dilation 1, got dilations \(2, 2\)"),
        ({"k": 5}, r"winograd needs a kernel of size 3 on every spatial axis, got \(5, 5\)"),
        ({"k": (3, 1)}, r"winograd needs a kernel of size 3 on every spatial axis, got \(3, 1\)"),
        ({"k": 1}, r"winograd needs a kernel of size 3"),
    ],
    ids=["stride2", "stride-1x2", "dilation2", "5x5", "3x1", "1x1"],
)
def test_winograd_refuses(kw: dict[str, Any], match: str) -> None:
    c = case(2, **kw)
    x, w = np.ones(c.x_shape), np.ones(c.w_shape)
    with pytest.raises(ValueError, match=r"method='winograd' does not apply: " + match):
        xconv.convolution(
            x, w, strides=c.strides, padding="SAME", dilations=c.dilations, method="winograd"
        )


@pytest.mark.parametrize("method", ["winograd", "fft"])
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8"])
def test_integers_refused(xp: ModuleType, device: Any, method: Method, dtype: str) -> None:
    """Integer convolutions must be exact: neither transform method takes them."""
    xdt = backend_dtype(xp, dtype)
    if xdt is None:
        pytest.skip(f"{xp.__name__} has no {dtype}")
    x = make(xp, np.ones((1, 6, 6, 2)), device, dtype=xdt)
    w = make(xp, np.ones((3, 3, 2, 2)), device, dtype=xdt)
    with pytest.raises(ValueError, match=rf"method='{method}' does not apply: .*exact"):
        xconv.conv2d(x, w, 1, "SAME", method=method)


def test_fft_without_fft_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    """A namespace without an fft extension is a clear refusal, not an AttributeError."""
    monkeypatch.setattr(fft, "fft_namespace", lambda xp: None)
    with pytest.raises(ValueError, match=r"method='fft' does not apply: .*no fft extension"):
        xconv.conv2d(np.ones((1, 6, 6, 1)), np.ones((3, 3, 1, 1)), 1, "SAME", method="fft")


# --------------------------------------------------------------------------- winograd


@pytest.mark.parametrize("m", sorted(winograd.POINTS))
def test_transforms_exact(m: int) -> None:
    """``A^T ((G g) * (B^T d))`` is the 3-tap correlation of every tile (float64)."""
    bt, g, at = (np.array(t) for t in winograd.transforms(m))
    assert bt.shape == (m + 2, m + 2)
    assert g.shape == (m + 2, 3)
    assert at.shape == (m, m + 2)
    rng = np.random.default_rng(m)
    for _ in range(20):
        d, k = rng.standard_normal(m + 2), rng.standard_normal(3)
        expected = np.array([d[i : i + 3] @ k for i in range(m)])
        np.testing.assert_allclose(at @ ((g @ k) * (bt @ d)), expected, rtol=1e-13, atol=1e-13)


def test_output_tile_per_dtype() -> None:
    """F(4, 3) for 32-bit floats and wider, F(2, 3) for 16-bit floats computed natively."""
    assert winograd.output_tile(64) == winograd.output_tile(32) == 4
    assert winograd.output_tile(16) == 2


@pytest.fixture(params=sorted(winograd.POINTS), ids=lambda m: f"F{m}")
def tile(request: pytest.FixtureRequest) -> Iterator[int]:
    """Both Winograd tile sizes, whatever the dtype."""
    m: int = request.param
    with tuning(winograd=winograd.Tuning(tile=m)):
        assert winograd.output_tile(64) == winograd.output_tile(16) == m
        yield m


@pytest.mark.parametrize(
    "sizes",
    [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
        (6,),
        (7,),
        (10,),
        (1, 1),
        (3, 4),
        (5, 7),
        (8, 6),
        (4, 3, 5),
        (7, 2, 6),
    ],
)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_winograd_sizes(
    xp: ModuleType,
    device: Any,
    rng: np.random.Generator,
    tile: int,
    sizes: tuple[int, ...],
    padding: str,
) -> None:
    """Outputs that tiles do not divide (cropped), outputs shorter than a tile, none."""
    run(xp, device, rng, case(len(sizes), in_sizes=sizes, padding=padding), "winograd")


@pytest.mark.parametrize(
    "kw",
    [
        {"c": 6, "cg": 2, "o": 9},  # 3 groups
        {"c": 4, "cg": 1, "o": 4},  # depthwise
        {"c": 3, "cg": 1, "o": 6},  # depthwise, multiplier 2
        {"c": 1, "cg": 1, "o": 1},  # single channel
        {"n": 1, "c": 5, "cg": 5, "o": 1},
        {"channels_first": True},
        {"padding": ((2, 0), (0, 3))},
    ],
    ids=["groups", "depthwise", "multiplier", "single", "one-output", "NCHW", "explicit"],
)
def test_winograd_variants(
    xp: ModuleType, device: Any, rng: np.random.Generator, tile: int, kw: dict[str, Any]
) -> None:
    run(xp, device, rng, case(2, **kw), "winograd")


@pytest.mark.parametrize("rank", [1, 3, 4])
def test_winograd_ranks(
    xp: ModuleType, device: Any, rng: np.random.Generator, tile: int, rank: int
) -> None:
    """The same code in 1-d, 3-d and 4-d (tensor products of the 1-d transforms)."""
    run(xp, device, rng, case(rank, c=4, cg=2, o=4), "winograd")


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128", "float16"])
def test_winograd_dtypes(xp: ModuleType, device: Any, rng: np.random.Generator, dtype: str) -> None:
    """Per-dtype tile size (F(4, 3) from float32 up): the result keeps the input dtype."""
    run(xp, device, rng, case(2, in_sizes=(11, 9)), "winograd", dtype=dtype)


def test_winograd_float16_native(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    """``precision="native"`` runs F(2, 3) in float16 itself (looser tolerance)."""
    if backend_dtype(xp, "float16") is None:
        pytest.skip(f"{xp.__name__} has no float16")
    try:
        run(xp, device, rng, case(2), "winograd", dtype="float16", rtol=2e-2, precision="native")
    except (TypeError, RuntimeError, NotImplementedError) as exc:  # no float16 matmul
        pytest.skip(f"{xp.__name__} cannot multiply float16 matrices: {exc}")


@pytest.mark.parametrize("method", ["winograd", "fft"])
@pytest.mark.parametrize(
    ("dtype", "rtol"), [("float32", 2e-5), ("complex64", 2e-5), ("float64", 1e-12)]
)
def test_accuracy_many_channels(
    rng: np.random.Generator, method: Method, dtype: str, rtol: float
) -> None:
    """64 input channels, values of both signs: error relative to max|ref| (numpy)."""
    c = case(2, n=1, in_sizes=(20, 18), c=64, cg=64, o=8)
    run(array_api_compat.array_namespace(np.zeros(1)), None, rng, c, method, dtype=dtype, rtol=rtol)


# --------------------------------------------------------------------------- fft


def test_smooth_length() -> None:
    """The smallest 2**a 3**b 5**c at or above n, checked by brute force."""

    def smooth(v: int) -> bool:
        for p in (2, 3, 5):
            while v % p == 0:
                v //= p
        return v == 1

    for n in range(1, 3000):
        got = fft.smooth_length(n)
        assert got >= n, n
        assert smooth(got), n
        assert not any(smooth(v) for v in range(n, got)), n


@pytest.mark.parametrize(
    ("size", "span"), [(2048, 5), (2078, 31), (10**6, 101), (10**6, 4001), (300, 3), (64, 3)]
)
def test_axis_plan_covers_output(size: int, span: int) -> None:
    """Blocks cover every output and are at least twice the kernel span long."""
    length, blocks = fft.axis_plan(size, span, fft.smooth_length(size))
    if blocks == 1:
        assert length >= size
    else:
        assert length >= 2 * span
        assert blocks * (length - span + 1) >= size - span + 1
        assert (blocks - 1) * (length - span + 1) < size - span + 1  # no wasted block


def test_long_input_uses_blocks() -> None:
    """A 1-d signal much longer than the kernel is cut into overlap-save blocks."""
    length, blocks = fft.axis_plan(100_000, 31, fft.smooth_length(100_000))
    assert blocks > 1
    assert length < 100_000


@pytest.fixture
def blocked() -> Iterator[None]:
    """Make blocks pay off even on small inputs, so every backend runs that path."""
    with tuning(fft=fft.Tuning(block_gain=100.0, block_overhead=0.0, min_block=0)):
        assert fft.axis_plan(57, 4, 60)[1] > 1
        yield


BLOCK_CASES: dict[str, dict[str, Any]] = {
    "1d": {"in_sizes": (57,), "k": 4, "c": 2, "cg": 2, "o": 3},
    "1d-depthwise": {"in_sizes": (61,), "k": 5, "c": 3, "cg": 1, "o": 3},
    "2d": {"in_sizes": (31, 26), "k": (3, 4), "c": 2, "cg": 2, "o": 2},
    "2d-multiplier": {"in_sizes": (29, 33), "k": (5, 3), "c": 2, "cg": 1, "o": 4},
    "2d-strided-dilated": {
        "in_sizes": (40, 37),
        "k": (3, 2),
        "strides": (2, 3),
        "dilations": (2, 3),
        "c": 4,
        "cg": 2,
        "o": 4,
    },
    "3d": {"in_sizes": (18, 5, 17), "k": (3, 2, 2), "c": 2, "cg": 1, "o": 2},
    "valid": {"in_sizes": (45, 38), "k": (4, 3), "padding": "VALID", "c": 1, "cg": 1, "o": 1},
}


@pytest.mark.parametrize("name", list(BLOCK_CASES))
def test_fft_blocks(
    xp: ModuleType, device: Any, rng: np.random.Generator, blocked: None, name: str
) -> None:
    """Overlap-save blocks (forced small): every stride, dilation, group layout."""
    kw = BLOCK_CASES[name]
    c = case(len(kw["in_sizes"]), **kw)
    spans = [(k - 1) * d + 1 for k, d in zip(c.k, c.dilations, strict=True)]
    sizes = [n + lo + hi for n, (lo, hi) in zip(c.in_sizes, c.pads(), strict=True)]
    plans = [fft.axis_plan(n, e, fft.smooth_length(n)) for n, e in zip(sizes, spans, strict=True)]
    assert any(b > 1 for _, b in plans), plans
    run(xp, device, rng, c, "fft")


@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_fft_long_signal(rng: np.random.Generator, dtype: str) -> None:
    """The unforced plan on a signal 100x the kernel, against the direct method."""
    x = random_array(rng, (2, 20000, 2), dtype)
    w = random_array(rng, (41, 2, 3), dtype)
    assert fft.axis_plan(20040, 41, fft.smooth_length(20040))[1] > 1
    got = xconv.conv1d(x, w, 1, "SAME", method="fft")
    want = xconv.conv1d(x.astype(np.complex128 if "complex" in dtype else np.float64), w, 1, "SAME")
    assert got.dtype == x.dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"k": 7},
        {"k": (5, 2), "strides": (2, 3)},
        {"k": 2, "dilations": (3, 2)},
        {"c": 6, "cg": 2, "o": 9},
        {"c": 4, "cg": 1, "o": 4},
        {"c": 3, "cg": 1, "o": 6, "strides": 2},
        {"c": 1, "cg": 1, "o": 1, "k": 9},
        {"channels_first": True, "k": 4},
        {"k": 12, "padding": "VALID"},  # larger than the input: empty output
        {"n": 0},
    ],
    ids=[
        "3x3",
        "7x7",
        "5x2-strided",
        "dilated",
        "groups",
        "depthwise",
        "multiplier",
        "single-9x9",
        "NCHW",
        "too-big",
        "empty",
    ],
)
def test_fft_variants(
    xp: ModuleType, device: Any, rng: np.random.Generator, kw: dict[str, Any]
) -> None:
    run(xp, device, rng, case(2, **kw), "fft")


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128", "float16"])
def test_fft_dtypes(xp: ModuleType, device: Any, rng: np.random.Generator, dtype: str) -> None:
    run(xp, device, rng, case(2, k=5, c=3, cg=3, o=2), "fft", dtype=dtype)


def test_fft_float16_native(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    """16-bit floats are transformed in float32 even with ``precision="native"``."""
    if backend_dtype(xp, "float16") is None:
        pytest.skip(f"{xp.__name__} has no float16")
    run(xp, device, rng, case(2, k=5), "fft", dtype="float16", precision="native")


@pytest.mark.parametrize("rank", [1, 3, 4])
def test_fft_ranks(xp: ModuleType, device: Any, rng: np.random.Generator, rank: int) -> None:
    run(xp, device, rng, case(rank, k=(4, 2, 3, 2)[:rank], c=4, cg=2, o=4), "fft")


def test_fft_without_scipy(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    """NumPy arrays fall back to ``xp.fft`` (NumPy's own) when SciPy is not installed."""
    x, w = rng.standard_normal((1, 40, 33, 2)), rng.standard_normal((6, 5, 2, 3))
    with_scipy = xconv.conv2d(x, w, 1, "SAME", method="fft")
    monkeypatch.setitem(sys.modules, "scipy.fft", None)  # import scipy.fft now fails
    funcs = _backend.fft_namespace(xconv._backend.namespace(x=x))
    assert funcs is not None
    assert funcs.next_fast_len is None
    without = xconv.conv2d(x, w, 1, "SAME", method="fft")
    np.testing.assert_allclose(without, with_scipy, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["winograd", "fft"])
def test_memory_budget_chunks(
    xp: ModuleType, device: Any, rng: np.random.Generator, method: Method
) -> None:
    """A budget far below the workspace: the core splits batch, then rows (Winograd:
    3 row chunks per image, the last one partial; FFT: 9)."""
    c = case(2, n=3, in_sizes=(9, 8), c=3, cg=3, o=2)
    run(xp, device, rng, c, method, memory_budget=4096)


@pytest.mark.parametrize("method", ["winograd", "fft"])
def test_workspace_estimates(method: str) -> None:
    """The estimates grow with the work and are zero only for empty outputs."""
    from xconv._spec import conv_spec

    module = {"winograd": winograd, "fft": fft}[method]
    shapes = [(1, 18, 18, 4), (2, 18, 18, 4), (2, 34, 34, 4), (2, 34, 34, 8)]
    spec = conv_spec(
        shapes[0], (3, 3, 4, 4), strides=1, padding="VALID", dilations=1, data_format=None
    )
    sizes = [module.workspace_bytes(s, (3, 3, s[-1], 4), spec, 4) for s in shapes]
    assert all(a < b for a, b in itertools.pairwise(sizes)), sizes


@pytest.mark.parametrize("method", ["winograd", "fft"])
def test_jax_jit(rng: np.random.Generator, method: Method) -> None:
    """Both methods trace under ``jax.jit`` (shapes are static Python ints)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x = jax.numpy.asarray(rng.standard_normal((2, 11, 9, 3)))
    w = jax.numpy.asarray(rng.standard_normal((3, 3, 3, 4)))
    got = jax.jit(lambda a, b: xconv.conv2d(a, b, 1, "SAME", method=method))(x, w)
    want = xconv.conv2d(x, w, 1, "SAME", method="native")
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-10)


def test_torch_autograd(rng: np.random.Generator) -> None:
    """Gradients flow through both methods on torch tensors that require grad."""
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((2, 8, 7, 4)), rng.standard_normal((3, 3, 2, 6))
    dy = torch.tensor(rng.standard_normal((2, 8, 7, 6)))
    grads = {}
    for method in ("winograd", "fft", "native"):
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        (xconv.conv2d(xt, wt, 1, "SAME", method=method) * dy).sum().backward()
        grads[method] = (xt.grad.numpy(), wt.grad.numpy())
    for method in ("winograd", "fft"):
        for got, want in zip(grads[method], grads["native"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_dask_fft_host_memory(rng: np.random.Generator) -> None:
    """A small 4-d FFT convolution on Dask stays small in host memory.

    Dask's FFTs infer their dtype from a sample of shape ``(8,) * ndim``; called on
    the 10-d blocked layout of a 4-d convolution that sample alone was 8 GiB (two
    test workers ran out of memory in CI). The adapter merges the other axes first.
    """
    import tracemalloc

    da = pytest.importorskip("dask.array")
    c = case(4, k=(4, 2, 3, 2), c=4, cg=2, o=4)
    x_np, w_np = random_array(rng, c.x_shape, "float64"), random_array(rng, c.w_shape, "float64")
    x, w = da.from_array(x_np, chunks=-1), da.from_array(w_np, chunks=-1)
    tracemalloc.start()
    try:
        y = xconv.convolution(x, w, padding="SAME", method="fft").compute()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak traced host memory {peak / 2**20:.0f} MiB"
    np.testing.assert_allclose(y, c.reference(x_np, w_np), rtol=1e-12, atol=1e-12)
