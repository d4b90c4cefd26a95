"""Type aliases shared by the package (no run-time behaviour)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, Literal, TypeAlias, TypedDict

#: Any Array API array (NumPy, CuPy, torch, JAX, Dask, array-api-strict).
Array: TypeAlias = Any
#: An Array API namespace, as returned by ``array_api_compat.array_namespace``.
Namespace: TypeAlias = ModuleType

#: An int, or a sequence of ints (per spatial dimension or TF's rank+2 form).
IntOrSeq: TypeAlias = int | Sequence[int]
#: Every padding form: a name, an int, or a sequence of (lo, hi) pairs.
PaddingArg: TypeAlias = str | int | Sequence[Sequence[int]]

PaddingMode: TypeAlias = Literal["zeros", "reflect", "symmetric", "edge", "circular"]
Method: TypeAlias = Literal["auto", "einsum", "gemm", "winograd", "shift", "fft", "native"]
Precision: TypeAlias = Literal["float32", "native"] | None

Pads: TypeAlias = tuple[tuple[int, int], ...]
#: an array shape
Shape: TypeAlias = tuple[int, ...]


class ConvOptions(TypedDict, total=False):
    """Keyword-only extras every xconv convolution accepts (none of the peers has all).

    padding_mode
        How padded positions are filled: "zeros" (default), "reflect", "symmetric",
        "edge" or "circular". Forward convolutions only.
    method
        Algorithm name; "auto" (default) chooses.
    memory_budget
        Bytes of temporaries one call may hold; larger work is chunked.
    precision
        None/"float32" (default): float16 and bfloat16 accumulate in float32;
        "native": compute in the input dtype.
    """

    padding_mode: PaddingMode
    method: Method
    memory_budget: int | None
    precision: Precision
