"""Transposed convolutions and gradients against hand-derived naive gradients."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xconv
from _helpers import Case, assert_close, make, make_inputs, to_numpy
from _reference import reference_conv, same_pads
from _reference_grad import reference_filter_grad, reference_input_grad

CASES = [
    Case(2, (7,), 3, (3,), 3, 4, (2,), (1,), "SAME"),
    Case(1, (9,), 4, (2,), 2, 6, (3,), (2,), "VALID"),  # groups 2, stride 3 + dilation 2
    Case(2, (6, 5), 2, (3, 2), 2, 3, (1, 2), (2, 1), "SAME", channels_first=True),
    Case(1, (9, 8), 6, (3, 3), 2, 6, (2, 2), (2, 2), "SAME"),  # TF's CPU refuses this one
    Case(2, (5, 6), 3, (2, 2), 3, 2, (2, 1), (1, 1), ((1, 0), (2, 3))),  # explicit pads
    Case(1, (4, 5, 4), 2, (2, 3, 2), 1, 4, (1, 2, 1), (1, 1, 2), "SAME"),  # groups 2, 3-d
    Case(1, (4, 4, 5), 2, (2, 2, 2), 2, 2, (2, 2, 2), (1, 1, 1), "VALID", channels_first=True),
    Case(1, (5, 4), 1, (3, 3), 1, 1, (1, 1), (1, 1), "FULL"),
]
FIXED_RANK_TRANSPOSE = {
    1: xconv.conv1d_transpose,
    2: xconv.conv2d_transpose,
    3: xconv.conv3d_transpose,
}


def _case_arrays(rng: np.random.Generator, case: Case) -> tuple[Any, Any, Any, Any, Any]:
    """Canonical x, w, dy and the reference input and filter gradients."""
    x, w = make_inputs(rng, case)
    y = reference_conv(x, w, case.strides, case.dilations, case.pads(), case.groups)
    dy = rng.standard_normal(y.shape)
    dx = reference_input_grad(x.shape, w, dy, case.strides, case.dilations, case.pads())
    dw = reference_filter_grad(x, w.shape, dy, case.strides, case.dilations, case.pads())
    return x, w, dy, dx, dw


def _shape_in_layout(case: Case, shape: tuple[int, ...]) -> list[int]:
    return [shape[0], shape[-1], *shape[1:-1]] if case.channels_first else list(shape)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"r{c.rank}-{c.padding}-g{c.groups}")
def test_backprop_input_and_transpose(
    xp: ModuleType, device: Any, rng: np.random.Generator, case: Case
) -> None:
    x, w, dy, dx, _ = _case_arrays(rng, case)
    fmt = case.data_format()
    sizes = _shape_in_layout(case, x.shape)
    args = (case.strides, case.padding)
    dyb, wb = make(xp, case.to_layout(dy), device), make(xp, w, device)
    got = xconv.conv_backprop_input(sizes, wb, dyb, *args, fmt, case.dilations)
    assert_close(xp, got, case.to_layout(dx), dtype=xp.float64)
    # The transposed convolution is the same map with TF's argument order.
    got_t = FIXED_RANK_TRANSPOSE[case.rank](dyb, wb, sizes, *args, fmt, case.dilations)
    assert_close(xp, got_t, case.to_layout(dx), dtype=xp.float64)
    got_n = xconv.conv_transpose(dyb, wb, np.asarray(sizes), *args, fmt, case.dilations)
    assert_close(xp, got_n, case.to_layout(dx), dtype=xp.float64)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"r{c.rank}-{c.padding}-g{c.groups}")
def test_backprop_filter(xp: ModuleType, device: Any, rng: np.random.Generator, case: Case) -> None:
    x, w, dy, _, dw = _case_arrays(rng, case)
    xb, dyb = make(xp, case.to_layout(x), device), make(xp, case.to_layout(dy), device)
    got = xconv.conv_backprop_filter(
        xb, w.shape, dyb, case.strides, case.padding, case.data_format(), case.dilations
    )
    assert_close(xp, got, dw, dtype=xp.float64)


def test_fixed_rank_2d_grads_match_nd(xp: ModuleType, rng: np.random.Generator) -> None:
    case = CASES[3]
    x, w, dy, dx, dw = _case_arrays(rng, case)
    xb, wb, dyb = make(xp, x), make(xp, w), make(xp, dy)
    gi = xconv.conv2d_backprop_input(x.shape, wb, dyb, 2, "SAME", dilations=2)
    gf = xconv.conv2d_backprop_filter(xb, w.shape, dyb, 2, "SAME", dilations=2)
    assert_close(xp, gi, dx, dtype=xp.float64)
    assert_close(xp, gf, dw, dtype=xp.float64)


@pytest.mark.parametrize("channels_first", [False, True])
def test_depthwise_grads(xp: ModuleType, rng: np.random.Generator, channels_first: bool) -> None:
    # Depthwise filter (3, 3, C=3, M=2) is grouped conv with (3, 3, 1, 6), groups = 3.
    case = Case(2, (7, 6), 3, (3, 3), 1, 6, (2, 1), (1, 2), "SAME", channels_first)
    x, w, dy, dx, dw = _case_arrays(rng, case)
    dw_filter = w.reshape(3, 3, 3, 2)
    fmt = case.data_format()
    sizes = _shape_in_layout(case, x.shape)
    dyb = make(xp, case.to_layout(dy))
    gi = xconv.depthwise_conv2d_backprop_input(
        sizes, make(xp, dw_filter), dyb, (2, 1), "SAME", fmt, (1, 2)
    )
    assert_close(xp, gi, case.to_layout(dx), dtype=xp.float64)
    gf = xconv.depthwise_conv2d_backprop_filter(
        make(xp, case.to_layout(x)), (3, 3, 3, 2), dyb, (2, 1), "SAME", fmt, (1, 2)
    )
    assert_close(xp, gf, dw.reshape(3, 3, 3, 2), dtype=xp.float64)


def test_strided_dilated_grads_match_finite_differences(rng: np.random.Generator) -> None:
    """strides=2 with dilations=2 (refused by TF's CPU kernels) vs central differences."""
    x, w = rng.random((1, 7, 6, 2)), rng.random((3, 3, 2, 3))
    y = xconv.conv2d(x, w, 2, "SAME", dilations=2)
    dy = rng.random(y.shape)

    def loss(xx: Any, ww: Any) -> float:
        pads = same_pads((7, 6), (3, 3), (2, 2), (2, 2))
        return float(np.sum(reference_conv(xx, ww, (2, 2), (2, 2), pads) * dy))

    eps = 1e-6
    num_dx = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = eps
        num_dx[idx] = (loss(x + e, w) - loss(x - e, w)) / (2 * eps)
    num_dw = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = eps
        num_dw[idx] = (loss(x, w + e) - loss(x, w - e)) / (2 * eps)
    dx = xconv.conv2d_backprop_input(x.shape, w, dy, 2, "SAME", dilations=2)
    dw = xconv.conv2d_backprop_filter(x, w.shape, dy, 2, "SAME", dilations=2)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dw, num_dw, rtol=1e-6, atol=1e-7)


def test_zero_size_batch_and_gradient(xp: ModuleType) -> None:
    x, dy = make(xp, np.ones((0, 5, 4, 2))), make(xp, np.ones((0, 5, 4, 3)))
    dw = xconv.conv2d_backprop_filter(x, (3, 3, 2, 3), dy, 1, "SAME")
    assert_close(xp, dw, np.zeros((3, 3, 2, 3)), dtype=xp.float64)
    dx = xconv.conv2d_backprop_input((0, 5, 4, 2), make(xp, np.ones((3, 3, 2, 3))), dy, 1, "SAME")
    assert tuple(dx.shape) == (0, 5, 4, 2)


def test_inconsistent_output_shape_lists_possible_sizes() -> None:
    x = np.ones((1, 4, 4, 2))
    w = np.ones((3, 3, 5, 2))
    with pytest.raises(ValueError, match=r"output_shape") as info:
        xconv.conv2d_transpose(x, w, [1, 11, 8, 5], 2, "SAME")
    assert "7..8" in str(info.value)  # ceil(n / 2) == 4 for n in 7..8
    xconv.conv2d_transpose(x, w, [1, 7, 8, 5], 2, "SAME")  # both ends are fine


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"padding_mode": "reflect"}, "padding_mode"),
        ({"method": "nope"}, "method"),
        ({"memory_budget": 0}, "memory_budget"),
    ],
)
def test_grad_option_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        xconv.conv2d_transpose(
            np.ones((1, 4, 4, 2)), np.ones((3, 3, 5, 2)), [1, 8, 8, 5], 2, **kwargs
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: xconv.conv2d_backprop_input(
                [1, 8, 8], np.ones((3, 3, 2, 2)), np.ones((1, 8, 8, 2)), 1, "SAME"
            ),
            "input_sizes",
        ),
        (
            lambda: xconv.conv2d_backprop_input(
                [1, 8, 8, 2], np.ones((3, 3, 2, 2)), np.ones((1, 7, 8, 2)), 1, "SAME"
            ),
            "out_backprop",
        ),
        (
            lambda: xconv.conv2d_backprop_filter(
                np.ones((1, 8, 8, 2)), [3, 3, -2, 2], np.ones((1, 8, 8, 2)), 1, "SAME"
            ),
            "filter_sizes",
        ),
        (
            lambda: xconv.conv2d_backprop_filter(
                np.ones((1, 8, 8, 2)), [3, 3, 2, 2], np.ones((1, 8, 8, 3)), 1, "SAME"
            ),
            "out_backprop",
        ),
        (
            lambda: xconv.depthwise_conv2d_backprop_input(
                [1, 8, 8, 3], np.ones((3, 3, 2, 2)), np.ones((1, 8, 8, 4)), 1, "SAME"
            ),
            "filter",
        ),
    ],
)
def test_grad_shape_errors(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_transpose_does_not_modify_inputs(xp: ModuleType, rng: np.random.Generator) -> None:
    x, w = rng.random((1, 4, 4, 3)), rng.random((3, 3, 2, 3))
    xb, wb = make(xp, x), make(xp, w)
    xconv.conv2d_transpose(xb, wb, [1, 8, 8, 2], 2)
    np.testing.assert_array_equal(to_numpy(xb), x)
    np.testing.assert_array_equal(to_numpy(wb), w)


@st.composite
def strided_cases(draw: st.DrawFn) -> Case:
    """Strided forward convolutions: their input gradients are input-dilated ones.

    Strides up to 3 against kernels of 1-5 taps (fewer taps than the stride leave
    some phases of the sub-pixel split empty), dilations sharing a factor with the
    stride or not, explicit pads that crop or extend.
    """
    rank = draw(st.integers(1, 2))
    dims = st.lists(st.integers(1, 5), min_size=rank, max_size=rank).map(tuple)
    k, strides = draw(dims), draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilations = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    pads = draw(
        st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=rank, max_size=rank).map(
            tuple
        )
    )
    sizes = tuple(
        draw(st.integers(max(1, (kk - 1) * d + 1 - lo - hi), 14))
        for kk, d, (lo, hi) in zip(k, dilations, pads, strict=True)
    )
    groups = draw(st.sampled_from([1, 2]))
    return Case(2, sizes, 2 * groups, k, 2, 3 * groups, tuple(strides), tuple(dilations), pads)


@given(case=strided_cases(), method=st.sampled_from(["auto", "gemm", "shift", "einsum"]))
def test_strided_input_grads_property(
    xp: ModuleType, device: Any, rng: np.random.Generator, case: Case, method: str
) -> None:
    """Input gradients of strided convolutions (computed as interleaved sub-pixel phases
    where the stride and dilation are coprime) match the scatter-loop gradient."""
    _, w, dy, dx, _ = _case_arrays(rng, case)
    got = xconv.conv_backprop_input(
        dx.shape,
        make(xp, w, device),
        make(xp, dy, device),
        case.strides,
        [(0, 0), *case.pads(), (0, 0)],
        dilations=case.dilations,
        method=method,
    )
    assert_close(xp, got, dx, dtype=xp.float64)
