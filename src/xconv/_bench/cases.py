"""The benchmark cases: shapes, work (FLOPs) and the padding every peer needs.

A :class:`Case` describes one convolution in xconv's (TensorFlow's) terms: channels-last
input, filters in TF's layout, strides, dilations and a padding string. Everything a
peer needs beyond that (explicit pads for torch and JAX, the transposed padding, the
FLOP count) is derived here once, so that every library computes the same thing.

``op`` selects the adapter in :mod:`xconv._bench.peers`:

- ``"conv"``: ``xconv.conv{1,2,3}d`` / ``tf.nn.convolution``; filters ``(*k, C/g, O)``.
- ``"depthwise"``: ``xconv.depthwise_conv2d``; filters ``(kh, kw, C, multiplier)``.
- ``"transpose"``: ``xconv.conv_transpose``; filters ``(*k, out, in)``, ``output_shape``.
- ``"signal"``: hook for ``xconv.signal`` / ``xconv.ndimage`` beside SciPy;
  ``func`` names the function, ``baseline`` is ``"scipy"``.

To add a case, append it to :data:`CASES` (or :data:`QUICK_CASES` for the smoke run,
:data:`SIGNAL_CASES` for the SciPy-API cases).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Any

Shape = tuple[int, ...]

__all__ = ["CASES", "QUICK_CASES", "SIGNAL_CASES", "Case", "all_cases", "select_cases"]


def same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME rule: ``out = ceil(size / stride)``, the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def out_size(size: int, k: int, stride: int, dilation: int, pads: tuple[int, int]) -> int:
    """Output length of a padded, strided, dilated window (0 when it does not fit)."""
    span = size + pads[0] + pads[1] - (k - 1) * dilation - 1
    return span // stride + 1 if span >= 0 else 0


@dataclass(frozen=True)
class Case:
    """One benchmark case (float32 by default, channels-last)."""

    name: str
    title: str
    op: str
    input_shape: tuple[int, ...]
    filter_shape: tuple[int, ...]
    strides: int = 1
    dilations: int = 1
    padding: str = "SAME"
    #: transposed convolution: the output (= forward input) shape, NHWC
    output_shape: tuple[int, ...] | None = None
    dtype: str = "float32"
    #: median ratio target of xconv ``auto`` over the baseline, or None
    target: float | None = None
    #: the candidate that ratios are taken against
    baseline: str = "tf"
    #: "signal" cases: the SciPy-style function(s) to compare, and its keyword arguments
    funcs: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    group: str = "conv"
    #: busy-loop processes spinning on the CPUs while the case runs (0: a quiet machine)
    load: int = 0

    # --- geometry ---------------------------------------------------------------------
    @property
    def rank(self) -> int:
        return len(self.filter_shape) - 2

    @property
    def kernel(self) -> tuple[int, ...]:
        return self.filter_shape[: self.rank]

    def _tuple(self, v: int) -> tuple[int, ...]:
        return (v,) * self.rank

    @property
    def stride_t(self) -> tuple[int, ...]:
        return self._tuple(self.strides)

    @property
    def dilation_t(self) -> tuple[int, ...]:
        return self._tuple(self.dilations)

    @property
    def forward_input_shape(self) -> tuple[int, ...]:
        """The input of the forward convolution (for a transposed conv: its output)."""
        if self.op == "transpose":
            assert self.output_shape is not None
            return self.output_shape
        return self.input_shape

    @property
    def pads(self) -> tuple[tuple[int, int], ...]:
        """Explicit ``(lo, hi)`` pads of the forward convolution, per spatial dim."""
        spatial = self.forward_input_shape[1:-1]
        if self.padding.upper() == "VALID":
            return tuple((0, 0) for _ in spatial)
        return tuple(
            same_pads(n, k, s, d)
            for n, k, s, d in zip(spatial, self.kernel, self.stride_t, self.dilation_t, strict=True)
        )

    @property
    def forward_output_spatial(self) -> tuple[int, ...]:
        spatial = self.forward_input_shape[1:-1]
        return tuple(
            out_size(n, k, s, d, p)
            for n, k, s, d, p in zip(
                spatial, self.kernel, self.stride_t, self.dilation_t, self.pads, strict=True
            )
        )

    @property
    def channels(self) -> tuple[int, int, int]:
        """``(C_in, C_out, groups)`` of the forward convolution."""
        if self.op == "depthwise":
            c, m = self.filter_shape[-2:]
            return c, c * m, c
        if self.op == "transpose":
            out, cin = self.filter_shape[-2:]  # TF: (*k, out, in); forward: out -> in
            return out, cin, 1
        c = self.input_shape[-1]
        return c, self.filter_shape[-1], c // self.filter_shape[-2]

    @property
    def transpose_pads(self) -> tuple[tuple[int, int], ...]:
        """Pads of the equivalent input-dilated convolution (what JAX/torch need)."""
        result = []
        spatial = self.forward_input_shape[1:-1]
        for n, k, s, d, (lo, hi) in zip(
            spatial, self.kernel, self.stride_t, self.dilation_t, self.pads, strict=True
        ):
            span = (k - 1) * d
            extra = (n + lo + hi - span - 1) % s
            result.append((span - lo, span - hi + extra))
        return tuple(result)

    @property
    def output_shape_nhwc(self) -> tuple[int, ...]:
        """Shape of the result every candidate returns (channels-last)."""
        if self.op == "transpose":
            assert self.output_shape is not None
            return self.output_shape
        if self.op == "signal":
            return tuple(self.kwargs.get("out_shape", self.input_shape))
        c_out = self.channels[1]
        return (self.input_shape[0], *self.forward_output_spatial, c_out)

    @property
    def flops(self) -> int:
        """``2 · N · out · K · C_in/g · C_out`` of the forward convolution (direct work)."""
        if self.op == "signal":
            return int(self.kwargs.get("flops", 0))
        c_in, c_out, groups = self.channels
        n = self.forward_input_shape[0]
        return (
            2
            * n
            * math.prod(self.forward_output_spatial)
            * math.prod(self.kernel)
            * (c_in // groups)
            * c_out
        )

    @property
    def io_bytes(self) -> int:
        """Bytes of input + output (float32): the unit of the memory rule."""
        item = 8 if self.dtype == "float64" else 4
        return item * (math.prod(self.input_shape) + math.prod(self.output_shape_nhwc))

    @property
    def is_single_channel(self) -> bool:
        """One image, one channel in and out, stride 1: SciPy's signal/ndimage apply."""
        if self.op != "conv" or self.rank != 2:
            return False
        c_in, c_out, _ = self.channels
        return (
            self.input_shape[0] == 1 and c_in == c_out == 1 and self.strides == self.dilations == 1
        )

    def probe(self, fraction: int = 32) -> tuple[Case, tuple[slice, ...], float] | None:
        """A smaller case on a slice of this one's input, to estimate slow candidates.

        The first image when the batch has several, else about ``1 / fraction`` of the
        rows (not for transposed convolutions). Returns the case, the index of the input slice and the ratio of output
        positions (the factor a direct method's time grows by), or None.
        """
        if self.op not in ("conv", "depthwise", "transpose"):
            return None
        output_shape = self.output_shape
        if self.input_shape[0] > 1:
            shape = (1, *self.input_shape[1:])
            index: tuple[slice, ...] = (slice(0, 1),)
            if output_shape is not None:
                output_shape = (1, *output_shape[1:])
        elif self.op == "transpose":
            return None
        else:
            span = (self.kernel[0] - 1) * self.dilations + 1
            rows = max(span + self.strides, self.input_shape[1] // fraction)
            if rows >= self.input_shape[1]:
                return None
            shape = (1, rows, *self.input_shape[2:])
            index = (slice(None), slice(0, rows))
        small = replace(
            self, name=f"{self.name}-probe", input_shape=shape, output_shape=output_shape
        )
        scale = math.prod(self.output_shape_nhwc[:-1]) / math.prod(small.output_shape_nhwc[:-1])
        return small, index, scale

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description of the case."""
        return {
            "name": self.name,
            "title": self.title,
            "op": self.op,
            "input_shape": list(self.input_shape),
            "filter_shape": list(self.filter_shape),
            "output_shape": list(self.output_shape_nhwc),
            "strides": self.strides,
            "dilations": self.dilations,
            "padding": self.padding,
            "pads": [list(p) for p in self.pads] if self.op != "signal" else None,
            "dtype": self.dtype,
            "flops": self.flops,
            "io_bytes": self.io_bytes,
            "target": self.target,
            "baseline": self.baseline,
            "funcs": list(self.funcs),
            "group": self.group,
            "load": self.load,
        }


def _case(op: str, name: str, title: str, x: Shape, w: Shape, **kw: Any) -> Case:
    """A :class:`Case` of ``op`` ("conv", "depthwise", "transpose"), one table row each."""
    return Case(name, title, op, x, w, **kw)


_conv = functools.partial(_case, "conv")
_depthwise = functools.partial(_case, "depthwise")
_transpose = functools.partial(_case, "transpose", strides=2)
_quick = functools.partial(_case, group="quick")

#: The cases: ResNet/MobileNet layers, images, audio, video, and DCGAN's transposed conv.
CASES: list[Case] = [
    _conv("stem", "ResNet-50 stem 7x7/2", (1, 224, 224, 3), (7, 7, 3, 64), strides=2, target=0.8),
    _conv("conv3x3-56", "3x3, 56²x64→64", (8, 56, 56, 64), (3, 3, 64, 64), target=1.0),
    _conv("conv3x3-28", "3x3, 28²x128→128", (8, 28, 28, 128), (3, 3, 128, 128), target=1.0),
    _conv("conv3x3-14", "3x3, 14²x256→256", (8, 14, 14, 256), (3, 3, 256, 256), target=1.0),
    _conv("conv3x3-7", "3x3, 7²x512→512", (8, 7, 7, 512), (3, 3, 512, 512), target=1.0),
    _conv("conv1x1-56", "1x1, 56²x256→64", (8, 56, 56, 256), (1, 1, 256, 64), target=1.2),
    _conv(
        "dilated3x3", "3x3 d2, 64²x128", (4, 64, 64, 128), (3, 3, 128, 128), dilations=2, target=0.8
    ),
    _depthwise("depthwise3x3", "MobileNet dw 3x3", (8, 56, 56, 128), (3, 3, 128, 1), target=0.5),
    _conv("single5x5", "1 channel 2048², 5x5", (1, 2048, 2048, 1), (5, 5, 1, 1), target=1.0),
    _conv("single31x31", "1 channel 2048², 31x31", (1, 2048, 2048, 1), (31, 31, 1, 1), target=10.0),
    _depthwise("blur15x15", "RGB 1024² 15x15 blur", (1, 1024, 1024, 3), (15, 15, 3, 1), target=1.5),
    _conv(
        "conv1d-audio",
        "audio k80/4",
        (8, 16000, 1),
        (80, 1, 64),
        strides=4,
        padding="VALID",
        target=0.8,
    ),
    _conv("conv1d-3tap", "conv1d 4000x64, k=3 →64", (8, 4000, 64), (3, 64, 64), target=0.8),
    _conv("conv3d", "conv3d 3x3x3, 16x56²x32", (2, 16, 56, 56, 32), (3, 3, 3, 32, 32), target=0.7),
    _transpose(
        "dcgan-transpose",
        "DCGAN 4x4/2 transposed",
        (16, 16, 16, 256),
        (4, 4, 128, 256),
        output_shape=(16, 32, 32, 128),
    ),
    _transpose(
        "transpose4x4-14",
        "4x4/2 transposed, 14²x128→28²x64",
        (8, 14, 14, 128),
        (4, 4, 64, 128),
        output_shape=(8, 28, 28, 64),
    ),
    # The same layers with 4 busy processes on the machine: many small multithreaded BLAS
    # calls, each waking threads that compete with the load, collapse; compare with JAX.
    _conv(
        "load-conv3x3-56",
        "3x3, 56²x64→64, 4 busy processes",
        (8, 56, 56, 64),
        (3, 3, 64, 64),
        load=4,
        group="load",
    ),
    _transpose(
        "load-transpose4x4-14",
        "4x4/2 transposed 14²x128, 4 busy processes",
        (8, 14, 14, 128),
        (4, 4, 64, 128),
        output_shape=(8, 28, 28, 64),
        load=4,
        group="load",
    ),
]
#: Small cases for ``--quick`` (docs and CI smoke runs): one of each kind, < 1 minute.
QUICK_CASES: list[Case] = [
    _quick("conv", "q-conv3x3", "3x3 (quick)", (2, 28, 28, 32), (3, 3, 32, 32), target=1.0),
    _quick(
        "depthwise", "q-depthwise", "dw 3x3 (quick)", (2, 28, 28, 32), (3, 3, 32, 1), target=0.5
    ),
    _quick(
        "conv", "q-single7x7", "1 channel 7x7 (quick)", (1, 256, 256, 1), (7, 7, 1, 1), target=1.0
    ),
    _quick(
        "transpose",
        "q-transpose",
        "transposed (quick)",
        (4, 8, 8, 64),
        (4, 4, 32, 64),
        strides=2,
        output_shape=(4, 16, 16, 32),
    ),
]


def _signal_case(
    name: str, title: str, shape: tuple[int, ...], k: int, funcs: tuple[str, ...]
) -> Case:
    """A SciPy-API case: ``mode="same"`` on a ``shape`` signal, ``k``-tap kernel."""
    kshape = (k,) * len(shape)
    return Case(
        name,
        title,
        "signal",
        shape,
        kshape,
        padding="same",
        baseline="scipy",
        funcs=funcs,
        group="signal",
        kwargs={
            "mode": "same",
            "out_shape": shape,
            "flops": 2 * math.prod(shape) * k ** len(shape),
        },
    )


_SIGNAL_2D = ("convolve", "fftconvolve", "oaconvolve", "convolve2d", "ndimage.convolve")
_SIGNAL_1D = ("convolve", "fftconvolve", "oaconvolve", "ndimage.convolve")

#: Hook for ``xconv.signal``: SciPy's API on xconv beside SciPy. Not in the default
#: run until ``xconv.signal`` exists (select them with ``--cases 'sig-*'``); the
#: adapter is :class:`xconv._bench.peers.SignalAdapter`. SciPy's direct methods are slow
#: on the large kernels: the suite caps slow candidates (see ``timing.SLOW_S``).
SIGNAL_CASES: list[Case] = [
    _signal_case("sig-2d-5", "signal 2048², 5x5", (2048, 2048), 5, _SIGNAL_2D),
    _signal_case("sig-2d-31", "signal 2048², 31x31", (2048, 2048), 31, _SIGNAL_2D),
    _signal_case("sig-1d-101", "signal 10⁶ samples, 101 taps", (1_000_000,), 101, _SIGNAL_1D),
    _signal_case("sig-1d-4001", "signal 10⁶ samples, 4001 taps", (1_000_000,), 4001, _SIGNAL_1D),
]


def all_cases() -> list[Case]:
    return [*CASES, *QUICK_CASES, *SIGNAL_CASES]


def signal_available() -> bool:
    """Whether xconv has its SciPy-style ``signal`` module."""
    import importlib.util

    return importlib.util.find_spec("xconv.signal") is not None


def select_cases(patterns: list[str] | None = None, *, quick: bool = False) -> list[Case]:
    """Cases whose name matches any shell pattern; default: the quick or the full set.

    The full set includes :data:`SIGNAL_CASES` once ``xconv.signal`` exists.
    """
    import fnmatch

    if not patterns:
        if quick:
            return list(QUICK_CASES)
        return [*CASES, *(SIGNAL_CASES if signal_available() else [])]
    pool = all_cases()
    chosen = [c for c in pool if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    if not chosen:
        names = ", ".join(c.name for c in pool)
        raise ValueError(f"no case matches {patterns}; the cases are: {names}")
    return chosen
