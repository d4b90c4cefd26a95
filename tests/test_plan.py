"""Plans of repeated calls (:mod:`xconv._plan`): what a call decided, kept for the next.

A call that repeats another (same array types, shapes, dtypes, devices and arguments)
skips the checks and decisions and runs the plan the first call made. These tests
check that a plan serves only the calls it was made for: a hit gives the same bits
as a miss; other arguments on the same shapes get plans of their own and correct
results; bad input raises on every call; the cache stays bounded; a new tuning is
not served an old plan; what depends on the data (NaN and inf) or on the context of
a call (torch's autograd) is decided per call; lookups from several threads, JAX
traces and forked children all work.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import xconv
from _helpers import assert_close, make, to_numpy
from _reference import reference_conv, same_pads
from conftest import BACKENDS, Backend
from xconv import _core, _plan
from xconv._algorithms import gemm, tuning

KIND = ("forward", 2, "filters", "strides")


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The algorithm choices made while the test runs (one per plan the core builds):
    a call served by a kept plan makes none."""
    made: list[str] = []
    real = _core.select_algorithm

    def counting(method: str, *args: Any, **kwargs: Any) -> Any:
        made.append(method)
        return real(method, *args, **kwargs)

    monkeypatch.setattr(_core, "select_algorithm", counting)
    _plan.clear()
    yield made
    _plan.clear()


def _data(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


# ------------------------------------------------------------------ hits and misses


def _calls(xp: ModuleType, device: Any, rng: np.random.Generator) -> dict[str, Callable[[], Any]]:
    """One call of every helper of :mod:`xconv._api`, on arrays of ``xp``."""

    def a(*shape: int) -> Any:
        return make(xp, _data(rng, *shape), device)

    x, w, x5 = a(2, 7, 6, 4), a(3, 3, 4, 6), a(2, 3, 7, 6, 4)
    dw, pw, dy = a(3, 3, 4, 2), a(1, 1, 8, 3), a(2, 4, 3, 6)
    dyd, w_nchw = a(2, 7, 6, 8), a(3, 2, 7, 5)
    x1, w1, x3, w3 = a(2, 9, 3), a(4, 3, 2), a(1, 4, 5, 6, 2), a(2, 2, 2, 2, 3)
    explicit = [(0, 0), (0, 0), (1, 2), (0, 1)]
    return {
        "conv2d": lambda: xconv.conv2d(x, w, 1, "SAME"),
        "conv2d-nchw-explicit": lambda: xconv.conv2d(x, w_nchw, 2, explicit, "NCHW"),
        "conv1d": lambda: xconv.conv1d(x1, w1, 2, "VALID", dilations=2),
        "conv3d": lambda: xconv.conv3d(x3, w3, 1, "SAME"),
        "batch-dims": lambda: xconv.convolution(x5, w, padding="SAME"),
        "depthwise": lambda: xconv.depthwise_conv2d(x, dw, [1, 1, 1, 1], "SAME"),
        "separable": lambda: xconv.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "VALID"),
        "transpose": lambda: xconv.conv2d_transpose(dy, w, [2, 7, 6, 4], 2, "SAME"),
        "input-grad": lambda: xconv.conv2d_backprop_input([7, 6], w, dy, 2, "SAME"),
        "filter-grad": lambda: xconv.conv2d_backprop_filter(x, [3, 3, 4, 6], dy, 2, "SAME"),
        "depthwise-input-grad": lambda: xconv.depthwise_conv2d_backprop_input(
            [2, 7, 6, 4], dw, dyd, 1, "SAME"
        ),
        "depthwise-filter-grad": lambda: xconv.depthwise_conv2d_backprop_filter(
            x, [3, 3, 4, 2], dyd, 1, "SAME"
        ),
    }


def test_a_hit_gives_the_bits_of_a_miss(
    xp: ModuleType, device: Any, rng: np.random.Generator, decisions: list[str]
) -> None:
    """Every helper: the second call makes no decision and gives the first call's
    bits, and so does a call after the plans are dropped."""
    for name, call in _calls(xp, device, rng).items():
        _plan.clear()
        decisions.clear()
        first = to_numpy(call())
        assert decisions, name  # a miss decides
        decisions.clear()
        second = to_numpy(call())
        assert decisions == [], name  # a hit does not
        _plan.clear()
        again = to_numpy(call())
        np.testing.assert_array_equal(second, first, err_msg=name)
        np.testing.assert_array_equal(again, first, err_msg=name)


# -------------------------------------------------- other arguments, the same shapes

#: Arguments of conv2d on the same arrays: (strides, padding, extra keywords).
VARIANTS: list[tuple[Any, Any, dict[str, Any]]] = [
    (1, "SAME", {}),
    (2, "SAME", {}),
    ((1, 2), "VALID", {}),
    ([1, 2], "VALID", {}),  # the same key as the tuple: the same plan serves both
    (1, [(1, 0), (0, 2)], {}),
    (1, [[0, 0], [1, 0], [0, 2], [0, 0]], {}),
    (1, "SAME", {"dilations": 2}),
    (1, "SAME", {"data_format": "NCHW"}),
    (1, "SAME", {"method": "gemm"}),
    (1, "SAME", {"method": "shift"}),
    (1, "SAME", {"method": "einsum"}),
    (1, "SAME", {"padding_mode": "reflect"}),
    (1, "FULL", {"memory_budget": 64}),
]


def _expected(x: np.ndarray, w: np.ndarray, strides: Any, padding: Any, **kw: Any) -> np.ndarray:
    """The reference result of ``conv2d(x, w, strides, padding, **kw)``."""
    nchw = kw.get("data_format") == "NCHW"
    xc = np.moveaxis(x, 1, -1) if nchw else x
    s = (strides, strides) if isinstance(strides, int) else tuple(strides)
    d = (kw.get("dilations", 1),) * 2
    k = w.shape[:2]
    if padding == "SAME":
        pads = same_pads(xc.shape[1:3], k, s, d)
    elif padding == "VALID":
        pads = [(0, 0)] * 2
    elif padding == "FULL":
        pads = [((kk - 1) * dd, (kk - 1) * dd) for kk, dd in zip(k, d, strict=True)]
    else:  # (lo, hi) per spatial axis, or TensorFlow's pairs of every axis (NHWC)
        pads = [tuple(p) for p in (padding if len(padding) == 2 else padding[1:3])]
    y = reference_conv(xc, w, s, d, pads, padding_mode=kw.get("padding_mode", "zeros"))
    return np.moveaxis(y, -1, 1) if nchw else y


def test_other_arguments_get_plans_of_their_own(
    xp: ModuleType, device: Any, rng: np.random.Generator, decisions: list[str]
) -> None:
    """The same arrays with other strides, padding, dilations, layouts, methods,
    padding modes, budgets and dtypes: each call right, in a first round (every
    plan made) and a second (every plan kept)."""
    x, w = _data(rng, 1, 6, 6, 6), _data(rng, 3, 3, 6, 2)  # 6 channels either way
    cases = [(x, w, *v) for v in VARIANTS] + [
        (x.astype(np.float32), w.astype(np.float32), 1, "SAME", {})
    ]
    rounds = []
    for _ in range(2):
        decisions.clear()
        results = []
        for xa, wa, strides, padding, kw in cases:
            y = xconv.conv2d(make(xp, xa, device), make(xp, wa, device), strides, padding, **kw)
            dtype = make(xp, xa).dtype
            assert_close(xp, y, _expected(xa, wa, strides, padding, **kw), dtype=dtype)
            results.append(to_numpy(y))
        rounds.append((list(decisions), results))
    assert len(rounds[0][0]) == len(cases) - 1  # the list form shares the tuple's plan
    assert rounds[1][0] == []
    for first, second in zip(rounds[0][1], rounds[1][1], strict=True):
        np.testing.assert_array_equal(second, first)


# ------------------------------------------------------------------------- bad input


BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"strides": 0}, ValueError, "strides"),
    ({"strides": True}, TypeError, "strides"),
    ({"strides": 1.0}, TypeError, "strides"),
    ({"padding": 1.0}, TypeError, "padding"),
    ({"padding": True}, TypeError, "padding"),
    ({"padding": "SAMEE"}, ValueError, "padding"),
    ({"dilations": [1, 0]}, ValueError, "dilations"),
    ({"data_format": "NCHW"}, ValueError, "input channels"),
    ({"data_format": "NHCW"}, ValueError, "data_format"),
    ({"method": "gemmm"}, ValueError, "method"),
    ({"memory_budget": 0}, ValueError, "memory_budget"),
    ({"memory_budget": 1.5}, TypeError, "memory_budget"),
    ({"precision": "double"}, ValueError, "precision"),
    ({"padding_mode": "mirror"}, ValueError, "padding_mode"),
    ({"filters": np.ones((3, 3, 2))}, ValueError, "filters"),
    ({"filters": np.ones((3, 3, 2, 1), bool)}, TypeError, "filters"),
    ({"filters": [[[[1.0]]]]}, TypeError, "filters"),
    ({"padding": [(2**40, 2**40), (0, 0)]}, MemoryError, "needs about"),
]


@pytest.mark.parametrize(("bad", "error", "names"), BAD, ids=[str(b[0])[:40] for b in BAD])
def test_bad_input_raises_on_every_call(bad: dict[str, Any], error: type, names: str) -> None:
    """A valid call's plan never serves an invalid one that equals it as a key
    (``True == 1 == 1.0``), and nothing of a failed call is kept."""
    x, w = np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 1))
    good = {"strides": 1, "padding": 1 if "padding" in bad else "SAME", "filters": w}
    for _ in range(2):
        xconv.conv2d(x, **good)
        with pytest.raises(error, match=names):
            xconv.conv2d(x, **{**good, **bad})


def test_bad_gradient_input_raises_on_every_call() -> None:
    dy, w = np.ones((1, 3, 3, 2)), np.ones((3, 3, 2, 2))
    for _ in range(2):
        xconv.conv2d_transpose(dy, w, [1, 6, 6, 2], 2, "SAME")
        with pytest.raises(ValueError, match="output_shape"):
            xconv.conv2d_transpose(dy, w, [1, 9, 9, 2], 2, "SAME")
        with pytest.raises(ValueError, match="padding_mode"):
            xconv.conv2d_transpose(dy, w, [1, 6, 6, 2], 2, "SAME", padding_mode="reflect")
        xconv.depthwise_conv2d_backprop_filter(np.ones((1, 6, 6, 2)), [3, 3, 2, 1], dy, 2, "SAME")
        with pytest.raises(ValueError, match="filter_sizes"):
            xconv.depthwise_conv2d_backprop_filter(
                np.ones((1, 6, 6, 2)), [3, 3, 3, 1], dy, 2, "SAME"
            )


# ---------------------------------------------------------------------------- keys


def test_keys() -> None:
    """Exact ints, strings, None, and lists and tuples of them make keys (lists and
    tuples alike); anything else makes none."""
    x, w = np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1))
    args = (1, [(1, 0), (0, 1)], "NHWC", None)
    key = _plan.key(KIND, (x, w), args)
    assert key is not None
    assert key == _plan.key(KIND, (x, w), (1, ((1, 0), (0, 1)), "NHWC", None))
    assert key != _plan.key(KIND, (x, w), (1, [(1, 0), (0, 2)], "NHWC", None))
    assert key != _plan.key(KIND, (x, np.ones((2, 2, 1, 1), np.float32)), args)
    assert key != _plan.key(("forward", 2, "filter", "strides"), (x, w), args)
    for bad in (True, 1.0, np.int64(1), np.array([1, 1]), object()):
        assert _plan.key(KIND, (x, w), (bad, *args[1:])) is None, bad
    assert _plan.key(KIND, (x, [[1.0]]), args) is None  # not an array


def test_calls_without_a_key_still_work(decisions: list[str]) -> None:
    """Arrays and NumPy integers as strides and sizes: no key, decided every time."""
    x, w = np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 1))
    expected = xconv.conv2d(x, w, 2, "SAME")
    for _ in range(2):
        decisions.clear()
        np.testing.assert_array_equal(xconv.conv2d(x, w, np.int64(2), "SAME"), expected)
        np.testing.assert_array_equal(xconv.conv2d(x, w, np.array([2, 2]), "SAME"), expected)
        assert len(decisions) == 2
    dy = np.ones((1, 3, 3, 1))
    for _ in range(2):
        out = xconv.conv2d_transpose(dy, w[..., :1, :], np.array([1, 5, 5, 1]), 2, "SAME")
        assert out.shape == (1, 5, 5, 1)


# ------------------------------------------------------------------- bound and tuning


def test_bounded_least_recently_used(decisions: list[str]) -> None:
    """Many distinct shapes keep at most ``MAX_PLANS`` plans: the least recently used
    go first, so the oldest plan stays when it was used again."""
    w = np.ones((1, 1, 1, 1))

    def call(n: int) -> None:
        xconv.conv2d(np.ones((1, n, 1, 1)), w, 1, "VALID")

    call(1000)  # the oldest plan ...
    for n in range(1, _plan.MAX_PLANS):
        call(n)
    assert _plan.size() == _plan.MAX_PLANS
    call(1000)  # ... used again
    for n in range(_plan.MAX_PLANS, _plan.MAX_PLANS + 40):
        call(n)
        assert _plan.size() == _plan.MAX_PLANS
    decisions.clear()
    call(1000)
    call(_plan.MAX_PLANS + 39)  # the newest
    assert decisions == []
    call(2)  # one of the first: dropped
    assert decisions == ["auto"]


def test_a_new_tuning_gets_new_plans(decisions: list[str], rng: np.random.Generator) -> None:
    """Plans depend on the algorithms' tunings (tiles in the memory check, JAX's
    compiled programs): ``tuning`` drops them on entry and exit."""
    x, w = _data(rng, 2, 9, 9, 3), _data(rng, 3, 3, 3, 4)
    expected = xconv.conv2d(x, w, 1, "SAME", method="gemm")
    assert decisions == ["gemm"]
    xconv.conv2d(x, w, 1, "SAME", method="gemm")
    assert decisions == ["gemm"]
    tiny = dataclasses.replace(gemm.TUNING, patch_bytes=600, max_patch_bytes=600)
    with tuning(gemm=tiny):
        inside = xconv.conv2d(x, w, 1, "SAME", method="gemm")
        assert decisions == ["gemm", "gemm"]
    after = xconv.conv2d(x, w, 1, "SAME", method="gemm")
    assert decisions == ["gemm", "gemm", "gemm"]
    np.testing.assert_allclose(inside, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(after, expected)


def test_a_plan_built_across_a_clear_is_not_kept() -> None:
    """A plan whose build began before :func:`~xconv._plan.clear` (another thread's
    ``tuning``) may hold the old tuning's decisions: it is returned, not stored."""
    _plan.clear()

    def build() -> str:
        _plan.clear()
        return "plan"

    assert _plan.cached(("test", 1), build) == "plan"
    assert _plan.size() == 0
    assert _plan.cached(("test", 1), lambda: "again") == "again"
    assert _plan.size() == 1
    _plan.clear()


# ------------------------------------------------------- data and context, per call


def test_non_finite_data_is_checked_on_every_call(rng: np.random.Generator) -> None:
    """``auto``'s FFT (it mixes values) was planned for finite data; a NaN in a later
    call still stays in its windows, as with a direct method."""
    x, w = _data(rng, 1, 64, 64, 1), _data(rng, 9, 9, 1, 1)  # auto: fft
    first = xconv.conv2d(x, w, 1, "SAME")
    bad = x.copy()
    bad[0, 10, 10, 0] = np.nan
    direct = xconv.conv2d(bad, w, 1, "SAME", method="shift")
    for _ in range(2):
        got = xconv.conv2d(bad, w, 1, "SAME")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(direct))
        assert np.isnan(got).sum() == 81
        np.testing.assert_array_equal(xconv.conv2d(x, w, 1, "SAME"), first)


@pytest.fixture
def torch() -> Any:
    if Backend.TORCH not in BACKENDS:
        pytest.skip("torch not among XCONV_TEST_BACKENDS")
    return pytest.importorskip("torch")


@pytest.mark.parametrize("method", ["gemm", "shift", "auto"])
def test_torch_autograd_after_a_plan_without_it(
    torch: Any, rng: np.random.Generator, method: str
) -> None:
    """Whether autograd tracks the tensors (which forbids writing in place) is asked
    on every call: a plan made without it serves a call with it, and back."""
    x, w = _data(rng, 2, 7, 6, 3), _data(rng, 3, 3, 3, 4)
    dy = _data(rng, 2, 7, 6, 4)
    xt, wt = torch.tensor(x), torch.tensor(w)
    plain = xconv.conv2d(xt, wt, 1, "SAME", method=method)
    wg = torch.tensor(w, requires_grad=True)
    (xconv.conv2d(xt, wg, 1, "SAME", method=method) * torch.tensor(dy)).sum().backward()
    expected = xconv.conv2d_backprop_filter(x, w.shape, dy, 1, "SAME")
    np.testing.assert_allclose(wg.grad.numpy(), expected, rtol=1e-10, atol=1e-10)
    with torch.no_grad():
        again = xconv.conv2d(xt, wg, 1, "SAME", method=method)
    np.testing.assert_array_equal(again.numpy(), plain.numpy())


@pytest.fixture
def jax() -> Any:
    if Backend.JAX not in BACKENDS:
        pytest.skip("jax not among XCONV_TEST_BACKENDS")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def test_jax_traces(jax: Any, rng: np.random.Generator) -> None:
    """Inside ``jax.jit`` the arrays are tracers (no device): their plans are their
    own, kept for the next trace, and agree with the eager ones."""
    x, w = jax.numpy.asarray(_data(rng, 2, 7, 6, 3)), jax.numpy.asarray(_data(rng, 3, 3, 3, 4))
    eager = np.asarray(xconv.conv2d(x, w, 2, "SAME", method="gemm"))
    for _ in range(2):  # a new function each time: traced again, the plan kept
        jitted = jax.jit(lambda a, b: xconv.conv2d(a, b, 2, "SAME", method="gemm"))
        np.testing.assert_allclose(np.asarray(jitted(x, w)), eager, rtol=1e-12, atol=1e-12)
    grad = jax.grad(lambda b: xconv.conv2d(x, b, 2, "SAME").sum())(w)
    assert grad.shape == w.shape


# ------------------------------------------------------------- threads and processes


def test_threads_share_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads looking plans up, making them, evicting them (a cache of 3 for 8
    shapes) and clearing them all get their own right results."""
    monkeypatch.setattr(_plan, "MAX_PLANS", 3)
    rng = np.random.default_rng(3)
    cases = [
        (_data(rng, 1, 5 + i, 6, 2), _data(rng, 3, 3, 2, 1 + i % 3), 1 + i % 2) for i in range(8)
    ]
    expected = [xconv.conv2d(x, w, s, "SAME") for x, w, s in cases]
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def work(which: int) -> None:
        order = np.random.default_rng(which).integers(0, len(cases), 60)
        start.wait()
        try:
            for n, i in enumerate(order):
                x, w, s = cases[i]
                np.testing.assert_array_equal(xconv.conv2d(x, w, s, "SAME"), expected[i])
                if which == 0 and n % 7 == 0:
                    _plan.clear()
        except BaseException as exc:  # reported below, from the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(which,)) for which in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _plan.size() <= 3


#: Run in a fresh interpreter (the test process may hold other libraries' threads,
#: which make a fork unsafe): keep a plan, fork; the child starts with none, makes its
#: own and computes the same result; SIGALRM ends it if it hangs.
_FORK_SCRIPT = """
import os, signal
import numpy as np
import xconv
from xconv import _plan
x, w = np.ones((1, 6, 6, 2)), np.ones((3, 3, 2, 2))
y = xconv.conv2d(x, w, 1, "SAME")
assert _plan.size() > 0
pid = os.fork()
if pid == 0:
    signal.alarm(20)
    ok = False
    try:
        ok = _plan.size() == 0
        ok = ok and np.array_equal(xconv.conv2d(x, w, 1, "SAME"), y)
        ok = ok and _plan.size() > 0
    finally:
        os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
assert _plan.size() > 0
raise SystemExit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 3)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_with_no_plans() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
