"""The benchmark process's BLAS environment (this module imports nothing itself).

Some machines set ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` for old OpenBLAS
builds; they force NumPy's OpenBLAS onto a slower kernel (about half speed measured on
these machines), which would make the comparison with TensorFlow and torch (which bring
their own kernels) unfair to NumPy. The benchmark entry points (``python -m xconv bench``,
``benchmarks/run.py``, ``benchmarks/crossover.py``) remove them from their own process
only; since importing xconv loads NumPy, :func:`prepare` re-executes the command in a
fresh interpreter without them when they are set. Tests and CI never do this. The kernel that
ran is recorded from threadpoolctl.
"""

from __future__ import annotations

import json
import os
import sys

#: Environment variables that pin OpenBLAS to an older, slower kernel.
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_HANDOVER = "XCONV_BENCH_BLAS_ENV_REMOVED"


def clean_blas_env() -> dict[str, object]:
    """Remove :data:`BLAS_ENV` from this process's environment; say what was done.

    ``effective`` is False when NumPy was already imported (OpenBLAS read them at load
    time): then only a fresh process helps (:func:`prepare`).
    """
    loaded = "numpy" in sys.modules
    removed = {k: os.environ.pop(k) for k in BLAS_ENV if k in os.environ}
    # only variables this process had when NumPy loaded came too late
    late = bool(removed) and loaded
    # what a parent process removed before re-executing this one (``fresh_env``)
    removed.update(json.loads(os.environ.pop(_HANDOVER, "{}")))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return {
        "removed": removed,
        "numpy_loaded_before": loaded,
        "effective": not late,
    }


def needs_fresh_process() -> bool:
    """NumPy is loaded and the variables are set: cleaning now would come too late."""
    return "numpy" in sys.modules and any(k in os.environ for k in BLAS_ENV)


def fresh_env() -> dict[str, str]:
    """This process's environment without :data:`BLAS_ENV`, for a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_ENV}
    env[_HANDOVER] = json.dumps({k: os.environ[k] for k in BLAS_ENV if k in os.environ})
    return env


def prepare(command: list[str]) -> dict[str, object]:
    """Clean the BLAS environment of a benchmark process; return what was done.

    When NumPy is already loaded with :data:`BLAS_ENV` set (always the case once xconv is
    imported), re-execute ``python *command`` in a fresh interpreter without them; the
    new process's call records what the parent removed.
    """
    if needs_fresh_process():
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *command], fresh_env())
    return clean_blas_env()
