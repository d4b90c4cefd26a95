"""Host threads for xconv's own elementwise loops, on kept helper threads; one BLAS
thread for small matrix products."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._typing import Namespace
from .libraries import capabilities

__all__ = [
    "BLAS_SMALL_WORK",
    "THREADS_ENV",
    "blas_threads",
    "cores",
    "helper_pool",
    "host_threads",
    "parallel",
    "parallel_map",
    "sample_threads",
    "thread_count",
]

#: Environment variable that caps :func:`host_threads` (read at each call).
THREADS_ENV = "XCONV_NUM_THREADS"


def cores() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def thread_count(available: int, cap: str | None) -> int:
    """``available`` CPUs, at most ``cap`` when that is a non-negative integer; at least 1.

    Examples
    --------
    >>> thread_count(8, "3"), thread_count(2, "16"), thread_count(4, ""), thread_count(4, "0")
    (3, 2, 4, 1)
    """
    threads = available
    if cap is not None and cap.strip().isdigit():
        threads = min(threads, int(cap))
    return max(threads, 1)


def host_threads(xp: Namespace) -> int:
    """Threads xconv may use for its own elementwise loops on ``xp``'s arrays.

    NumPy's ufuncs run on one core (releasing the GIL), while its BLAS and every
    peer's convolution use all of them; so on NumPy the depthwise products split their
    tiles over the usable CPUs (the affinity mask), at most ``XCONV_NUM_THREADS`` when
    that environment variable is set. Work between BLAS calls stays on one thread:
    OpenBLAS's idle threads spin for a while after each call, and extra threads
    competing with them made im2col copies slower, not faster (measured on 2 cores).
    Other libraries parallelise or offload their own kernels: 1.

    Parameters
    ----------
    xp : namespace
        The caller's namespace.

    Returns
    -------
    int
        At least 1.
    """
    if not capabilities(xp).host_threads:
        return 1
    return thread_count(cores(), os.environ.get(THREADS_ENV))


def parallel(jobs: Sequence[Callable[[], None]], threads: int) -> None:
    """Run ``jobs`` on up to ``threads`` threads (in order on the caller when 1).

    The jobs must write disjoint parts of xconv's own temporaries; each one's result
    is the same whichever thread runs it, so the output is deterministic. The first
    exception a job raises is raised here, after every job has finished. The caller
    runs the first job itself and the others go to :func:`helper_pool`, whose
    threads outlive the call: starting fresh threads for each call cost about
    0.3 ms a thread here, and about 1 ms of a 9 ms depthwise convolution.
    """
    if threads <= 1 or len(jobs) <= 1 or _on_helper_thread():
        for job in jobs:
            job()
        return
    futures = [helper_pool(threads - 1).submit(job) for job in jobs[1:]]
    try:
        jobs[0]()
    finally:
        done = [f.exception() for f in futures]  # waits for every job
    for exc in done:
        if exc is not None:
            raise exc


def parallel_map(job: Callable[[int], None], count: int, threads: int) -> None:
    """``job(i)`` for ``i`` in ``range(count)`` on up to ``threads`` threads.

    Thread ``t`` runs job ``t`` first (so every thread runs at least one job of each
    call, and warms whatever it keeps between calls), then each thread takes the next
    index as soon as it is done with one: a thread that the machine does not schedule
    (other processes on its cores) holds up only the index it has, and no thread
    waits for another between jobs. The jobs must write disjoint memory and give the
    same result on any thread. The first exception is raised here, once every thread
    has stopped taking jobs.
    """
    threads = min(threads, count)
    if threads <= 1 or _on_helper_thread():
        for i in range(count):
            job(i)
        return
    lock = threading.Lock()
    state = {"next": threads, "failed": False}

    def worker(first: int) -> None:
        i = first
        while True:
            try:
                job(i)
            except BaseException:
                state["failed"] = True
                raise
            with lock:
                i = state["next"]
                if i >= count or state["failed"]:
                    return
                state["next"] = i + 1

    parallel([functools.partial(worker, t) for t in range(threads)], threads)


def sample_threads(xp: Namespace, largest_product: int) -> int:
    """Host threads that may run independent samples of a batch at once on ``xp``'s
    arrays, each computing BLAS products of at most ``largest_product`` multiply-adds.

    :func:`host_threads` when every such product runs on one BLAS thread
    (:data:`BLAS_SMALL_WORK`): a sample's result is then the same bits on any thread,
    and the threads share no BLAS call, so a machine busy with other processes slows
    the batch down in proportion (no thread waits for another between samples; one
    multithreaded BLAS call per product waits for its slowest thread each time).
    Larger products run one sample at a time on BLAS's own threads: 1.
    """
    return 1 if largest_product >= BLAS_SMALL_WORK else host_threads(xp)


def _on_helper_thread() -> bool:
    """Whether the caller is one of :func:`helper_pool`'s threads: work it hands out
    runs in place (the pool's threads may all be waiting on such callers)."""
    return threading.current_thread().name.startswith(_PREFIX)


_PREFIX = "xconv-helper"
_POOLS: dict[int, ThreadPoolExecutor] = {}


def helper_pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool of ``workers`` threads, made on first use and kept (one per size;
    dropped in a forked child, whose copy would have no threads)."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS.setdefault(
            workers, ThreadPoolExecutor(max_workers=workers, thread_name_prefix=_PREFIX)
        )
    return pool


#: NumPy matrix products of fewer multiply-adds than this run on one BLAS thread
#: (:func:`blas_threads`). Each multithreaded OpenBLAS call wakes its threads and
#: waits for all of them: where the cores are busy with other processes, a thread that
#: is not scheduled holds every call up, and convolutions made of many mid-sized calls
#: (Winograd's products, transposed phases) ran 7-25x slower than on one thread
#: (``docs/measurements.md``, "BLAS calls under load").
BLAS_SMALL_WORK = 2**27


@functools.cache
def _local_setters() -> tuple[Any, ...]:
    """``openblas_set_num_threads_local`` of every OpenBLAS loaded now that has it
    (0.3.27 and later), found through threadpoolctl (an optional dependency: without
    it, none)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    setters = []
    for lib in ThreadpoolController().lib_controllers:
        if lib.internal_api != "openblas":
            continue
        try:
            func = ctypes.CDLL(lib.filepath).openblas_set_num_threads_local
        except (OSError, AttributeError):  # an older OpenBLAS: left alone
            continue
        func.restype, func.argtypes = ctypes.c_int, [ctypes.c_int]
        setters.append(func)
    return tuple(setters)


class _BlasMode:
    """Which thread count xconv's NumPy products run with now, and how many run.

    ``mode`` is "one" (small products: OpenBLAS on one thread), "own" (larger ones:
    the count in place before) or None (none running). Products of one mode may run at
    once in several threads; a product of the other mode waits until they are done, so
    that each product runs on the count its size chose, whatever other threads do
    (OpenBLAS's bits depend on it).
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.mode: str | None = None
        self.holders = 0
        self.saved: list[int] = []


_BLAS_MODE = _BlasMode()


@contextlib.contextmanager
def blas_threads(small: bool) -> Iterator[None]:
    """Run the block's products on one OpenBLAS thread when ``small``, else on the
    count in place (with threadpoolctl and OpenBLAS 0.3.27 or later; otherwise nothing
    changes).

    ``openblas_set_num_threads_local`` sets the count process-wide from any thread: it
    is 1 while any thread runs a small product of xconv (BLAS calls of the user's own
    threads run on one thread meanwhile) and put back as soon as none does. Blocks must
    not nest.
    """
    setters = _local_setters()
    if not setters:
        yield
        return
    want = "one" if small else "own"
    state = _BLAS_MODE
    with state.cond:
        while state.holders and state.mode != want:
            state.cond.wait()
        if state.mode != want and want == "one":
            state.saved = [set_local(1) for set_local in setters]
        state.mode = want
        state.holders += 1
    try:
        yield
    finally:
        with state.cond:
            state.holders -= 1
            if not state.holders:
                if state.mode == "one":
                    for set_local, n in zip(setters, state.saved, strict=True):
                        set_local(n)
                state.mode = None
                state.cond.notify_all()


def _forget_in_child() -> None:
    """A forked child has no helper threads, and no product running."""
    global _BLAS_MODE
    _POOLS.clear()
    _BLAS_MODE = _BlasMode()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
