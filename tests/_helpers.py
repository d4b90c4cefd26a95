"""Test helpers: backend conversion, SciPy-style assertions and convolution cases.

``make`` / ``to_numpy`` move data between NumPy and a backend for setting up and
comparing only; ``assert_close`` checks namespace, device, dtype and shape before
values, like SciPy's ``xp_assert_close``. ``Case`` describes one convolution in
canonical terms and encodes it in every argument form the public API accepts.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st

from _reference import (
    PADDING_MODES,
    full_pads,
    out_size,
    reference_conv,
    same_pads,
    valid_pads,
)
from xconv._algorithms import ALGORITHMS
from xconv._spec import ConvSpec, conv_spec

NDArray = npt.NDArray[Any]

#: Relative tolerance (times the result's magnitude) for each floating dtype.
TOLERANCE: dict[str, float] = {
    "float16": 1e-2,
    "bfloat16": 3e-2,
    "float32": 1e-5,
    "complex64": 1e-5,
    "float64": 1e-12,
    "complex128": 1e-12,
}

FLOAT_DTYPES = ("float32", "float64", "complex64", "complex128", "float16", "bfloat16")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
LOW_PRECISION = ("float16", "bfloat16")

#: data_format letters per spatial rank (TensorFlow's names).
SPATIAL_LETTERS = {1: "W", 2: "HW", 3: "DHW"}

_DTYPE_RE = re.compile(r"\b(bool|u?int(?:8|16|32|64)|b?float(?:16|32|64)|complex(?:64|128))\b")


# --------------------------------------------------------------------------- arrays


def dtype_name(dtype: object) -> str:
    """A backend dtype's canonical name: ``torch.float32`` -> ``"float32"``."""
    found = _DTYPE_RE.findall(str(dtype))
    assert found, f"not a numeric dtype: {dtype!r}"
    return str(found[-1])


def backend_dtype(xp: ModuleType, name: str) -> Any:
    """``xp``'s dtype called ``name``, or None where the backend does not have it."""
    return getattr(xp, name, None)


def make(xp: ModuleType, a: npt.ArrayLike, device: Any = None, dtype: Any = None) -> Any:
    """A fresh backend array holding ``a`` (dtype preserved unless ``dtype`` is given)."""
    a = np.array(a, copy=True, order="C")  # writeable and owned: no aliasing, no warning
    out = xp.asarray(a) if device is None else xp.asarray(a, device=device)
    if dtype is not None:
        out = xp.astype(out, dtype)
    return out


def to_numpy(arr: Any) -> NDArray:
    """A NumPy copy of a backend array, for comparison only (bfloat16 -> float32)."""
    if array_api_compat.is_numpy_array(arr):
        return np.array(arr, copy=True)
    if array_api_compat.is_torch_array(arr):
        import torch

        t = arr.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.to(torch.float32)
        return np.array(t.resolve_conj().numpy(), copy=True)
    if array_api_compat.is_cupy_array(arr):
        return np.asarray(arr.get())
    if array_api_compat.is_dask_array(arr):
        return np.asarray(arr.compute())  # type: ignore[no-untyped-call]
    if array_api_compat.is_jax_array(arr):
        out = np.asarray(arr)
        if out.dtype.name == "bfloat16":
            out = out.astype(np.float32)
        return np.array(out, copy=True)
    return np.array(np.from_dlpack(arr), copy=True)  # array-api-strict and others


def _same_namespace(actual: ModuleType, xp: ModuleType) -> bool:
    """Whether ``actual`` is ``xp``'s namespace (raw ``numpy`` counts as its compat one)."""
    if actual is xp:
        return True
    try:
        return array_api_compat.array_namespace(xp.asarray(0)) is actual
    except (AttributeError, TypeError):
        return False


def assert_close(
    xp: ModuleType,
    actual: Any,
    expected: npt.ArrayLike,
    *,
    dtype: Any,
    rtol: float | None = None,
    atol: float | None = None,
    device: Any = None,
) -> None:
    """Check ``actual`` like SciPy's ``xp_assert_close``.

    ``actual`` must be an array of namespace ``xp`` (on ``device`` when given) with
    dtype ``dtype`` and ``expected``'s shape. Integer dtypes must match exactly; float
    dtypes within ``rtol`` (default per dtype) times the magnitude of ``expected``.
    """
    actual_xp = array_api_compat.array_namespace(actual)
    assert _same_namespace(actual_xp, xp), f"namespace {actual_xp.__name__} != {xp.__name__}"
    if device is not None:
        got = array_api_compat.device(actual)
        assert got == device, f"device {got} != {device}"
    name = dtype_name(dtype)
    assert dtype_name(actual.dtype) == name, f"dtype {actual.dtype} != {dtype}"
    exp = np.asarray(expected)
    assert tuple(actual.shape) == exp.shape, f"shape {tuple(actual.shape)} != {exp.shape}"
    got_np = to_numpy(actual)
    if name in INT_DTYPES:
        info = np.iinfo(name)
        assert exp.size == 0 or (info.min <= exp.min() and exp.max() <= info.max), (
            "test bug: expected values overflow " + name
        )
        np.testing.assert_array_equal(got_np.astype(np.int64), exp.astype(np.int64))
        return
    if rtol is None:
        rtol = TOLERANCE[name]
    if atol is None:
        atol = rtol * max(1.0, float(np.max(np.abs(exp), initial=0.0)))
    work = np.complex128 if np.iscomplexobj(exp) or np.iscomplexobj(got_np) else np.float64
    np.testing.assert_allclose(got_np.astype(work), exp.astype(work), rtol=rtol, atol=atol)


def random_array(
    rng: np.random.Generator, shape: Sequence[int], name: str, *, exact: bool = True
) -> NDArray:
    """Random NumPy data suited to dtype ``name``.

    Integers are tiny (0..2 unsigned, -1..1 signed) so sums never overflow; float16 and
    bfloat16 values are multiples of 1/8 in [-2, 2], exact in both formats, so that
    small convolutions of them are exact too; with ``exact=False`` they are standard
    normal values rounded to the format, whose products need rounding (bfloat16 comes
    back as float32 holding those values). Complex values have both parts.
    """
    shape = tuple(shape)
    if name in INT_DTYPES:
        lo, hi = (0, 3) if name.startswith("u") else (-1, 2)
        return rng.integers(lo, hi, size=shape).astype(name)
    if name in LOW_PRECISION and exact:
        vals = rng.integers(-16, 17, size=shape) / 8
        return vals.astype(np.float32 if name == "bfloat16" else np.float16)
    vals = rng.standard_normal(shape)
    if name == "bfloat16":
        return round_to_bfloat16(vals)
    if name.startswith("complex"):
        vals = vals + 1j * rng.standard_normal(shape)
    return vals.astype(name)


def round_to_bfloat16(a: npt.ArrayLike) -> NDArray:
    """``a`` rounded to the nearest bfloat16 (ties to even), as float32 (NumPy has none)."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


# --------------------------------------------------------------------------- cases

Pairs = tuple[tuple[int, int], ...]
STRING_PADDINGS = ("SAME", "VALID", "FULL")


@dataclasses.dataclass(frozen=True)
class Case:
    """One convolution in canonical terms (channels-last, per-dim ints, pads)."""

    n: int
    in_sizes: tuple[int, ...]
    c: int
    k: tuple[int, ...]
    cg: int  # filters.shape[-2] = C // groups
    o: int
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    padding: str | Pairs  # "SAME" / "VALID" / "FULL" or (lo, hi) pairs
    channels_first: bool = False

    @property
    def rank(self) -> int:
        return len(self.in_sizes)

    @property
    def groups(self) -> int:
        return self.c // self.cg

    @property
    def x_shape(self) -> tuple[int, ...]:
        """Canonical (channels-last) input shape."""
        return (self.n, *self.in_sizes, self.c)

    @property
    def w_shape(self) -> tuple[int, ...]:
        return (*self.k, self.cg, self.o)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Canonical (channels-last) output shape."""
        sizes = (
            out_size(n, k, s, d, lo, hi)
            for n, k, s, d, (lo, hi) in zip(
                self.in_sizes, self.k, self.strides, self.dilations, self.pads(), strict=True
            )
        )
        return (self.n, *sizes, self.o)

    def pads(self) -> list[tuple[int, int]]:
        if isinstance(self.padding, str):
            return {
                "SAME": lambda: same_pads(self.in_sizes, self.k, self.strides, self.dilations),
                "VALID": lambda: valid_pads(self.rank),
                "FULL": lambda: full_pads(self.k, self.dilations),
            }[self.padding.upper()]()
        return [(int(lo), int(hi)) for lo, hi in self.padding]

    def data_format(self) -> str:
        letters = SPATIAL_LETTERS.get(self.rank)
        if letters is None:  # rank 4+: only the default layout has a name
            assert not self.channels_first, "no data_format names for rank > 3"
            return ""
        return f"NC{letters}" if self.channels_first else f"N{letters}C"

    def reference(self, x: NDArray, w: NDArray, padding_mode: str = "zeros") -> NDArray:
        """Reference output for canonical ``x``, laid out in this case's format."""
        out = reference_conv(
            x, w, self.strides, self.dilations, self.pads(), self.groups, padding_mode
        )
        return self.to_layout(out)

    def to_layout(self, canonical: NDArray) -> NDArray:
        return np.moveaxis(canonical, -1, 1) if self.channels_first else canonical

    def call_kwargs(self) -> dict[str, Any]:
        """``strides``, ``padding``, ``dilations``, ``data_format`` for ``xconv.convolution``."""
        padding = self.padding if isinstance(self.padding, str) else [list(p) for p in self.padding]
        return {
            "strides": self.strides,
            "padding": padding,
            "dilations": self.dilations,
            "data_format": self.data_format() or None,
        }

    def spec(self) -> ConvSpec:
        """xconv's normalised :class:`~xconv._spec.ConvSpec` of this case."""
        x_shape = (self.n, self.c, *self.in_sizes) if self.channels_first else self.x_shape
        return conv_spec(x_shape, self.w_shape, **self.call_kwargs())


def reason(method: str, case: Case, xp: ModuleType, dtype: Any) -> str | None:
    """Why ``method`` refuses ``case`` on ``xp`` for ``dtype`` (its ``applies`` hook), or None."""
    return ALGORITHMS[method].why_not(case.spec(), case.w_shape, dtype, xp) or None


def encode_ints(values: Sequence[int], form: str, rank: int, channels_first: bool) -> Any:
    """``strides``/``dilations`` in one of the accepted forms.

    ``int`` and ``len1`` need uniform values; ``full`` is TF's rank+2 form with 1 at
    the batch and channel positions in data_format order; ``none`` means pass None
    (only for all-ones dilations).
    """
    vals = [int(v) for v in values]
    if form in ("int", "len1", "none"):
        assert len(set(vals)) == 1, f"form {form!r} needs uniform values, got {vals}"
    if form == "none":
        assert vals[0] == 1
        return None
    if form == "int":
        return vals[0]
    if form == "len1":
        return [vals[0]]
    if form == "per_dim":
        return tuple(vals)
    if form == "full":
        return [1, 1, *vals] if channels_first else [1, *vals, 1]
    msg = f"unknown form {form!r}"
    raise AssertionError(msg)


def encode_padding(case: Case, form: str) -> Any:
    """``padding`` in one of the accepted forms.

    ``string`` passes the case's keyword (its letter case alternating by rank);
    ``int`` needs equal pads everywhere; ``pairs`` is one (lo, hi) per spatial dim;
    ``tf`` is TF's rank+2 explicit list in data_format order.
    """
    if form == "string":
        assert isinstance(case.padding, str)
        word = case.padding
        return (word.upper(), word.lower(), word.capitalize())[case.rank % 3]
    pads = case.pads()
    if form == "int":
        assert len({p for pair in pads for p in pair}) == 1, pads
        return pads[0][0]
    if form == "pairs":
        return [list(p) for p in pads]
    if form == "tf":
        pairs = [list(p) for p in pads]
        return [[0, 0], [0, 0], *pairs] if case.channels_first else [[0, 0], *pairs, [0, 0]]
    msg = f"unknown form {form!r}"
    raise AssertionError(msg)


def small_case(rank: int, defaults: Mapping[str, Any], **overrides: Any) -> Case:
    """A small :class:`Case` of ``rank``: a test module's ``defaults``, then ``overrides``.

    Batch 2, 4 input channels, 3-wide kernels, one group, 5 outputs, stride 1, VALID
    unless said otherwise. A value may be given per rank (a dict ``{rank: value}``);
    ``in_sizes``, ``k``, ``strides`` and ``dilations`` may be longer tuples (cut to
    ``rank`` entries) or one int for every axis.
    """
    base: dict[str, Any] = {"n": 2, "c": 4, "k": 3, "cg": 4, "o": 5, "padding": "VALID"}
    base.update(strides=1, dilations=1)
    base.update(defaults)
    base.update(overrides)
    for key, value in base.items():
        if isinstance(value, dict):
            value = value[rank]
        if key in ("in_sizes", "k", "strides", "dilations"):
            value = (value,) * rank if isinstance(value, int) else tuple(value)[:rank]
        base[key] = value
    return Case(**base)


def make_inputs(
    rng: np.random.Generator, case: Case, name: str = "float64", *, exact: bool = True
) -> tuple[NDArray, NDArray]:
    """Canonical (channels-last) input and filters for ``case`` (``exact``: see
    :func:`random_array`)."""
    return (
        random_array(rng, case.x_shape, name, exact=exact),
        random_array(rng, case.w_shape, name, exact=exact),
    )


@st.composite
def conv_cases(
    draw: st.DrawFn, *, winograd: st.SearchStrategy[bool] | None = None
) -> tuple[Case, dict[str, Any]]:
    """A random small case of rank 1-3, the argument forms to call it with, a padding mode
    and the number of its data's random stream.

    Where ``winograd`` (a strategy; default: never) draws True the case is one Winograd
    applies to: 3-wide kernels, stride 1 and dilation 1 (the forms are drawn all the same).
    """
    rank = draw(st.integers(1, 3))
    in_sizes = tuple(
        draw(st.lists(st.integers(1, {1: 8, 2: 6, 3: 4}[rank]), min_size=rank, max_size=rank))
    )
    fit = winograd is not None and draw(winograd)
    k = (
        (3,) * rank
        if fit
        else tuple(draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    )
    groups, cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))

    def ints(form: str, hi: int) -> tuple[int, ...]:
        if form == "none" or fit:
            return (1,) * rank
        if form in ("int", "len1"):
            return (draw(st.integers(1, hi)),) * rank
        return tuple(draw(st.lists(st.integers(1, hi), min_size=rank, max_size=rank)))

    sform = draw(st.sampled_from(["int", "len1", "per_dim", "full"]))
    dform = draw(st.sampled_from(["int", "len1", "per_dim", "full", "none"]))
    pform = draw(st.sampled_from(["string", "int", "pairs", "tf"]))
    padding: Any
    if pform == "string":
        padding = draw(st.sampled_from(STRING_PADDINGS))
    elif pform == "int":
        padding = ((draw(st.integers(0, 2)),) * 2,) * rank
    else:
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(rank))
    case = Case(
        n=draw(st.integers(0, 2)),
        in_sizes=in_sizes,
        c=groups * cg,
        k=k,
        cg=cg,
        o=groups * og,
        strides=ints(sform, 3),
        dilations=ints(dform, 2),
        padding=padding,
        channels_first=draw(st.booleans()),
    )
    mode = draw(st.sampled_from(list(PADDING_MODES)))
    pads = case.pads()
    fits = all(max(p) < n for p, n in zip(pads, in_sizes, strict=True))
    if padding == "FULL" or not fits:
        mode = "zeros"  # reflect needs pad < size; keep every mode well defined
    options = {
        "strides_form": sform,
        "dilations_form": dform,
        "padding_form": pform,
        "padding_mode": mode,
        "stream": draw(st.integers(0, 2**32 - 1)),
    }
    return case, options


def count_calls(monkeypatch: Any, owner: Any, name: str) -> list[int]:
    """Replace ``owner.name`` (for the test, through ``monkeypatch``) by a wrapper that
    appends 1 to the returned list at each call and then calls the original."""
    calls: list[int] = []
    real = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls
