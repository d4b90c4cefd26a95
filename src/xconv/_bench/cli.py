"""The benchmark command's arguments and driver, shared by ``python -m xconv bench`` and
``benchmarks/run.py`` (one parser, one progress display, one summary)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from ._env import prepare

PEERS = ("tf", "torch", "jax", "scipy", "naive", "passes")
BACKENDS = ("numpy", "torch", "jax")


def add_arguments(p: argparse.ArgumentParser, *, default_out: str | None) -> None:
    """The options of the benchmark command (``--out`` defaults to ``default_out``)."""
    p.add_argument("--quick", action="store_true", help="a few small cases, one block (< 1 minute)")
    p.add_argument(
        "--cases", nargs="+", metavar="PATTERN", help="case names or shell patterns (see --list)"
    )
    p.add_argument(
        "--backend",
        nargs="+",
        default=["numpy", "torch"],
        choices=BACKENDS,
        help="array libraries xconv runs on (every method on numpy, 'auto' on the others; "
        "default: numpy torch; one not installed is reported as such)",
    )
    p.add_argument(
        "--peers",
        nargs="*",
        default=list(PEERS),
        choices=PEERS,
        help="peers to compare with (default: all; those not installed are reported so)",
    )
    p.add_argument("--blocks", type=int, help="timing blocks per case (default 3; 1 with --quick)")
    where = f"default: {default_out}" if default_out else "default: write nothing"
    p.add_argument(
        "--out",
        default=default_out,
        metavar="DIR",
        help=f"folder for results.json, results.md and results.png ({where})",
    )
    if default_out:
        p.add_argument("--no-out", action="store_true", help="print the table, write nothing")
    p.add_argument("--list", action="store_true", help="list the cases and exit")


def progress_display() -> Callable[[int, int, str], None]:
    """A tqdm progress bar when tqdm is installed, else one plain line per case."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    bar = None

    def progress(done: int, total: int, label: str) -> None:
        nonlocal bar
        if tqdm is None:
            print(f"[{done}/{total}] {label}", flush=True)
            return
        if bar is None:
            bar = tqdm(total=total, unit="case")
        bar.n = done
        bar.set_description(label)
        bar.refresh()
        if done == total:
            bar.close()

    return progress


def run(args: argparse.Namespace, command: Sequence[str]) -> int:
    """Run the suite as ``args`` say and print the summary.

    ``command`` re-runs this in a fresh interpreter (``python *command``) when the BLAS
    environment needs cleaning (:func:`xconv._bench._env.prepare`).
    """
    if args.list:
        from .cases import all_cases

        for case in all_cases():
            print(f"{case.name:18} {case.group:7} {case.title}")
        return 0
    record = prepare(list(command))
    from .suite import format_summary, run_suite

    results = run_suite(
        args.cases,
        quick=args.quick,
        backends=args.backend,
        peers=args.peers,
        blocks=args.blocks,
        out=None if getattr(args, "no_out", False) else args.out,
        blas_env=record,
        progress=progress_display(),
    )
    print()
    print(format_summary(results))
    missing = _not_installed(results)
    if missing:
        print(f"\nnot installed (not run): {', '.join(missing)}")
    print(f"\n{len(results['cases'])} case(s) in {results['elapsed_s']:.0f} s")
    return 0


def _not_installed(results: dict[str, Any]) -> list[str]:
    """Candidates of the run that were skipped because their library is missing."""
    keys = (
        r["key"]
        for case in results["cases"]
        for r in case["candidates"]
        if str(r.get("reason") or "").startswith("not installed")
    )
    return list(dict.fromkeys(keys))
