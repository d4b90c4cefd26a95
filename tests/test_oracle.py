"""Peer oracles: TensorFlow and PyTorch, where installed.

Both xconv (on NumPy, and on torch tensors for the torch oracle) and the naive
reference are compared with the peers over a representative grid: ranks 1-3, SAME /
VALID / explicit padding, strides, dilations, groups, channels-first layouts, padding
modes, and depthwise / separable convolutions. TensorFlow is only asked what it accepts
on CPU (no NCHW, no dilated or grouped Conv3D, no strides > 1 with dilations > 1 in
depthwise); PyTorch covers the rest.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import pytest

import xconv
from _helpers import Case, assert_close, encode_padding, make_inputs, random_array
from _reference import reference_conv, reference_depthwise, reference_separable

pytestmark = pytest.mark.oracle

RTOL = 1e-10


@pytest.fixture(scope="module")
def tf() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return pytest.importorskip("torch")


def _close(actual: Any, expected: np.ndarray, rtol: float = RTOL) -> None:
    actual = np.asarray(actual)
    atol = rtol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def _grid_case(
    rank: int, padding: str, sd: tuple[int, int], groups: int, channels_first: bool
) -> Case:
    s, d = sd
    pads: Any = {"explicit": ((1, 2), (2, 0), (0, 1))[:rank]}.get(padding, padding)
    return Case(
        n=2,
        in_sizes=(11, 9, 7)[:rank] if rank < 3 else (7, 6, 5),
        c=2 * groups,
        k=(3, 2, 3)[:rank],
        cg=2,
        o=3 * groups,
        strides=(s,) * rank,
        dilations=(d,) * rank,
        padding=pads,
        channels_first=channels_first,
    )


PADDINGS = ["SAME", "VALID", "explicit"]
STRIDE_DILATION = [(1, 1), (2, 1), (1, 2), (2, 2), (3, 2)]


def _tf_accepts(case: Case) -> bool:
    """Whether TF on CPU computes this case (Conv3D: no dilations, no groups).

    Cases it refuses are not generated; the torch oracle covers them.
    """
    return case.rank != 3 or (max(case.dilations) == 1 and case.groups == 1)


# --------------------------------------------------------------------------- TensorFlow


def tf_conv(tf: ModuleType, x: np.ndarray, w: np.ndarray, case: Case) -> np.ndarray:
    """TensorFlow's convolution of canonical (NWC/NHWC/NDHWC) arrays."""
    padding: Any = case.padding
    if not isinstance(padding, str):  # TF's conv1d / conv3d take no explicit pads: pre-pad
        if case.rank == 2:
            padding = [[0, 0], *map(list, case.pads()), [0, 0]]
        else:
            x = np.pad(x, [(0, 0), *case.pads(), (0, 0)])
            padding = "VALID"
    fn = {1: tf.nn.conv1d, 2: tf.nn.conv2d, 3: tf.nn.conv3d}[case.rank]
    strides = list(case.strides) if case.rank != 3 else [1, *case.strides, 1]
    dilations = list(case.dilations) if case.rank != 3 else [1, *case.dilations, 1]
    return np.asarray(fn(x, w, strides, padding, dilations=dilations))


TF_GRID = [
    pytest.param(rank, padding, sd, groups, id=f"{rank}-{padding}-s{sd[0]}d{sd[1]}-g{groups}")
    for rank, padding, sd, groups in itertools.product([1, 2, 3], PADDINGS, STRIDE_DILATION, [1, 2])
    if _tf_accepts(_grid_case(rank, padding, sd, groups, channels_first=False))
]


@pytest.mark.parametrize(("rank", "padding", "sd", "groups"), TF_GRID)
def test_conv_vs_tensorflow(
    tf: ModuleType,
    rng: np.random.Generator,
    rank: int,
    padding: str,
    sd: tuple[int, int],
    groups: int,
) -> None:
    case = _grid_case(rank, padding, sd, groups, channels_first=False)
    x, w = make_inputs(rng, case)
    expected = tf_conv(tf, x, w, case)
    _close(reference_conv(x, w, case.strides, case.dilations, case.pads()), expected)
    # xconv in the channels-first layout too, which TF's CPU kernels refuse
    first = dataclasses.replace(case, channels_first=True)
    for c in (case, first):
        args = (
            c.to_layout(x),
            w,
            list(c.strides),
            encode_padding(c, "tf" if padding == "explicit" else "string"),
        )
        out = xconv.convolution(*args, data_format=c.data_format(), dilations=list(c.dilations))
        _close(out, c.to_layout(expected))


@pytest.mark.parametrize("multiplier", [1, 3])
@pytest.mark.parametrize(("s", "d"), [(1, 1), (2, 1), (1, 2), (3, 1)])
@pytest.mark.parametrize("padding", PADDINGS)
def test_depthwise_separable_vs_tensorflow(
    tf: ModuleType, rng: np.random.Generator, padding: str, s: int, d: int, multiplier: int
) -> None:
    c, o = 3, 4
    x = random_array(rng, (2, 9, 8, c), "float64")
    dw = random_array(rng, (3, 2, c, multiplier), "float64")
    pw = random_array(rng, (1, 1, c * multiplier, o), "float64")
    pads = [(1, 2), (2, 0)]
    tf_padding: Any = [[0, 0], *map(list, pads), [0, 0]] if padding == "explicit" else padding
    case = Case(
        n=2,
        in_sizes=(9, 8),
        c=c,
        k=(3, 2),
        cg=c,
        o=c * multiplier,
        strides=(s, s),
        dilations=(d, d),
        padding=tuple(pads) if padding == "explicit" else padding,
    )
    strides = [1, s, s, 1]

    expected = np.asarray(tf.nn.depthwise_conv2d(x, dw, strides, tf_padding, dilations=[d, d]))
    _close(reference_depthwise(x, dw, case.strides, case.dilations, case.pads()), expected)
    _close(xconv.depthwise_conv2d(x, dw, strides, tf_padding, dilations=[d, d]), expected)

    if padding == "explicit":  # tf.nn.separable_conv2d takes no explicit pads
        x = np.pad(x, [(0, 0), *pads, (0, 0)])
        tf_padding = "VALID"
        case = dataclasses.replace(case, in_sizes=x.shape[1:3], padding="VALID")
    expected_sep = np.asarray(
        tf.nn.separable_conv2d(x, dw, pw, strides, tf_padding, dilations=[d, d])
    )
    _close(reference_separable(x, dw, pw, case.strides, case.dilations, case.pads()), expected_sep)
    _close(xconv.separable_conv2d(x, dw, pw, strides, tf_padding, dilations=[d, d]), expected_sep)


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
@pytest.mark.parametrize("rank", [1, 2])
def test_padding_modes_vs_tensorflow(
    tf: ModuleType, rng: np.random.Generator, rank: int, mode: str
) -> None:
    """padding_mode against ``tf.pad(mode=REFLECT/SYMMETRIC)`` followed by a VALID conv."""
    case = _grid_case(rank, "explicit", (2, 1), 1, channels_first=False)
    x, w = make_inputs(rng, case)
    padded = tf.pad(x, [[0, 0], *map(list, case.pads()), [0, 0]], mode=mode.upper())
    valid = dataclasses.replace(case, padding="VALID", in_sizes=tuple(padded.shape[1:-1]))
    expected = tf_conv(tf, np.asarray(padded), w, valid)
    out = xconv.convolution(
        x, w, list(case.strides), encode_padding(case, "pairs"), padding_mode=mode
    )
    _close(out, expected)


def test_float32_vs_tensorflow(tf: ModuleType, rng: np.random.Generator) -> None:
    case = _grid_case(2, "SAME", (2, 1), 1, channels_first=False)
    x, w = make_inputs(rng, case, "float32")
    expected = np.asarray(tf.nn.conv2d(x, w, 2, "SAME"))
    out = xconv.conv2d(x, w, 2, "SAME")
    assert out.dtype == np.float32
    _close(out, expected, rtol=1e-5)


# --------------------------------------------------------------------------- PyTorch

TORCH_PAD_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "edge": "replicate",
    "circular": "circular",
}


def torch_conv(
    torch: ModuleType, x: np.ndarray, w: np.ndarray, case: Case, mode: str = "zeros"
) -> np.ndarray:
    """PyTorch's convolution of canonical arrays: NC... input, OIHW weights, pre-padded."""
    func = torch.nn.functional
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
    wt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(w, (-1, -2), (0, 1))))
    flat = [p for pair in reversed(case.pads()) for p in pair]  # last axis first
    xt = func.pad(xt, flat, mode=TORCH_PAD_MODES[mode])
    conv = {1: func.conv1d, 2: func.conv2d, 3: func.conv3d}[case.rank]
    out = conv(xt, wt, stride=case.strides, dilation=case.dilations, groups=case.groups)
    return np.moveaxis(out.numpy(), 1, -1)


@pytest.mark.parametrize("channels_first", [False, True], ids=["last", "first"])
@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("sd", STRIDE_DILATION, ids=lambda sd: f"s{sd[0]}d{sd[1]}")
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_vs_torch(
    torch: ModuleType,
    rng: np.random.Generator,
    rank: int,
    padding: str,
    sd: tuple[int, int],
    groups: int,
    channels_first: bool,
) -> None:
    case = _grid_case(rank, padding, sd, groups, channels_first)
    x, w = make_inputs(rng, case)
    expected = torch_conv(torch, x, w, case)
    _close(reference_conv(x, w, case.strides, case.dilations, case.pads()), expected)
    pform = "tf" if padding == "explicit" else "string"
    conv = {1: xconv.conv1d, 2: xconv.conv2d, 3: xconv.conv3d}[rank]
    for data in (case.to_layout(x), torch.from_numpy(case.to_layout(x))):
        filters = w if isinstance(data, np.ndarray) else torch.from_numpy(w)
        out = conv(
            data,
            filters,
            list(case.strides),
            encode_padding(case, pform),
            data_format=case.data_format(),
            dilations=list(case.dilations),
        )
        _close(out, case.to_layout(expected))


@pytest.mark.parametrize("mode", list(TORCH_PAD_MODES))
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_padding_modes_vs_torch(
    torch: ModuleType, rng: np.random.Generator, rank: int, mode: str
) -> None:
    case = _grid_case(rank, "explicit", (1, 2), 1, channels_first=False)
    x, w = make_inputs(rng, case)
    expected = torch_conv(torch, x, w, case, mode)
    _close(
        reference_conv(x, w, case.strides, case.dilations, case.pads(), padding_mode=mode), expected
    )
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    out = xconv.convolution(
        tx,
        tw,
        list(case.strides),
        encode_padding(case, "pairs"),
        dilations=list(case.dilations),
        padding_mode=mode,
    )
    assert isinstance(out, torch.Tensor)
    _close(out, expected)


@pytest.mark.parametrize(("s", "d"), list(itertools.product([1, 2], [1, 2])))
@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_vs_torch(
    torch: ModuleType, rng: np.random.Generator, s: int, d: int, multiplier: int
) -> None:
    """torch's groups=C convolution, including strides and dilations together."""
    c = 3
    case = Case(
        n=2,
        in_sizes=(9, 8),
        c=c,
        k=(3, 2),
        cg=1,
        o=c * multiplier,
        strides=(s, s),
        dilations=(d, d),
        padding="SAME",
    )
    x = random_array(rng, case.x_shape, "float64")
    dw = random_array(rng, (3, 2, c, multiplier), "float64")
    # depthwise [h, w, C, M] == grouped [h, w, 1, C * M] with output channel c * M + m
    expected = torch_conv(torch, x, dw.reshape(3, 2, 1, c * multiplier), case)
    tx = torch.from_numpy(x)
    out = xconv.depthwise_conv2d(tx, torch.from_numpy(dw), s, "SAME", dilations=d)
    assert isinstance(out, torch.Tensor)
    assert_close(
        array_api_compat.array_namespace(out), out, expected, dtype=torch.float64, rtol=RTOL
    )
