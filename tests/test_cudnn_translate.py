"""The pure-Python half of the cuDNN path: convolutions described for cuDNN's graph API.

Checked without cupy or cudnn: hand-derived descriptions, the stride invariant (the
dims and strides describe exactly the C-contiguous memory handed over), and a NumPy
emulation of cuDNN's fprop / dgrad / wgrad that reads and writes memory only through
the described dims, strides and paddings, run between the module's own array steps
and compared with the naive reference.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from _cudnn_emulator import cudnn_out, emulate_dgrad, emulate_fprop, emulate_wgrad, fwd_shape
from _reference import reference_conv, same_pads
from _reference_grad import reference_filter_grad, reference_input_grad
from xconv._backend import cudnn as _cudnn
from xconv._backend.cudnn import CudnnConv

NDArray = npt.NDArray[Any]
Pairs = tuple[tuple[int, int], ...]


# --- Hand-derived descriptions ---------------------------------------------------------------


def test_dense_2d_krsc() -> None:
    d = _cudnn.describe_fprop("float16", (2, 5, 6, 4), (3, 3, 4, 8), (1, 1), (1, 1), ((1, 1),) * 2)
    assert d.operation == "fprop"
    assert (d.dtype, d.compute_dtype, d.rank, d.groups) == ("float16", "float32", 2, 1)
    assert d.x_dim == (2, 4, 5, 6)
    assert d.x_stride == (120, 1, 24, 4)
    assert d.w_dim == (8, 4, 3, 3)
    assert d.w_memory_shape == (8, 3, 3, 4)
    assert d.w_stride == (36, 1, 12, 4)
    assert d.y_dim == (2, 8, 5, 6)
    assert d.y_stride == (240, 1, 48, 8)
    assert d.y_shape == (2, 5, 6, 8)
    assert (d.pre_padding, d.post_padding) == ((1, 1), (1, 1))
    assert (d.stride, d.dilation) == ((1, 1), (1, 1))
    assert d.x_pad == ((0, 0), (0, 0))
    assert d.symmetric


def test_filters_in_place() -> None:
    d = _cudnn.describe_fprop(
        "float32",
        (1, 5, 5, 4),
        (3, 3, 4, 8),
        (1, 1),
        (1, 1),
        ((0, 0),) * 2,
        filter_layout="in_place",
    )
    # (*k, C/g, O) = (3, 3, 4, 8) row-major strides (96, 32, 8, 1), read as (O, C/g, R, S)
    assert d.w_dim == (8, 4, 3, 3)
    assert d.w_stride == (1, 8, 96, 32)
    assert d.w_memory_shape == (3, 3, 4, 8)
    assert d.y_dim == (1, 8, 3, 3)


def test_1d_is_2d_of_unit_height() -> None:
    d = _cudnn.describe_fprop("float32", (2, 10, 3), (4, 3, 5), (2,), (1,), ((0, 0),))
    assert d.rank == 1
    assert d.x_dim == (2, 3, 1, 10)
    assert d.x_stride == (30, 1, 30, 3)
    assert d.w_dim == (5, 3, 1, 4)
    assert d.y_dim == (2, 5, 1, 4)
    assert d.y_shape == (2, 4, 5)
    assert (d.stride, d.dilation) == ((1, 2), (1, 1))
    assert (d.pre_padding, d.post_padding) == ((0, 0), (0, 0))


def test_3d_dims_and_float64_compute() -> None:
    d = _cudnn.describe_fprop(
        "float64", (2, 4, 5, 6, 3), (3, 3, 3, 3, 7), (1, 2, 1), (2, 1, 1), ((2, 2), (1, 1), (0, 0))
    )
    assert d.compute_dtype == "float64"
    assert d.x_dim == (2, 3, 4, 5, 6)
    assert d.x_stride == (360, 1, 90, 18, 3)
    assert d.w_dim == (7, 3, 3, 3, 3)
    assert d.y_dim == (2, 7, 4, 3, 4)
    assert (d.stride, d.dilation) == ((1, 2, 1), (2, 1, 1))


def test_groups_and_depthwise() -> None:
    grouped = _cudnn.describe_fprop(
        "float32", (1, 7, 7, 6), (3, 3, 2, 9), (1, 1), (1, 1), ((1, 1),) * 2
    )
    assert grouped.groups == 3
    assert grouped.w_dim == (9, 2, 3, 3)
    depthwise = _cudnn.describe_fprop(
        "bfloat16", (1, 7, 7, 6), (3, 3, 1, 12), (1, 1), (1, 1), ((1, 1),) * 2
    )
    assert (depthwise.groups, depthwise.compute_dtype) == (6, "float32")
    assert depthwise.w_dim == (12, 1, 3, 3)
    assert depthwise.w_stride == (9, 1, 3, 1)


def test_same_stride_2_pads_first_or_natively() -> None:
    # TF SAME, 8 -> 4 with k=3, s=2: pads (0, 1); the hi pad is read by the last window.
    pad = _cudnn.describe_fprop(
        "float32", (1, 8, 8, 2), (3, 3, 2, 2), (2, 2), (1, 1), ((0, 1),) * 2
    )
    assert (pad.pre_padding, pad.post_padding) == ((0, 0), (0, 0))
    assert pad.x_pad == ((0, 1), (0, 1))
    assert pad.x_dim == (1, 2, 9, 9)
    assert pad.x_memory_shape == (1, 9, 9, 2)
    assert pad.y_dim == (1, 2, 4, 4)
    native = _cudnn.describe_fprop(
        "float32", (1, 8, 8, 2), (3, 3, 2, 2), (2, 2), (1, 1), ((0, 1),) * 2, asymmetric="native"
    )
    assert (native.pre_padding, native.post_padding) == ((0, 0), (1, 1))
    assert native.x_pad == ((0, 0), (0, 0))
    assert not native.symmetric
    # the 7x7/2 stem at 224: SAME pads (2, 3)
    stem = _cudnn.describe_fprop(
        "float16", (1, 224, 224, 3), (7, 7, 3, 64), (2, 2), (1, 1), ((2, 3),) * 2
    )
    assert (stem.pre_padding, stem.x_pad) == ((2, 2), ((0, 1), (0, 1)))
    assert stem.y_dim == (1, 64, 112, 112)


def test_unread_hi_pad_is_trimmed() -> None:
    # 9 -> 5 with k=3, s=2, pads (1, 2): the last window ends on the first hi pad.
    d = _cudnn.describe_fprop("float32", (1, 9, 2), (3, 2, 2), (2,), (1,), ((1, 2),))
    assert (d.pre_padding, d.post_padding) == ((0, 1), (0, 1))
    assert d.x_pad == ((0, 0),)
    assert d.y_dim == (1, 2, 1, 5)
    # lo larger than any useful hi: the lo excess is the explicit extension
    e = _cudnn.describe_fprop("float32", (1, 6, 2), (1, 2, 2), (1,), (1,), ((3, 0),))
    assert (e.pre_padding, e.post_padding, e.x_pad) == ((0, 0), (0, 0), ((3, 0),))


def test_dgrad_and_wgrad_descriptions() -> None:
    x, w, dy = (2, 8, 8, 4), (3, 3, 4, 6), (2, 4, 4, 6)
    dg = _cudnn.describe_dgrad("float32", x, w, dy, (2, 2), (1, 1), ((0, 1),) * 2)
    assert dg.operation == "dgrad"
    assert dg.x_dim == (2, 4, 9, 9)  # the gradient of the extended input, cropped after
    assert dg.x_pad == ((0, 1), (0, 1))
    assert dg.y_dim == (2, 6, 4, 4)
    wg = _cudnn.describe_wgrad("float32", x, w, dy, (2, 2), (1, 1), ((1, 1),) * 2)
    assert wg.operation == "wgrad"
    assert wg.w_dim == (6, 4, 3, 3)
    assert wg.x_pad == ((0, 0), (0, 0))
    # TF's backprop-input takes every input size whose forward output is dy's
    tall = _cudnn.describe_dgrad("float32", (1, 9, 2), (3, 2, 2), (1, 4, 2), (2,), (1,), ((0, 0),))
    assert tall.x_dim == (1, 2, 1, 9)
    assert tall.y_dim == (1, 2, 1, 4)


# --- The strides describe exactly the memory handed over -------------------------------------


def _offsets(dim: Sequence[int], stride: Sequence[int]) -> NDArray:
    idx = np.indices(tuple(dim)).reshape(len(dim), -1)
    return np.asarray(stride).reshape(-1, 1).__mul__(idx).sum(axis=0)


def _check_memory(
    dim: tuple[int, ...], stride: tuple[int, ...], memory: tuple[int, ...], perm: tuple[int, ...]
) -> None:
    """Index ``i`` of the dims is memory index ``i[perm]``: the offsets are its flat index."""
    idx = np.indices(dim).reshape(len(dim), -1)
    flat = np.ravel_multi_index(tuple(idx[list(perm)]), memory)
    np.testing.assert_array_equal(_offsets(dim, stride), flat)
    assert sorted(flat.tolist()) == list(range(int(np.prod(memory))))


SPECS: list[
    tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...], Pairs]
] = [
    # (name, x_shape, w_shape, strides, dilations, pads)
    ("1d", (2, 11, 3), (3, 3, 4), (1,), (1,), ((1, 1),)),
    ("1d-s2-d2-asym", (2, 12, 4), (3, 2, 6), (2,), (2,), ((1, 3),)),
    ("2d", (2, 6, 7, 4), (3, 3, 4, 5), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ("2d-groups", (1, 7, 6, 6), (3, 2, 2, 9), (1, 2), (1, 1), ((1, 1), (0, 1))),
    ("2d-depthwise", (2, 6, 6, 3), (3, 3, 1, 6), (2, 2), (1, 1), ((0, 1), (0, 1))),
    ("2d-dilated", (1, 9, 8, 2), (3, 2, 2, 3), (1, 1), (2, 3), ((2, 2), (0, 3))),
    ("2d-pointwise-s2", (2, 7, 7, 4), (1, 1, 4, 3), (2, 2), (1, 1), ((0, 0), (0, 0))),
    ("2d-big-lo", (1, 5, 6, 2), (2, 2, 2, 2), (1, 3), (1, 1), ((3, 0), (4, 1))),
    ("2d-s-and-d", (1, 10, 9, 2), (3, 3, 2, 4), (2, 3), (2, 2), ((1, 2), (2, 0))),
    ("3d", (1, 5, 4, 6, 2), (3, 2, 3, 2, 3), (1, 1, 2), (1, 1, 1), ((1, 1), (0, 1), (1, 2))),
    ("3d-groups", (2, 4, 5, 4, 4), (2, 3, 2, 2, 4), (2, 1, 1), (1, 2, 1), ((0, 1), (2, 2), (0, 0))),
]
SPEC_IDS = [s[0] for s in SPECS]
MODES = [("pad", "krsc"), ("native", "krsc"), ("pad", "in_place"), ("native", "in_place")]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@pytest.mark.parametrize(("asymmetric", "layout"), MODES)
def test_strides_describe_the_memory(spec: Any, asymmetric: str, layout: str) -> None:
    _, x, w, s, d, pads = spec
    dy = fwd_shape(x, w, s, d, pads)
    for op in ("fprop", "dgrad", "wgrad"):
        desc = _cudnn.describe(
            op, "float32", x, w, s, d, pads, dy, asymmetric=asymmetric, filter_layout=layout
        )  # type: ignore[arg-type]
        lifted = desc.rank == 1
        xm = desc.x_memory_shape
        ym = desc.y_shape
        if lifted:
            xm = (xm[0], 1, *xm[1:])
            ym = (ym[0], 1, *ym[1:])
        r = len(desc.x_dim) - 2
        nc_last = (0, *range(2, r + 2), 1)  # (N, C, *s) index -> (N, *s, C) memory
        _check_memory(desc.x_dim, desc.x_stride, xm, nc_last)
        _check_memory(desc.y_dim, desc.y_stride, ym, nc_last)
        if layout == "krsc":
            wm = (desc.w_dim[0], *desc.w_dim[2:], desc.w_dim[1])
            _check_memory(desc.w_dim, desc.w_stride, wm, nc_last)
        else:
            wm = (*desc.w_dim[2:], desc.w_dim[1], desc.w_dim[0])
            _check_memory(desc.w_dim, desc.w_stride, wm, (*range(2, r + 2), 1, 0))
            assert wm == ((1, *desc.w_shape) if lifted else desc.w_shape)


def test_check_memory_catches_a_wrong_stride() -> None:
    with pytest.raises(AssertionError):
        _check_memory((2, 3, 4, 5), (60, 1, 15, 4), (2, 4, 5, 3), (0, 2, 3, 1))
    _check_memory((2, 3, 4, 5), (60, 1, 15, 3), (2, 4, 5, 3), (0, 2, 3, 1))


# --- cuDNN emulated on the described memory, against the naive reference ---------------------


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@pytest.mark.parametrize(("asymmetric", "layout"), MODES)
def test_emulated_cudnn_matches_reference(spec: Any, asymmetric: str, layout: str) -> None:
    _, xs, ws, s, d, pads = spec
    rng = np.random.default_rng(abs(hash((xs, ws))) % 2**32)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    dys = fwd_shape(xs, ws, s, d, pads)
    dy = rng.standard_normal(dys)
    opts: dict[str, Any] = {"asymmetric": asymmetric, "filter_layout": layout}

    f = _cudnn.describe_fprop("float64", xs, ws, s, d, pads, **opts)
    y = np.empty(f.y_shape)
    emulate_fprop(_cudnn._x_in(np, x, f), _cudnn._w_in(np, w, f), y, f)
    np.testing.assert_allclose(y, reference_conv(x, w, s, d, pads), rtol=1e-12, atol=1e-12)

    b = _cudnn.describe_dgrad("float64", xs, ws, dys, s, d, pads, **opts)
    dxm = np.full(b.x_memory_shape, np.nan)
    emulate_dgrad(dy, _cudnn._w_in(np, w, b), dxm, b)
    dx = _cudnn._dx_out(np, dxm, b)
    assert dx.shape == xs
    np.testing.assert_allclose(
        dx, reference_input_grad(xs, w, dy, s, d, pads), rtol=1e-12, atol=1e-12
    )

    g = _cudnn.describe_wgrad("float64", xs, ws, dys, s, d, pads, **opts)
    dwm = np.full(g.w_memory_shape, np.nan)
    emulate_wgrad(_cudnn._x_in(np, x, g), dy, dwm, g)
    dw = _cudnn._dw_out(np, dwm, g)
    assert dw.shape == ws
    np.testing.assert_allclose(
        dw, reference_filter_grad(x, ws, dy, s, d, pads), rtol=1e-12, atol=1e-12
    )


def test_emulation_catches_a_wrong_description() -> None:
    """A description with the filter's spatial strides swapped gives a wrong result."""
    xs, ws, s, d, pads = (1, 6, 5, 2), (3, 2, 2, 3), (1, 1), (1, 1), ((1, 1), (0, 1))
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    f = _cudnn.describe_fprop("float64", xs, ws, s, d, pads)
    r, q = f.w_stride[2], f.w_stride[3]
    bad = CudnnConv(**{**f.__dict__, "w_stride": (*f.w_stride[:2], q, r)})
    y = np.empty(f.y_shape)
    emulate_fprop(_cudnn._x_in(np, x, bad), _cudnn._w_in(np, w, bad), y, bad)
    assert not np.allclose(y, reference_conv(x, w, s, d, pads))


@pytest.mark.parametrize("n", [7, 8, 224])
@pytest.mark.parametrize("k", [1, 2, 3, 7])
@pytest.mark.parametrize("st", [1, 2, 3])
def test_tf_same_padding_geometry(n: int, k: int, st: int) -> None:
    """SAME everywhere: cuDNN's output rule on the description gives TF's ceil(n / s)."""
    pads = tuple(same_pads([n], [k], [st], [1]))
    for mode in ("pad", "native"):
        desc = _cudnn.describe_fprop(
            "float32", (1, n, 1), (k, 1, 1), (st,), (1,), pads, asymmetric=mode
        )  # type: ignore[arg-type]
        assert cudnn_out(desc) == (1, -(-n // st))
        assert all(p >= 0 for p in (*desc.pre_padding, *desc.post_padding))
        lo, hi = pads[0]
        assert desc.pre_padding[1] + desc.x_pad[0][0] == lo
        assert desc.post_padding[1] + desc.x_pad[0][1] <= hi


# --- What cuDNN does not take ---------------------------------------------------------------


OK_ARGS: tuple[Any, ...] = ((2, 6, 6, 4), (3, 3, 4, 8), (1, 1), (1, 1), ((1, 1), (1, 1)))


@pytest.mark.parametrize(
    "dtype", ["float16", "bfloat16", "float32", "float64", np.float32, np.dtype("float64")]
)
def test_applies_to_floats(dtype: Any) -> None:
    assert _cudnn.applies("fprop", dtype, *OK_ARGS)
    assert _cudnn.unsupported("fprop", dtype, *OK_ARGS) is None


@pytest.mark.parametrize(
    ("dtype", "word"),
    [
        ("int8", "integer"),
        (np.int32, "integer"),
        ("int64", "integer"),
        ("uint8", "integer"),
        ("bool", "integer"),
        ("complex64", "complex"),
        (np.complex128, "complex"),
    ],
)
def test_not_for_integer_or_complex(dtype: Any, word: str) -> None:
    assert not _cudnn.applies("fprop", dtype, *OK_ARGS)
    reason = _cudnn.unsupported("wgrad", dtype, *OK_ARGS, (2, 6, 6, 8))
    assert reason is not None
    assert word in reason


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (((2, 6, 6, 6, 6, 4), (3, 3, 3, 3, 4, 8), (1,) * 4, (1,) * 4, ((0, 0),) * 4), "not 4"),
        (((2, 6, 4), (3, 3, 4, 8), (1, 1), (1, 1), ((1, 1),) * 2), "rank"),
        (((0, 6, 6, 4), (3, 3, 4, 8), (1, 1), (1, 1), ((1, 1),) * 2), "zero-size"),
        (((2, 6, 6, 4), (3, 3, 4, 0), (1, 1), (1, 1), ((1, 1),) * 2), "zero-size"),
        (((2, 6, 6, 4), (3, 3, 4, 8), (1, 1), (1, 1), ((-1, 1), (1, 1))), "negative"),
        (((2, 6, 6, 5), (3, 3, 2, 8), (1, 1), (1, 1), ((1, 1),) * 2), "multiple"),
        (((2, 6, 6, 4), (3, 3, 2, 7), (1, 1), (1, 1), ((1, 1),) * 2), "groups"),
        (((2, 2, 2, 4), (3, 3, 4, 8), (1, 1), (1, 1), ((0, 0),) * 2), "empty"),
        (((2, 6, 6, 4), (3, 3, 4, 8), (0, 1), (1, 1), ((1, 1),) * 2), "positive"),
        (((2, 6, 6, 4), (3, 3, 4, 8), (1,), (1, 1), ((1, 1),) * 2), "entries"),
        (((2**16, 2**8, 2**8, 1), (1, 1, 1, 1), (1, 1), (1, 1), ((0, 0),) * 2), "32 bits"),
    ],
)
def test_unsupported_shapes(args: tuple[Any, ...], words: str) -> None:
    reason = _cudnn.unsupported("fprop", "float32", *args)
    assert reason is not None
    assert words in reason
    with pytest.raises(ValueError, match="cuDNN does not apply"):
        _cudnn.describe("fprop", "float32", *args)


def test_unsupported_operations_and_gradients() -> None:
    assert "operation" in (_cudnn.unsupported("bprop", "float32", *OK_ARGS) or "")
    assert "lhs" in (_cudnn.unsupported("fprop", "float32", *OK_ARGS, lhs_dilations=(2, 1)) or "")
    assert _cudnn.unsupported("fprop", "float32", *OK_ARGS, lhs_dilations=(1, 1)) is None
    assert "output gradient" in (_cudnn.unsupported("dgrad", "float32", *OK_ARGS) or "")
    assert "forward output" in (
        _cudnn.unsupported("dgrad", "float32", *OK_ARGS, (2, 5, 6, 8)) or ""
    )
    assert _cudnn.unsupported("dgrad", "float32", *OK_ARGS, (2, 6, 6, 8)) is None


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        _cudnn.describe_fprop("float32", *OK_ARGS, asymmetric="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="filter_layout"):
        _cudnn.describe_fprop("float32", *OK_ARGS, filter_layout="kcrs")  # type: ignore[arg-type]


# --- Cache keys ------------------------------------------------------------------------------


def test_cache_key_is_stable_and_exact() -> None:
    a = _cudnn.describe_fprop("float16", *OK_ARGS)
    b = _cudnn.describe_fprop(
        np.dtype("float16"), [2, 6, 6, 4], [3, 3, 4, 8], [1, 1], [1, 1], [(1, 1), (1, 1)]
    )
    assert a == b
    assert a.key == b.key
    assert hash(a.key) == hash(b.key)
    assert all(isinstance(v, (int, str)) for v in _flatten(a.key))
    assert len({a.key: 1, b.key: 2}) == 1
    others = [
        _cudnn.describe_fprop("float32", *OK_ARGS),
        _cudnn.describe_fprop("float16", *OK_ARGS, filter_layout="in_place"),
        _cudnn.describe_fprop("float16", (2, 6, 6, 4), (3, 3, 4, 8), (2, 1), (1, 1), ((1, 1),) * 2),
        _cudnn.describe_fprop("float16", (2, 6, 6, 4), (3, 3, 4, 8), (1, 1), (1, 2), ((1, 1),) * 2),
        _cudnn.describe_fprop(
            "float16", (2, 6, 6, 4), (3, 3, 4, 8), (1, 1), (1, 1), ((1, 1), (0, 2))
        ),
        _cudnn.describe_dgrad("float16", *OK_ARGS[:2], (2, 6, 6, 8), *OK_ARGS[2:]),
        _cudnn.describe_wgrad("float16", *OK_ARGS[:2], (2, 6, 6, 8), *OK_ARGS[2:]),
    ]
    keys = {a.key, *(o.key for o in others)}
    assert len(keys) == 1 + len(others)


def _flatten(v: Any) -> list[Any]:
    if isinstance(v, tuple):
        return [y for item in v for y in _flatten(item)]
    return [v]


# --- No GPU libraries at import or translation time -------------------------------------------


def test_translation_imports_no_gpu_library() -> None:
    code = (
        "import sys\n"
        "from xconv._backend import cudnn as _cudnn\n"
        "d = _cudnn.describe_fprop('float16', (1, 4, 4, 2), (3, 3, 2, 2), (1, 1), (1, 1), ((1, 1),) * 2)\n"
        "_cudnn.applies('fprop', 'float32', (1, 4, 4, 2), (3, 3, 2, 2), (1, 1), (1, 1), ((1, 1),) * 2)\n"
        "assert 'cupy' not in sys.modules and 'cudnn' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy is installed")
def test_without_cupy_the_run_layer_says_so() -> None:
    reason = _cudnn.available()
    assert reason is not None
    assert "cupy" in reason
    desc = _cudnn.describe_fprop("float32", *OK_ARGS)
    x, w = np.zeros(desc.x_shape, np.float32), np.zeros(desc.w_shape, np.float32)
    with pytest.raises(_cudnn.CudnnUnsupported, match="cupy"):
        _cudnn.run_fprop(x, w, desc)


# --- Channels-first callers: their permuted views are read in place -------------------------

CF_SPECS = [s for s in SPECS if s[0] in ("1d", "2d-groups", "2d-dilated", "3d", "2d-pointwise-s2")]


@pytest.mark.parametrize("spec", CF_SPECS, ids=[s[0] for s in CF_SPECS])
def test_channels_first_views_are_read_in_place(spec: Any) -> None:
    _, xs, ws, s, d, pads = spec
    rank = len(ws) - 2
    to_cf = (0, rank + 1, *range(1, rank + 1))
    rng = np.random.default_rng(3)
    w = rng.standard_normal(ws)
    dys = fwd_shape(xs, ws, s, d, pads)
    x_base = rng.standard_normal(tuple(xs[i] for i in to_cf))  # (N, C, *spatial) memory
    dy_base = rng.standard_normal(tuple(dys[i] for i in to_cf))
    x, dy = np.moveaxis(x_base, 1, -1), np.moveaxis(dy_base, 1, -1)  # canonical views
    assert not x.flags.c_contiguous
    strided = {"x_strides": _cudnn.element_strides(x), "y_strides": _cudnn.element_strides(dy)}
    unit = (slice(None), slice(None), None) if rank == 1 else ...  # the lifted unit axis

    f = _cudnn.describe_fprop("float64", xs, ws, s, d, pads, **strided)
    if not any(a or b for a, b in f.x_pad):  # else X is a padded, contiguous copy
        assert f.x_stride != _cudnn.describe_fprop("float64", xs, ws, s, d, pads).x_stride
        assert _cudnn._x_in(np, x, f) is x
        _check_memory(f.x_dim, f.x_stride, x_base[unit].shape, tuple(range(rank + 2 + (rank == 1))))
    y = np.empty(f.y_shape)
    emulate_fprop(
        x_base if _cudnn._x_in(np, x, f) is x else _cudnn._x_in(np, x, f),
        _cudnn._w_in(np, w, f),
        y,
        f,
    )
    np.testing.assert_allclose(y, reference_conv(x, w, s, d, pads), rtol=1e-12, atol=1e-12)

    b = _cudnn.describe_dgrad("float64", xs, ws, dys, s, d, pads, **strided)
    assert _cudnn._y_in(np, dy, b) is dy
    _check_memory(b.y_dim, b.y_stride, dy_base[unit].shape, tuple(range(rank + 2 + (rank == 1))))
    dxm = np.full(b.x_memory_shape, np.nan)
    emulate_dgrad(dy_base, _cudnn._w_in(np, w, b), dxm, b)
    np.testing.assert_allclose(
        _cudnn._dx_out(np, dxm, b),
        reference_input_grad(xs, w, dy, s, d, pads),
        rtol=1e-12,
        atol=1e-12,
    )

    g = _cudnn.describe_wgrad("float64", xs, ws, dys, s, d, pads, **strided)
    xi = _cudnn._x_in(np, x, g)
    dwm = np.full(g.w_memory_shape, np.nan)
    emulate_wgrad(x_base if xi is x else xi, dy_base, dwm, g)
    np.testing.assert_allclose(
        _cudnn._dw_out(np, dwm, g),
        reference_filter_grad(x, ws, dy, s, d, pads),
        rtol=1e-12,
        atol=1e-12,
    )


def test_strides_that_cannot_be_read_mean_a_copy() -> None:
    xs, ws = (3, 5, 5, 2), (3, 3, 2, 4)
    x = np.broadcast_to(np.arange(50.0).reshape(1, 5, 5, 2), xs)  # stride 0 over the batch
    plain = _cudnn.describe_fprop("float64", xs, ws, (1, 1), (1, 1), ((1, 1),) * 2)
    desc = _cudnn.describe_fprop(
        "float64", xs, ws, (1, 1), (1, 1), ((1, 1),) * 2, x_strides=_cudnn.element_strides(x)
    )
    assert desc == plain
    xi = _cudnn._x_in(np, x, desc)
    assert xi is not x
    assert xi.flags.c_contiguous
    np.testing.assert_array_equal(xi, x)
    # a contiguous array described as channels-first is refused, not misread
    cf = _cudnn.describe_fprop(
        "float64", xs, ws, (1, 1), (1, 1), ((1, 1),) * 2, x_strides=(50, 1, 5, 25)
    )
    with pytest.raises(ValueError, match="layout"):
        _cudnn._x_in(np, np.zeros(xs), cf)


def test_unit_axes_do_not_change_the_description() -> None:
    xs, ws = (1, 5, 1, 2), (3, 1, 2, 4)
    plain = _cudnn.describe_fprop("float32", xs, ws, (1, 1), (1, 1), ((1, 1), (0, 0)))
    odd = _cudnn.describe_fprop(
        "float32", xs, ws, (1, 1), (1, 1), ((1, 1), (0, 0)), x_strides=(7, 2, 99, 1)
    )
    assert odd == plain


def test_unaligned_views_are_copied() -> None:
    xs, ws = (2, 5, 5, 2), (3, 3, 2, 4)
    n = int(np.prod(xs))
    flat = np.arange(n + 8, dtype=np.float32)
    start = next(i for i in range(1, 4) if flat[i:].__array_interface__["data"][0] % 16)
    x = flat[start : start + n].reshape(xs)  # C-contiguous, first element not 16-byte aligned
    w = flat[start : start + int(np.prod(ws))].reshape(ws)
    desc = _cudnn.describe_fprop(
        "float32", xs, ws, (1, 1), (1, 1), ((1, 1),) * 2, x_strides=(50, 10, 2, 1)
    )
    xi = _cudnn._x_in(np, x, desc)
    assert xi is not x
    assert xi.__array_interface__["data"][0] % _cudnn.ALIGNMENT == 0
    np.testing.assert_array_equal(xi, x)
    aligned = np.ascontiguousarray(x)
    if aligned.__array_interface__["data"][0] % _cudnn.ALIGNMENT == 0:
        assert _cudnn._x_in(np, aligned, desc) is aligned
    inplace = _cudnn.describe_fprop(
        "float32", xs, ws, (1, 1), (1, 1), ((1, 1),) * 2, filter_layout="in_place"
    )
    wi = _cudnn._w_in(np, w, inplace)
    assert wi is not w
    assert wi.__array_interface__["data"][0] % _cudnn.ALIGNMENT == 0
    np.testing.assert_array_equal(wi, w)
