"""Candidates: the same case as a zero-argument call in each library.

Each builder sets everything up *outside* the timed call (inputs converted to the
library's arrays and layout, JAX functions compiled on first use) and returns a
:class:`Candidate` whose ``run`` performs the call and waits for the result
(``block_until_ready`` for JAX; TensorFlow, torch and NumPy on the CPU return finished
results). A library that is not installed gives a candidate marked "not installed";
one that cannot express the case gives "n/a" with the reason.

Peers (same inputs, same process): TensorFlow (``tf.nn``), PyTorch
(``torch.nn.functional.conv*`` on ``channels_last`` tensors), JAX
(``lax.conv_general_dilated``, jitted), SciPy (``signal.fftconvolve`` /
``oaconvolve`` / ``ndimage.correlate`` where the case is single-channel or a
per-channel blur), and the naive loop of :mod:`xconv._naive` (timed on a slice, extrapolated by the
number of inner iterations). xconv: every method in ``xconv._algorithms.ALGORITHMS``
plus ``auto`` on NumPy input, and ``auto`` on the other backends asked for.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._cli_backends import to_numpy as host_copy
from .._naive import naive_conv2d as naive
from .cases import Case

__all__ = ["Candidate", "build_candidates", "make_inputs", "xconv_methods"]


@dataclass
class Candidate:
    """One way of computing a case."""

    key: str
    library: str  # for pauses between libraries: "numpy", "tensorflow", "torch", "jax"
    kind: str  # "peer", "xconv", "naive"
    run: Callable[[], Any] | None = None
    #: output -> channels-last NumPy array, for the agreement check (None: not checked)
    to_numpy: Callable[[Any], np.ndarray] | None = None
    #: "tracemalloc" (NumPy allocations), "rss" or None (not measured)
    memory: str | None = None
    #: the naive loop runs on a slice: its time is multiplied by this
    scale: float = 1.0
    #: key of the candidate this one is compared with, if not the case's baseline
    versus: str | None = None
    na: str | None = None
    note: str = ""


def _na(key: str, library: str, kind: str, reason: str, **kw: Any) -> Candidate:
    return Candidate(key, library, kind, na=reason, **kw)


def make_inputs(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """Random input and filters of the case's shapes and dtype (the same every run)."""
    rng = np.random.default_rng(0)
    dtype = np.dtype(case.dtype)
    x = rng.standard_normal(case.input_shape, dtype=dtype)
    w = rng.standard_normal(case.filter_shape, dtype=dtype)
    w /= np.sqrt(math.prod(case.filter_shape[:-1]))
    return x, w


def xconv_methods() -> list[str]:
    """Every algorithm this xconv has (``ALGORITHMS`` at run time) plus ``"auto"``."""
    try:
        from xconv._algorithms import ALGORITHMS
    except ImportError:
        return ["auto"]
    return [*ALGORITHMS, "auto"]


# --- TensorFlow ---------------------------------------------------------------------


def tf_candidate(case: Case, x: np.ndarray, w: np.ndarray) -> Candidate:
    try:
        import tensorflow as tf
    except ImportError:
        return _na("tf", "tensorflow", "peer", "not installed")
    xt, wt = tf.constant(x), tf.constant(w)
    s, d, pad = case.strides, case.dilations, case.padding
    if case.op == "conv":

        def run() -> Any:
            return tf.nn.convolution(xt, wt, strides=s, padding=pad, dilations=d)
    elif case.op == "depthwise":

        def run() -> Any:
            return tf.nn.depthwise_conv2d(xt, wt, [1, s, s, 1], pad, dilations=[d, d])
    elif case.op == "transpose":
        shape = list(case.output_shape_nhwc)

        def run() -> Any:
            return tf.nn.conv_transpose(xt, wt, shape, strides=s, padding=pad, dilations=d)
    else:
        return _na("tf", "tensorflow", "peer", f"no TensorFlow twin for op {case.op!r}")
    return Candidate("tf", "tensorflow", "peer", run, lambda y: y.numpy(), "rss")


# --- PyTorch ------------------------------------------------------------------------


def _torch_layout(case: Case) -> tuple[tuple[int, ...], tuple[int, ...], Any]:
    """NHWC->NCHW permutation, its inverse, and the channels-last memory format."""
    import torch

    r = case.rank
    to_cf = (0, r + 1, *range(1, r + 1))
    to_cl = (0, *range(2, r + 2), 1)
    fmt = {2: torch.channels_last, 3: torch.channels_last_3d}.get(r, torch.contiguous_format)
    return to_cf, to_cl, fmt


def _torch_weight(case: Case, w: np.ndarray) -> np.ndarray:
    """TF filters -> torch's ``(O, I/g, *k)`` (conv) or ``(in, out, *k)`` (transposed)."""
    r = case.rank
    if case.op == "depthwise":
        kh, kw, c, m = w.shape
        w = w.reshape(kh, kw, 1, c * m)
    return np.ascontiguousarray(np.transpose(w, (r + 1, r, *range(r))))


def torch_candidate(case: Case, x: np.ndarray, w: np.ndarray) -> Candidate:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return _na("torch", "torch", "peer", "not installed")
    if case.op not in ("conv", "depthwise", "transpose"):
        return _na("torch", "torch", "peer", f"no torch twin for op {case.op!r}")
    r = case.rank
    to_cf, to_cl, fmt = _torch_layout(case)
    xt = torch.from_numpy(x).permute(to_cf).contiguous(memory_format=fmt)
    wt = torch.from_numpy(_torch_weight(case, w)).contiguous(memory_format=fmt)
    s, d = case.stride_t, case.dilation_t
    groups = case.channels[2]
    note = "channels_last" if r in (2, 3) else "contiguous NCW"

    def to_numpy(y: Any) -> np.ndarray:
        return y.permute(to_cl).numpy()

    if case.op == "transpose":
        pads = case.pads
        if any(lo != hi for lo, hi in pads):
            return _na("torch", "torch", "peer", "asymmetric SAME padding of a transposed conv")
        conv_t = getattr(F, f"conv_transpose{r}d")
        lo = tuple(p[0] for p in pads)
        n_in = case.input_shape[1:-1]
        n_out = case.output_shape_nhwc[1:-1]
        k = case.kernel
        extra = tuple(
            no - ((ni - 1) * si - 2 * pi + di * (ki - 1) + 1)
            for no, ni, si, pi, di, ki in zip(n_out, n_in, s, lo, d, k, strict=True)
        )

        def run() -> Any:
            return conv_t(xt, wt, stride=s, padding=lo, output_padding=extra, dilation=d)

        return Candidate("torch", "torch", "peer", run, to_numpy, "rss", note=note)
    conv = getattr(F, f"conv{r}d")
    pads = case.pads
    if all(lo == hi for lo, hi in pads):
        sym = tuple(p[0] for p in pads)

        def run() -> Any:
            return conv(xt, wt, stride=s, padding=sym, dilation=d, groups=groups)
    else:  # TF's SAME puts the odd pixel after: torch needs an explicit F.pad
        flat = tuple(v for p in reversed(pads) for v in p)
        note += ", F.pad (asymmetric SAME)"

        def run() -> Any:
            return conv(F.pad(xt, flat), wt, stride=s, dilation=d, groups=groups)

    return Candidate("torch", "torch", "peer", run, to_numpy, "rss", note=note)


# --- JAX ----------------------------------------------------------------------------


def jax_candidate(case: Case, x: np.ndarray, w: np.ndarray) -> Candidate:
    try:
        import jax
        from jax import lax
    except ImportError:
        return _na("jax", "jax", "peer", "not installed")
    if case.op not in ("conv", "depthwise", "transpose") or case.rank > 3:
        return _na("jax", "jax", "peer", f"no JAX twin for op {case.op!r}")
    r = case.rank
    spatial = "DHW"[3 - r :]
    lhs = f"N{spatial}C"
    groups = case.channels[2]
    kw: dict[str, Any] = {"rhs_dilation": case.dilation_t, "feature_group_count": groups}
    if case.op == "depthwise":
        kh, kw_, c, m = w.shape
        w = w.reshape(kh, kw_, 1, c * m)
    if case.op == "transpose":  # input dilation + flipped kernel, as JAX's own conv_transpose
        w = np.ascontiguousarray(np.flip(w, tuple(range(r))))
        numbers = (lhs, f"{spatial}OI", lhs)
        kw.update(window_strides=(1,) * r, padding=case.transpose_pads, lhs_dilation=case.stride_t)
    else:
        numbers = (lhs, f"{spatial}IO", lhs)
        kw.update(window_strides=case.stride_t, padding=case.pads)
    fn = jax.jit(lambda a, b: lax.conv_general_dilated(a, b, dimension_numbers=numbers, **kw))
    xj, wj = jax.device_put(x), jax.device_put(w)  # the bench inputs onto JAX's device

    def run() -> Any:
        return fn(xj, wj).block_until_ready()

    return Candidate("jax", "jax", "peer", run, host_copy, "rss", note="jit")


# --- SciPy --------------------------------------------------------------------------


def scipy_candidates(case: Case, x: np.ndarray, w: np.ndarray) -> list[Candidate]:
    """``signal.fftconvolve`` / ``oaconvolve`` / ``ndimage.correlate`` for one image."""
    single = case.is_single_channel
    blur = (
        case.op == "depthwise"
        and case.input_shape[0] == 1
        and case.filter_shape[-1] == 1
        and case.strides == case.dilations == 1
    )
    same_odd = case.padding.upper() == "SAME" and all(k % 2 for k in case.kernel)
    if not (single or blur) or not (same_odd or case.padding.upper() == "VALID"):
        return []
    try:
        from scipy import ndimage, signal
    except ImportError:
        return [_na("scipy", "numpy", "peer", "not installed")]
    mode = "same" if same_odd else "valid"
    if single:
        img = np.ascontiguousarray(x[0, :, :, 0])
        k = np.ascontiguousarray(w[:, :, 0, 0])
        axes = None
    else:  # per-channel blur: FFT over the spatial axes, channels broadcast
        img = np.ascontiguousarray(x[0])
        k = np.ascontiguousarray(w[..., 0])
        axes = (0, 1)
    flipped = np.ascontiguousarray(k[::-1, ::-1])

    def to_numpy(y: np.ndarray) -> np.ndarray:
        return y[None, :, :, None] if single else y[None]

    out = []
    for name, func in (("fftconvolve", signal.fftconvolve), ("oaconvolve", signal.oaconvolve)):

        def run(func: Any = func) -> Any:
            return func(img, flipped, mode=mode, axes=axes)

        out.append(Candidate(f"scipy.{name}", "numpy", "peer", run, to_numpy, "tracemalloc"))
    if single and mode == "same":

        def run_nd() -> Any:
            return ndimage.correlate(img, k, mode="constant")

        out.append(
            Candidate(
                "scipy.ndimage",
                "numpy",
                "peer",
                run_nd,
                to_numpy,
                "tracemalloc",
                note="ndimage.correlate",
            )
        )
    return out


# --- the naive loop ---------------------------------------------------------------


def naive_candidate(case: Case, x: np.ndarray, w: np.ndarray) -> Candidate | None:
    """The naive loop on a slice (1 image, a few rows, columns and output channels).

    Its time is extrapolated by ``full iterations / slice iterations``, where one
    iteration is one (output pixel, output channel): the loop's cost per iteration does
    not depend on where the pixel is.
    """
    if case.op != "conv" or case.rank not in (1, 2):
        return None
    if case.channels[2] != 1 or case.dilations != 1:
        return _na("naive loop", "numpy", "naive", "the naive loop has no groups or dilation")
    if case.rank == 1:  # a 1-d conv is a 2-d conv of height 1
        x, w = x[:, None], w[None]
    s = case.strides
    pad = case.pads[-1][0]
    kh, kw = w.shape[:2]
    xs = np.ascontiguousarray(x[:1, : kh + s, : kw + 32 * s])
    ws = np.ascontiguousarray(w[..., :4])
    y = naive(xs, ws, s, pad)  # only its size: the timing follows the common protocol
    full = math.prod(case.output_shape_nhwc)
    scale = full / y.size

    def run() -> Any:
        return naive(xs, ws, s, pad)

    return Candidate(
        "naive loop",
        "numpy",
        "naive",
        run,
        None,
        None,
        scale=scale,
        note=f"{y.size} of {full} iterations timed, x{scale:.0f}",
    )


def passes_candidate(case: Case, x: np.ndarray, w: np.ndarray) -> Candidate | None:
    """A depthwise convolution as a NumPy user would write it without tiling: one
    padded copy, then per kernel tap a multiply and an add over whole arrays into one
    preallocated output (the same passes as xconv's depthwise ``shift``, untiled).
    None for other cases (a channel multiplier, strides or dilations)."""
    if case.op != "depthwise" or w.shape[-1] != 1 or case.strides != 1 or case.dilations != 1:
        return None
    pads = [(0, 0), *case.pads, (0, 0)]
    out = case.output_shape_nhwc
    taps = [(i, j, w[i, j, :, 0]) for i in range(w.shape[0]) for j in range(w.shape[1])]

    def run() -> Any:
        padded = np.pad(x, pads)
        y = np.empty(out, dtype=x.dtype)
        term = np.empty(out, dtype=x.dtype)
        for t, (i, j, tap) in enumerate(taps):
            window = padded[:, i : i + out[1], j : j + out[2], :]
            np.multiply(window, tap, out=y if t == 0 else term)
            if t:
                np.add(y, term, out=y)
        return y

    return Candidate(
        "numpy passes",
        "numpy",
        "peer",
        run,
        lambda y: y,
        "tracemalloc",
        note="pad, then multiply + add per tap over whole arrays",
    )


# --- xconv --------------------------------------------------------------------------


def _xconv_call(case: Case) -> Callable[..., Any]:
    import xconv

    s, d, pad = case.strides, case.dilations, case.padding
    if case.op == "conv":
        func = getattr(xconv, f"conv{case.rank}d", None) or xconv.convolution
        return lambda a, b, m: func(a, b, s, pad, dilations=d, method=m)
    if case.op == "depthwise":
        return lambda a, b, m: xconv.depthwise_conv2d(a, b, s, pad, dilations=d, method=m)
    if case.op == "transpose":
        shape = list(case.output_shape_nhwc)
        return lambda a, b, m: xconv.conv_transpose(a, b, shape, s, pad, dilations=d, method=m)
    raise ValueError(f"unknown op {case.op!r}")


def _from_numpy(backend: str) -> tuple[Callable[[np.ndarray], Any], Callable[[Any], Any]]:
    """(convert a NumPy array to ``backend``, wait for a result) — raises ImportError."""
    if backend == "numpy":
        return (lambda a: a), (lambda y: y)
    if backend == "torch":
        import torch

        return torch.from_numpy, (lambda y: y)
    if backend == "jax":
        import jax

        return jax.device_put, (lambda y: y.block_until_ready())
    raise ValueError(f"unknown backend {backend!r}; use numpy, torch or jax")


def _call_and_wait(f: Callable[..., Any], a: Any, b: Any, wait: Callable[[Any], Any]) -> Any:
    return wait(f(a, b))


def xconv_candidates(
    case: Case, x: np.ndarray, w: np.ndarray, backend: str, methods: Sequence[str]
) -> list[Candidate]:
    """xconv on ``backend`` arrays with each method (errors surface at the first call)."""
    library = {"numpy": "numpy", "torch": "torch", "jax": "jax"}.get(backend, backend)
    try:
        import xconv  # noqa: F401

        convert, wait = _from_numpy(backend)
        xa, wa = convert(x), convert(w)
    except ImportError as exc:
        return [_na(f"xconv[{backend}]", library, "xconv", f"not installed ({exc.name})")]
    call = _xconv_call(case)
    versus = None if backend == "numpy" else backend
    memory = "tracemalloc" if backend == "numpy" else "rss"
    out = []
    for m in methods:
        if backend == "jax":
            import jax

            fn: Callable[..., Any] = jax.jit(lambda a, b, m=m: call(a, b, m))
        else:
            fn = functools.partial(call, m=m)

        def run(fn: Callable[..., Any] = fn) -> Any:
            return wait(fn(xa, wa))

        out.append(
            Candidate(
                f"xconv[{backend}] {m}", library, "xconv", run, host_copy, memory, versus=versus
            )
        )
    return out


# --- signal: xconv.signal / xconv.ndimage beside SciPy ---------------------------------------------------------------


def signal_candidates(
    case: Case, x: np.ndarray, w: np.ndarray, backends: Sequence[str]
) -> list[Candidate]:
    """SciPy's ``signal``/``ndimage`` function vs xconv's twin, per name in ``case.funcs``.

    Each xconv candidate is compared with the SciPy function of the same name.
    """
    mode = case.kwargs.get("mode", "same")

    def scipy_func(name: str) -> Callable[[np.ndarray, np.ndarray], Any]:
        from scipy import ndimage, signal

        if name.startswith("ndimage."):
            f = getattr(ndimage, name.split(".", 1)[1])
            return lambda a, b: f(a, b, mode="constant")
        f = getattr(signal, name)
        return lambda a, b: f(a, b, mode=mode)

    def xconv_func(name: str) -> Callable[[Any, Any], Any]:
        import importlib

        module, _, attr = name.rpartition(".")
        f = getattr(importlib.import_module(f"xconv.{module or 'signal'}"), attr)
        if module == "ndimage":
            return lambda a, b: f(a, b, mode="constant")
        return lambda a, b: f(a, b, mode=mode)

    out: list[Candidate] = []
    for name in case.funcs:
        key = f"scipy.{name}"
        try:
            sf = scipy_func(name)
        except (ImportError, AttributeError) as exc:
            out.append(_na(key, "numpy", "peer", f"not available ({exc})"))
        else:
            out.append(
                Candidate(
                    key,
                    "numpy",
                    "peer",
                    functools.partial(sf, x, w),
                    host_copy,
                    "tracemalloc",
                    versus=key,
                )
            )
        for backend in backends:
            xkey = f"xconv[{backend}] {name}"
            try:
                xf = xconv_func(name)
                convert, wait = _from_numpy(backend)
            except (ImportError, AttributeError) as exc:
                out.append(_na(xkey, backend, "xconv", f"not available ({exc})", versus=key))
                continue
            xa, wa = convert(x), convert(w)
            out.append(
                Candidate(
                    xkey,
                    backend,
                    "xconv",
                    functools.partial(_call_and_wait, xf, xa, wa, wait),
                    host_copy,
                    "tracemalloc" if backend == "numpy" else "rss",
                    versus=key,
                )
            )
    return out


# --- all ----------------------------------------------------------------------------


def build_candidates(
    case: Case,
    x: np.ndarray,
    w: np.ndarray,
    *,
    backends: Sequence[str] = ("numpy", "torch"),
    peers: Sequence[str] = ("tf", "torch", "jax", "scipy", "naive", "passes"),
    other_methods: Sequence[str] = ("auto",),
) -> list[Candidate]:
    """Every candidate for ``case``: the peers first, then xconv per backend and method."""
    if case.op == "signal":
        return signal_candidates(case, x, w, backends)
    out: list[Candidate] = []
    if "tf" in peers:
        out.append(tf_candidate(case, x, w))
    if "torch" in peers or "torch" in backends:
        out.append(torch_candidate(case, x, w))
    if "jax" in peers:
        out.append(jax_candidate(case, x, w))
    if "scipy" in peers:
        out.extend(scipy_candidates(case, x, w))
    if "passes" in peers:
        passes = passes_candidate(case, x, w)
        if passes is not None:
            out.append(passes)
    if "naive" in peers:
        loop = naive_candidate(case, x, w)
        if loop is not None:
            out.append(loop)
    for backend in backends:
        methods = xconv_methods() if backend == "numpy" else list(other_methods)
        out.extend(xconv_candidates(case, x, w, backend, methods))
    return out
