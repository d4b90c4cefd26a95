"""xconv's benchmarks: the suite (:mod:`benchmarks.suite`) and the crossover sweeps.

Run ``python benchmarks/run.py --help`` or ``nox -s bench``; reuse with
``from benchmarks.suite import run_suite, write_reports``.
"""
