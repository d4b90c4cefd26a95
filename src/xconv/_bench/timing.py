"""The timing protocol, memory measurement and machine description.

Protocol: these machines are noisy and OpenBLAS's threads spin for 0.1-0.2 s
after each GEMM, slowing whatever runs next. So: every candidate is set up outside the
timed call (inputs converted, JAX functions compiled) and run once untimed; then the
candidates are timed in ``blocks``, the order alternating between blocks (forward,
reversed, ...), with a pause whenever the library changes; inside a block a candidate
runs ``inner`` times back to back; a block's value is the median of those; the
reported time is the median over blocks. A small NumPy sgemm "canary" is measured
before and after every case, and NumPy's own sgemm peak once per run, so that the
throughput of each case can be put in proportion to what the machine's BLAS gives.

Memory: for candidates whose allocations NumPy reports to :mod:`tracemalloc` (xconv on
NumPy, SciPy, the naive loop), the peak of traced bytes during one call; for everything
else, the peak resident-set size above the level before the call, sampled every
millisecond from ``/proc/self/statm`` (approximate: allocators keep freed memory). Both
include the output array.

Page faults: the minor page faults of the process (``ru_minflt``) during each block,
per call, and the time and faults of a *first call* of the shape: after the steady
state is timed, each candidate runs ``FIRST_CALL_REPEATS`` more times, each after
``reset`` (``xconv.clear_workspace()``), so that its temporaries are mapped afresh.

Load: :func:`busy_processes` starts busy-loop processes that stop by themselves.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "SLOW_S",
    "Timer",
    "busy_processes",
    "canary_gflops",
    "failure",
    "machine_info",
    "measure_memory",
    "minor_faults",
    "sgemm_peak_gflops",
]

#: A candidate whose first call takes longer than this is not called again: that call's
#: time is its only sample (and its memory is not measured).
SLOW_S = 2.5
#: Aimed-at time of one candidate's run inside a block (sets ``inner``).
BLOCK_TARGET_S = 0.25
#: Most calls of one candidate per block.
MAX_INNER = 5
#: Untimed calls open each block until this much time has passed (see :func:`warm_up`):
#: the calls right after a pause, or after another candidate's
#: multithreaded BLAS call, run up to 1.6x slower for about this long on these machines,
#: and a block of a few short calls would otherwise time that transient, not the loop.
WARM_S = 0.1
#: First calls (after a reset) measured per candidate; their median is reported.
FIRST_CALL_REPEATS = 3
#: A busy process of :func:`busy_processes` stops by itself after this many seconds.
LOAD_MAX_S = 600.0


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)


#: A busy loop that ends by itself after ``argv[1]`` seconds.
_BUSY = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass\n"


@contextlib.contextmanager
def busy_processes(count: int, seconds: float = LOAD_MAX_S) -> Iterator[None]:
    """``count`` processes spinning on the CPUs while the block runs.

    Plain interpreters (no imports, no fork of this process, which holds the peers'
    threads) that each stop by themselves after ``seconds``, and are ended when the
    block exits, whichever comes first. ``count = 0``: nothing.
    """
    procs = [subprocess.Popen([sys.executable, "-c", _BUSY, str(seconds)]) for _ in range(count)]
    try:
        if procs:
            time.sleep(0.5)  # let them reach the loop
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def failure(exc: Exception) -> dict[str, str]:
    """The ``status``/``reason`` of a candidate whose first call raised ``exc``.

    A ``ValueError`` is xconv saying the method does not apply to the case ("n/a");
    anything else is an error, reported with its type.
    """
    if isinstance(exc, ValueError):
        return {"status": "n/a", "reason": str(exc).splitlines()[0]}
    return {"status": "error", "reason": f"{type(exc).__name__}: {exc}".splitlines()[0]}


def _sgemm_gflops(n: int, repeat: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def sgemm_peak_gflops(n: int = 2048, repeat: int = 5) -> float:
    """NumPy's float32 matmul throughput on ``n x n`` matrices (best of ``repeat``)."""
    return _sgemm_gflops(n, repeat)


def canary_gflops(n: int = 384, repeat: int = 5) -> float:
    """A small sgemm, measured before and after each case: it shows the machine's state."""
    return _sgemm_gflops(n, repeat)


# --- memory -------------------------------------------------------------------------


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def freeze_gc() -> None:
    """Move every object alive now out of the collector's view (after importing the
    peers: TensorFlow's object graph makes each full collection take a second)."""
    gc.collect()
    gc.freeze()


def _trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc), so that the RSS baseline is low."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextlib.contextmanager
def _rss_peak(interval: float = 0.001) -> Iterator[dict[str, int | None]]:
    """Sample the resident set size in a thread; yields a dict filled in on exit."""
    result: dict[str, int | None] = {"baseline": _rss_bytes(), "peak": None}
    if result["baseline"] is None:
        yield result
        return
    peak = [result["baseline"]]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            value = _rss_bytes() or 0
            if value > peak[0]:
                peak[0] = value
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak"] = max(peak[0], _rss_bytes() or 0)


def measure_memory(run: Callable[[], Any], how: str) -> dict[str, Any]:
    """Peak extra bytes of one call of ``run``; ``how`` is "tracemalloc" or "rss"."""
    _trim_heap()
    record: dict[str, Any] = {"how": how}
    if how == "tracemalloc":
        tracemalloc.start()
        tracemalloc.reset_peak()
        try:
            out = run()
            record["peak_bytes"] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        del out
        return record
    with _rss_peak() as rss:
        out = run()
    del out
    if rss["peak"] is None or rss["baseline"] is None:
        record["peak_bytes"] = None
    else:
        record["peak_bytes"] = rss["peak"] - rss["baseline"]
    return record


# --- timing -------------------------------------------------------------------------


@dataclass
class Timed:
    """What :class:`Timer` needs of a candidate: a call and the library it runs in."""

    key: str
    library: str
    run: Callable[[], Any]
    first_call_s: float
    inner: int = 1
    blocks: list[list[float]] = field(default_factory=list)
    #: minor page faults per call, one value per block
    faults: list[float] = field(default_factory=list)
    #: time and minor page faults of each first call after a reset
    cold_s: list[float] = field(default_factory=list)
    cold_faults: list[int] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(statistics.median(b) for b in self.blocks)

    @property
    def faults_per_call(self) -> float | None:
        return statistics.median(self.faults) if self.faults else None


def warm_up(run: Callable[[], Any], first_call_s: float, warm_s: float = WARM_S) -> int:
    """Call ``run`` untimed until ``warm_s`` has passed (at least once), so that a block
    times calls in the middle of a loop; none for a candidate whose first call took over
    ``5 * warm_s`` (the transient is a small part of its call). Returns the calls made."""
    if first_call_s > 5 * warm_s:
        return 0
    n, t0 = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < warm_s:
        run()
        n += 1
    return n


class Timer:
    """Times candidates in alternating blocks with pauses between candidates."""

    def __init__(
        self,
        blocks: int = 3,
        pause: float = 0.2,
        short_pause: float = 0.2,
        block_target_s: float = BLOCK_TARGET_S,
    ) -> None:
        self.n_blocks = blocks
        self.block_target_s = block_target_s
        self.pause = pause
        self.short_pause = short_pause
        self._last_library: str | None = None

    def rest(self, library: str) -> None:
        """Sleep before a candidate's calls: OpenBLAS's threads spin for about 0.1 s after a
        multithreaded call, and xconv's methods (one library) use them too, so the same
        pause (``short_pause``) separates candidates of one library by default."""
        time.sleep(self.pause if library != self._last_library else self.short_pause)
        self._last_library = library

    def first_call(self, run: Callable[[], Any], library: str) -> tuple[Any, float]:
        """The untimed warm-up call (compilation, caches); returns its result and time."""
        self.rest(library)
        t0 = time.perf_counter()
        out = run()
        return out, time.perf_counter() - t0

    def time_all(self, timed: Sequence[Timed]) -> None:
        """Fill ``blocks`` of every candidate; slow ones run once (their first block)."""
        for t in timed:
            t.inner = max(1, min(MAX_INNER, round(self.block_target_s / max(t.first_call_s, 1e-9))))
        for b in range(self.n_blocks):
            order = list(timed) if b % 2 == 0 else list(reversed(timed))
            for t in order:
                if t.first_call_s > SLOW_S:  # its untimed first call is its only sample
                    if not t.blocks:
                        t.blocks.append([t.first_call_s])
                    continue
                self.rest(t.library)
                warm_up(t.run, t.first_call_s)
                times = []
                gc_was_enabled = gc.isenabled()
                gc.disable()  # as timeit does
                faults = minor_faults()
                try:
                    for _ in range(t.inner):
                        t0 = time.perf_counter()
                        t.run()
                        times.append(time.perf_counter() - t0)
                finally:
                    if gc_was_enabled:
                        gc.enable()
                t.faults.append((minor_faults() - faults) / t.inner)
                t.blocks.append(times)

    def first_calls(
        self, timed: Sequence[Timed], reset: Callable[[], None], repeats: int = FIRST_CALL_REPEATS
    ) -> None:
        """Time each candidate's call right after ``reset()`` (cached buffers dropped),
        ``repeats`` times, and count its minor page faults; slow candidates are skipped."""
        for t in timed:
            if t.first_call_s > SLOW_S:
                continue
            self.rest(t.library)
            for _ in range(repeats):
                reset()
                faults = minor_faults()
                t0 = time.perf_counter()
                t.run()
                t.cold_s.append(time.perf_counter() - t0)
                t.cold_faults.append(minor_faults() - faults)


# --- machine ------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the BLAS/OpenMP libraries loaded now (kernel, threads)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl is not installed"}]
    keys = (
        "user_api",
        "internal_api",
        "prefix",
        "version",
        "architecture",
        "num_threads",
        "threading_layer",
        "filepath",
    )
    return [{k: d.get(k) for k in keys if k in d} for d in threadpool_info()]


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that are imported now (nothing is imported here)."""
    names = (
        "numpy",
        "xconv",
        "scipy",
        "tensorflow",
        "torch",
        "jax",
        "jaxlib",
        "threadpoolctl",
        "matplotlib",
        "array_api_compat",
    )
    return {n: getattr(sys.modules[n], "__version__", "?") for n in names if n in sys.modules}


def machine_info(blas_env: dict[str, Any] | None = None) -> dict[str, Any]:
    """CPU, cores, load, BLAS kernel and threads, library versions, date (UTC)."""
    affinity: int | None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    threads: dict[str, Any] = {}
    if "torch" in sys.modules:
        threads["torch"] = sys.modules["torch"].get_num_threads()
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        threads["tensorflow_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
        threads["tensorflow_onednn"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": library_versions(),
        "blas": blas_info(),
        "blas_env": blas_env or {},
        "threads": threads,
    }
