"""Peer oracles: TensorFlow and PyTorch, where installed.

Both xconv (on NumPy, and on torch tensors for the torch oracle) and the naive
reference are compared with the peers over a representative grid: ranks 1-3, SAME /
VALID / explicit padding, strides, dilations, groups, channels-first layouts, padding
modes, and depthwise / separable convolutions. TensorFlow is only asked what it accepts
on CPU (no NCHW, no dilated or grouped Conv3D, no strides > 1 with dilations > 1 in
depthwise); PyTorch covers the rest.

The transposed convolutions and the input / filter gradients (plain, 3-d, depthwise) are
compared with TF's ``tf.nn.conv*_transpose``, raw backprop ops and ``tf.GradientTape``.
TF's CPU kernels refuse dilated (and grouped) gradients; those cases are detected from
TF's error and compared with central finite differences of xconv's forward convolution
(itself checked against the peers above), and the dilated stride-1 ones also with TF's
own ``space_to_batch``-based gradients.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import pytest

import xconv
from _helpers import Case, assert_close, encode_padding, make_inputs, random_array
from _reference import out_size, reference_conv, reference_depthwise, reference_separable

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


# --------------------------------------------------------------- TensorFlow: transposes, gradients

#: (stride, dilation) pairs for the transposed convolutions and gradients. TF's CPU
#: backprop kernels refuse dilations > 1; those cases are checked against central finite
#: differences instead (see ``_tf_or_refused``).
GRAD_SD = [(1, 1), (2, 1), (3, 1), (1, 2), (2, 2)]

#: The messages of TF's CPU refusals (TF 2.x): "Current CPU implementation(s) do(es) not
#: yet support dilation rates larger than 1" (Conv2D/Conv3D backprop ops and the
#: transposes built on them), "... does not support dilations" (DepthwiseConv2dNative),
#: "Gradients for grouped convolutions are not supported on CPU".
TF_REFUSAL = re.compile(r"dilation|grouped convolutions")

#: Finite-difference step. Every function differentiated here is linear in the
#: perturbed argument, so central differences have no truncation error at any step and
#: a unit step keeps the rounding error relative to the loss near machine epsilon.
FD_STEP = 1.0

Forward = Callable[[np.ndarray, np.ndarray], Any]


def _tf_or_refused(tf: ModuleType, compute: Callable[[], Any], *, may_refuse: bool) -> Any:
    """TF's result, or None where its CPU kernel refuses the case.

    Only a case that is dilated or grouped (``may_refuse``) may be refused, and only with
    one of TF's known refusal messages; any other error fails the test.
    """
    try:
        return compute()
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
        if not may_refuse or not TF_REFUSAL.search(str(exc)):
            raise
        return None


def _fd_input_grad(forward: Forward, x: np.ndarray, w: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``d/dx sum(dy * forward(x, w))`` by central differences in float64.

    All ``2 * x.size`` perturbed copies of ``x`` go through one call, stacked on the
    batch axis (a convolution treats batch entries independently).
    """
    n = x.size
    steps = FD_STEP * np.eye(n).reshape(n, *x.shape)
    batch = np.concatenate([x + steps, x - steps]).reshape(-1, *x.shape[1:])
    y = np.asarray(forward(batch, w)).reshape(2, n, *dy.shape)
    loss = np.tensordot(y, dy, axes=dy.ndim)
    return ((loss[0] - loss[1]) / (2 * FD_STEP)).reshape(x.shape)


def _fd_filter_grad(forward: Forward, x: np.ndarray, w: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``d/dw sum(dy * forward(x, w))`` by central differences in float64."""
    grad = np.empty(w.size)
    for i in range(w.size):
        step = np.zeros(w.shape)
        step.flat[i] = FD_STEP
        hi = np.vdot(dy, np.asarray(forward(x, w + step)))
        lo = np.vdot(dy, np.asarray(forward(x, w - step)))
        grad[i] = (hi - lo) / (2 * FD_STEP)
    return grad.reshape(w.shape)


def _xconv_forward(case: Case) -> Forward:
    """xconv's forward convolution of canonical arrays for ``case`` (the FD function)."""

    def forward(x: np.ndarray, w: np.ndarray) -> Any:
        padding = encode_padding(case, "pairs" if isinstance(case.padding, tuple) else "string")
        return xconv.convolution(x, w, list(case.strides), padding, dilations=list(case.dilations))

    return forward


def _grad_case(rank: int, padding: str, sd: tuple[int, int], groups: int = 1) -> Case:
    """A ``_grid_case``, smaller in 3-d so that finite differences stay cheap."""
    case = _grid_case(rank, padding, sd, groups, channels_first=False)
    if rank == 3:
        case = dataclasses.replace(case, n=1, in_sizes=(6, 5, 4), k=(3, 2, 2))
    return case


def _out_shape(case: Case) -> tuple[int, ...]:
    """The forward output's canonical shape (the gradient's ``out_backprop``)."""
    sizes = [
        out_size(n, k, s, d, lo, hi)
        for n, k, s, d, (lo, hi) in zip(
            case.in_sizes, case.k, case.strides, case.dilations, case.pads(), strict=True
        )
    ]
    return (case.n, *sizes, case.o)


def _tf_full(values: tuple[int, ...]) -> list[int]:
    """TF's rank+2 form of strides / dilations (NHWC order)."""
    return [1, *values, 1]


def _prepad(case: Case) -> tuple[Any, tuple[int, ...], tuple[slice, ...]]:
    """TF padding argument, TF input shape and the crop back to ``case.x_shape``.

    Rank 2 uses TF's explicit padding list; ranks 1 and 3 (string padding only in TF)
    pre-pad: a VALID gradient for the padded input, cropped, is the padded case's one.
    """
    everything = (slice(None),) * (case.rank + 2)
    if isinstance(case.padding, str):
        return case.padding, case.x_shape, everything
    if case.rank == 2:
        return [[0, 0], *map(list, case.pads()), [0, 0]], case.x_shape, everything
    pads = case.pads()
    shape = (case.n, *(n + lo + hi for n, (lo, hi) in zip(case.in_sizes, pads)), case.c)
    crop = (slice(None), *(slice(lo, lo + n) for n, (lo, _) in zip(case.in_sizes, pads)))
    return "VALID", shape, (*crop, slice(None))


def _channels_first_too(case: Case) -> tuple[Case, Case]:
    """The case in NHWC (what TF computes) and NCHW (transposed here for xconv)."""
    return case, dataclasses.replace(case, channels_first=True)


def _layout_shape(case: Case, shape: tuple[int, ...]) -> list[int]:
    return [shape[0], shape[-1], *shape[1:-1]] if case.channels_first else list(shape)


TRANSPOSE_GRID = [
    pytest.param(rank, padding, sd, id=f"{rank}-{padding}-s{sd[0]}d{sd[1]}")
    for rank, padding, sd in itertools.product([1, 2, 3], PADDINGS, GRAD_SD)
]


@pytest.mark.parametrize(("rank", "padding", "sd"), TRANSPOSE_GRID)
def test_conv_transpose_vs_tensorflow(
    tf: ModuleType, rng: np.random.Generator, rank: int, padding: str, sd: tuple[int, int]
) -> None:
    """``conv{1,2,3}d_transpose`` / ``conv_transpose`` vs ``tf.nn.conv*_transpose``."""
    case = _grad_case(rank, padding, sd)
    x, w = make_inputs(rng, case)  # w is [..., out, in] for the transpose: the same array
    dy = random_array(rng, _out_shape(case), "float64")  # the transpose's input
    tf_padding, tf_shape, crop = _prepad(case)
    strides = _tf_full(case.strides)
    dilations = _tf_full(case.dilations)
    named_tf = {1: tf.nn.conv1d_transpose, 2: tf.nn.conv2d_transpose, 3: tf.nn.conv3d_transpose}
    expected: dict[str, np.ndarray] = {}
    for name, fn in (("named", named_tf[rank]), ("generic", tf.nn.conv_transpose)):
        call = functools.partial(fn, dy, w, tf_shape, strides, tf_padding, dilations=dilations)
        out = _tf_or_refused(tf, call, may_refuse=max(case.dilations) > 1)
        if out is not None:
            expected[name] = np.asarray(out)[crop]
        elif "named" in expected:  # both refused: the same finite differences
            expected[name] = expected["named"]
        else:  # refused: the input gradient of xconv's (peer-checked) forward
            expected[name] = _fd_input_grad(_xconv_forward(case), x, w, dy)
    named = {1: xconv.conv1d_transpose, 2: xconv.conv2d_transpose, 3: xconv.conv3d_transpose}
    for c in _channels_first_too(case):
        args = (
            _layout_shape(c, case.x_shape),
            list(case.strides),
            encode_padding(c, "tf" if padding == "explicit" else "string"),
        )
        kwargs = {"data_format": c.data_format(), "dilations": list(case.dilations)}
        _close(named[rank](c.to_layout(dy), w, *args, **kwargs), c.to_layout(expected["named"]))
        out = xconv.conv_transpose(c.to_layout(dy), w, *args, **kwargs)
        _close(out, c.to_layout(expected["generic"]))


def tf_backprop(
    tf: ModuleType, x: np.ndarray, w: np.ndarray, dy: np.ndarray, case: Case
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """TF's raw 2-d / 3-d backprop ops (None for each one TF refuses)."""
    tf_padding, tf_shape, crop = _prepad(case)
    common: dict[str, Any] = {
        "strides": _tf_full(case.strides),
        "dilations": _tf_full(case.dilations),
    }
    if case.rank == 2:
        explicit = not isinstance(tf_padding, str)
        common["padding"] = "EXPLICIT" if explicit else tf_padding
        common["explicit_paddings"] = [p for pair in tf_padding for p in pair] if explicit else []
        bpi, bpf = tf.raw_ops.Conv2DBackpropInput, tf.raw_ops.Conv2DBackpropFilter
    else:
        common["padding"] = tf_padding
        bpi, bpf = tf.raw_ops.Conv3DBackpropInputV2, tf.raw_ops.Conv3DBackpropFilterV2
    x_tf = np.pad(x, [(0, 0), *case.pads(), (0, 0)]) if tf_shape != x.shape else x
    may_refuse = max(case.dilations) > 1
    dx = _tf_or_refused(
        tf,
        lambda: bpi(input_sizes=tf_shape, filter=w, out_backprop=dy, **common),
        may_refuse=may_refuse,
    )
    dw = _tf_or_refused(
        tf,
        lambda: bpf(input=x_tf, filter_sizes=w.shape, out_backprop=dy, **common),
        may_refuse=may_refuse,
    )
    return (None if dx is None else np.asarray(dx)[crop]), (None if dw is None else np.asarray(dw))


BACKPROP_GRID = [
    pytest.param(rank, padding, sd, id=f"{rank}-{padding}-s{sd[0]}d{sd[1]}")
    for rank, padding, sd in itertools.product([2, 3], PADDINGS, GRAD_SD)
]


@pytest.mark.parametrize(("rank", "padding", "sd"), BACKPROP_GRID)
def test_conv_backprop_vs_tensorflow(
    tf: ModuleType, rng: np.random.Generator, rank: int, padding: str, sd: tuple[int, int]
) -> None:
    """``conv[2d]_backprop_input/filter`` vs ``Conv2DBackprop*`` / ``Conv3DBackprop*V2``."""
    case = _grad_case(rank, padding, sd)
    x, w = make_inputs(rng, case)
    dy = random_array(rng, _out_shape(case), "float64")
    dx, dw = tf_backprop(tf, x, w, dy, case)
    if dx is None:
        dx = _fd_input_grad(_xconv_forward(case), x, w, dy)
    if dw is None:
        dw = _fd_filter_grad(_xconv_forward(case), x, w, dy)
    pairs = [(xconv.conv_backprop_input, xconv.conv_backprop_filter)]
    if rank == 2:
        pairs.append((xconv.conv2d_backprop_input, xconv.conv2d_backprop_filter))
    for c in _channels_first_too(case):
        args = (
            list(case.strides),
            encode_padding(c, "tf" if padding == "explicit" else "string"),
            c.data_format(),
            list(case.dilations),
        )
        for backprop_input, backprop_filter in pairs:
            _close(
                backprop_input(list(c.to_layout(x).shape), w, c.to_layout(dy), *args),
                c.to_layout(dx),
            )
            _close(backprop_filter(c.to_layout(x), list(w.shape), c.to_layout(dy), *args), dw)


def _depthwise_case(s: int, d: int, multiplier: int, padding: Any) -> Case:
    """A 3-channel depthwise case with a 3x2 kernel (the oracle's depthwise geometry)."""
    c = 3
    return Case(
        n=2,
        in_sizes=(9, 8),
        c=c,
        k=(3, 2),
        cg=1,
        o=c * multiplier,
        strides=(s, s),
        dilations=(d, d),
        padding=padding,
    )


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("sd", GRAD_SD, ids=lambda sd: f"s{sd[0]}d{sd[1]}")
@pytest.mark.parametrize("padding", PADDINGS)
def test_depthwise_backprop_vs_tensorflow(
    tf: ModuleType, rng: np.random.Generator, padding: str, sd: tuple[int, int], multiplier: int
) -> None:
    """``depthwise_conv2d_backprop_input/filter`` vs ``DepthwiseConv2dNativeBackprop*``.

    TF's depthwise forward kernel refuses dilations > 1, and its backprop kernels accept
    the attribute but ignore it (TF 2.21: with SAME the result equals dilation 1's; with
    VALID / explicit pads the undilated out_backprop shape check fails). So TF's forward
    kernel is asked whether it handles the case, and where it does not the expected
    gradients are finite differences of ``xconv.depthwise_conv2d``.
    """
    s, d = sd
    pads = ((1, 2), (2, 0))
    case = _depthwise_case(s, d, multiplier, pads if padding == "explicit" else padding)
    c = case.c
    x = random_array(rng, case.x_shape, "float64")
    dw = random_array(rng, (3, 2, c, multiplier), "float64")
    dy = random_array(rng, _out_shape(case), "float64")
    explicit = padding == "explicit"
    tf_args: dict[str, Any] = {
        "strides": [1, s, s, 1],
        "padding": "EXPLICIT" if explicit else padding,
        "explicit_paddings": [0, 0, *pads[0], *pads[1], 0, 0] if explicit else [],
        "dilations": [1, d, d, 1],
    }
    raw = tf.raw_ops
    supported = _tf_or_refused(
        tf, lambda: raw.DepthwiseConv2dNative(input=x, filter=dw, **tf_args), may_refuse=d > 1
    )
    xconv_padding = [[0, 0], *map(list, pads), [0, 0]] if explicit else padding
    if supported is not None:
        expected_dx = np.asarray(
            raw.DepthwiseConv2dNativeBackpropInput(
                input_sizes=x.shape, filter=dw, out_backprop=dy, **tf_args
            )
        )
        expected_dw = np.asarray(
            raw.DepthwiseConv2dNativeBackpropFilter(
                input=x, filter_sizes=dw.shape, out_backprop=dy, **tf_args
            )
        )
    else:

        def forward(a: np.ndarray, f: np.ndarray) -> Any:
            return xconv.depthwise_conv2d(a, f, [1, s, s, 1], xconv_padding, dilations=[d, d])

        expected_dx = _fd_input_grad(forward, x, dw, dy)
        expected_dw = _fd_filter_grad(forward, x, dw, dy)
    for cs in _channels_first_too(case):
        args = (
            [1, 1, s, s] if cs.channels_first else [1, s, s, 1],
            encode_padding(cs, "tf" if explicit else "string"),
            cs.data_format(),
            [d, d],
        )
        dx = xconv.depthwise_conv2d_backprop_input(
            _layout_shape(cs, x.shape), dw, cs.to_layout(dy), *args
        )
        _close(dx, cs.to_layout(expected_dx))
        got_dw = xconv.depthwise_conv2d_backprop_filter(
            cs.to_layout(x), list(dw.shape), cs.to_layout(dy), *args
        )
        _close(got_dw, expected_dw)


def _tape_grads(
    tf: ModuleType, forward: Callable[[Any, Any], Any], x: np.ndarray, w: np.ndarray, dy: np.ndarray
) -> list[np.ndarray]:
    """``tf.GradientTape`` gradients of ``sum(dy * forward(x, w))`` w.r.t. x and w."""
    xt, wt = tf.constant(x), tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch([xt, wt])
        loss = tf.reduce_sum(forward(xt, wt) * dy)
    return [np.asarray(g) for g in tape.gradient(loss, [xt, wt])]


@pytest.mark.parametrize(
    ("padding", "s", "d", "groups"),
    [
        pytest.param("SAME", 2, 1, 1, id="SAME-s2"),
        pytest.param("VALID", 3, 1, 1, id="VALID-s3"),
        pytest.param("explicit", 1, 1, 1, id="explicit-s1"),
        pytest.param("SAME", 1, 2, 1, id="SAME-d2-refused"),
        pytest.param("explicit", 2, 1, 2, id="explicit-s2-g2-refused"),
    ],
)
def test_gradients_vs_tensorflow_tape(
    tf: ModuleType, rng: np.random.Generator, padding: str, s: int, d: int, groups: int
) -> None:
    """xconv's gradients vs ``tf.GradientTape`` through ``tf.nn.conv2d``.

    TF's CPU gradient kernels refuse dilated and grouped convolutions; those cases are
    compared with finite differences of ``xconv.conv2d`` instead.
    """
    case = _grad_case(2, padding, (s, d), groups)
    x, w = make_inputs(rng, case)
    dy = random_array(rng, _out_shape(case), "float64")
    tf_padding, _, _ = _prepad(case)
    grads = _tf_or_refused(
        tf,
        lambda: _tape_grads(
            tf, lambda a, b: tf.nn.conv2d(a, b, s, tf_padding, dilations=d), x, w, dy
        ),
        may_refuse=d > 1 or groups > 1,
    )
    if grads is None:
        forward = _xconv_forward(case)
        grads = [_fd_input_grad(forward, x, w, dy), _fd_filter_grad(forward, x, w, dy)]
    padding_arg = encode_padding(case, "tf" if padding == "explicit" else "string")
    _close(xconv.conv2d_backprop_input(x.shape, w, dy, s, padding_arg, dilations=d), grads[0])
    _close(xconv.conv2d_backprop_filter(x, w.shape, dy, s, padding_arg, dilations=d), grads[1])


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("kind", ["conv2d", "depthwise"])
def test_dilated_gradients_vs_tensorflow_space_to_batch(
    tf: ModuleType, rng: np.random.Generator, kind: str, padding: str
) -> None:
    """TF's own gradients of dilated convolutions, which its backprop kernels refuse.

    ``tf.nn.atrous_conv2d`` and ``tf.nn.depthwise_conv2d`` implement dilations (stride 1
    only) with ``space_to_batch`` around an undilated kernel, so their tape gradients
    avoid the backprop kernels that refuse (or ignore) dilations.
    """
    d = 2
    depthwise = kind == "depthwise"
    case = Case(
        n=2,
        in_sizes=(11, 9),
        c=2,
        k=(3, 2),
        cg=1 if depthwise else 2,
        o=4 if depthwise else 3,
        strides=(1, 1),
        dilations=(d, d),
        padding=padding,
    )
    x = random_array(rng, case.x_shape, "float64")
    dy = random_array(rng, _out_shape(case), "float64")
    if depthwise:
        w = random_array(rng, (3, 2, 2, 2), "float64")

        def forward(a: Any, b: Any) -> Any:
            return tf.nn.depthwise_conv2d(a, b, [1, 1, 1, 1], padding, dilations=[d, d])

        bpi = xconv.depthwise_conv2d_backprop_input
        bpf = xconv.depthwise_conv2d_backprop_filter
    else:
        w = random_array(rng, case.w_shape, "float64")

        def forward(a: Any, b: Any) -> Any:
            return tf.nn.atrous_conv2d(a, b, d, padding)

        bpi, bpf = xconv.conv2d_backprop_input, xconv.conv2d_backprop_filter
    dx, dw = _tape_grads(tf, forward, x, w, dy)
    _close(bpi(list(x.shape), w, dy, 1, padding, dilations=d), dx)
    _close(bpf(x, list(w.shape), dy, 1, padding, dilations=d), dw)


@pytest.mark.parametrize("rank", [2, 3])
def test_finite_differences_match_tensorflow(
    tf: ModuleType, rng: np.random.Generator, rank: int
) -> None:
    """The fallback for refused cases agrees with TF's kernels where they compute."""
    case = _grad_case(rank, "explicit", (2, 1))
    x, w = make_inputs(rng, case)
    dy = random_array(rng, _out_shape(case), "float64")
    dx, dw = tf_backprop(tf, x, w, dy, case)
    assert dx is not None
    assert dw is not None
    forward = _xconv_forward(case)
    _close(_fd_input_grad(forward, x, w, dy), dx)
    _close(_fd_filter_grad(forward, x, w, dy), dw)


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
    case = _depthwise_case(s, d, multiplier, "SAME")
    c = case.c
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
