"""Checks of the naive reference against things independent of it.

Hand-computed tiny cases, ``scipy.signal.correlate`` for single-channel and
channel-summed cases, and TF's SAME output size. Everything else in the suite trusts
``_reference``, so it must be right on its own.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from _reference import (
    full_pads,
    out_size,
    reference_conv,
    reference_depthwise,
    reference_separable,
    same_pads,
    valid_pads,
)

# --------------------------------------------------------------------------- by hand


def _conv1(x: list[float], w: list[float], **kw: object) -> list[float]:
    """Single-channel 1-d reference as a plain list."""
    xa = np.asarray(x, dtype=float).reshape(1, -1, 1)
    wa = np.asarray(w, dtype=float).reshape(-1, 1, 1)
    args = {"strides": [1], "dilations": [1], "pads": [(0, 0)], **kw}
    return reference_conv(xa, wa, **args)[0, :, 0].tolist()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("x", "w", "kw", "expected"),
    [
        # cross-correlation, not convolution: no kernel flip
        ([1, 2, 3, 4], [1, 0, -1], {}, [-2, -2]),
        ([1, 2, 3, 4], [1, 2], {}, [5, 8, 11]),
        # stride 2, SAME: out 2, total pad 1 -> (0, 1): [1, 2, 3, 4, 0]
        ([1, 2, 3, 4], [1, 0, -1], {"strides": [2], "pads": [(0, 1)]}, [-2, 3]),
        # dilation 2: x[i] + x[i + 2]
        ([1, 2, 3, 4, 5], [1, 1], {"dilations": [2]}, [4, 6, 8]),
        # stride 2 and dilation 2 together
        ([1, 2, 3, 4, 5, 6, 7], [1, 10], {"strides": [2], "dilations": [2]}, [31, 53, 75]),
        # explicit asymmetric pads
        ([1, 2], [1, 1], {"pads": [(2, 1)]}, [0, 1, 3, 2]),
        # kernel bigger than the input: empty
        ([1, 2], [1, 1, 1], {}, []),
    ],
)
def test_hand_1d(
    x: list[float], w: list[float], kw: dict[str, object], expected: list[float]
) -> None:
    assert _conv1(x, w, **kw) == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("zeros", [0, 0, 1, 2, 3, 0, 0]),
        ("reflect", [3, 2, 1, 2, 3, 2, 1]),
        ("symmetric", [2, 1, 1, 2, 3, 3, 2]),
        ("edge", [1, 1, 1, 2, 3, 3, 3]),
        ("circular", [2, 3, 1, 2, 3, 1, 2]),
    ],
)
def test_hand_padding_modes(mode: str, expected: list[float]) -> None:
    assert _conv1([1, 2, 3], [1], pads=[(2, 2)], padding_mode=mode) == expected


def test_hand_2d() -> None:
    x = np.arange(1, 10, dtype=float).reshape(1, 3, 3, 1)
    w = np.ones((2, 2, 1, 1))
    out = reference_conv(x, w, [1, 1], [1, 1], valid_pads(2))
    assert out.shape == (1, 2, 2, 1)
    assert out[0, :, :, 0].tolist() == [[12, 16], [24, 28]]
    # a non-symmetric kernel pins the orientation of both axes
    w2 = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(2, 2, 1, 1)
    out2 = reference_conv(x, w2, [1, 1], [1, 1], valid_pads(2))
    assert out2[0, 0, 0, 0] == 1 * 1 + 2 * 10 + 4 * 100 + 5 * 1000


def test_hand_channels_and_groups() -> None:
    x = np.array([2.0, 3.0]).reshape(1, 1, 2)
    # dense: out[o] = sum_c x[c] * w[c, o]
    dense = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2)
    assert reference_conv(x, dense, [1], [1], [(0, 0)])[0, 0].tolist() == [11, 16]
    # two groups, one channel each: out[g] = x[g] * w[0, g]
    grouped = np.array([5.0, 7.0]).reshape(1, 1, 2)
    assert reference_conv(x, grouped, [1], [1], [(0, 0)])[0, 0].tolist() == [10, 21]
    # two groups, two outputs each: outputs 0, 1 see channel 0; 2, 3 see channel 1
    g4 = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 4)
    assert reference_conv(x, g4, [1], [1], [(0, 0)])[0, 0].tolist() == [2, 4, 9, 12]


def test_hand_depthwise_and_separable() -> None:
    x = np.array([2.0, 3.0]).reshape(1, 1, 1, 2)
    dw = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)  # [c, m]
    # output channel c * M + m = x[c] * dw[c, m]
    dep = reference_depthwise(x, dw, [1, 1], [1, 1], valid_pads(2))
    assert dep[0, 0, 0].tolist() == [2, 4, 9, 12]
    pw = np.array([1.0, 1.0, 1.0, -1.0]).reshape(1, 1, 4, 1)
    sep = reference_separable(x, dw, pw, [1, 1], [1, 1], valid_pads(2))
    assert sep[0, 0, 0].tolist() == [2 + 4 + 9 - 12]


def test_work_dtypes_are_exact() -> None:
    xi = np.array([100, 100], dtype=np.int8).reshape(1, 2, 1)
    out = reference_conv(xi, xi.reshape(2, 1, 1), [1], [1], [(0, 0)])
    assert out.dtype == np.int64
    assert out.item() == 20000
    big = np.array([2**40 + 1], dtype=np.uint64).reshape(1, 1, 1)
    assert reference_conv(big, np.ones((1, 1, 1), np.uint8), [1], [1], [(0, 0)]).item() == 2**40 + 1
    xc = np.array([1 + 2j], dtype=np.complex64).reshape(1, 1, 1)
    outc = reference_conv(xc, xc.reshape(1, 1, 1), [1], [1], [(0, 0)])
    assert outc.dtype == np.complex128
    assert outc.item() == (1 + 2j) ** 2  # no conjugation
    assert (
        reference_conv(
            np.ones((1, 1, 1), np.float16), np.ones((1, 1, 1), np.float32), [1], [1], [(0, 0)]
        ).dtype
        == np.float64
    )


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize("n", range(1, 12))
def test_same_size_is_ceil(n: int) -> None:
    for k, s, d in itertools.product(range(1, 6), range(1, 5), range(1, 4)):
        ((lo, hi),) = same_pads([n], [k], [s], [d])
        assert 0 <= lo <= hi <= lo + 1
        assert out_size(n, k, s, d, lo, hi) == math.ceil(n / s)
        # the pad is minimal: one less total pad would lose the last window
        if lo + hi:
            assert out_size(n, k, s, d, lo, hi - 1) < math.ceil(n / s)


def test_same_and_full_pads_by_hand() -> None:
    assert same_pads([4], [3], [2], [1]) == [(0, 1)]
    assert same_pads([5, 5], [3, 4], [1, 1], [1, 1]) == [(1, 1), (1, 2)]
    assert same_pads([7], [3], [1], [3]) == [(3, 3)]
    assert same_pads([8], [1], [4], [1]) == [(0, 0)]
    assert full_pads([3, 1, 2], [1, 5, 2]) == [(2, 2), (0, 0), (2, 2)]
    assert out_size(8, 9, 1, 1, 0, 0) == 0
    assert out_size(5, 3, 1, 3, 0, 0) == 0  # dilated kernel spans 7 > 5


def test_shape_and_empty_outputs() -> None:
    x = np.ones((1, 8, 8, 4))
    w = np.ones((9, 9, 4, 6))
    assert reference_conv(x, w, [1, 1], [1, 1], valid_pads(2)).shape == (1, 0, 0, 6)
    assert reference_conv(np.ones((0, 5, 3)), np.ones((2, 3, 2)), [2], [1], [(0, 0)]).shape == (
        0,
        2,
        2,
    )


# --------------------------------------------------------------------------- scipy


@pytest.fixture
def signal() -> object:
    return pytest.importorskip("scipy.signal")


def _dilate(w: np.ndarray, d: tuple[int, ...]) -> np.ndarray:
    """Kernel with d-1 zeros between taps, for scipy (which has no dilation)."""
    out = np.zeros([(k - 1) * dd + 1 for k, dd in zip(w.shape, d, strict=True)], w.dtype)
    out[tuple(slice(None, None, dd) for dd in d)] = w
    return out


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize(
    ("mode", "strides", "dilations"),
    [("valid", 1, 1), ("full", 1, 1), ("valid", 2, 1), ("full", 1, 2), ("valid", 3, 2)],
)
def test_single_channel_vs_scipy(
    signal: object, rng: np.random.Generator, rank: int, mode: str, strides: int, dilations: int
) -> None:
    x = rng.standard_normal((9, 8)[:rank])
    w = rng.standard_normal((3, 2)[:rank])
    s, d = (strides,) * rank, (dilations,) * rank
    pads = full_pads(w.shape, d) if mode == "full" else valid_pads(rank)
    got = reference_conv(x[None, ..., None], w[..., None, None], s, d, pads)[0, ..., 0]
    expected = signal.correlate(x, _dilate(w, d), mode=mode, method="direct")  # type: ignore[attr-defined]
    expected = expected[tuple(slice(None, None, ss) for ss in s)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rank", [1, 2])
def test_multichannel_vs_scipy(signal: object, rng: np.random.Generator, rank: int) -> None:
    """out[..., o] = sum_c correlate(x[..., c], w[..., c, o]), then groups and depthwise."""
    c, o = 3, 4
    x = rng.standard_normal((2, *(7, 6)[:rank], c))
    w = rng.standard_normal((*(3, 2)[:rank], c, o))
    ones = (1,) * rank
    got = reference_conv(x, w, ones, ones, valid_pads(rank))
    corr = signal.correlate  # type: ignore[attr-defined]
    for b in range(2):
        for oo in range(o):
            expected = sum(corr(x[b, ..., cc], w[..., cc, oo], mode="valid") for cc in range(c))
            np.testing.assert_allclose(got[b, ..., oo], expected, rtol=1e-12, atol=1e-12)

    # groups = 3 (one channel each), 2 outputs per group: output oo sees channel oo // 2
    wg = rng.standard_normal((*(3, 2)[:rank], 1, 6))
    got_g = reference_conv(x, wg, ones, ones, valid_pads(rank))
    for oo in range(6):
        expected = corr(x[0, ..., oo // 2], wg[..., 0, oo], mode="valid")
        np.testing.assert_allclose(got_g[0, ..., oo], expected, rtol=1e-12, atol=1e-12)

    # depthwise, multiplier 2: output ch * 2 + m sees channel ch with filter [ch, m]
    wd = rng.standard_normal((*(3, 2)[:rank], c, 2))
    got_d = reference_depthwise(x, wd, ones, ones, valid_pads(rank))
    for ch, m in itertools.product(range(c), range(2)):
        expected = corr(x[1, ..., ch], wd[..., ch, m], mode="valid")
        np.testing.assert_allclose(got_d[1, ..., ch * 2 + m], expected, rtol=1e-12, atol=1e-12)


def test_grouped_equals_block_diagonal(rng: np.random.Generator) -> None:
    """A grouped filter equals the dense filter with zeros off the group blocks."""
    groups, cg, og = 3, 2, 2
    x = rng.standard_normal((2, 6, 5, groups * cg))
    wg = rng.standard_normal((2, 3, cg, groups * og))
    dense = np.zeros((2, 3, groups * cg, groups * og))
    for g in range(groups):
        dense[:, :, g * cg : (g + 1) * cg, g * og : (g + 1) * og] = wg[
            :, :, :, g * og : (g + 1) * og
        ]
    pads = same_pads([6, 5], [2, 3], [2, 1], [1, 2])
    a = reference_conv(x, wg, [2, 1], [1, 2], pads)
    b = reference_conv(x, dense, [2, 1], [1, 2], pads)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
