"""Dask arrays convolved chunk by chunk with halos (``xconv._dask``), against in-memory NumPy.

Every chunking edge (a halo larger than a chunk, chunks smaller than the stride,
uneven last chunks, one chunk), strides with dilations, SAME/VALID/FULL/explicit
padding, padding modes, channels first, ranks 1 to 3, dtypes and methods; the
transposed convolution and gradients; :mod:`xconv.signal` and :mod:`xconv.ndimage`.
The result must be a lazy Dask array (nothing computed before ``.compute()``) with
the batch chunks of the input, and an output block must read only its neighbours'
input blocks. One test runs the graph on a ``dask.distributed`` LocalCluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xconv
import xconv.ndimage
import xconv.signal
from xconv._dask import TASK_PREFIX, plan_axis

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

NDArray = np.ndarray[Any, Any]


def data(shape: tuple[int, ...], dtype: str = "float64", seed: int = 0) -> NDArray:
    """Random values (small integers for integer dtypes, so sums are exact)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-3, 4, size=shape).astype(dtype)
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def conv_tasks(y: Any) -> list[str]:
    """Names of the graph layers of the chunk-by-chunk convolution in ``y``'s graph."""
    return [name for name in y.__dask_graph__().layers if name.startswith(TASK_PREFIX)]


def check(
    fn: Callable[..., Any],
    x_np: NDArray,
    w_np: NDArray,
    chunks: Any,
    *args: Any,
    w_chunks: Any = -1,
    rtol: float = 1e-10,
    batch: bool = True,
    **kwargs: Any,
) -> Any:
    """``fn`` on chunked Dask arrays equals ``fn`` on the NumPy arrays; returns the Dask result.

    Also checks that the result is a Dask array of the NumPy result's shape and dtype,
    computed chunk by chunk, with the input's batch chunks (``batch``: axis 0 is a batch).
    """
    x = da.from_array(x_np, chunks=chunks)
    y = fn(x, da.from_array(w_np, chunks=w_chunks), *args, **kwargs)
    expected = fn(x_np, w_np, *args, **kwargs)
    assert isinstance(y, da.Array)
    assert (y.shape, y.dtype) == (expected.shape, expected.dtype)
    assert conv_tasks(y), "not computed chunk by chunk"
    assert not batch or y.chunks[0] == x.chunks[0]
    got = y.compute(scheduler="synchronous")
    assert type(got) is np.ndarray
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
    if np.dtype(expected.dtype).kind in "iu":
        np.testing.assert_array_equal(got, expected)
    else:
        atol = rtol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    return y


# --------------------------------------------------------------------------- chunking edges

# id: (spatial sizes, chunks, kernel, strides, dilations, padding)
EDGES = {
    "one-chunk": ((12, 10), -1, (3, 3), 1, 1, "SAME"),
    "halo-larger-than-chunk": ((30, 21), (1, 2, 3, 3), (7, 5), 1, 1, "SAME"),
    "chunk-smaller-than-stride": ((25, 19), (1, 1, 2, 3), (3, 3), 3, 1, "VALID"),
    "uneven-last-chunks": ((29, 23), (1, 7, 6, 3), (3, 3), 2, 1, "SAME"),
    "strides-and-dilations": ((31, 26), (2, 5, 4, 3), (3, 2), (2, 3), (2, 3), [(3, 1), (0, 2)]),
    "stride-beyond-kernel": ((27, 22), (1, 5, 7, 3), (2, 2), 4, 1, "VALID"),
    "pad-beyond-halo": ((20, 18), (1, 6, 5, 3), (3, 3), 1, 2, [(6, 0), (1, 5)]),
    "full": ((16, 14), (1, 5, 5, 3), (4, 3), 1, 1, "FULL"),
    "kernel-fills-input": ((7, 9), (1, 3, 4, 3), (7, 9), 1, 1, "VALID"),
}


@pytest.mark.parametrize("edge", list(EDGES.values()), ids=list(EDGES))
def test_chunking_edges(edge: tuple[Any, ...]) -> None:
    sizes, chunks, k, strides, dilations, padding = edge
    x_np, w_np = data((2, *sizes, 3)), data((*k, 3, 4), seed=1)
    check(xconv.conv2d, x_np, w_np, chunks, strides, padding, dilations=dilations)


def test_one_chunk_stays_one_block() -> None:
    y = check(xconv.conv2d, data((2, 12, 10, 3)), data((3, 3, 3, 4), seed=1), -1, 2, "SAME")
    assert y.numblocks == (1, 1, 1, 1)


def test_same_stride_one_keeps_the_chunks() -> None:
    """A stride-1 SAME convolution's output has the input's chunks (channels: one)."""
    y = check(xconv.conv2d, data((2, 24, 20, 3)), data((5, 3, 3, 4)), (1, 8, 5, 3), 1, "SAME")
    assert y.chunks == ((1, 1), (8, 8, 8), (5, 5, 5, 5), (4,))


def test_halo_larger_than_chunk_merges_chunks() -> None:
    """Chunks of 2 rows under a halo of 6 become blocks of at least 3 rows, not one block."""
    y = check(xconv.conv1d, data((1, 40, 2)), data((7, 2, 3)), (1, 2, 2), 1, "SAME")
    assert 1 < len(y.chunks[1]) < 20
    assert min(y.chunks[1]) >= 3


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "edge", "circular"])
def test_padding_modes(mode: str) -> None:
    x_np, w_np = data((2, 17, 13, 3)), data((5, 3, 3, 4), seed=1)
    check(xconv.conv2d, x_np, w_np, (1, 4, 3, 3), (2, 1), "SAME", padding_mode=mode)


@pytest.mark.parametrize(
    ("fn", "x_shape", "chunks", "k", "fmt"),
    [
        (xconv.conv1d, (2, 3, 37), (1, 3, 8), (5,), "NCW"),
        (xconv.conv2d, (2, 3, 20, 17), (1, 3, 6, 5), (3, 3), "NCHW"),
        (xconv.conv3d, (1, 3, 11, 10, 9), (1, 3, 4, 5, 3), (3, 2, 3), "NCDHW"),
        (xconv.conv3d, (2, 11, 10, 9, 3), (1, 4, 3, 5, 3), (3, 3, 2), "NDHWC"),
    ],
    ids=["1d-NCW", "2d-NCHW", "3d-NCDHW", "3d-NDHWC"],
)
def test_ranks_and_layouts(
    fn: Callable[..., Any], x_shape: tuple[int, ...], chunks: Any, k: tuple[int, ...], fmt: str
) -> None:
    w_np = data((*k, 3, 4), seed=1)
    check(fn, data(x_shape), w_np, chunks, 2, "SAME", data_format=fmt, dilations=1)


@given(
    size=st.integers(1, 30),
    chunk=st.integers(1, 9),
    k=st.integers(1, 6),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
    pads=st.one_of(
        st.sampled_from(["SAME", "VALID", "FULL"]),
        st.tuples(st.integers(0, 7), st.integers(0, 7)).map(lambda p: [p]),
    ),
)
@settings(max_examples=30)
def test_property_1d(size: int, chunk: int, k: int, stride: int, dilation: int, pads: Any) -> None:
    """Any chunking, stride, dilation and padding of a 1-d convolution, against NumPy."""
    x_np, w_np = data((2, size, 2)), data((k, 2, 3), seed=1)
    expected = xconv.conv1d(x_np, w_np, stride, pads, dilations=dilation)
    x = da.from_array(x_np, chunks=(1, chunk, 2))
    y = xconv.conv1d(x, da.from_array(w_np), stride, pads, dilations=dilation)
    assert isinstance(y, da.Array)
    np.testing.assert_allclose(y.compute(scheduler="synchronous"), expected, atol=1e-10)


# --------------------------------------------------------------------------- the plan


@given(
    chunks=st.lists(st.integers(1, 7), min_size=1, max_size=8),
    k=st.integers(1, 5),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
    lo=st.integers(-2, 6),
)
@settings(max_examples=200)
def test_plan_axis_lands_on_the_stride_grid(
    chunks: list[int], k: int, stride: int, dilation: int, lo: int
) -> None:
    """Each block reads from its first output's grid row and makes exactly its outputs."""
    size, halo = sum(chunks), (k - 1) * dilation
    if size - halo - 1 < 0:
        return  # no output: the core's own path builds the empty result
    plan = plan_axis(tuple(chunks), k, stride, dilation, lo)
    before, after = plan.depth
    blocks = len(plan.in_chunks)
    assert sum(plan.in_chunks) == size
    assert sum(plan.out_chunks) == (size - halo - 1) // stride + 1
    assert len(plan.out_chunks) == blocks
    assert min(plan.out_chunks) >= 1
    assert min(plan.in_chunks) >= max(before, after)  # neighbours can lend the halo
    for j, (owned, out) in enumerate(zip(plan.in_chunks, plan.out_chunks, strict=True)):
        start = sum(plan.in_chunks[:j]) - (before if j else 0)
        length = owned + (before if j else 0) + (after if j < blocks - 1 else 0)
        assert start == sum(plan.out_chunks[:j]) * stride
        assert (length - halo - 1) // stride + 1 == out


# --------------------------------------------------------------------------- laziness, locality


def test_lazy_until_compute() -> None:
    """Building the graph computes nothing (a scheduler that refuses would fail)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("computed before .compute()")

    x_np, w_np = data((2, 20, 17, 3)), data((3, 3, 3, 4), seed=1)
    x, w = da.from_array(x_np, chunks=(1, 6, 5, 3)), da.from_array(w_np)
    with dask.config.set(scheduler=refuse):
        y = xconv.conv2d(x, w, 2, "SAME", padding_mode="reflect")
        t = xconv.conv2d_transpose(y, w, (2, 20, 17, 3), 2, "SAME")
    assert conv_tasks(y)
    assert conv_tasks(t)
    got = y.compute(scheduler="synchronous")
    np.testing.assert_allclose(
        got, xconv.conv2d(x_np, w_np, 2, "SAME", padding_mode="reflect"), atol=1e-10
    )


def test_an_output_block_reads_only_its_neighbours() -> None:
    """Computing one output block loads at most the 3x3 input blocks around it."""
    loaded: list[tuple[int, ...]] = []

    def load(block: NDArray, block_info: Any = None) -> NDArray:
        loaded.append(tuple(block_info[0]["chunk-location"]))
        return block

    x_np = data((2, 32, 32, 3))
    x = da.from_array(x_np, chunks=(1, 8, 8, 3)).map_blocks(load, dtype=x_np.dtype)
    w_np = data((3, 3, 3, 4), seed=1)
    y = xconv.conv2d(x, da.from_array(w_np), 1, "SAME")
    assert y.numblocks == (2, 4, 4, 1)
    got = y.blocks[0, 1, 2].compute(scheduler="synchronous")
    neighbours = {(0, i, j, 0) for i, j in itertools.product(range(3), range(1, 4))}
    assert loaded
    assert set(loaded) <= neighbours
    np.testing.assert_allclose(
        got, xconv.conv2d(x_np, w_np, 1, "SAME")[:1, 8:16, 16:24], atol=1e-10
    )


def test_chunked_channels_are_merged_with_a_warning() -> None:
    x_np, w_np = data((2, 12, 11, 4)), data((3, 3, 4, 2), seed=1)
    with pytest.warns(da.PerformanceWarning, match="channel axis") as record:
        y = check(xconv.conv2d, x_np, w_np, (1, 5, 5, 2), 1, "SAME")
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert y.chunks[-1] == (2,)


def test_chunked_filters_are_one_chunk() -> None:
    x_np, w_np = data((2, 14, 12, 4)), data((3, 3, 2, 6), seed=1)
    check(xconv.conv2d, x_np, w_np, (1, 5, 4, 4), 1, "VALID", w_chunks=(2, 1, 1, 3))


# --------------------------------------------------------------------------- dtypes, methods


@pytest.mark.parametrize(
    ("dtype", "rtol"), [("int32", 0), ("float16", 2e-3), ("float32", 1e-5), ("complex128", 1e-10)]
)
def test_dtypes(dtype: str, rtol: float) -> None:
    x_np, w_np = data((2, 15, 13, 3), dtype), data((3, 3, 3, 4), dtype, seed=1)
    check(xconv.conv2d, x_np, w_np, (1, 4, 5, 3), (1, 2), "SAME", rtol=rtol)


@pytest.mark.parametrize("method", ["einsum", "gemm", "shift", "winograd", "fft"])
def test_methods(method: str) -> None:
    x_np, w_np = data((2, 17, 13, 3)), data((3, 3, 3, 4), seed=1)
    check(xconv.conv2d, x_np, w_np, (1, 5, 4, 3), 1, "SAME", method=method, rtol=1e-9)


def test_memory_budget_inside_each_block() -> None:
    x_np, w_np = data((2, 20, 16, 3)), data((3, 3, 3, 4), seed=1)
    check(xconv.conv2d, x_np, w_np, (2, 10, 8, 3), 1, "SAME", memory_budget=4096)


def test_depthwise_and_separable() -> None:
    x_np = data((2, 20, 18, 3))
    dw, pw = data((3, 3, 3, 2), seed=1), data((1, 1, 6, 5), seed=2)
    check(xconv.depthwise_conv2d, x_np, dw, (1, 6, 6, 3), [1, 2, 2, 1], "SAME")

    def separable(x: Any, depthwise: Any) -> Any:
        pointwise = da.from_array(pw) if isinstance(x, da.Array) else pw
        return xconv.separable_conv2d(x, depthwise, pointwise, [1, 1, 1, 1], "VALID")

    check(separable, x_np, dw, (1, 6, 6, 3))


# --------------------------------------------------------------------------- transposed, gradients


def test_transposed_convolution() -> None:
    """The input gradient is a convolution with dilated input: also chunk by chunk."""
    dy_np, w_np = data((2, 10, 9, 4)), data((3, 3, 3, 4), seed=1)
    check(xconv.conv2d_transpose, dy_np, w_np, (1, 3, 4, 4), (2, 20, 18, 3), 2, "SAME")


def test_backprop_input() -> None:
    w_np, dy_np = data((3, 2, 3, 4), seed=1), data((2, 7, 9, 4))

    def grad(dy: Any, w: Any) -> Any:
        return xconv.conv2d_backprop_input((2, 14, 18, 3), w, dy, [1, 2, 2, 1], "SAME")

    check(grad, dy_np, w_np, (1, 3, 4, 4))


def test_backprop_filter_uses_the_whole_array_path() -> None:
    """The filter gradient contracts over the batch: no halo split, no channel warning."""
    x_np, dy_np = data((2, 12, 10, 3)), data((2, 6, 5, 4), seed=1)
    x, dy = da.from_array(x_np, chunks=(1, 5, 5, 3)), da.from_array(dy_np, chunks=(1, 3, 5, 4))
    g = xconv.conv2d_backprop_filter(x, (3, 3, 3, 4), dy, 2, "SAME")
    assert isinstance(g, da.Array)
    assert not conv_tasks(g)
    expected = xconv.conv2d_backprop_filter(x_np, (3, 3, 3, 4), dy_np, 2, "SAME")
    np.testing.assert_allclose(g.compute(scheduler="synchronous"), expected, atol=1e-10)


# --------------------------------------------------------------------------- SciPy-style APIs


def test_ndimage_correlate() -> None:
    x_np, w_np = data((40, 33)), data((5, 3), seed=1)
    check(xconv.ndimage.correlate, x_np, w_np, (10, 11), mode="mirror", batch=False)


def test_signal_convolve2d() -> None:
    x_np, w_np = data((30, 27)), data((4, 5), seed=1)
    check(xconv.signal.convolve2d, x_np, w_np, (9, 7), "same", "wrap", batch=False)


# --------------------------------------------------------------------------- distributed


def test_local_cluster() -> None:
    """The chunk-by-chunk graph runs on a dask.distributed cluster (2 workers, threads)."""
    distributed = pytest.importorskip("distributed")
    x_np, w_np = data((2, 33, 29, 3)), data((5, 3, 3, 4), seed=1)
    expected = xconv.conv2d(x_np, w_np, (2, 1), "SAME", dilations=(1, 2))
    with (
        distributed.LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        x = da.from_array(x_np, chunks=(1, 9, 8, 3))
        y = xconv.conv2d(x, da.from_array(w_np), (2, 1), "SAME", dilations=(1, 2))
        with distributed.get_task_stream(client=client) as stream:
            got = client.compute(y).result()
        workers = set(client.scheduler_info()["workers"])
    np.testing.assert_allclose(got, expected, atol=1e-10)
    ran = [t for t in stream.data if TASK_PREFIX in str(t["key"])]
    assert len(ran) == y.npartitions
    assert {t["worker"] for t in ran} <= workers


def test_by_chunks_splits_only_dask_arrays() -> None:
    """The core's hook: a Dask array is convolved block by block (a lazy result with the
    chunked tasks); a NumPy array, and a Dask case with no output, go to ``run`` whole."""
    from types import SimpleNamespace

    from array_api_compat import array_namespace

    from xconv._dask import by_chunks

    calls: list[tuple[type, tuple[int, ...]]] = []

    def run(x: Any, w: Any, *, xp: Any) -> Any:
        calls.append((type(x), tuple(x.shape)))
        return xconv.conv2d(x, w, 1, "VALID")

    spec = SimpleNamespace(strides=(1, 1), dilations=(1, 1), pads=((0, 0), (0, 0)))
    x_np, w_np = data((2, 9, 7, 2)), data((3, 3, 2, 4), seed=1)
    expected = xconv.conv2d(x_np, w_np, 1, "VALID")

    y = by_chunks(run, x_np, w_np, spec, xp=array_namespace(x_np))
    assert calls == [(np.ndarray, (2, 9, 7, 2))]
    np.testing.assert_allclose(y, expected, rtol=1e-12)

    calls.clear()
    x = da.from_array(x_np, chunks=(1, 5, 7, 2))
    y = by_chunks(run, x, da.from_array(w_np), spec, xp=array_namespace(x))
    assert calls == []  # lazy: nothing ran yet
    assert conv_tasks(y)
    np.testing.assert_allclose(y.compute(scheduler="synchronous"), expected, rtol=1e-12)
    assert {kind for kind, _ in calls} == {np.ndarray}
    assert len(calls) == 4  # one task per block: 2 images x 2 row blocks

    calls.clear()
    tiny = da.from_array(data((1, 2, 2, 2)), chunks=1)  # no window fits
    by_chunks(run, tiny, da.from_array(w_np), spec, xp=array_namespace(tiny))
    assert calls == [(type(tiny), (1, 2, 2, 2))]
