"""Type aliases shared by the package, and the allowed values of its ``Literal`` types.

Each set of allowed strings is written once, as a ``Literal`` (what a type checker
sees in the public signatures); the tuples that the run-time checks use are read
from it with :func:`typing.get_args`. Imports nothing from xconv.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, Literal, TypeAlias, get_args

__all__ = [
    "BOUNDARIES",
    "METHODS",
    "NDIMAGE_MODES",
    "PADDING_MODES",
    "PRECISIONS",
    "SIGNAL_METHODS",
    "SIGNAL_MODES",
    "Array",
    "Boundary",
    "IntOrSeq",
    "Method",
    "Namespace",
    "NdimageMode",
    "PaddingArg",
    "PaddingMode",
    "Pads",
    "Precision",
    "Shape",
    "SignalMethod",
    "SignalMode",
    "Sizes",
]

#: Any Array API array (NumPy, CuPy, torch, JAX, Dask, array-api-strict).
Array: TypeAlias = Any
#: An Array API namespace, as returned by ``array_api_compat.array_namespace``.
Namespace: TypeAlias = ModuleType

#: An int, or a sequence of ints (per spatial dimension or TF's rank+2 form).
IntOrSeq: TypeAlias = int | Sequence[int]
#: Every padding form: a name, an int, or a sequence of (lo, hi) pairs.
PaddingArg: TypeAlias = str | int | Sequence[Sequence[int]]

#: A full array shape given as an argument: a sequence of ints or a 1-d integer array.
Sizes: TypeAlias = Sequence[int] | Array

Pads: TypeAlias = tuple[tuple[int, int], ...]
#: an array shape
Shape: TypeAlias = tuple[int, ...]

# --- the keyword-only extras of the TensorFlow-style functions -------------------------

#: How padded positions are filled (``padding_mode=``).
PaddingMode: TypeAlias = Literal["zeros", "reflect", "symmetric", "edge", "circular"]
#: Algorithm names (``method=``); "auto" chooses, "native" is the library's own.
Method: TypeAlias = Literal["auto", "einsum", "gemm", "winograd", "shift", "fft", "native"]
#: ``precision=``: None/"float32" accumulate float16/bfloat16 in float32.
Precision: TypeAlias = Literal[None, "float32", "native"]

PADDING_MODES: tuple[PaddingMode, ...] = get_args(PaddingMode)
METHODS: tuple[Method, ...] = get_args(Method)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)

# --- SciPy's choices (xconv.signal, xconv.ndimage) -------------------------------------

#: Output size of :mod:`xconv.signal`'s functions (``mode=``).
SignalMode: TypeAlias = Literal["full", "same", "valid"]
#: ``method=`` of ``signal.convolve`` and ``signal.correlate``.
SignalMethod: TypeAlias = Literal["auto", "direct", "fft"]
#: ``boundary=`` of ``signal.convolve2d``/``correlate2d``, with SciPy's aliases.
Boundary: TypeAlias = Literal["fill", "pad", "wrap", "circular", "symm", "symmetric"]
#: ``mode=`` of :mod:`xconv.ndimage`'s filters, with SciPy's aliases.
NdimageMode: TypeAlias = Literal[
    "reflect", "grid-mirror", "mirror", "nearest", "wrap", "grid-wrap", "constant", "grid-constant"
]

SIGNAL_MODES: tuple[SignalMode, ...] = get_args(SignalMode)
SIGNAL_METHODS: tuple[SignalMethod, ...] = get_args(SignalMethod)
BOUNDARIES: tuple[Boundary, ...] = get_args(Boundary)
NDIMAGE_MODES: tuple[NdimageMode, ...] = get_args(NdimageMode)
