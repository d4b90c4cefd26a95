"""The GEMM method of transposed convolutions (one matrix product and a scatter-add)
against the naive input gradient, and the host threads that run a batch's samples."""

from __future__ import annotations

import dataclasses
import threading
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xconv
from _helpers import Case, assert_close, count_calls, make, to_numpy
from _reference_grad import reference_input_grad
from xconv import _backend, _core
from xconv._auto import RULES, choose_method
from xconv._spec import conv_spec, transpose_spec

#: one-group input gradients (the scatter applies): strides, dilations, explicit pads
CASES = [
    Case(2, (9,), 3, (4,), 3, 5, (2,), (1,), "SAME"),
    Case(1, (10,), 2, (3,), 2, 3, (3,), (2,), "VALID"),  # stride 3 and dilation 2
    Case(2, (7, 8), 3, (4, 4), 3, 4, (2, 2), (1, 1), "SAME"),
    Case(1, (9, 7), 2, (3, 2), 2, 3, (2, 3), (1, 1), ((2, 1), (0, 2))),
    Case(2, (6, 5), 2, (3, 3), 2, 2, (2, 1), (1, 2), "SAME", channels_first=True),
    Case(1, (5, 6, 4), 2, (2, 3, 2), 2, 3, (2, 2, 1), (1, 1, 1), "VALID"),
    Case(1, (3, 3), 2, (5, 5), 2, 2, (2, 2), (1, 1), "SAME"),  # kernel larger than input
]


def _arrays(rng: np.random.Generator, case: Case) -> tuple[Any, Any, Any]:
    """Filters, output gradient (canonical) and the naive input gradient."""
    w = rng.standard_normal(case.w_shape)
    dy = rng.standard_normal(case.out_shape)
    dx = reference_input_grad(case.x_shape, w, dy, case.strides, case.dilations, case.pads())
    return w, dy, dx


def _sizes(case: Case) -> list[int]:
    shape = case.x_shape
    return [shape[0], shape[-1], *shape[1:-1]] if case.channels_first else list(shape)


@pytest.fixture
def scatter_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of the scatter in the core."""
    return count_calls(monkeypatch, _core, "run_scatter")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"r{c.rank}-s{c.strides}-{c.padding}")
def test_gemm_transpose_matches_naive_gradient(
    xp: ModuleType, device: Any, rng: np.random.Generator, case: Case, scatter_calls: list[int]
) -> None:
    w, dy, dx = _arrays(rng, case)
    got = xconv.conv_backprop_input(
        _sizes(case),
        make(xp, w, device),
        make(xp, case.to_layout(dy), device),
        case.strides,
        case.padding,
        case.data_format(),
        case.dilations,
        method="gemm",
    )
    assert_close(xp, got, case.to_layout(dx), dtype=xp.float64)
    # the libraries whose arrays xconv may write run the scatter; the others the phases
    writable = _backend.supports_inplace(xp, make(xp, w, device))
    assert bool(scatter_calls) == writable


@given(
    rank=st.integers(1, 2),
    data=st.data(),
)
def test_gemm_transpose_property(rank: int, data: st.DataObject) -> None:
    """Random one-group transposed convolutions, NumPy float64, against the naive gradient."""
    ints = st.integers
    k = tuple(data.draw(st.lists(ints(1, 4), min_size=rank, max_size=rank)))
    s = tuple(data.draw(st.lists(ints(1, 3), min_size=rank, max_size=rank)))
    d = tuple(data.draw(st.lists(ints(1, 2), min_size=rank, max_size=rank)))
    sizes = tuple(data.draw(st.lists(ints(1, 7), min_size=rank, max_size=rank)))
    pads = tuple(
        (data.draw(ints(0, 3)), data.draw(ints(0, 3))) for _ in range(rank)
    )  # fmt: skip
    case = Case(data.draw(ints(1, 3)), sizes, 2, k, 2, data.draw(ints(1, 3)), s, d, pads)
    if 0 in case.out_shape:
        return
    rng = np.random.default_rng(data.draw(ints(0, 2**16)))
    w, dy, dx = _arrays(rng, case)
    got = xconv.conv_backprop_input(
        list(case.x_shape), w, dy, list(s), [(0, 0), *pads, (0, 0)], None, list(d), method="gemm"
    )
    np.testing.assert_allclose(got, dx, rtol=1e-12, atol=1e-12)


def test_scatter_keeps_its_products_under_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small memory budget cuts the product into groups of taps and rows: more
    products, each under the cap, and the same result."""
    rng = np.random.default_rng(3)
    case = Case(2, (12, 10), 4, (4, 4), 4, 6, (2, 2), (1, 1), "SAME")
    w, dy, dx = _arrays(rng, case)
    sizes: list[tuple[int, ...]] = []
    real = _backend.product_into

    def spy(op: str, a: Any, b: Any, out: Any, **kwargs: Any) -> None:
        sizes.append((a.shape[0], b.shape[1]))
        real(op, a, b, out, **kwargs)

    monkeypatch.setattr(_backend, "product_into", spy)
    whole = xconv.conv_backprop_input(list(case.x_shape), w, dy, 2, "SAME", method="gemm")
    products_whole = len(sizes)
    sizes.clear()
    budget = 512  # bytes: under one tap's block of one sample (960)
    cut = xconv.conv_backprop_input(
        list(case.x_shape), w, dy, 2, "SAME", method="gemm", memory_budget=budget
    )
    assert len(sizes) > products_whole
    assert max(m * n * 8 for m, n in sizes) <= budget  # rows of one tap at a time
    np.testing.assert_allclose(whole, dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cut, dx, rtol=1e-12, atol=1e-12)


def test_auto_runs_host_transposes_as_one_product() -> None:
    """``auto`` gives one-group input-dilated convolutions in host memory ``gemm`` (the
    scatter), depthwise ones the phases of ``shift``, and keeps the rule switchable."""
    xp = _backend.namespace(x=np.zeros(1))
    fwd = conv_spec((8, 28, 28, 64), (4, 4, 64, 128), strides=2, padding="SAME",
                    dilations=1, data_format=None)  # fmt: skip
    spec = transpose_spec(fwd, (28, 28), (4, 4))
    dense = (4, 4, 128, 64)
    assert choose_method(xp, spec, np.float32, dense, (14, 14)) == "gemm"
    no_scatter = dataclasses.replace(RULES, scatter_transposes=False)
    assert choose_method(xp, spec, np.float32, dense, (14, 14), rules=no_scatter) != "gemm"
    grouped = dataclasses.replace(spec, groups=64)
    assert choose_method(xp, grouped, np.float32, (4, 4, 1, 64), (14, 14)) == "shift"
    assert choose_method(xp, spec, np.float32, dense, (14, 14), accelerator=True) != "gemm"


@pytest.mark.parametrize("op", ["conv2d", "conv2d_transpose"])
def test_samples_on_threads_give_the_same_bits(op: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The samples of a NumPy batch run on host threads (each on one BLAS thread):
    the same bits as one thread after another."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 12, 12, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)

    def call() -> Any:
        if op == "conv2d":
            return xconv.conv2d(x, w, 1, "SAME", method="gemm")
        return xconv.conv2d_transpose(x, w, [6, 24, 24, 16], 2, "SAME", method="gemm")

    used: list[int] = []
    real = _backend.threads.parallel_map

    def spy(job: Any, count: int, threads: int) -> None:
        used.append(threads)
        real(job, count, threads)

    monkeypatch.setattr(_backend.arrays, "parallel_map", spy)
    monkeypatch.setattr(_backend, "parallel_map", spy)
    monkeypatch.setenv(_backend.THREADS_ENV, "2")
    many = call()
    assert used
    assert max(used) == min(2, _backend.threads.cores())
    monkeypatch.setenv(_backend.THREADS_ENV, "1")
    one = call()
    np.testing.assert_array_equal(many, one)


def test_parallel_map_runs_each_index_once_and_raises() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def job(i: int) -> None:
        with lock:
            seen.append(i)

    _backend.parallel_map(job, 50, 3)
    assert sorted(seen) == list(range(50))

    def fails(i: int) -> None:
        if i == 7:
            raise ValueError("job 7")

    with pytest.raises(ValueError, match="job 7"):
        _backend.parallel_map(fails, 20, 2)


def test_parallel_map_inside_a_job_runs_in_place() -> None:
    """A job that hands out work itself (nested) does not wait for the pool it is on."""
    seen: list[tuple[int, int]] = []

    def outer(i: int) -> None:
        _backend.parallel_map(lambda j: seen.append((i, j)), 3, 2)

    worker = threading.Thread(target=_backend.parallel_map, args=(outer, 4, 2), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "nested parallel_map did not finish"
    assert sorted(seen) == [(i, j) for i in range(4) for j in range(3)]


@pytest.mark.parametrize("rules_native", [True, False])
def test_auto_gradients_on_cupy_ask_cudnn_first(
    monkeypatch: pytest.MonkeyPatch, rules_native: bool
) -> None:
    """On CuPy arrays ``auto`` asks the library's own input and filter gradients
    (cuDNN's dgrad and wgrad) first, as ``native`` does, unless the rules say not to."""
    asked: list[str] = []

    def input_grad(dy: Any, w: Any, fwd: Any, in_sizes: Any, **_: Any) -> Any:
        asked.append("dgrad")
        return np.zeros((dy.shape[0], *in_sizes, w.shape[-2]))

    def filter_grad(x: Any, dy: Any, fwd: Any, k_sizes: Any, **_: Any) -> Any:
        asked.append("wgrad")
        return np.zeros((*k_sizes, x.shape[-1], dy.shape[-1]))

    monkeypatch.setattr(_backend, "library", lambda xp: "cupy")
    monkeypatch.setattr(_backend, "native_grads", lambda xp, dtype: True)
    monkeypatch.setattr(_backend, "native_input_grad", input_grad)
    monkeypatch.setattr(_backend, "native_filter_grad", filter_grad)
    xp = _backend.namespace(x=np.zeros(1))
    fwd = conv_spec((2, 8, 8, 3), (3, 3, 3, 4), strides=2, padding="SAME",
                    dilations=1, data_format=None)  # fmt: skip
    rules = dataclasses.replace(RULES, cupy_native=rules_native)
    rng = np.random.default_rng(0)
    dy, w, x = (
        rng.standard_normal((2, 4, 4, 4)),
        rng.standard_normal((3, 3, 3, 4)),
        rng.standard_normal((2, 8, 8, 3)),
    )
    dx = _core.conv_input_grad(dy, w, fwd, (8, 8), xp=xp, dtype=np.float64, rules=rules)
    dw = _core.conv_filter_grad(x, dy, fwd, (3, 3), xp=xp, dtype=np.float64, rules=rules)
    assert asked == (["dgrad", "wgrad"] if rules_native else [])
    assert to_numpy(dx).shape == (2, 8, 8, 3)
    assert to_numpy(dw).shape == (3, 3, 3, 4)
    assert (np.count_nonzero(to_numpy(dx)) == 0) == rules_native
