"""Bad arguments raise ValueError / TypeError naming the argument, on every backend.

Never an IndexError, AttributeError or a backend's own error: ``pytest.raises`` with
the exact class lets anything else fail the test. Every function is called with
keywords, so the parameter names are TensorFlow's too.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import xconv
from _helpers import make
from xconv import ndimage, signal


@dataclasses.dataclass(frozen=True)
class Api:
    """A public function with a valid set of arguments to perturb."""

    name: str
    rank: int
    arrays: dict[str, tuple[int, ...]]  # argument name -> shape of a valid array
    stride_name: str = "strides"
    data_format: str = "NHWC"

    @property
    def input_c(self) -> int:
        return self.arrays["input"][-1]

    @property
    def filter_name(self) -> str:
        return next(k for k in self.arrays if k != "input")


APIS = [
    Api("conv1d", 1, {"input": (2, 8, 4), "filters": (3, 2, 6)}, "stride", "NWC"),
    Api("conv2d", 2, {"input": (2, 6, 5, 4), "filters": (3, 2, 2, 6)}),
    Api("conv3d", 3, {"input": (1, 4, 4, 3, 4), "filters": (2, 2, 2, 2, 6)}, data_format="NDHWC"),
    Api("convolution", 2, {"input": (2, 6, 5, 4), "filters": (3, 2, 2, 6)}),
    Api("depthwise_conv2d", 2, {"input": (2, 6, 5, 4), "filter": (3, 3, 4, 2)}),
    Api(
        "separable_conv2d",
        2,
        {"input": (2, 6, 5, 4), "depthwise_filter": (3, 3, 4, 2), "pointwise_filter": (1, 1, 8, 5)},
    ),
]
API_IDS = [a.name for a in APIS]


@dataclasses.dataclass(frozen=True)
class Arr:
    """NumPy data to be converted into the backend under test by ``invoke``."""

    data: np.ndarray


def ones(shape: tuple[int, ...], dtype: Any = float) -> Arr:
    return Arr(np.ones(shape, dtype=dtype))


def invoke(xp: ModuleType, api: Api, **overrides: Any) -> Any:
    """Call ``api`` with valid arguments, some replaced.

    An ``Arr`` override is converted to ``xp`` (anything else is passed as is);
    ``"STRIDES"`` stands for the function's strides argument (``stride`` for conv1d).
    """
    kwargs: dict[str, Any] = {name: make(xp, np.ones(shape)) for name, shape in api.arrays.items()}
    kwargs[api.stride_name] = 1
    kwargs["padding"] = "SAME"
    for key, value in overrides.items():
        name = api.stride_name if key == "STRIDES" else key
        kwargs[name] = make(xp, value.data) if isinstance(value, Arr) else value
    return getattr(xconv, api.name)(**kwargs)


# Each entry: id -> function of the Api giving (overrides, exception, argument name, given).
# ``given`` (or None) must appear in the message: what the caller passed.
Case = tuple[dict[str, Any], type[Exception] | tuple[type[Exception], ...], str, str | None]


def _cases(api: Api) -> dict[str, Case]:
    r = api.rank
    s = api.stride_name
    unit = [1] * r
    filt = api.filter_name
    wrong_pairs = [[1, 1]] * (r + 1)
    tf_pads_bad_channel = [[0, 0], *([[1, 1]] * r), [0, 1]]
    tf_pads_bad_batch = [[1, 0], *([[1, 1]] * r), [0, 0]]
    return {
        # strides / dilations
        "strides-0": ({"STRIDES": 0}, ValueError, s, None),
        "strides-negative": ({"STRIDES": -2}, ValueError, s, "-2"),
        "strides-entry-0": ({"STRIDES": [1] * (r - 1) + [0]}, ValueError, s, None),
        "strides-length": ({"STRIDES": [1] * (r + 1)}, ValueError, s, None),
        "strides-batch": ({"STRIDES": [2, *unit, 1]}, ValueError, s, None),
        "strides-channel": ({"STRIDES": [1, *unit, 2]}, ValueError, s, None),
        "strides-float": ({"STRIDES": 1.5}, TypeError, s, "1.5"),
        "strides-float-entry": ({"STRIDES": [1.0] * r}, TypeError, s, None),
        "strides-bool": ({"STRIDES": True}, TypeError, s, "True"),
        "strides-none-entry": ({"STRIDES": [None] * r}, TypeError, s, None),
        "dilations-0": ({"dilations": 0}, ValueError, "dilations", None),
        "dilations-negative": ({"dilations": [-1] * r}, ValueError, "dilations", None),
        "dilations-length": ({"dilations": [1] * (r + 1)}, ValueError, "dilations", None),
        "dilations-batch": ({"dilations": [3, *unit, 1]}, ValueError, "dilations", None),
        "dilations-float": ({"dilations": 2.5}, TypeError, "dilations", "2.5"),
        "dilations-bool": ({"dilations": [False] * r}, TypeError, "dilations", None),
        # padding
        "padding-unknown": ({"padding": "SAMEISH"}, ValueError, "padding", "SAMEISH"),
        "padding-empty-string": ({"padding": ""}, ValueError, "padding", None),
        "padding-negative": ({"padding": -1}, ValueError, "padding", "-1"),
        "padding-pairs-count": ({"padding": wrong_pairs}, ValueError, "padding", None),
        "padding-pair-negative": ({"padding": [[1, -1]] * r}, ValueError, "padding", None),
        "padding-pair-length": ({"padding": [[1, 1, 1]] * r}, ValueError, "padding", None),
        "padding-tf-channel": ({"padding": tf_pads_bad_channel}, ValueError, "padding", None),
        "padding-tf-batch": ({"padding": tf_pads_bad_batch}, ValueError, "padding", None),
        "padding-float": ({"padding": 1.5}, TypeError, "padding", "1.5"),
        # data_format
        "data_format-unknown": ({"data_format": "XYZ"}, ValueError, "data_format", "XYZ"),
        "data_format-rank": (
            {"data_format": "NDHWC" if r != 3 else "NHWC"},
            ValueError,
            "data_format",
            None,
        ),
        "data_format-not-str": ({"data_format": 4}, (TypeError, ValueError), "data_format", None),
        # extras
        "padding_mode-unknown": ({"padding_mode": "mirror"}, ValueError, "padding_mode", "mirror"),
        "method-unknown": ({"method": "magic"}, ValueError, "method", "magic"),
        "memory_budget-0": ({"memory_budget": 0}, ValueError, "memory_budget", None),
        "memory_budget-negative": ({"memory_budget": -4096}, ValueError, "memory_budget", None),
        # arrays
        "input-list": ({"input": np.ones(api.arrays["input"]).tolist()}, TypeError, "input", None),
        "filters-list": ({filt: np.ones(api.arrays[filt]).tolist()}, TypeError, "filter", None),
        "input-bool": ({"input": ones(api.arrays["input"], bool)}, TypeError, "input", None),
        "filters-bool": ({filt: ones(api.arrays[filt], bool)}, TypeError, "filter", None),
        "input-ndim": ({"input": ones(api.arrays["input"][1:])}, ValueError, "input|filter", None),
        # one dimension too many: fewer would be a valid call with extra batch dimensions
        "filters-ndim": ({filt: ones((1, *api.arrays[filt]))}, ValueError, "input|filter", None),
        "input-channels": (
            {"input": ones((*api.arrays["input"][:-1], api.input_c + 1))},
            ValueError,
            "input|filter",
            None,
        ),
        "filters-empty-kernel": (
            {filt: ones((0, *api.arrays[filt][1:]))},
            ValueError,
            "filter",
            None,
        ),
    }


def _all_cases() -> list[Any]:
    return [
        pytest.param(api, *case, id=f"{api.name}-{cid}")
        for api in APIS
        for cid, case in _cases(api).items()
    ]


@pytest.mark.parametrize(("api", "overrides", "exc", "name", "given"), _all_cases())
def test_bad_argument(
    xp: ModuleType,
    api: Api,
    overrides: dict[str, Any],
    exc: type[Exception] | tuple[type[Exception], ...],
    name: str,
    given: str | None,
) -> None:
    with pytest.raises(exc, match=name) as info:
        invoke(xp, api, **overrides)
    if given is not None:
        assert given in str(info.value), f"message does not show what was given: {info.value}"


@pytest.mark.parametrize(
    ("api_name", "overrides", "name"),
    [
        ("conv2d", {"filters": (3, 2, 2, 5)}, "filters"),  # C_out 5 not divisible by groups 2
        ("conv1d", {"data_format": "NCHW"}, "data_format"),
        ("conv2d", {"input": (2, 6, 4), "filters": (3, 2, 6)}, "input|filters"),  # a 1-d problem
        ("conv3d", {"input": (2, 6, 5, 4), "filters": (3, 2, 2, 6)}, "input|filters"),
        ("convolution", {"input": (2, 4), "filters": (4, 6)}, "input|filters"),  # rank 0
        ("convolution", {"data_format": "NCW"}, "data_format"),  # rank-2 filters
        ("depthwise_conv2d", {"filter": (3, 3, 2, 2)}, "filter"),  # filter in != C_in
        ("depthwise_conv2d", {"filter": (3, 3, 4)}, "filter"),
        ("depthwise_conv2d", {"data_format": "NCW"}, "data_format"),
        ("separable_conv2d", {"pointwise_filter": (1, 1, 7, 5)}, "pointwise_filter"),
        ("separable_conv2d", {"pointwise_filter": (2, 1, 8, 5)}, "pointwise_filter"),
        ("separable_conv2d", {"pointwise_filter": (8, 5)}, "pointwise_filter"),
        ("separable_conv2d", {"depthwise_filter": (3, 3, 3, 2)}, "depthwise_filter"),
    ],
)
def test_bad_shapes(xp: ModuleType, api_name: str, overrides: dict[str, Any], name: str) -> None:
    api = APIS[API_IDS.index(api_name)]
    args = {k: ones(v) if isinstance(v, tuple) else v for k, v in overrides.items()}
    with pytest.raises(ValueError, match=name):
        invoke(xp, api, **args)


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
def test_object_dtype(api: Api) -> None:
    """NumPy object arrays are not numeric: TypeError naming the argument."""
    obj = np.empty(api.arrays["input"], dtype=object)
    obj[...] = 1.0
    with pytest.raises(TypeError, match="input"):
        invoke(np, api, input=obj)


@pytest.mark.parametrize("api", APIS, ids=API_IDS)
@pytest.mark.parametrize("which", ["input", "filter"])
def test_mixed_namespaces(xp: ModuleType, api: Api, which: str) -> None:
    """One argument from another library: TypeError, before any conversion."""
    import array_api_compat

    other: ModuleType
    if xp.__name__.endswith("numpy") and "jax" not in xp.__name__:
        other = pytest.importorskip("array_api_strict")
    else:
        other = array_api_compat.array_namespace(np.empty(0))
    name = "input" if which == "input" else api.filter_name
    foreign = make(other, np.ones(api.arrays[name]))
    with pytest.raises(TypeError):
        invoke(xp, api, **{name: foreign})


def test_numpy_input_torch_filters() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"input|filters"):
        xconv.conv2d(
            np.ones((1, 4, 4, 2)), torch.ones((2, 2, 2, 3), dtype=torch.float64), 1, "SAME"
        )


def test_depthwise_input_grad_names_input_sizes(xp: ModuleType) -> None:
    """Input channels read from ``input_sizes`` that the filter does not match: the
    message names both (found by test_fuzz: it named only ``filter``)."""
    f, dy = make(xp, np.ones((3, 3, 4, 2))), make(xp, np.ones((2, 6, 5, 8)))
    with pytest.raises(ValueError, match=r"filter\.shape\[2\] \(4\).*input_sizes \(0"):
        xconv.depthwise_conv2d_backprop_input([2, 6, 5, 0], f, dy, 1, "SAME")


PUBLIC = [
    *(getattr(xconv, n) for n in xconv._api.__all__),
    *(getattr(signal, n) for n in signal.__all__),
    *(getattr(ndimage, n) for n in ndimage.__all__),
]


@pytest.mark.parametrize("func", PUBLIC, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_unknown_keyword_is_pythons_type_error(func: Any) -> None:
    """A misspelt keyword is Python's own ``TypeError`` naming the function and the
    keyword, raised before any argument is looked at."""
    with pytest.raises(
        TypeError, match=rf"^{func.__name__}\(\) got an unexpected keyword argument 'paddin'$"
    ):
        func(None, None, None, paddin="SAME")


@pytest.mark.parametrize("name", xconv._api.__all__)
def test_tensorflow_parameters(name: str) -> None:
    """TensorFlow's parameters in TensorFlow's order (``name`` last, positional or
    keyword), then the keyword-only extras with their defaults."""
    import inspect

    params = list(inspect.signature(getattr(xconv, name)).parameters.values())
    tf_params = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    extras = [p for p in params if p.kind is p.KEYWORD_ONLY]
    assert len(tf_params) + len(extras) == len(params), "no *args or **kwargs"
    assert tf_params[-3:][0].name == "data_format"
    assert [p.name for p in tf_params[-2:]] == ["dilations", "name"]
    assert tf_params[-1].default is None
    assert {p.name: p.default for p in extras} == {
        "padding_mode": "zeros",
        "method": "auto",
        "memory_budget": None,
        "precision": None,
    }


def test_name_is_ignored(xp: ModuleType) -> None:
    """TensorFlow's ``name`` is accepted (by position too) and changes nothing."""
    x, w = make(xp, np.ones((1, 5, 5, 2))), make(xp, np.ones((3, 3, 2, 4)))
    plain = xconv.conv2d(x, w, 1, "SAME")
    named = xconv.conv2d(x, w, 1, "SAME", "NHWC", None, "layer_1")
    assert bool(xp.all(named == plain))
    dy = make(xp, np.ones((1, 5, 5, 4)))
    grad = xconv.conv2d_backprop_input([1, 5, 5, 2], w, dy, 1, "SAME", name="grad")
    assert tuple(grad.shape) == (1, 5, 5, 2)
