"""Convolution algorithms on canonical arrays.

Each algorithm is a function of a padded, channels-last input ``(N, *S, C)``, filters
``(*k, C/groups, O)`` and a :class:`~xconv._spec.ConvSpec` (whose strides, dilations and
groups it honours; padding and input dilation are already applied), plus an estimate of
the temporary bytes it needs, which the core uses to chunk the work under the memory
budget. An :class:`Algorithm` also carries the traits the core acts on (whether its
results mix values beyond a window, whether it pads itself, ...), so that the core
never asks for an algorithm by name.

The tile sizes and thresholds of ``gemm``, ``shift``, ``fft`` and ``winograd`` are
frozen ``Tuning`` objects in their modules (``TUNING``, the measured defaults);
:func:`tuning` runs a block of code with others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import _backend, _plan, _workspace
from .._spec import ConvSpec
from .._typing import Array, Namespace
from . import einsum as _einsum
from . import fft as _fft
from . import gemm as _gemm
from . import shift as _shift
from . import winograd as _winograd

__all__ = ["ALGORITHMS", "Algorithm", "tuning"]

#: ``why_not(spec, w_shape, dtype, xp)``: why a method cannot run a case, "" when it can.
WhyNot = Callable[[ConvSpec, tuple[int, ...], Any, Namespace], str]


@dataclass(frozen=True)
class Algorithm:
    """One convolution method: how to run it, how much scratch memory it needs, and
    the traits the core acts on."""

    name: str
    #: ``run(x, w, spec, *, xp)``: the convolution of canonical arrays (module docstring).
    run: Callable[..., Array]
    #: ``workspace_bytes(x_shape, w_shape, spec, itemsize, *, accelerator=False)``:
    #: bytes of temporaries that ``run`` holds besides its inputs and output, for the
    #: padded canonical shapes ``(N, *S, C)`` and ``(*k, C/g, O)``, the compute dtype's
    #: itemsize, and whether the arrays live on a GPU (``gemm`` and ``shift`` then size
    #: their tiles for its memory instead of the CPU caches).
    workspace_bytes: Callable[..., int]
    #: ``refusal(spec, w_shape, dtype, xp)``: why the method cannot run a case, "" when
    #: it can (None here: it runs every case). Asked through :meth:`applies` and
    #: :meth:`why_not`.
    refusal: WhyNot | None = None
    #: ``prepare(w, spec, xp)``: keyword arguments for ``run`` computed from the filters
    #: alone (Winograd's transformed filters), made once when the core runs the
    #: algorithm on several chunks of one input; None: nothing to prepare.
    prepare_filters: Callable[[Array, ConvSpec, Namespace], dict[str, Any]] | None = None
    #: Output-row chunks are a multiple of this many rows (Winograd's tile size).
    row_multiple: int = 1
    #: Every input of a block or tile reaches every output of it (FFT, Winograd): a NaN
    #: or inf would spread beyond its receptive field, so ``auto`` picks the method only
    #: for finite data.
    mixes_values: bool = False
    #: ``run`` also takes ``pads=``, the zero pads it applies itself (the library's own
    #: convolution, as much as :func:`xconv._backend.native_pads` says): the core then
    #: passes it the unpadded input, and makes no padded copy for it.
    pads_itself: bool = False
    #: Runs depthwise filters (``C/g == 1``) on host threads
    #: (:func:`xconv._backend.host_threads`): the core copies the padded input on them too.
    host_threaded: bool = False
    #: Its work is matrix products whose size follows the output rows, so a sample too
    #: large for one BLAS thread may run as pieces of rows on host threads
    #: (``xconv._core._piece_rows``). Not the FFT: its transforms span the whole sample
    #: (each piece would transform its halo again, and smaller transforms gain nothing).
    row_pieces: bool = True

    def __call__(
        self, x: Array, w: Array, spec: ConvSpec, *, xp: Namespace, **prepared: Any
    ) -> Array:
        # Its temporaries return to the workspace when it ends; its result is fresh.
        return _workspace.scoped(self.run)(x, w, spec, xp=xp, **prepared)

    def prepare(self, w: Array, spec: ConvSpec, xp: Namespace) -> dict[str, Any]:
        """What :attr:`prepare_filters` gives, or nothing."""
        return {} if self.prepare_filters is None else self.prepare_filters(w, spec, xp)

    def applies(self, spec: ConvSpec, w_shape: tuple[int, ...], dtype: Any, xp: Namespace) -> bool:
        """Whether this method can run the case (filters of ``w_shape``, compute ``dtype``)."""
        return not self.why_not(spec, w_shape, dtype, xp)

    def why_not(self, spec: ConvSpec, w_shape: tuple[int, ...], dtype: Any, xp: Namespace) -> str:
        """Why this method cannot run the case, for an error message; "" when it can."""
        return "" if self.refusal is None else self.refusal(spec, w_shape, dtype, xp)


def _no_workspace(*_: object, **__: object) -> int:
    return 0


def _native_why_not(spec: ConvSpec, w_shape: tuple[int, ...], dtype: Any, xp: Namespace) -> str:
    """Why the caller's library's own convolution cannot run the case, "" when it can."""
    return _backend.native_unsupported(xp, spec.rank, dtype) or ""


ALGORITHMS: dict[str, Algorithm] = {
    "einsum": Algorithm("einsum", _einsum.run, _einsum.workspace_bytes),
    "gemm": Algorithm("gemm", _gemm.run, _gemm.workspace_bytes),
    "shift": Algorithm("shift", _shift.run, _shift.workspace_bytes, host_threaded=True),
    "winograd": Algorithm(
        "winograd",
        _winograd.run,
        _winograd.workspace_bytes,
        _winograd.why_not,
        _winograd.prepare,
        row_multiple=4,
        mixes_values=True,
    ),
    "fft": Algorithm(
        "fft", _fft.run, _fft.workspace_bytes, _fft.why_not, mixes_values=True, row_pieces=False
    ),
    # The caller's library's own convolution (torch, jax); it manages its own memory.
    "native": Algorithm(
        "native", _backend.native_conv, _no_workspace, _native_why_not, pads_itself=True
    ),
}


@contextlib.contextmanager
def tuning(
    *,
    gemm: _gemm.Tuning | None = None,
    shift: _shift.Tuning | None = None,
    fft: _fft.Tuning | None = None,
    winograd: _winograd.Tuning | None = None,
) -> Iterator[None]:
    """Run the algorithms with other tile sizes and thresholds inside a ``with`` block.

    Each given object replaces that module's ``TUNING`` (the measured defaults) until
    the block ends; plans cached under the old values are dropped on entry and exit.
    Tests use it to get many tiny tiles, or blocks on small inputs. It changes the
    tuning for every thread of the process.

    Parameters
    ----------
    gemm, shift, fft, winograd : Tuning, optional
        The algorithm's ``Tuning`` to use, e.g. ``dataclasses.replace(gemm.TUNING,
        patch_bytes=600)``; None keeps the current one.

    Examples
    --------
    >>> import dataclasses
    >>> from xconv._algorithms import fft
    >>> with tuning(fft=dataclasses.replace(fft.TUNING, min_block=0)):
    ...     fft.TUNING.min_block
    0
    >>> fft.TUNING.min_block
    64
    """
    saved = (_gemm.TUNING, _shift.TUNING, _fft.TUNING, _winograd.TUNING)
    try:
        _gemm.TUNING = _gemm.TUNING if gemm is None else gemm
        _shift.TUNING = _shift.TUNING if shift is None else shift
        _fft.TUNING = _fft.TUNING if fft is None else fft
        _winograd.TUNING = _winograd.TUNING if winograd is None else winograd
        _clear_plans()
        yield
    finally:
        _gemm.TUNING, _shift.TUNING, _fft.TUNING, _winograd.TUNING = saved
        _clear_plans()


def _clear_plans() -> None:
    """Drop the plans cached under a tuning (gemm's tiles, FFT's block lengths, the
    programs JAX compiled with them, and the public functions' plans of calls,
    :mod:`xconv._plan`, which hold those programs and memory checks made with them)."""
    _plan.clear()
    _gemm.plan_tiles.cache_clear()
    _fft.axis_plan.cache_clear()
    _backend.staging.jax_jit.cache_clear()
