"""No state shared between calls: threads and repeated calls give the same bits.

Eight threads run different shapes, dtypes and methods at once (the in-place tile
buffers, the JAX program cache and the spec cache are the shared-looking parts); each
result must equal, bit for bit, the same call made alone. ``auto`` is deterministic
run to run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from array_api_compat import array_namespace

import xconv
from _helpers import backend_dtype, make, to_numpy
from _reference import reference_depthwise, same_pads

#: (input NHWC, filters HWIO, strides, method, dtype): one job per thread.
JOBS: list[tuple[tuple[int, ...], tuple[int, ...], int, str, str]] = [
    ((2, 17, 15, 3), (3, 3, 3, 4), 1, "gemm", "float64"),
    ((1, 20, 18, 4), (3, 3, 1, 8), 2, "shift", "float32"),
    ((2, 16, 16, 8), (3, 3, 8, 8), 1, "winograd", "float64"),
    ((1, 30, 28, 1), (9, 9, 1, 1), 1, "fft", "float64"),
    ((3, 12, 11, 6), (2, 4, 3, 6), 1, "einsum", "float32"),
    ((2, 15, 13, 4), (5, 3, 4, 2), 2, "auto", "int32"),
    ((1, 21, 19, 2), (3, 3, 2, 5), 3, "auto", "float64"),
    ((2, 9, 10, 16), (1, 1, 16, 8), 1, "auto", "float32"),
]


def _inputs(xp: ModuleType, device: Any, rng: np.random.Generator) -> list[tuple[Any, ...]]:
    jobs = []
    for x_shape, w_shape, stride, method, dtype in JOBS:
        if backend_dtype(xp, dtype) is None:
            continue
        x = rng.integers(-3, 4, x_shape) if dtype == "int32" else rng.standard_normal(x_shape)
        w = rng.integers(-3, 4, w_shape) if dtype == "int32" else rng.standard_normal(w_shape)
        x, w = x.astype(dtype), w.astype(dtype)
        jobs.append((make(xp, x, device), make(xp, w, device), stride, method))
    return jobs


def _run(job: tuple[Any, ...]) -> np.ndarray:
    x, w, stride, method = job
    return to_numpy(xconv.conv2d(x, w, stride, "SAME", method=method))


def test_threads_match_serial_calls(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    jobs = _inputs(xp, device, rng) * 2  # 16 calls, 8 at a time
    serial = [_run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(_run, jobs))
    for i, (a, b) in enumerate(zip(threaded, serial, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"job {i % len(JOBS)}")


def test_auto_is_deterministic(xp: ModuleType, device: Any, rng: np.random.Generator) -> None:
    x = make(xp, rng.standard_normal((2, 19, 17, 5)), device)
    w = make(xp, rng.standard_normal((3, 3, 5, 7)), device)
    first = to_numpy(xconv.conv2d(x, w, 1, "SAME"))
    for _ in range(3):
        np.testing.assert_array_equal(to_numpy(xconv.conv2d(x, w, 1, "SAME")), first)


@pytest.mark.parametrize("multiplier", [1, 3])
def test_depthwise_tiles_on_host_threads(
    monkeypatch: pytest.MonkeyPatch, multiplier: int, rng: np.random.Generator
) -> None:
    """Tiles split over NumPy threads give the reference, bit-equal to one thread."""
    from xconv import _padding
    from xconv._algorithms import shift, tuning
    from xconv._backend import threads as host

    x = rng.standard_normal((2, 23, 19, 6))
    w = rng.standard_normal((3, 3, 6, multiplier))
    expected = reference_depthwise(
        x, w, (1, 1), (1, 1), same_pads((23, 19), (3, 3), (1, 1), (1, 1))
    )
    monkeypatch.setattr(_padding, "PARALLEL_COPY_ELEMENTS", 0)  # the padded copy too
    monkeypatch.setattr(host, "cores", lambda: 4)  # more threads than this machine may have
    results = {}
    with tuning(shift=shift.Tuning(tile_bytes=2048)):  # many tiles
        for threads in ("4", "1"):  # threaded first: fresh arrays may reuse freed memory
            monkeypatch.setenv(host.THREADS_ENV, threads)
            assert host.host_threads(np) == int(threads)
            results[threads] = xconv.depthwise_conv2d(x, w, 1, "SAME", method="shift")
    np.testing.assert_allclose(results["4"], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(results["4"], results["1"])


@pytest.mark.parametrize(
    ("available", "cap", "expected"),
    [
        (8, None, 8),
        (8, "3", 3),
        (2, "16", 2),
        (4, "", 4),
        (4, " 2 ", 2),
        (4, "0", 1),
        (4, "-2", 4),
        (4, "two", 4),
        (1, None, 1),
    ],
)
def test_thread_count_follows_the_cap(available: int, cap: str | None, expected: int) -> None:
    """The usable CPUs, at most the environment's cap when it is a number; at least 1."""
    from xconv._backend.threads import thread_count

    assert thread_count(available, cap) == expected


def test_host_threads_only_on_numpy(xp: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only NumPy splits xconv's own loops over threads; the other libraries run (or
    offload) their own kernels and get one."""
    from xconv._backend import threads as host

    monkeypatch.setattr(host, "cores", lambda: 6)
    monkeypatch.setenv(host.THREADS_ENV, "4")
    expected = 4 if xconv._backend.library(xp) == "numpy" else 1
    assert host.host_threads(xp) == expected


def test_parallel_raises_a_job_error() -> None:
    from xconv._backend import threads

    done: list[int] = []

    def fail() -> None:
        raise ZeroDivisionError("job")

    jobs = [lambda: done.append(1), fail, lambda: done.append(2)]
    with pytest.raises(ZeroDivisionError, match="job"):
        threads.parallel(jobs, 3)
    assert sorted(done) == [1, 2]  # the other jobs still ran


def test_parallel_runs_every_job_once() -> None:
    """More jobs than threads: each runs once, the first on the caller, the rest on
    at most ``threads - 1`` kept helper threads; the same again on a second call."""
    import threading

    from xconv._backend import threads

    seen: list[tuple[int, int]] = []

    def job(i: int) -> None:
        seen.append((i, threading.get_ident()))

    for _ in range(2):
        seen.clear()
        threads.parallel([lambda i=i: job(i) for i in range(5)], 3)
        assert sorted(i for i, _ in seen) == list(range(5))
        assert dict(seen)[0] == threading.get_ident()
        helpers = {ident for i, ident in seen if i > 0}
        assert threading.get_ident() not in helpers
        assert len(helpers) <= 2


#: Run in a fresh interpreter (the test process may hold other libraries' threads,
#: which make a fork unsafe): start the helper threads, fork, and in the child run two
#: jobs; the child exits 0 only if both ran, and SIGALRM ends it if it hangs.
_FORK_SCRIPT = """
import os, signal
from xconv._backend import threads
threads.parallel([lambda: None, lambda: None], 2)
pid = os.fork()
if pid == 0:
    signal.alarm(20)
    done = []
    try:
        threads.parallel([lambda: done.append(1), lambda: done.append(2)], 2)
    finally:
        os._exit(0 if sorted(done) == [1, 2] else 1)
_, status = os.waitpid(pid, 0)
raise SystemExit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 3)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_parallel_in_a_forked_child() -> None:
    """A child forked after the helper threads started gets its own (no hang)."""
    result = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("shape", "pads"),
    [
        ((5, 6, 4, 3), ((1, 2), (0, 1))),  # slabs of the batch
        ((1, 7, 5, 2), ((2, 0), (1, 1))),  # one image: slabs of its first spatial axis
        ((2, 9, 3), ((1, 1),)),  # fewer images than threads, 1-d
        ((1, 2, 3, 4, 2), ((1, 0), (0, 2), (1, 1))),
    ],
)
def test_padded_copy_on_threads(
    monkeypatch: pytest.MonkeyPatch,
    rng: np.random.Generator,
    shape: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
) -> None:
    """Zero padding whose interior copy is split over threads equals ``np.pad``."""
    from xconv import _padding

    monkeypatch.setattr(_padding, "PARALLEL_COPY_ELEMENTS", 0)
    x = rng.standard_normal(shape)
    # The threaded copy first: a fresh array could reuse the memory of a correct one.
    out = {
        t: _padding.pad_canonical(x, pads, "zeros", xp=array_namespace(x), threads=t)
        for t in (3, 1)
    }
    expected = np.pad(x, ((0, 0), *pads, (0, 0)))
    for threads, padded in out.items():
        np.testing.assert_array_equal(padded, expected, err_msg=f"threads={threads}")


def test_helper_threads_shared_by_user_threads(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    """Depthwise calls from several user threads at once share the kept helper threads
    (each call runs its first share itself): same bits as serial calls, no deadlock."""
    from xconv import _padding
    from xconv._algorithms import shift, tuning
    from xconv._backend import threads as host

    monkeypatch.setattr(_padding, "PARALLEL_COPY_ELEMENTS", 0)
    monkeypatch.setattr(host, "cores", lambda: 3)
    monkeypatch.setenv(host.THREADS_ENV, "3")
    cases = [
        (rng.standard_normal((2, 21, 17, c)), rng.standard_normal((3, 3, c, m)))
        for c, m in ((5, 1), (3, 2), (8, 1), (1, 1))
    ] * 3

    def run(case: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        x, w = case
        return xconv.depthwise_conv2d(x, w, 1, "SAME", method="shift")

    with tuning(shift=shift.Tuning(tile_bytes=4096)):  # many tiles per call
        serial = [run(case) for case in cases]
        with ThreadPoolExecutor(max_workers=6) as pool:
            threaded = list(pool.map(run, cases))
    for i, (a, b) in enumerate(zip(threaded, serial, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"case {i}")
