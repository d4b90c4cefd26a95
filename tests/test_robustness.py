"""Robustness: the memory check comes first, ml_dtypes arrays work, batches are independent.

- A call that cannot fit raises xconv's ``MemoryError`` before it reads or allocates
  anything of the input's size, also when ``method="auto"`` would choose a transform
  (whose choice looks at the data) and the input is a stride-0 broadcast far larger
  than memory.
- NumPy arrays of ``ml_dtypes``' bfloat16 and float8 types convolve like float16:
  accumulated in float32, returned in their own dtype.
- Each batch row of a float32 result is bit-for-bit the same whatever the rest of the
  batch is: ``conv(x)[:3]`` is ``conv(x[:3])``, for every method.
"""

from __future__ import annotations

import functools
import tracemalloc
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import pytest

import xconv
from _helpers import make, to_numpy
from _reference import reference_conv, same_pads
from _reference_grad import reference_filter_grad, reference_input_grad
from xconv import _backend

METHODS = ("auto", "einsum", "gemm", "winograd", "shift", "fft", "native")
#: Methods that apply to every case below: they must run.
REQUIRED = ("auto", "gemm", "shift")

# --------------------------------------------------------------------------- memory

#: A broadcast of one float32 to (256, 4096, 4096, 64): 1 TiB as a dense array, 4 bytes
#: in memory; a 3x3 SAME convolution of it to 64 channels needs a 1 TiB result.
HUGE = (256, 4096, 4096, 64)


def _library(xp: ModuleType) -> str:
    """The backend's name: numpy, array_api_strict, torch, jax, dask or cupy."""
    checks: dict[str, Callable[[Any], bool]] = {
        "jax": array_api_compat.is_jax_namespace,
        "dask": array_api_compat.is_dask_namespace,
        "torch": array_api_compat.is_torch_namespace,
        "cupy": array_api_compat.is_cupy_namespace,
        "array_api_strict": array_api_compat.is_array_api_strict_namespace,
    }
    return next((name for name, check in checks.items() if check(xp)), "numpy")


def test_huge_broadcast_input_raises_memory_error_first(xp: ModuleType, device: Any) -> None:
    """``method="auto"`` on a stride-0 input too large for memory raises xconv's own
    ``MemoryError`` (it names the sizes) having allocated under 1 MiB: no input-sized
    temporary (not even a boolean one) is made before the memory check."""
    lib = _library(xp)
    if lib == "jax":
        pytest.skip("jax.numpy.broadcast_to materialises the full array")
    x = xp.broadcast_to(make(xp, np.ones((1, 1, 1, 1), np.float32), device), HUGE)
    w = make(xp, np.ones((3, 3, 64, 64), np.float32), device)
    if lib == "dask":
        # No memory limit on Dask by design: a graph of blocks is built, none computed
        # (its bookkeeping is the only allocation, so no bound on bytes here).
        y = xconv.conv2d(x, w, 1, "SAME")
        assert tuple(y.shape) == HUGE
        return
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match=r"needs about .* GiB"):
            xconv.conv2d(x, w, 1, "SAME")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak} bytes traced"


def _peak(call: Callable[[], Any]) -> tuple[int, Any]:
    """Peak traced bytes of ``call()`` and its result (warmed up once first)."""
    call()
    tracemalloc.start()
    try:
        out = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, out


def test_auto_allocates_no_more_than_the_method_it_picks() -> None:
    """On NumPy, ``method="auto"`` costs no memory beyond the method it runs (the one
    whose result it reproduces bit for bit), give or take 64 KiB: choosing needs no
    temporary the size of the input."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 128, 128, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    auto_peak, auto_out = _peak(lambda: xconv.conv2d(x, w, 1, "SAME"))
    matches: list[int] = []
    for method in METHODS[1:]:
        try:
            peak, out = _peak(functools.partial(xconv.conv2d, x, w, 1, "SAME", method=method))
        except ValueError as exc:
            if "does not apply" not in str(exc):
                raise
            continue
        if np.array_equal(out, auto_out):
            matches.append(peak)
    assert matches, "no explicit method reproduces method='auto' bit for bit"
    assert auto_peak <= max(matches) + 64 * 2**10, (auto_peak, matches)


def test_finiteness_check_reads_bounded_slices() -> None:
    """The finiteness check ``auto`` makes before a transform method holds one slice of
    at most 1 MiB of booleans at a time: on a 32 MiB float32 array (a whole-array
    ``isfinite`` makes 8 MiB of booleans) its peak traced memory stays under 2 MiB,
    also for a strided view and a broadcast, and it still finds a NaN in the last
    slice."""
    x = np.ones((8, 1024, 1024), np.float32)
    xp = array_api_compat.array_namespace(x)
    views = [x, x[:, ::2, :], np.broadcast_to(x[:1], (64, 1024, 1024))]
    for view in views:
        tracemalloc.start()
        try:
            finite = _backend.all_finite(xp, view)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert finite
        assert peak < 2 * 2**20, f"{peak} bytes traced for shape {view.shape}"
    x[-1, -2, -1] = np.nan  # in the last slice of x and of x[:, ::2, :]
    assert not _backend.all_finite(xp, x)
    assert not _backend.all_finite(xp, np.ones(3), x[:, ::2, :])


# --------------------------------------------------------------------------- ml_dtypes


def _ml_dtype(name: str) -> Any:
    if name == "float16":
        return np.dtype(np.float16)
    ml_dtypes = pytest.importorskip("ml_dtypes")
    return np.dtype(getattr(ml_dtypes, name))


#: dtype name -> relative spacing of the format (2 ** -mantissa bits): results may be
#: one unit off the correctly rounded value, relative to the largest magnitude.
SPACING = {
    "float16": 2.0**-10,
    "bfloat16": 2.0**-7,
    "float8_e4m3fn": 2.0**-3,
    "float8_e5m2": 2.0**-2,
}


def _assert_rounded(got: Any, exact: np.ndarray, dtype: np.dtype[Any], name: str) -> None:
    assert isinstance(got, np.ndarray), type(got)
    assert got.dtype == dtype, f"dtype {got.dtype} != {dtype}"
    assert got.shape == exact.shape
    scale = max(1.0, float(np.max(np.abs(exact), initial=0.0)))
    err = np.abs(got.astype(np.float64) - exact)
    assert float(np.max(err, initial=0.0)) <= SPACING[name] * scale, float(np.max(err))


def _low_inputs(
    rng: np.random.Generator, dtype: np.dtype[Any], *shapes: tuple[int, ...]
) -> list[np.ndarray]:
    """Small random arrays in ``dtype`` (values a float8 can hold: multiples of 1/4)."""
    return [(rng.integers(-8, 9, size=s) / 4).astype(dtype) for s in shapes]


@pytest.mark.parametrize("name", list(SPACING))
def test_ml_dtypes_conv2d(name: str) -> None:
    dtype = _ml_dtype(name)
    rng = np.random.default_rng(3)
    x, w = _low_inputs(rng, dtype, (2, 6, 5, 3), (3, 3, 3, 4))
    pads = same_pads((6, 5), (3, 3), (1, 1), (1, 1))
    exact = reference_conv(x.astype(np.float64), w.astype(np.float64), (1, 1), (1, 1), pads)
    got = xconv.conv2d(x, w, 1, "SAME")
    _assert_rounded(got, exact, dtype, name)


@pytest.mark.parametrize("name", list(SPACING))
def test_ml_dtypes_transpose_and_filter_grad(name: str) -> None:
    dtype = _ml_dtype(name)
    rng = np.random.default_rng(4)
    x, w, dy = _low_inputs(rng, dtype, (2, 6, 5, 3), (3, 3, 3, 4), (2, 3, 3, 4))
    pads = same_pads((6, 5), (3, 3), (2, 2), (1, 1))
    x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
    dx = reference_input_grad(x.shape, w64, dy64, (2, 2), (1, 1), pads)
    got = xconv.conv2d_transpose(dy, w, list(x.shape), 2, "SAME")
    _assert_rounded(got, dx, dtype, name)
    dw = reference_filter_grad(x64, w.shape, dy64, (2, 2), (1, 1), pads)
    got_w = xconv.conv2d_backprop_filter(x, list(w.shape), dy, 2, "SAME")
    _assert_rounded(got_w, dw, dtype, name)


# --------------------------------------------------------------------------- batch independence

#: name -> (input shape, filter shape, call(x, w, method)); float32 standard normal data.
BATCHED: dict[str, tuple[tuple[int, ...], tuple[int, ...], Callable[[Any, Any, str], Any]]] = {
    "conv1d-129-taps-stride-128": (
        (21, 16000, 1),
        (256, 1, 129),
        lambda x, w, m: xconv.conv1d(x, w, 128, "VALID", method=m),
    ),
    "conv2d-3x3-dense": (
        (16, 14, 14, 32),
        (3, 3, 32, 32),
        lambda x, w, m: xconv.conv2d(x, w, 1, "SAME", method=m),
    ),
    "depthwise-3x3": (
        (16, 14, 14, 32),
        (3, 3, 32, 1),
        lambda x, w, m: xconv.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME", method=m),
    ),
    "conv2d_backprop_input-3x3": (
        (16, 14, 14, 32),
        (3, 3, 32, 32),
        lambda dy, w, m: xconv.conv2d_backprop_input(
            [dy.shape[0], 14, 14, 32], w, dy, 1, "SAME", method=m
        ),
    ),
    "conv2d_transpose-3x3-stride-2": (
        (16, 7, 7, 32),
        (3, 3, 16, 32),
        lambda dy, w, m: xconv.conv2d_transpose(
            dy, w, [dy.shape[0], 14, 14, 16], 2, "SAME", method=m
        ),
    ),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(BATCHED))
def test_float32_rows_do_not_depend_on_batch(
    xp: ModuleType, device: Any, rng: np.random.Generator, name: str, method: str
) -> None:
    if _library(xp) == "cupy" or (device is not None and "cuda" in str(device)):
        pytest.skip("the guarantee is for host memory: on a GPU the batch runs whole")
    if _library(xp) == "jax" and method not in (*REQUIRED, "native"):
        pytest.skip("JAX compiles this method for each batch size for tens of seconds")
    x_shape, w_shape, call = BATCHED[name]
    xb = make(xp, rng.standard_normal(x_shape).astype(np.float32), device)
    wb = make(xp, rng.standard_normal(w_shape).astype(np.float32), device)
    try:
        whole = to_numpy(call(xb, wb, method))
    except ValueError as exc:
        if method in REQUIRED or "does not apply" not in str(exc):
            raise
        pytest.skip(f"method={method!r} does not apply: {exc}")
    first3 = to_numpy(call(xb[0:3, ...], wb, method))
    row1 = to_numpy(call(xb[1:2, ...], wb, method))
    assert whole.dtype == np.float32
    assert np.array_equal(whole[0:3], first3), "rows 0-2 change with the batch size"
    assert np.array_equal(whole[1:2], row1), "row 1 alone differs from row 1 in the batch"


def test_row_chunked_samples_write_into_the_result() -> None:
    """A batch whose samples each need output-row chunks (Winograd 3x3x3 beyond one
    sample's temporaries cap) writes every chunk straight into the one result: its
    peak traced memory stays under twice the input + output (the memory rule), and
    under the peak of the same call with a separate result per sample (the whole-batch
    padded copy, one sample's chunk temporaries per thread and the output; a result of
    its own per sample would add half a sample's input + output per thread)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 16, 56, 56, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 32, 32)).astype(np.float32)
    io = 2 * x.nbytes
    xconv.conv3d(x, w, 1, "SAME", method="winograd")
    xconv.clear_workspace()  # the temporaries are allocated inside the traced call
    tracemalloc.start()
    try:
        out = xconv.conv3d(x, w, 1, "SAME", method="winograd")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    temporaries = peak - out.nbytes
    assert temporaries <= 2 * io, temporaries / io
    gemm = xconv.conv3d(x, w, 1, "SAME", method="gemm")
    np.testing.assert_allclose(out, gemm, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["conv2d-3x3-dense", "conv2d_transpose-3x3-stride-2"])
def test_samples_cut_into_row_pieces(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, name: str, method: str
) -> None:
    """A sample whose products are too large for one BLAS thread is cut into pieces of
    output rows that run on host threads (here with the threshold lowered so that these
    small arrays are cut): the pieces depend on the sample alone, so a row is the same
    bits in any batch and with one thread or several, and the result is right."""
    monkeypatch.setattr(_backend, "BLAS_SMALL_WORK", 2**12)
    x_shape, w_shape, call = BATCHED[name]
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    try:
        whole = call(x, w, method)
    except ValueError as exc:
        if method in REQUIRED or "does not apply" not in str(exc):
            raise
        pytest.skip(f"method={method!r} does not apply: {exc}")
    assert np.array_equal(whole[0:3], call(x[0:3], w, method)), "rows 0-2 change with the batch"
    assert np.array_equal(whole[1:2], call(x[1:2], w, method)), "row 1 alone differs"
    monkeypatch.setenv("XCONV_NUM_THREADS", "1")
    assert np.array_equal(whole, call(x, w, method)), "one thread gives other bits"
    monkeypatch.undo()
    expected = call(x.astype(np.float64), w.astype(np.float64), "gemm")
    np.testing.assert_allclose(whole, expected, rtol=2e-4, atol=2e-4)


def test_row_pieces_only_for_row_products() -> None:
    """The FFT transforms whole samples and a library's own convolution pads itself:
    neither is cut into row pieces, however large; a dense product is, into pieces of a
    multiple of the method's row multiple."""
    from xconv._algorithms import ALGORITHMS
    from xconv._core import _piece_rows

    big = 2**40
    assert _piece_rows(ALGORITHMS["fft"], np, big, False, 64) == 64
    assert _piece_rows(ALGORITHMS["native"], np, big, False, 64) == 64
    assert _piece_rows(ALGORITHMS["gemm"], np, big, False, 64) == 1
    assert _piece_rows(ALGORITHMS["gemm"], np, 2**20, False, 64) == 64  # small: whole
    assert _piece_rows(ALGORITHMS["winograd"], np, big, False, 64) == 4
    assert _piece_rows(ALGORITHMS["shift"], np, big, True, 64) == 64  # threads itself
    xp = array_api_compat.array_namespace(np.ones(1))
    assert _piece_rows(ALGORITHMS["gemm"], xp, 5 * _backend.BLAS_SMALL_WORK, False, 64) == 7
