"""The workspace: temporaries reused between calls, bounded, per thread, never returned.

On NumPy (and torch on the CPU) the large temporaries of a convolution come from a
per-thread cache of byte buffers (:mod:`xconv._workspace`). These tests check that a
loop of calls reuses them (no new buffers, no fresh pages), that the cache stays under
the memory budget over many shapes, that results are bit-identical to fresh
allocations (``xconv.workspace(enabled=False)``) and never share memory with a cached
buffer, and that threads and forked children each get their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import xconv
from xconv import _backend, _workspace
from xconv._typing import Method

resource = pytest.importorskip("resource")

RNG = np.random.default_rng(7)


def _data(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


X = _data(4, 20, 20, 32)
W3 = _data(3, 3, 32, 32)
W5 = _data(5, 5, 32, 16)
DEPTHWISE = _data(3, 3, 32, 2)
W4T = _data(4, 4, 16, 32)
X3, W3D = _data(2, 8, 9, 10, 8), _data(3, 3, 3, 8, 8)

#: name -> a convolution of NumPy arrays: every algorithm, the transposed convolution
#: (sub-pixel phases), both gradients (the core called again inside) and chunking.
CALLS: dict[str, Callable[[], np.ndarray]] = {
    "gemm": lambda: xconv.conv2d(X, W3, 1, "SAME", method="gemm"),
    "gemm-strided": lambda: xconv.conv2d(X, W5, 2, "SAME", method="gemm"),
    "winograd": lambda: xconv.conv2d(X, W3, 1, "SAME", method="winograd"),
    "shift": lambda: xconv.conv2d(X, W3, 1, "SAME", method="shift"),
    "einsum": lambda: xconv.conv2d(X, W3, 1, "SAME", method="einsum"),
    "fft": lambda: xconv.conv2d(X, W3, 1, "SAME", method="fft"),
    "auto": lambda: xconv.conv2d(X, W3, 1, "SAME"),
    "depthwise": lambda: xconv.depthwise_conv2d(X, DEPTHWISE, [1, 1, 1, 1], "SAME"),
    "transpose": lambda: xconv.conv2d_transpose(X, W4T, (4, 40, 40, 16), 2),
    "input-grad": lambda: xconv.conv2d_backprop_input((4, 20, 20, 32), W3, X, 1, "SAME"),
    "filter-grad": lambda: xconv.conv2d_backprop_filter(X, (3, 3, 32, 32), X, 1, "SAME"),
    "chunked": lambda: xconv.conv2d(X, W3, 1, "SAME", method="gemm", memory_budget=2**18),
    "reflect": lambda: xconv.conv2d(X, W3, 1, "SAME", padding_mode="reflect"),
    "conv3d": lambda: xconv.conv3d(X3, W3D, 1, "SAME"),
}


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    xconv.clear_workspace()
    yield
    xconv.clear_workspace()


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the buffers the workspace creates while a test runs."""
    sizes: list[int] = []
    original = _backend.raw_buffer

    def counting(xp: Any, nbytes: int, like: Any) -> Any:
        sizes.append(nbytes)
        return original(xp, nbytes, like)

    monkeypatch.setattr(_backend, "raw_buffer", counting)
    return sizes


@pytest.mark.parametrize("name", list(CALLS))
def test_bit_identical_to_fresh_allocations(name: str) -> None:
    """Results with reused (dirty) buffers equal those with fresh allocations, bit for bit."""
    with xconv.workspace(enabled=False):
        fresh = CALLS[name]()
    first = CALLS[name]()
    for other in CALLS.values():  # leave other shapes' data in the cached buffers
        other()
    again = CALLS[name]()
    assert first.dtype == fresh.dtype
    assert first.shape == fresh.shape
    np.testing.assert_array_equal(first, fresh, strict=True)
    np.testing.assert_array_equal(again, fresh, strict=True)


@pytest.mark.parametrize("name", list(CALLS))
def test_results_never_alias_cached_buffers(name: str) -> None:
    """The result shares no memory with a cached buffer, and later calls leave it alone."""
    y = CALLS[name]()
    kept = y.copy()
    idle = list(_workspace._LOCAL.cache.idle.values())
    assert all(not np.shares_memory(y, buf.raw) for buf in idle)
    for call in CALLS.values():
        call()
    np.testing.assert_array_equal(y, kept, strict=True)


@pytest.mark.parametrize("name", ["gemm", "winograd", "transpose", "input-grad", "chunked"])
def test_a_loop_makes_no_new_buffers(name: str, made: list[int]) -> None:
    """After the first call of a shape, calls take every temporary from the cache."""
    CALLS[name]()
    first = len(made)
    held = _workspace.held_bytes()
    for _ in range(3):
        CALLS[name]()
    assert first > 0, "the first call caches its temporaries"
    assert len(made) == first
    assert _workspace.held_bytes() == held


def test_disabled_uses_no_buffers(made: list[int]) -> None:
    with xconv.workspace(enabled=False):
        CALLS["winograd"]()
        CALLS["gemm"]()
        assert _workspace.held_bytes() == 0
    assert made == []
    CALLS["winograd"]()  # the setting is restored when the block ends
    assert made


@pytest.mark.skipif(sys.platform != "linux", reason="fresh-page counts of glibc's malloc")
def test_steady_state_touches_no_fresh_pages() -> None:
    """A loop of the same call faults at most the output's pages plus a few dozen
    (without the workspace: about 3,000 a call for this case, its temporaries)."""
    x, w = _data(8, 28, 28, 128), _data(3, 3, 128, 128)
    for _ in range(3):
        xconv.conv2d(x, w, 1, "SAME")
    out_pages = x.nbytes // 4096 + 1
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        xconv.conv2d(x, w, 1, "SAME")
    per_call = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5
    assert per_call <= out_pages + 50, per_call


def test_bounded_by_the_budget_over_random_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 random shapes and methods: the cache never owns more than the budget."""
    budget = 3 * 2**20
    peak = [0]
    original = _backend.raw_buffer

    def watching(xp: Any, nbytes: int, like: Any) -> Any:
        peak[0] = max(peak[0], _workspace.held_bytes())  # counted before it is made
        return original(xp, nbytes, like)

    monkeypatch.setattr(_backend, "raw_buffer", watching)
    rng = np.random.default_rng(3)
    methods: list[Method] = ["auto", "gemm", "winograd", "shift", "einsum"]
    for _ in range(200):
        n, h, w, c, o = (int(v) for v in rng.integers(1, [5, 40, 40, 48, 48]))
        x, f = _data(n, h, w, c), _data(3, 3, c, o)
        xconv.conv2d(x, f, 1, "SAME", method=methods[rng.integers(5)], memory_budget=budget)
        assert _workspace.held_bytes() <= budget
    assert 0 < peak[0] <= budget


def test_a_smaller_budget_shrinks_the_cache() -> None:
    CALLS["gemm"]()
    assert _workspace.held_bytes() > 2**16
    xconv.conv2d(X[:1, :5], W3, 1, "SAME", memory_budget=2**16)
    assert _workspace.held_bytes() <= 2**16


def test_clear_releases_every_thread_cache() -> None:
    """``clear_workspace`` from one thread empties the idle buffers of another."""
    held: list[int] = []
    go, cleared = threading.Event(), threading.Event()

    def worker() -> None:
        CALLS["winograd"]()
        held.append(_workspace.held_bytes())
        go.set()
        cleared.wait(30)
        held.append(_workspace.held_bytes())

    t = threading.Thread(target=worker)
    t.start()
    go.wait(30)
    xconv.clear_workspace()
    cleared.set()
    t.join(30)
    assert held[0] > 0
    assert held[1] == 0


def test_threads_get_bit_equal_results() -> None:
    """Six user threads at once, each with its own cache, equal the serial results."""
    names = list(CALLS)
    serial = {name: CALLS[name]() for name in names}
    results: dict[tuple[int, str], np.ndarray] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker(i: int) -> None:
        try:
            barrier.wait(30)
            for _ in range(2):  # the second round on buffers the first one left
                for name in names[i:] + names[:i]:
                    results[(i, name)] = CALLS[name]()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    for (_, name), y in results.items():
        np.testing.assert_array_equal(y, serial[name], strict=True, err_msg=name)


def test_torch_cpu_uses_the_workspace(made: list[int]) -> None:
    torch = pytest.importorskip("torch")
    x, w = torch.from_numpy(X), torch.from_numpy(W3)
    with xconv.workspace(enabled=False):
        fresh = xconv.conv2d(x, w, 1, "SAME", method="winograd")
    y = xconv.conv2d(x, w, 1, "SAME", method="winograd")
    made_first = len(made)
    again = xconv.conv2d(x, w, 1, "SAME", method="winograd")
    assert made_first > 0
    assert len(made) == made_first
    assert torch.equal(y, fresh)
    assert torch.equal(again, fresh)
    idle = _workspace._LOCAL.cache.idle.values()
    assert all(not _backend.shares_buffer(y, buf.raw, xp=_backend.namespace(x=x)) for buf in idle)


def test_torch_autograd_takes_no_buffers(made: list[int]) -> None:
    """Tensors that autograd tracks are never written in place: plain allocations."""
    torch = pytest.importorskip("torch")
    x, w = torch.from_numpy(X).requires_grad_(True), torch.from_numpy(W3).requires_grad_(True)
    y = xconv.conv2d(x, w, 1, "SAME", method="winograd")
    assert made == []
    y.sum().backward()
    assert x.grad is not None
    assert w.grad is not None


#: Run in a fresh interpreter (the test process may hold other libraries' threads,
#: which make a fork unsafe): fill the cache, fork; the child starts with an empty
#: cache and computes the same result; SIGALRM ends it if it hangs.
_FORK_SCRIPT = """
import os, signal
import numpy as np
import xconv
from xconv import _workspace
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 32, 32, 16)).astype(np.float32)
w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
y = xconv.conv2d(x, w, 1, "SAME", method="winograd")
assert _workspace.held_bytes() > 0
pid = os.fork()
if pid == 0:
    signal.alarm(20)
    ok = False
    try:
        ok = _workspace.held_bytes() == 0
        ok = ok and np.array_equal(xconv.conv2d(x, w, 1, "SAME", method="winograd"), y)
        ok = ok and _workspace.held_bytes() > 0
    finally:
        os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
assert _workspace.held_bytes() > 0
raise SystemExit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 3)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_with_an_empty_cache() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------- BLAS threads of products


def _openblas_counts() -> list[int]:
    import ctypes

    from threadpoolctl import ThreadpoolController

    return [
        c.get_num_threads()
        for c in ThreadpoolController().lib_controllers
        if c.internal_api == "openblas"
        and hasattr(ctypes.CDLL(c.filepath), "openblas_set_num_threads_local")
    ]


def test_small_products_run_on_one_blas_thread() -> None:
    """Inside a small product's block OpenBLAS runs on one thread; a large product
    waits until no small one runs; the count is put back afterwards."""
    pytest.importorskip("threadpoolctl")
    from xconv._backend import threads

    if not threads._local_setters():
        pytest.skip("no OpenBLAS with openblas_set_num_threads_local is loaded")
    before = _openblas_counts()
    seen: list[list[int]] = []
    with threads.blas_threads(small=True):
        inside = _openblas_counts()
        large = threading.Thread(target=_large_product, args=(threads, seen))
        large.start()
        large.join(0.2)
        assert large.is_alive(), "a large product waits for the small one"
    large.join(30)
    assert min(inside) == 1  # NumPy's OpenBLAS (others may keep a thread-local count)
    assert seen == [before]
    assert _openblas_counts() == before


def _large_product(threads: Any, seen: list[list[int]]) -> None:
    with threads.blas_threads(small=False):
        seen.append(_openblas_counts())


def test_small_products_give_the_same_bits_in_every_thread() -> None:
    """A small product runs on one BLAS thread whichever thread calls it."""
    from xconv._backend import matmul, namespace

    a, b = _data(1568, 512), _data(512, 64)
    xp = namespace(a=a)
    serial = matmul(a, b, xp=xp)
    results: list[np.ndarray] = []
    workers = [
        threading.Thread(target=lambda: results.append(matmul(a, b, xp=xp))) for _ in range(4)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    assert len(results) == 4
    for y in results:
        np.testing.assert_array_equal(y, serial, strict=True)
