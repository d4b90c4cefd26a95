"""``method="native"`` for the forward convolution and both gradients, per backend.

Where the library has a convolution of its own (torch, JAX, and CuPy with cuDNN through
cudnn-frontend), the forward convolution, the input gradient (also as the transposed
convolution) and the filter gradient by ``method="native"`` must agree with the naive
float64 reference, in both layouts, for asymmetric SAME pads, strides, dilations and
groups. On CuPy the gradients must be cuDNN's own ``dgrad`` and ``wgrad`` (graphs of
those operations are built). Backends without a native convolution skip.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

import xconv
from _helpers import assert_close, backend_dtype, make
from _reference import reference_conv, same_pads
from _reference_grad import reference_filter_grad, reference_input_grad
from xconv import _backend

#: (name, canonical input shape, filter shape, strides, dilations, padding)
CASES = [
    ("2d-same-s2", (2, 9, 8, 4), (3, 3, 4, 6), (2, 2), (1, 1), "SAME"),
    ("2d-groups-dilated", (1, 10, 9, 6), (3, 3, 3, 4), (1, 1), (2, 2), "SAME"),
    ("1d-valid-s3", (2, 17, 3), (4, 3, 2), (3,), (1,), "VALID"),
    ("3d-same", (1, 5, 6, 4, 2), (2, 3, 2, 2, 4), (1, 2, 1), (1, 1, 1), "SAME"),
]
TOL = {"float64": 1e-10, "float32": 1e-4, "float16": 1e-2}


def _pads(xs: tuple[int, ...], ws: tuple[int, ...], s: Any, d: Any, padding: str) -> Any:
    rank = len(ws) - 2
    if padding == "VALID":
        return ((0, 0),) * rank
    return same_pads(xs[1:-1], ws[:rank], s, d)


def _native_or_skip(xp: ModuleType, rank: int, dtype: Any) -> None:
    reason = _backend.native_unsupported(xp, rank, dtype)
    if reason is not None:
        pytest.skip(reason)


@pytest.mark.parametrize("channels_first", [False, True], ids=["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64", "float16"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_native_forward_and_gradients(
    xp: ModuleType, device: Any, case: Any, dtype_name: str, channels_first: bool
) -> None:
    _, xs, ws, s, d, padding = case
    rank = len(ws) - 2
    dtype = backend_dtype(xp, dtype_name)
    if dtype is None:
        pytest.skip(f"no {dtype_name}")
    _native_or_skip(xp, rank, dtype)
    rng = np.random.default_rng(17)
    pads = _pads(xs, ws, s, d, padding)
    x = rng.standard_normal(xs).astype(dtype_name)
    w = rng.standard_normal(ws).astype(dtype_name)
    y_ref = reference_conv(x, w, s, d, pads)
    dy = rng.standard_normal(y_ref.shape).astype(dtype_name)
    dx_ref = reference_input_grad(xs, w, dy, s, d, pads)
    dw_ref = reference_filter_grad(x, ws, dy, s, d, pads)
    to_cf = (0, rank + 1, *range(1, rank + 1))
    fmt = {1: "NWC", 2: "NHWC", 3: "NDHWC"}[rank]
    if channels_first:
        fmt = {1: "NCW", 2: "NCHW", 3: "NCDHW"}[rank]
        x, dy = x.transpose(to_cf), dy.transpose(to_cf)
        y_ref, dx_ref = y_ref.transpose(to_cf), dx_ref.transpose(to_cf)
    shape = x.shape
    kw: dict[str, Any] = {"strides": s, "padding": padding, "data_format": fmt, "dilations": d}
    tol = TOL[dtype_name]
    xb, wb, dyb = make(xp, x, device), make(xp, w, device), make(xp, dy, device)
    if _backend.library(xp) == "cupy":
        _backend.cudnn.clear_cache()

    y = xconv.convolution(xb, wb, method="native", **kw)
    assert_close(xp, y, y_ref, dtype=dtype, rtol=tol)
    dx = xconv.conv_backprop_input(shape, wb, dyb, method="native", **kw)
    assert_close(xp, dx, dx_ref, dtype=dtype, rtol=tol)
    dw = xconv.conv_backprop_filter(xb, ws, dyb, method="native", **kw)
    assert_close(xp, dw, dw_ref, dtype=dtype, rtol=tol)
    # conv_transpose's filters [..., out, in] are the forward's [..., C/g, O]
    t = xconv.conv_transpose(dyb, wb, shape, method="native", **kw)
    assert_close(xp, t, dx_ref, dtype=dtype, rtol=tol)

    if _backend.library(xp) == "cupy":
        graphs = _backend.cudnn._GRAPHS.items()
        ops = {key[0][0] for key, built in graphs if not isinstance(built, str)}
        assert {"fprop", "dgrad", "wgrad"} <= ops, f"cuDNN ran {sorted(ops)}"
