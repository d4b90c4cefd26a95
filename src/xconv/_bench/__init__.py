"""The benchmark suite, importable from the installed package (``python -m xconv bench``).

:mod:`~xconv._bench.cases` (what is measured), :mod:`~xconv._bench.peers` (one call per
library and method), :mod:`~xconv._bench.timing` (the protocol), :mod:`~xconv._bench.suite`
(``run_suite`` / ``write_reports``) and :mod:`~xconv._bench.cli` (the arguments shared by
``python -m xconv bench`` and ``benchmarks/run.py``). Private: not part of xconv's API.
"""
