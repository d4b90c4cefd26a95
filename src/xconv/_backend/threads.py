"""Host threads for xconv's own elementwise loops, on kept helper threads."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .._typing import Namespace
from .libraries import capabilities

__all__ = ["THREADS_ENV", "cores", "helper_pool", "host_threads", "parallel", "thread_count"]

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
    if threads <= 1 or len(jobs) <= 1:
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


_POOLS: dict[int, ThreadPoolExecutor] = {}


def helper_pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool of ``workers`` threads, made on first use and kept (one per size;
    dropped in a forked child, whose copy would have no threads)."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS.setdefault(
            workers, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xconv")
        )
    return pool


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOLS.clear)
