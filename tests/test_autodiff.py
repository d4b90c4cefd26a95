"""xconv is written with each library's own operations, so autodiff and jit see through it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xconv
from conftest import BACKENDS, Backend

ARGS: dict[str, Any] = {"strides": 2, "padding": "SAME", "dilations": 2}


def _data(rng: np.random.Generator) -> tuple[Any, Any, Any]:
    x, w = rng.standard_normal((2, 9, 8, 4)), rng.standard_normal((3, 3, 2, 6))  # groups 2
    dy = rng.standard_normal(xconv.conv2d(x, w, **ARGS).shape)
    return x, w, dy


def _expected_grads(x: Any, w: Any, dy: Any) -> tuple[Any, Any]:
    return (
        xconv.conv2d_backprop_input(x.shape, w, dy, **ARGS),
        xconv.conv2d_backprop_filter(x, w.shape, dy, **ARGS),
    )


@pytest.fixture
def torch() -> Any:
    if Backend.TORCH not in BACKENDS:
        pytest.skip("torch not among XCONV_TEST_BACKENDS")
    return pytest.importorskip("torch")


@pytest.fixture
def jax() -> Any:
    if Backend.JAX not in BACKENDS:
        pytest.skip("jax not among XCONV_TEST_BACKENDS")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.mark.parametrize("method", ["auto", "einsum"])
def test_torch_autograd_equals_backprop(torch: Any, rng: np.random.Generator, method: str) -> None:
    x, w, dy = _data(rng)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    (xconv.conv2d(xt, wt, **ARGS, method=method) * torch.tensor(dy)).sum().backward()
    dx, dw = _expected_grads(x, w, dy)
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad.numpy(), dw, rtol=1e-10, atol=1e-10)


def test_torch_gradcheck(torch: Any, rng: np.random.Generator) -> None:
    x = torch.tensor(rng.standard_normal((1, 5, 6, 2)), requires_grad=True)
    w = torch.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)

    def f(a: Any, b: Any) -> Any:
        return xconv.conv2d(a, b, 2, "SAME", dilations=(1, 2), padding_mode="reflect")

    assert torch.autograd.gradcheck(f, (x, w))
    y = torch.tensor(rng.standard_normal((1, 3, 3, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: xconv.conv2d_transpose(a, b, [1, 6, 6, 2], 2, "SAME"),
        (y, w[..., :2].detach().requires_grad_()),
    )


def test_jax_grad_equals_backprop(jax: Any, rng: np.random.Generator) -> None:
    x, w, dy = _data(rng)

    def loss(a: Any, b: Any) -> Any:
        return (xconv.conv2d(a, b, **ARGS) * dy).sum()

    gx, gw = jax.grad(loss, argnums=(0, 1))(jax.numpy.asarray(x), jax.numpy.asarray(w))
    dx, dw = _expected_grads(x, w, dy)
    np.testing.assert_allclose(np.asarray(gx), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.asarray(gw), dw, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "func",
    [
        lambda a, b: xconv.conv2d(a, b, 2, "SAME", dilations=2, padding_mode="circular"),
        lambda a, b: xconv.conv2d_backprop_filter(
            a, [3, 3, 2, 6], xconv.conv2d(a, b, 1, "VALID"), 1, "VALID"
        ),
        lambda a, b: xconv.conv2d_transpose(xconv.conv2d(a, b, 2, "SAME"), b, a.shape, 2, "SAME"),
    ],
    ids=["conv2d", "backprop_filter", "transpose"],
)
def test_jax_jit_equals_eager(jax: Any, rng: np.random.Generator, func: Any) -> None:
    x, w, _ = _data(rng)
    xj, wj = jax.numpy.asarray(x), jax.numpy.asarray(w)
    eager = func(xj, wj)
    jitted = jax.jit(func)(xj, wj)
    assert isinstance(jitted, jax.Array)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-12, atol=1e-12)


def test_jax_program_is_staged_once(jax: Any, rng: np.random.Generator) -> None:
    """Eager JAX calls run one compiled program per case, reused by later calls (the
    call's kept plan holds it; without the plan, the program cache has it)."""
    from xconv import _backend, _plan

    x, w, _ = _data(rng)
    xj, wj = jax.numpy.asarray(x), jax.numpy.asarray(w)
    first = xconv.conv2d(xj, wj, 1, "SAME", method="gemm")
    before = _backend._jax_jit.cache_info()
    second = xconv.conv2d(xj + 1, wj, 1, "SAME", method="gemm")
    after = _backend._jax_jit.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)
    _plan.clear()
    third = xconv.conv2d(xj + 1, wj, 1, "SAME", method="gemm")
    last = _backend._jax_jit.cache_info()
    assert (last.hits, last.misses) == (after.hits + 1, after.misses)
    np.testing.assert_array_equal(np.asarray(third), np.asarray(second))
    assert isinstance(second, jax.Array)
    expected = xconv.conv2d(x + 1, w, 1, "SAME", method="gemm")
    np.testing.assert_allclose(np.asarray(second), expected, rtol=1e-12, atol=1e-12)
    assert not np.allclose(np.asarray(first), np.asarray(second))
