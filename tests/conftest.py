"""Pytest fixtures: one ``xp`` fixture over every backend present.

Modelled on array-api-extra's conftest: a ``Backend`` enum -> ``library`` fixture ->
``xp`` (the array-api-compat namespace) and ``device`` fixtures. A backend that is
not installed, or a GPU backend without a device, skips cleanly.

``XCONV_TEST_BACKENDS=numpy,torch`` restricts the set (names are the param ids:
numpy, array_api_strict, torch, torch_cuda, jax, dask, cupy).
``HYPOTHESIS_PROFILE=thorough`` runs the property tests with more examples (300),
``HYPOTHESIS_PROFILE=quick`` with fewer (8; for backends where each new shape is slow).
"""

from __future__ import annotations

import enum
import os
import zlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import hypothesis
import numpy as np
import pytest

from xconv import _plan

hypothesis.settings.register_profile(
    "xconv",
    max_examples=25,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
    print_blob=True,
    # No example database: the parametrized fuzz tests share one database key, and an
    # example saved by one target, replayed in another, made hypothesis raise
    # FlakyStrategyDefinition (reproduced with the saved database, never without it).
    # A failure still prints its blob (print_blob) to reproduce it.
    database=None,
)
hypothesis.settings.register_profile(
    "thorough",
    parent=hypothesis.settings.get_profile("xconv"),
    max_examples=300,
)
hypothesis.settings.register_profile(
    "quick",
    parent=hypothesis.settings.get_profile("xconv"),
    max_examples=8,
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "xconv"))


class Backend(enum.Enum):
    """A backend to test: param id -> module to import."""

    NUMPY = "numpy", "numpy"
    ARRAY_API_STRICT = "array_api_strict", "array_api_strict"
    TORCH = "torch", "torch"
    TORCH_CUDA = "torch_cuda", "torch"
    JAX = "jax", "jax.numpy"
    DASK = "dask", "dask.array"
    CUPY = "cupy", "cupy"

    def __init__(self, id_: str, modname: str) -> None:
        self.id = id_
        self.modname = modname

    def __str__(self) -> str:
        return self.id


def _torch_cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def selected_backends() -> list[Backend]:
    """Backends to parametrise over, after ``XCONV_TEST_BACKENDS``."""
    env = os.environ.get("XCONV_TEST_BACKENDS", "").strip()
    if env:
        known = {b.id: b for b in Backend}
        names = [s.strip() for s in env.split(",") if s.strip()]
        unknown = [s for s in names if s not in known]
        if unknown:
            msg = f"XCONV_TEST_BACKENDS: unknown {unknown}; choose from {sorted(known)}"
            raise pytest.UsageError(msg)
        chosen = [known[s] for s in names]
    else:
        chosen = list(Backend)
    # torch on CUDA is only listed where a CUDA device exists.
    if Backend.TORCH_CUDA in chosen and not _torch_cuda_available():
        chosen.remove(Backend.TORCH_CUDA)
    return chosen


BACKENDS = selected_backends()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "oracle: compares with TensorFlow / PyTorch")


@pytest.fixture(params=BACKENDS, ids=str)
def library(request: pytest.FixtureRequest) -> Backend:
    """The backend under test."""
    backend: Backend = request.param
    return backend


def _import_backend(backend: Backend) -> ModuleType:
    if backend is Backend.CUPY:
        cupy = pytest.importorskip("cupy")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # no driver, no runtime: cupy raises its own types
            pytest.skip(f"cupy: no GPU ({type(exc).__name__}: {exc})")
        if count == 0:
            pytest.skip("cupy: no GPU")
        return cupy
    if backend is Backend.TORCH_CUDA:
        if not _torch_cuda_available():
            pytest.skip("torch: no CUDA device")
        import torch

        # full float32 in torch's own GPU convolutions and matmuls (TF32 is on by
        # default for cuDNN): the tests compare with float32 tolerances
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    if backend is Backend.JAX:
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        # likewise on a GPU, where JAX's default float32 matmul precision is TF32
        jax.config.update("jax_default_matmul_precision", "highest")
    return pytest.importorskip(backend.modname)


@pytest.fixture
def xp(library: Backend) -> Iterator[ModuleType]:
    """The array-api-compat namespace of the backend under test."""
    import array_api_compat

    lib = _import_backend(library)
    if library is Backend.DASK:
        import dask

        with dask.config.set(scheduler="synchronous"):
            yield array_api_compat.array_namespace(lib.asarray(np.zeros(1)))
        return
    sample = (
        lib.asarray([0.0], device="cuda") if library is Backend.TORCH_CUDA else lib.asarray([0.0])
    )
    yield array_api_compat.array_namespace(sample)


@pytest.fixture
def device(library: Backend, xp: ModuleType) -> Any:
    """The device to create arrays on (None: the backend's default)."""
    if library is Backend.TORCH_CUDA:
        return xp.asarray([0.0], device="cuda").device
    return None


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test id, so every test is reproducible."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


@pytest.fixture(autouse=True)
def _fresh_plans(request: pytest.FixtureRequest) -> Iterator[None]:
    """Drop the kept plans around a test that patches something.

    Plans (:mod:`xconv._plan`) hold what a call decided from its arrays and arguments;
    a test that patches xconv's internals (a refusing algorithm, another library's
    capabilities) changes what a call decides without changing them, so plans made
    before it, or during it, must not serve other tests.
    """
    patches = "monkeypatch" in request.fixturenames
    if patches:
        _plan.clear()
    yield
    if patches:
        _plan.clear()
