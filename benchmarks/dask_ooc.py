"""Out-of-core convolution on a ``dask.distributed`` LocalCluster.

``python benchmarks/dask_ooc.py [--quick] [--side 16384] [--volume 512] [--out DIR]``
writes ``dask_ooc.json`` (every number) and ``dask_ooc.md`` (the table) to
``benchmarks/results/``.

Cases (float32, single channel, ``method="auto"``):

- ``2d``: a 5x5 SAME convolution of ``(1, side, side, 1)`` (1 GiB at side 16384) in
  chunks of 2048x2048 (16 MiB);
- ``3d``: a 3x3x3 SAME convolution of ``(1, n, n, n, 1)`` (512 MiB at n = 512) in
  chunks of 128³ (8 MiB).

The cluster has 2 worker processes of 1 thread, each limited to 1 GiB. The input is
generated on the workers (``dask.array.random``) and the output is reduced there (a
sum per block), so no process ever holds the whole array. Reported per case: wall
time and throughput in output MPix/s (also for generating and summing the input alone,
the part of the time that is not the convolution), the peak resident memory of each
worker (Linux ``VmHWM``, reset before each case), bytes spilled to disk and workers
restarted (both must be 0). Beside it, in-memory NumPy xconv in this process on an
input that fits (side / 4, n / 2), best of 3.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import xconv

HERE = Path(__file__).resolve().parent
MEMORY_LIMIT = 2**30


def _reset_peak() -> None:
    """Reset this process's resident-set high-water mark (Linux ``clear_refs``)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_bytes() -> int:
    """This process's resident-set high-water mark (``VmHWM``) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def _spilled_bytes(dask_worker: Any) -> int:
    """Bytes this worker has written to disk so far (its spill buffer's counter)."""
    metrics = getattr(dask_worker.data, "cumulative_metrics", {})
    return int(metrics.get(("disk-write", "bytes"), 0))


def _case(rank: int, side: int, chunk: int) -> dict[str, Any]:
    taps = 5 if rank == 2 else 3
    return {
        "name": f"{rank}d",
        "shape": (1, *(side,) * rank, 1),
        "chunks": (1, *(chunk,) * rank, 1),
        "filter": (*(taps,) * rank, 1, 1),
    }


def _conv(x: Any, w: Any) -> Any:
    return xconv.convolution(x, w, padding="SAME")


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = run()
    return time.perf_counter() - start, value


def run_cluster_case(client: Any, case: dict[str, Any]) -> dict[str, Any]:
    """One case on the cluster: generation alone, then generation + convolution."""
    import dask.array as da

    shape, chunks = case["shape"], case["chunks"]
    pixels = int(np.prod(shape))
    w = da.from_array(np.full(case["filter"], 1 / np.prod(case["filter"]), np.float32))

    def source() -> Any:
        rng = da.random.default_rng(0)
        return rng.standard_normal(shape, chunks=chunks, dtype=np.float32)

    warm = da.ones(chunks, chunks=chunks, dtype=np.float32)  # imports on the workers
    client.compute(_conv(warm, w).sum()).result()
    workers_before = set(client.scheduler_info()["workers"])
    gen_s, _ = _timed(lambda: client.compute(source().sum()).result())
    client.run(_reset_peak)
    conv_s, total = _timed(lambda: client.compute(_conv(source(), w).sum()).result())
    peaks = client.run(_peak_bytes)
    spilled = client.run(_spilled_bytes)
    workers_after = set(client.scheduler_info()["workers"])
    return {
        "case": case["name"],
        "shape": list(shape),
        "chunks": list(chunks),
        "filter": list(case["filter"]),
        "input_bytes": pixels * 4,
        "generate_sum_s": gen_s,
        "total_s": conv_s,
        "mpix_per_s": pixels / conv_s / 1e6,
        "mpix_per_s_without_generation": pixels / max(conv_s - gen_s, 1e-9) / 1e6,
        "peak_worker_bytes": dict(peaks),
        "memory_limit_bytes": MEMORY_LIMIT,
        "spilled_bytes": sum(spilled.values()),
        "workers_restarted": len(workers_before ^ workers_after),
        "checksum": float(total),
    }


def run_numpy_case(case: dict[str, Any], shrink: int) -> dict[str, Any]:
    """In-memory NumPy xconv on the case shrunk ``shrink`` times per axis, best of 3."""
    shape = (1, *(n // shrink for n in case["shape"][1:-1]), 1)
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    w = np.full(case["filter"], 1 / np.prod(case["filter"]), np.float32)
    best = min(_timed(lambda: _conv(x, w))[0] for _ in range(3))
    return {
        "case": case["name"],
        "shape": list(shape),
        "best_s": best,
        "mpix_per_s": x.size / best / 1e6,
    }


def markdown(report: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        "# Out-of-core convolution on Dask",
        "",
        f"{report['machine']}; LocalCluster: {report['workers']} worker processes x 1 thread, "
        f'{MEMORY_LIMIT // 2**20} MiB memory limit each. float32, `method="auto"`, SAME.',
        "",
        "| case | input | chunks | cluster time | MPix/s | MPix/s (less generation) "
        "| peak worker memory | spilled | restarts | in-memory NumPy (size) | NumPy MPix/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c, n in zip(report["cluster"], report["numpy"], strict=True):
        peak = max(c["peak_worker_bytes"].values()) / 2**20
        lines.append(
            f"| {c['case']} {'x'.join(map(str, c['filter'][:-2]))} | "
            f"{tuple(c['shape'])} ({c['input_bytes'] / 2**20:.0f} MiB) | {tuple(c['chunks'])} | "
            f"{c['total_s']:.1f} s | {c['mpix_per_s']:.1f} | "
            f"{c['mpix_per_s_without_generation']:.1f} | {peak:.0f} MiB | "
            f"{c['spilled_bytes']} B | {c['workers_restarted']} | {tuple(n['shape'])} | "
            f"{n['mpix_per_s']:.1f} |"
        )
    lines += [
        "",
        "MPix/s counts output pixels per second of wall time, input generation on the "
        "workers included; the next column subtracts the time of generating and summing "
        "the input alone. Peak worker memory is each worker process's resident-set "
        "high-water mark (`VmHWM`), reset before the case.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=16384, help="2-d image side (16384: 1 GiB)")
    parser.add_argument("--volume", type=int, default=512, help="3-d volume side")
    parser.add_argument("--quick", action="store_true", help="side 4096, volume 128")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    side, volume = (4096, 128) if args.quick else (args.side, args.volume)

    from distributed import Client, LocalCluster

    cases = [_case(2, side, min(2048, side)), _case(3, volume, min(128, volume))]
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores",
        "workers": 2,
        "cluster": [],
        "numpy": [run_numpy_case(c, s) for c, s in zip(cases, (4, 2), strict=True)],
    }
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=MEMORY_LIMIT,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # the connection errors of a normal shutdown
        ) as cluster,
        Client(cluster) as client,
    ):
        for case in cases:
            result = run_cluster_case(client, case)
            print(json.dumps(result))
            report["cluster"].append(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dask_ooc.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "dask_ooc.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
