"""The execution half of the cuDNN path, driven on the CPU through stand-ins.

No cupy and no cudnn are imported: for the length of each test, ``sys.modules`` holds a
NumPy-backed stand-in for ``cupy`` (arrays with ``.device.id`` and ``.data.ptr``) and a
stand-in for cudnn-frontend's graph API whose calls take the names and keywords of
``nvidia-cudnn-frontend`` 1.32's ``cudnn.pygraph`` (``tensor``, ``conv_fprop`` /
``conv_dgrad`` / ``conv_wgrad``, ``validate`` ... ``build_plans``, ``execute``), checks
the order of the calls, and executes a graph by emulating cuDNN on the raw device
pointers it is given (:mod:`_cudnn_emulator`). This checks what the real library can
only check on a GPU: which tensors are declared with which dims, strides and types,
which pointers are bound to them, the stream, the workspace, the TF32 filter and the
graph cache, end to end against the naive reference.
"""

from __future__ import annotations

import ctypes
import enum
import sys
import types
from typing import Any

import numpy as np
import pytest

from _cudnn_emulator import emulate_dgrad, emulate_fprop, emulate_wgrad, fwd_shape
from _reference import reference_conv
from _reference_grad import reference_filter_grad, reference_input_grad
from xconv._backend import cudnn as _cudnn

STREAM = 0x5EED


class DataType(enum.Enum):
    HALF = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT = "float32"
    DOUBLE = "float64"


class HeurMode(enum.Enum):
    A = 0
    B = 1
    FALLBACK = 2


class NumericalNote(enum.Enum):
    TENSOR_CORE = 0
    DOWN_CONVERT_INPUTS = 1
    REDUCED_PRECISION_REDUCTION = 2


class NotSupported(Exception):
    """Stands in for ``cudnn.cudnnGraphNotSupportedError``."""


class DevArray(np.ndarray):
    """A NumPy array that answers like a CuPy one (``.device.id``, ``.data.ptr``)."""

    @property
    def device(self) -> Any:  # type: ignore[override]
        return types.SimpleNamespace(id=0)

    @property
    def data(self) -> Any:  # type: ignore[override]
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])


def _dev(a: Any) -> DevArray:
    return np.asarray(a).view(DevArray)


class Tensor:
    def __init__(
        self, name: str, dim: Any = None, stride: Any = None, data_type: Any = None
    ) -> None:
        self.name, self.dim, self.stride, self.data_type = name, dim, stride, data_type
        self.output = False

    def set_output(self, value: bool) -> Tensor:
        self.output = value
        return self

    def set_dim(self, dim: list[int]) -> Tensor:
        self.dim = list(dim)
        return self

    def set_stride(self, stride: list[int]) -> Tensor:
        self.stride = list(stride)
        return self

    def set_data_type(self, dtype: Any) -> Tensor:
        self.data_type = dtype
        return self


class Graph:
    """Records a convolution graph the way ``cudnn.pygraph`` is called."""

    built = 0
    decline_asymmetric = False
    steps = ("validate", "build_operation_graph", "create_execution_plans")
    #: The ranked plans and their numerical notes: the first one uses TF32.
    plans = (
        frozenset({NumericalNote.TENSOR_CORE, NumericalNote.DOWN_CONVERT_INPUTS}),
        frozenset(),
    )

    def __init__(
        self,
        name: str = "test_graph",
        io_data_type: Any = None,
        intermediate_data_type: Any = None,
        compute_data_type: Any = None,
        handle: Any = None,
        **kwargs: Any,
    ) -> None:
        assert isinstance(io_data_type, DataType)
        assert isinstance(compute_data_type, DataType)
        assert handle is not None
        self.io, self.compute, self.handle = io_data_type, compute_data_type, handle
        self.inputs: list[Tensor] = []
        self.node: dict[str, Any] = {}
        self.done: list[str] = []
        self.deselected: list[Any] = []
        self.selected: int | None = None

    def tensor(
        self,
        dim: Any,
        stride: Any = None,
        data_type: Any = None,
        is_virtual: bool = False,
        name: str = "",
        **kwargs: Any,
    ) -> Tensor:
        assert stride is not None
        assert len(stride) == len(dim)
        assert data_type is self.io
        t = Tensor(name, list(dim), list(stride), data_type)
        self.inputs.append(t)
        return t

    def _conv(
        self,
        op: str,
        a: Tensor,
        b: Tensor,
        name: str = "",
        compute_data_type: Any = None,
        padding: Any = None,
        pre_padding: Any = None,
        post_padding: Any = None,
        stride: Any = None,
        dilation: Any = None,
        convolution_mode: Any = None,
    ) -> Tensor:
        assert not self.node, "one convolution per graph"
        assert padding is None
        assert convolution_mode is None
        assert compute_data_type is self.compute
        self.node = {
            "op": op,
            "a": a,
            "b": b,
            "pre": pre_padding,
            "post": post_padding,
            "stride": stride,
            "dilation": dilation,
        }
        self.node["out"] = Tensor(f"{name}::out")
        return self.node["out"]

    def conv_fprop(self, image: Tensor, weight: Tensor, **kw: Any) -> Tensor:
        return self._conv("fprop", image, weight, **kw)

    def conv_dgrad(self, loss: Tensor, filter: Tensor, **kw: Any) -> Tensor:
        return self._conv("dgrad", loss, filter, **kw)

    def conv_wgrad(self, image: Tensor, loss: Tensor, **kw: Any) -> Tensor:
        return self._conv("wgrad", image, loss, **kw)

    def _step(self, name: str) -> None:
        assert self.done == list(self.steps[: len(self.done)]), self.done
        assert self.steps[len(self.done)] == name, (self.done, name)
        self.done.append(name)

    def validate(self) -> None:
        out = self.node["out"]
        assert out.output
        assert out.dim
        assert out.stride
        assert out.data_type is self.io
        self._step("validate")

    def build_operation_graph(self) -> None:
        self._step("build_operation_graph")

    def create_execution_plans(self, heuristics: list[Any]) -> None:
        assert heuristics == [HeurMode.A, HeurMode.FALLBACK]
        self._step("create_execution_plans")

    def deselect_numeric_notes(self, notes: list[Any]) -> Graph:
        assert self.done[-1] == "create_execution_plans"
        self.deselected.extend(notes)
        return self

    def get_execution_plan_count(self) -> int:
        assert self.done == list(self.steps)
        return len(self.plans)

    def build_plan_at_index(self, index: int) -> Graph:
        assert self.done == list(self.steps)
        if Graph.decline_asymmetric and self.node["pre"] != self.node["post"]:
            raise NotSupported("no engine for asymmetric padding")
        if self.plans[index] & set(self.deselected):
            raise RuntimeError("Deselecting execution plan")
        self.selected = index
        Graph.built += 1
        return self

    def get_workspace_size(self) -> int:
        assert self.selected is not None
        return 96

    def execute(
        self,
        tensor_dict: dict[Tensor, Any],
        workspace: Any = None,
        handle: Any = None,
        **kwargs: Any,
    ) -> None:
        assert self.selected is not None
        assert handle is self.handle
        assert handle.stream == STREAM
        assert type(workspace) is int
        assert workspace != 0
        node = self.node
        roles = {"fprop": ("X", "W", "Y"), "dgrad": ("Y", "W", "X"), "wgrad": ("X", "Y", "W")}[
            node["op"]
        ]
        tensors = dict(zip(roles, (node["a"], node["b"], node["out"])))
        assert set(tensor_dict) == set(tensors.values())
        dtype = np.dtype(self.io.value)
        mem = {r: _memory(tensor_dict[t], t, dtype) for r, t in tensors.items()}
        desc = types.SimpleNamespace(
            x_dim=tensors["X"].dim, x_stride=tensors["X"].stride,
            w_dim=tensors["W"].dim, w_stride=tensors["W"].stride,
            y_dim=tensors["Y"].dim, y_stride=tensors["Y"].stride,
            pre_padding=node["pre"], post_padding=node["post"],
            stride=node["stride"], dilation=node["dilation"],
        )  # fmt: skip
        emulate = {"fprop": emulate_fprop, "dgrad": emulate_dgrad, "wgrad": emulate_wgrad}[
            node["op"]
        ]
        emulate(mem[roles[0]], mem[roles[1]], mem[roles[2]], desc)


def _memory(ptr: Any, t: Tensor, dtype: np.dtype[Any]) -> Any:
    """The elements a tensor's dims and strides span, read at a raw device pointer."""
    assert type(ptr) is int
    span = sum((d - 1) * s for d, s in zip(t.dim, t.stride)) + 1
    raw = (ctypes.c_char * (span * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


class Handle:
    def __init__(self) -> None:
        self.stream: Any = 0


def _fake_cudnn() -> types.ModuleType:
    mod = types.ModuleType("cudnn")
    mod.data_type = DataType  # type: ignore[attr-defined]
    mod.heur_mode = HeurMode  # type: ignore[attr-defined]
    mod.numerical_note = NumericalNote  # type: ignore[attr-defined]
    mod.pygraph = Graph  # type: ignore[attr-defined]
    mod.cudnnGraphNotSupportedError = NotSupported  # type: ignore[attr-defined]
    mod.create_handle = Handle  # type: ignore[attr-defined]
    mod.backend_version = lambda: 91000  # type: ignore[attr-defined]

    def set_stream(handle: Handle, stream: int) -> None:
        assert isinstance(handle, Handle)
        handle.stream = stream

    mod.set_stream = set_stream  # type: ignore[attr-defined]
    return mod


class _Device:
    def __init__(self, device: int = 0) -> None:
        assert device == 0

    def __enter__(self) -> _Device:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _fake_cupy() -> types.ModuleType:
    mod = types.ModuleType("cupy")
    mod.uint8 = np.uint8  # type: ignore[attr-defined]

    def empty(shape: Any, dtype: Any) -> DevArray:
        a = np.empty(shape, dtype)
        if a.dtype.kind == "f":
            a.fill(np.nan)  # memory nobody wrote shows up
        return _dev(a)

    mod.empty = empty  # type: ignore[attr-defined]
    mod.ascontiguousarray = lambda a: _dev(np.ascontiguousarray(a))  # type: ignore[attr-defined]
    mod.pad = lambda a, widths: _dev(np.pad(a, widths))  # type: ignore[attr-defined]
    mod.moveaxis = lambda a, s, d: _dev(np.moveaxis(a, s, d))  # type: ignore[attr-defined]
    mod.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        Device=_Device,
        get_current_stream=lambda: types.SimpleNamespace(ptr=STREAM),
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
    )
    return mod


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    monkeypatch.setitem(sys.modules, "cudnn", _fake_cudnn())
    monkeypatch.setattr(_cudnn, "_HANDLES", {})
    monkeypatch.setattr(_cudnn, "_GRAPHS", type(_cudnn._GRAPHS)())
    monkeypatch.setattr(Graph, "built", 0)
    monkeypatch.setattr(Graph, "decline_asymmetric", False)


SPECS = [
    ("2d-same-s2", (2, 8, 7, 3), (3, 3, 3, 4), (2, 2), (1, 1), ((0, 1), (1, 1))),
    ("1d-dilated", (2, 13, 2), (3, 2, 3), (1,), (2,), ((2, 1),)),
    ("3d-groups", (1, 4, 5, 4, 4), (2, 3, 2, 2, 6), (1, 2, 1), (1, 1, 2), ((0, 1), (1, 1), (2, 2))),
    ("2d-depthwise", (1, 6, 6, 3), (3, 3, 1, 6), (1, 1), (1, 1), ((1, 1), (1, 1))),
]
OPTIONS = [
    {},
    {"asymmetric": "native"},
    {"filter_layout": "in_place"},
]


@pytest.mark.usefixtures("fakes")
@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
@pytest.mark.parametrize("options", OPTIONS, ids=["default", "native", "in_place"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_run_layer_end_to_end(spec: Any, options: dict[str, Any], dtype: str) -> None:
    _, xs, ws, s, d, pads = spec
    rng = np.random.default_rng(7)
    x = _dev(rng.standard_normal(xs).astype(dtype))
    w = _dev(rng.standard_normal(ws).astype(dtype))
    dy = _dev(rng.standard_normal(fwd_shape(xs, ws, s, d, pads)).astype(dtype))
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-4}

    y = _cudnn.conv_forward(x, w, s, d, pads, **options)
    assert y.shape == dy.shape
    assert y.dtype == dtype
    assert y.flags.c_contiguous
    np.testing.assert_allclose(y, reference_conv(x, w, s, d, pads), **tol)

    dx = _cudnn.conv_backprop_input(xs, w, dy, s, d, pads, **options)
    assert dx.shape == xs
    assert dx.flags.c_contiguous
    np.testing.assert_allclose(dx, reference_input_grad(xs, w, dy, s, d, pads), **tol)

    dw = _cudnn.conv_backprop_filter(x, ws, dy, s, d, pads, **options)
    assert dw.shape == ws
    assert dw.flags.c_contiguous
    np.testing.assert_allclose(dw, reference_filter_grad(x, ws, dy, s, d, pads), **tol)
    assert Graph.built == 3

    _cudnn.conv_forward(x, w, s, d, pads, **options)
    assert Graph.built == 3, "a second call builds no graph"


@pytest.mark.usefixtures("fakes")
@pytest.mark.parametrize(("dtype", "allow_tf32", "deselected"), [
    ("float32", False, [NumericalNote.TENSOR_CORE, NumericalNote.DOWN_CONVERT_INPUTS]),
    ("float32", True, []),
    ("float64", False, []),
    ("float16", False, []),
])  # fmt: skip
def test_tf32_is_deselected_for_float32(
    monkeypatch: pytest.MonkeyPatch, dtype: str, allow_tf32: bool, deselected: list[Any]
) -> None:
    graphs: list[Graph] = []
    original = Graph.__init__

    def record(self: Graph, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        graphs.append(self)

    monkeypatch.setattr(Graph, "__init__", record)
    desc = _cudnn.describe_fprop(dtype, (1, 4, 4, 2), (3, 3, 2, 2), (1, 1), (1, 1), ((1, 1),) * 2)
    x = _dev(np.ones(desc.x_shape, dtype))
    w = _dev(np.ones(desc.w_shape, dtype))
    _cudnn.run_fprop(x, w, desc, allow_tf32=allow_tf32)
    assert graphs[-1].deselected == deselected
    assert graphs[-1].selected == (1 if deselected else 0)
    assert graphs[-1].io is DataType(dtype)
    assert graphs[-1].compute is DataType(desc.compute_dtype)


@pytest.mark.usefixtures("fakes")
def test_declined_graph_raises_once_and_is_remembered() -> None:
    Graph.decline_asymmetric = True
    xs, ws, s, d, pads = (1, 8, 8, 2), (3, 3, 2, 2), (2, 2), (1, 1), ((0, 1), (0, 1))
    x = _dev(np.ones(xs))
    w = _dev(np.ones(ws))
    with pytest.raises(_cudnn.CudnnUnsupported, match="asymmetric"):
        _cudnn.conv_forward(x, w, s, d, pads, asymmetric="native")
    with pytest.raises(_cudnn.CudnnUnsupported, match="asymmetric"):
        _cudnn.conv_forward(x, w, s, d, pads, asymmetric="native")
    assert Graph.built == 0
    y = _cudnn.conv_forward(x, w, s, d, pads)  # padded first: symmetric for cuDNN
    np.testing.assert_allclose(y, reference_conv(x, w, s, d, pads))
    assert Graph.built == 1


@pytest.mark.usefixtures("fakes")
def test_wrong_arrays_are_refused() -> None:
    desc = _cudnn.describe_fprop(
        "float32", (1, 4, 4, 2), (3, 3, 2, 2), (1, 1), (1, 1), ((1, 1),) * 2
    )
    x = _dev(np.ones(desc.x_shape, np.float32))
    w = _dev(np.ones(desc.w_shape, np.float32))
    with pytest.raises(ValueError, match="dtype"):
        _cudnn.run_fprop(x.astype(np.float64).view(DevArray), w, desc)
    with pytest.raises(ValueError, match="shape"):
        _cudnn.run_fprop(x[:, :3], w, desc)
    with pytest.raises(ValueError, match="dgrad"):
        _cudnn.run_dgrad(x, w, desc)
    with pytest.raises(TypeError, match="CuPy arrays"):
        _cudnn.run_fprop(np.ones(desc.x_shape, np.float32), w, desc)
    assert _cudnn.available() is None


@pytest.mark.usefixtures("fakes")
@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_channels_first_views_run_in_place(spec: Any) -> None:
    _, xs, ws, s, d, pads = spec
    rank = len(ws) - 2
    to_cf = (0, rank + 1, *range(1, rank + 1))
    rng = np.random.default_rng(11)
    dys = fwd_shape(xs, ws, s, d, pads)
    x = _dev(np.moveaxis(rng.standard_normal(tuple(xs[i] for i in to_cf)), 1, -1))
    dy = _dev(np.moveaxis(rng.standard_normal(tuple(dys[i] for i in to_cf)), 1, -1))
    w = _dev(rng.standard_normal(ws))
    assert not x.flags.c_contiguous

    y = _cudnn.conv_forward(x, w, s, d, pads)
    np.testing.assert_allclose(y, reference_conv(x, w, s, d, pads), rtol=1e-12, atol=1e-12)
    dx = _cudnn.conv_backprop_input(xs, w, dy, s, d, pads)
    np.testing.assert_allclose(
        dx, reference_input_grad(xs, w, dy, s, d, pads), rtol=1e-12, atol=1e-12
    )
    dw = _cudnn.conv_backprop_filter(x, ws, dy, s, d, pads)
    np.testing.assert_allclose(
        dw, reference_filter_grad(x, ws, dy, s, d, pads), rtol=1e-12, atol=1e-12
    )

    # the graphs declared the caller's own layout wherever no padded copy was needed
    declared = {}
    for built in _cudnn._GRAPHS.values():
        assert isinstance(built, _cudnn._Built)
        declared[built.graph.node["op"]] = built
    dgrad = declared["dgrad"]
    dy_stride = dgrad.tensors["Y"].stride
    assert dy_stride[1] > dy_stride[-1], "dy read channels-first, in place"
    fprop = _cudnn.describe_fprop(x.dtype, xs, ws, s, d, pads)
    if not any(a or b for a, b in fprop.x_pad):
        x_stride = declared["fprop"].tensors["X"].stride
        assert x_stride[1] > x_stride[-1], "x read channels-first, in place"


# --- method="native" on CuPy arrays, through the public functions ---------------------------
#
# The stand-in arrays are NumPy arrays: the namespace is array-api-compat's NumPy one, and
# the backend's native layer is told that it is CuPy's (its ``capabilities`` record says
# so). The core then runs cuDNN (the stand-in) for ``method="native"``, exactly as it
# would for CuPy arrays, and the results are compared with xconv's own ``gemm``.


@pytest.fixture
def cupy_native(fakes: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the native layer see array-api-compat's NumPy namespace as CuPy's."""
    import dataclasses

    import array_api_compat.numpy as xnp

    from xconv._backend import libraries, native

    caps = dataclasses.replace(libraries.capabilities(xnp), library="cupy", native_conv=True)
    real = native.capabilities
    monkeypatch.setattr(native, "capabilities", lambda xp: caps if xp is xnp else real(xp))
    # The core's own temporaries (a reflect-padded input) are plain NumPy arrays here.
    forward = _cudnn.conv_forward
    monkeypatch.setattr(
        _cudnn, "conv_forward", lambda x, w, *a, **k: forward(_dev(x), _dev(w), *a, **k)
    )
    native.cudnn_unavailable.cache_clear()
    yield xnp
    native.cudnn_unavailable.cache_clear()


def _ops() -> list[str]:
    """The cuDNN operations whose graphs are cached now."""
    return sorted(b.graph.node["op"] for b in _cudnn._GRAPHS.values() if not isinstance(b, str))


WIRED = [
    # (name, data_format, input shape, filters shape, strides, padding, dilations)
    ("2d-same-s2", "NHWC", (2, 9, 8, 4), (3, 3, 4, 6), 2, "SAME", 1),
    ("2d-nchw-explicit", "NCHW", (2, 4, 7, 7), (3, 2, 4, 5), 1, [(0, 0), (0, 0), (1, 2), (0, 1)], 1),
    ("2d-groups-dilated", "NHWC", (1, 10, 9, 6), (3, 3, 3, 4), 1, "SAME", 2),
    ("1d-valid-s3", "NWC", (2, 17, 3), (4, 3, 2), 3, "VALID", 1),
    ("3d-same", "NCDHW", (1, 2, 5, 6, 4), (2, 3, 2, 2, 4), (1, 2, 1), "SAME", 1),
]  # fmt: skip


@pytest.mark.parametrize("case", WIRED, ids=[c[0] for c in WIRED])
def test_native_on_cupy_runs_cudnn_forward_and_gradients(cupy_native: Any, case: Any) -> None:
    import xconv

    _, fmt, xs, ws, s, padding, d = case
    rng = np.random.default_rng(5)
    x = _dev(rng.standard_normal(xs))
    w = _dev(rng.standard_normal(ws))
    kw = {"strides": s, "padding": padding, "data_format": fmt, "dilations": d}
    want = xconv.convolution(np.asarray(x), np.asarray(w), method="gemm", **kw)
    y = xconv.convolution(x, w, method="native", **kw)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    assert _ops() == ["fprop"]

    dy = _dev(rng.standard_normal(want.shape))
    rank = len(ws) - 2
    dx_want = xconv.conv_backprop_input(xs, np.asarray(w), np.asarray(dy), method="gemm", **kw)
    dx = xconv.conv_backprop_input(xs, w, dy, method="native", **kw)
    assert dx.shape == xs
    np.testing.assert_allclose(dx, dx_want, rtol=1e-12, atol=1e-12)
    dw_want = xconv.conv_backprop_filter(np.asarray(x), ws, np.asarray(dy), method="gemm", **kw)
    dw = xconv.conv_backprop_filter(x, ws, dy, method="native", **kw)
    assert dw.shape == ws
    np.testing.assert_allclose(dw, dw_want, rtol=1e-12, atol=1e-12)
    assert _ops() == ["dgrad", "fprop", "wgrad"], "the gradients are cuDNN's own"
    assert rank in (1, 2, 3)


def test_native_on_cupy_keeps_half_precision(cupy_native: Any) -> None:
    import xconv

    graphs: list[Graph] = []
    original = Graph.__init__

    def record(self: Graph, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        graphs.append(self)

    rng = np.random.default_rng(3)
    x = _dev(rng.standard_normal((1, 6, 6, 2)).astype(np.float16))
    w = _dev(rng.standard_normal((3, 3, 2, 3)).astype(np.float16))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Graph, "__init__", record)
        y = xconv.conv2d(x, w, 1, "SAME", method="native")
    assert y.dtype == np.float16
    assert [g.io for g in graphs] == [DataType.HALF], "float16 goes to cuDNN as it is"
    assert graphs[0].compute is DataType.FLOAT
    want = xconv.conv2d(
        np.asarray(x, np.float32), np.asarray(w, np.float32), 1, "SAME", method="gemm"
    )
    np.testing.assert_allclose(np.asarray(y, np.float32), want, rtol=2e-3, atol=2e-3)


def test_native_on_cupy_refusals_and_fallbacks(cupy_native: Any) -> None:
    import xconv

    x = _dev(np.ones((1, 6, 6, 2)))
    w = _dev(np.ones((3, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"method='native' does not apply: .*int64"):
        xconv.conv2d(x.astype(np.int64).view(DevArray), w.astype(np.int64), 1, "SAME",
                     method="native")  # fmt: skip
    # Reflect padding is xconv's: cuDNN runs the padded input as a VALID convolution.
    y = xconv.conv2d(x, w, 1, "SAME", method="native", padding_mode="reflect")
    np.testing.assert_allclose(y, np.full((1, 6, 6, 2), 18.0))
    # Empty arrays never reach cuDNN (it takes no empty tensors).
    empty = _dev(np.ones((0, 6, 6, 2)))
    assert xconv.conv2d(empty, w, 1, "SAME", method="native").shape == (0, 6, 6, 2)
    dy = _dev(np.ones((0, 3, 3, 2)))
    dx = xconv.conv2d_backprop_input((0, 6, 6, 2), w, dy, 2, "SAME", method="native")
    assert dx.shape == (0, 6, 6, 2)
    dw = xconv.conv2d_backprop_filter(empty, (3, 3, 2, 2), dy, 2, "SAME", method="native")
    np.testing.assert_array_equal(dw, np.zeros((3, 3, 2, 2)))
    assert "dgrad" not in _ops()
    # auto runs cuDNN on CuPy except for 1x1 kernels, unless its rule says otherwise.
    from xconv._auto import RULES, choose_method
    from xconv._spec import conv_spec

    spec = conv_spec((1, 6, 6, 2), (3, 3, 2, 2), strides=1, padding="SAME", dilations=1,
                     data_format=None)  # fmt: skip
    args = (cupy_native, spec, np.float32, (3, 3, 2, 2), (6, 6))
    import dataclasses

    from xconv._backend import libraries

    caps = dataclasses.replace(libraries.capabilities(cupy_native), library="cupy")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(libraries, "_capabilities_of_module", lambda xp: caps)
        assert choose_method(*args) == "native"
        rules = dataclasses.replace(RULES, cupy_native=False)
        assert choose_method(*args, rules=rules) == "shift"  # (few channels)
        one = (cupy_native, spec, np.float32, (1, 1, 2, 2), (6, 6))
        assert choose_method(*one) != "native"  # a 1x1 kernel is one plain matmul


def test_auto_on_cupy_falls_back_where_cudnn_finds_no_plan(
    cupy_native: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xconv

    def no_plan(*args: Any, **kwargs: Any) -> Any:
        raise _cudnn.CudnnUnsupported("no engine for this graph")

    x = _dev(np.arange(72.0).reshape(1, 6, 6, 2))
    w = _dev(np.ones((3, 3, 2, 2)))
    expected = xconv.conv2d(x, w, 1, "SAME", method="gemm")
    from types import SimpleNamespace

    from xconv import _auto

    # auto's view of the library (the stand-in arrays are NumPy's for everything else)
    monkeypatch.setattr(_auto, "_backend", SimpleNamespace(library=lambda xp: "cupy"))
    monkeypatch.setattr(_cudnn, "conv_forward", no_plan)
    with pytest.raises(ValueError, match=r"method='native' does not apply: no engine"):
        xconv.conv2d(x, w, 1, "SAME", method="native")
    np.testing.assert_allclose(xconv.conv2d(x, w, 1, "SAME"), expected, rtol=1e-12)


def test_without_cudnn_native_on_cupy_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    import array_api_compat.numpy as xnp

    from xconv._backend import libraries, native

    caps = dataclasses.replace(libraries.capabilities(xnp), library="cupy", native_conv=True)
    monkeypatch.setattr(native, "capabilities", lambda xp: caps)
    monkeypatch.setattr(native, "cudnn_unavailable", lambda: "cudnn-frontend is missing")
    reason = native.native_unsupported(xnp, 2, xnp.float32)
    assert reason is not None
    assert "cudnn-frontend is missing" in reason
    assert "xconv[cudnn13]" in reason
    assert native.native_input_grad(None, None, None, (), xp=xnp, dtype=xnp.float32) is None
    assert "not available" in native.cudnn_status()
