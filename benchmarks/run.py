"""Run xconv's benchmark suite: ``python benchmarks/run.py [--quick] [--cases ...]``.

The same as ``python -m xconv bench``, but writes ``benchmarks/results/`` by default.
The suite itself lives in the package (:mod:`xconv._bench`, see docs/decisions.md), so
that the installed command line can run it too. ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE``, when set, are removed by re-running in a fresh interpreter
(:func:`xconv._bench._env.prepare`).

Examples::

    python benchmarks/run.py --quick
    python benchmarks/run.py --cases 'conv3x3-*' stem --out benchmarks/results
    python benchmarks/run.py --backend numpy torch jax --peers tf torch
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xconv._bench import cli

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="xconv vs TensorFlow, torch, JAX, SciPy and the naive loop, in one process.",
    )
    cli.add_arguments(p, default_out=str(HERE / "results"))
    return cli.run(p.parse_args(argv), [str(Path(__file__).resolve()), *argv])


if __name__ == "__main__":
    sys.exit(main())
