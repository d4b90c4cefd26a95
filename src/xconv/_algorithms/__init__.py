"""Convolution algorithms on canonical arrays.

Each algorithm is a function of a padded, channels-last input ``(N, *S, C)``, filters
``(*k, C/groups, O)`` and a :class:`~xconv._spec.ConvSpec` (whose strides, dilations and
groups it honours; padding and input dilation are already applied), plus an estimate of
the temporary bytes it needs, which the core uses to chunk the work under the memory
budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._backend import native_conv
from .._spec import ConvSpec
from .._typing import Array, Namespace
from . import direct, gemm, shift, winograd
from . import fft as fft_method

__all__ = ["ALGORITHMS", "Algorithm"]


@dataclass(frozen=True)
class Algorithm:
    """One convolution method: how to run it and how much scratch memory it needs."""

    name: str
    #: ``run(x, w, spec, *, xp)``: the convolution of canonical arrays (module docstring).
    run: Callable[..., Array]
    #: ``workspace_bytes(x_shape, w_shape, spec, itemsize, *, accelerator=False)``:
    #: bytes of temporaries that ``run`` holds besides its inputs and output, for the
    #: padded canonical shapes ``(N, *S, C)`` and ``(*k, C/g, O)``, the compute dtype's
    #: itemsize, and whether the arrays live on a GPU (``gemm`` and ``shift`` then size
    #: their tiles for its memory instead of the CPU caches).
    workspace_bytes: Callable[..., int]
    #: ``applies(spec, w_shape, dtype, xp)``: why the method cannot run a case, or None
    #: when it can (None here: it runs every case).
    applies: Callable[[ConvSpec, tuple[int, ...], Any, Namespace], str | None] | None = None
    #: ``prepare(w, spec, xp)``: keyword arguments for ``run`` computed from the filters
    #: alone (Winograd's transformed filters), made once when the core runs the
    #: algorithm on several chunks of one input; None: nothing to prepare.
    prepare_filters: Callable[[Array, ConvSpec, Namespace], dict[str, Any]] | None = None
    #: Output-row chunks are a multiple of this many rows (Winograd's tile size).
    row_multiple: int = 1

    def __call__(
        self, x: Array, w: Array, spec: ConvSpec, *, xp: Namespace, **prepared: Any
    ) -> Array:
        return self.run(x, w, spec, xp=xp, **prepared)

    def prepare(self, w: Array, spec: ConvSpec, xp: Namespace) -> dict[str, Any]:
        """What :attr:`prepare_filters` gives, or nothing."""
        return {} if self.prepare_filters is None else self.prepare_filters(w, spec, xp)

    def reason_not_applicable(
        self, spec: ConvSpec, w_shape: tuple[int, ...], dtype: Any, xp: Namespace
    ) -> str | None:
        """Why this method cannot run the case, or None when it can."""
        return None if self.applies is None else self.applies(spec, w_shape, dtype, xp)


def _no_workspace(*_: object, **__: object) -> int:
    return 0


ALGORITHMS: dict[str, Algorithm] = {
    "einsum": Algorithm("einsum", direct.run, direct.workspace_bytes),
    "gemm": Algorithm("gemm", gemm.run, gemm.workspace_bytes),
    "shift": Algorithm("shift", shift.run, shift.workspace_bytes),
    "winograd": Algorithm(
        "winograd",
        winograd.run,
        winograd.workspace_bytes,
        winograd.applies,
        winograd.prepare,
        row_multiple=4,
    ),
    "fft": Algorithm("fft", fft_method.run, fft_method.workspace_bytes, fft_method.applies),
    # The caller's library's own convolution (torch, jax); it manages its own memory.
    "native": Algorithm("native", native_conv, _no_workspace),
}
