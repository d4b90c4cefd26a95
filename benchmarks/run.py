"""Run the xconv benchmark suite: ``python benchmarks/run.py [--quick] [--cases ...]``.

This entry script removes ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` from its own
environment *before NumPy is imported*: some machines set them for old OpenBLAS builds,
and they force NumPy's OpenBLAS onto a slower kernel, which would make the comparison
with TensorFlow and torch (which bring their own kernels) unfair to NumPy. Only this
process (and what it starts) is affected; tests and CI never do this. The kernel that
ran is recorded from threadpoolctl.

If NumPy is already imported when :func:`main` is called (e.g. from ``python -m xconv
bench``) and those variables are set, :func:`main` re-executes this script in a fresh
interpreter with the cleaned environment.

Examples::

    python benchmarks/run.py --quick
    python benchmarks/run.py --cases 'conv3x3-*' stem --out benchmarks/results
    python benchmarks/run.py --backend numpy torch jax --peers tf torch
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, _ROOT)

from benchmarks._env import clean_blas_env, fresh_env, needs_fresh_process  # noqa: E402

if __name__ == "__main__":  # before NumPy (imported by the suite) loads OpenBLAS
    _BLAS_ENV_RECORD = clean_blas_env()

import argparse  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="xconv vs TensorFlow, torch, JAX, SciPy and the seed loop, in one process.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a few small cases, one block (< 1 minute): a smoke test",
    )
    p.add_argument(
        "--cases", nargs="+", metavar="PATTERN", help="case names or shell patterns (see --list)"
    )
    p.add_argument(
        "--backend",
        nargs="+",
        default=["numpy", "torch"],
        choices=["numpy", "torch", "jax"],
        help="array libraries xconv runs on (every method on numpy, 'auto' on "
        "the others; default: numpy torch)",
    )
    p.add_argument(
        "--peers",
        nargs="*",
        default=["tf", "torch", "jax", "scipy", "seed"],
        choices=["tf", "torch", "jax", "scipy", "seed"],
        help="peers to compare with (default: all that are installed)",
    )
    p.add_argument("--blocks", type=int, help="timing blocks per case (default 3; 1 with --quick)")
    p.add_argument(
        "--out",
        default=str(HERE / "results"),
        help="folder for results.json/.md/.png (default: benchmarks/results)",
    )
    p.add_argument("--no-out", action="store_true", help="print the table, write nothing")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    return p


def _progress() -> Callable[[int, int, str], None]:
    """A tqdm progress callback when tqdm is installed, else plain lines."""
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    record = globals().get("_BLAS_ENV_RECORD")
    if record is None:  # imported (e.g. by ``python -m xconv bench``), not run as a script
        if needs_fresh_process():
            env = fresh_env()
            argv = sys.argv[1:] if argv is None else argv
            sys.stdout.flush()
            os.execve(sys.executable, [sys.executable, str(HERE / "run.py"), *argv], env)
        record = clean_blas_env()

    from benchmarks.cases import all_cases
    from benchmarks.suite import format_summary, run_suite

    if args.list:
        for case in all_cases():
            print(f"{case.name:18} {case.group:7} {case.title}")
        return 0
    results = run_suite(
        args.cases,
        quick=args.quick,
        backends=args.backend,
        peers=args.peers,
        blocks=args.blocks,
        out=None if args.no_out else args.out,
        blas_env=record,
        progress=_progress(),
    )
    print()
    print(format_summary(results))
    print(f"\n{len(results['cases'])} case(s) in {results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
