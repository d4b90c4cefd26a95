"""Shared docstring text, filled into the public functions' docstrings at import time.

A docstring names a shared entry with a ``%(key)s`` placeholder on a line of its own;
:func:`docfiller` replaces it by the entry, indented as the placeholder was (the model
is SciPy's ``ndimage._ni_docstrings`` with ``scipy._lib.doccer``). Only the docstring
changes: the function stays the plain ``def`` it is, so ``help()``, ``inspect``,
Sphinx and type checkers see its real signature.

Examples
--------
>>> @docfiller({"x": "x : int\\n    A number."})
... def twice(x: int) -> int:
...     '''Twice ``x``.
...
...     Parameters
...     ----------
...     %(x)s
...     '''
...     return 2 * x
>>> print(twice.__doc__)
Twice ``x``.
<BLANKLINE>
Parameters
----------
x : int
    A number.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._typing import METHODS, PADDING_MODES, PRECISIONS

__all__ = ["CONV_DOCS", "NDIMAGE_DOCS", "docfiller", "fill"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: A placeholder alone on its line, and its indentation.
_PLACEHOLDER = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", re.MULTILINE)


def fill(doc: str, entries: Mapping[str, str]) -> str:
    """``doc`` dedented (:func:`inspect.cleandoc`), every placeholder line replaced.

    Raises ``KeyError`` for a placeholder that ``entries`` lacks and ``ValueError``
    for one that is not alone on its line, so a typo fails at import time.
    """

    def entry(match: re.Match[str]) -> str:
        indent, key = match.groups()
        return textwrap.indent(entries[key], indent)

    text = _PLACEHOLDER.sub(entry, inspect.cleandoc(doc))
    stray = re.search(r"%\(\w+\)s", text)
    if stray:
        raise ValueError(f"placeholder {stray.group()} must stand alone on its line")
    return text


def docfiller(entries: Mapping[str, str]) -> Callable[[_F], _F]:
    """A decorator that fills the placeholders of a function's docstring from ``entries``.

    The function itself is returned unchanged (docstrings stripped by ``python -OO``
    stay None).
    """

    def decorate(func: _F) -> _F:
        if func.__doc__ is not None:
            func.__doc__ = fill(func.__doc__, entries)
        return func

    return decorate


# --- the TensorFlow-style functions (xconv.conv2d, ...) ------------------------------

_INTS = """\
An int, a sequence of length 1 or of the spatial rank, or TensorFlow's rank+2
form in ``data_format`` order with 1 at the batch and channel positions. Every
entry is a positive int; strides > 1 together with dilations > 1 are allowed."""

_PADDING = """\
``"SAME"`` (TensorFlow's rule: ``out = ceil(in / stride)``, the odd pixel of
padding after), ``"VALID"`` or ``"FULL"`` (any case); an int padded on every
side; one ``(lo, hi)`` pair per spatial dimension; or TensorFlow's explicit list
of rank+2 pairs in ``data_format`` order with ``(0, 0)`` at batch and channels.
For transposed convolutions and gradients: the forward convolution's padding."""

_DATA_FORMAT = """\
Channels last (``"N...C"``, e.g. ``"NHWC"``) or channels first (``"NC..."``,
e.g. ``"NCHW"``); None means channels last."""

_FORMATS = {
    "1d": '{"NWC", "NCW"}',
    "2d": '{"NHWC", "NCHW"}',
    "3d": '{"NDHWC", "NCDHW"}',
    "nd": "str",
}

_RETURNS_RAISES = """\
Returns
-------
array
    An array of the inputs' library, on their device, with dtype ``result_type``
    of the two array arguments (integer inputs give exact integer results).

Raises
------
TypeError
    Non-arrays, arrays of different libraries, non-numeric dtypes, non-int
    strides, missing or unknown arguments.
ValueError
    Inconsistent shapes (for gradients, the message lists the sizes that fit),
    unknown strings, non-positive strides or dilations, negative padding; the
    message names the argument."""


def _entry(header: str, *lines: str) -> str:
    """A numpydoc parameter entry: ``header``, then ``lines`` indented under it."""
    return header + "\n" + textwrap.indent("\n".join(lines), "    ")


def _choices(values: tuple[str | None, ...]) -> str:
    """numpydoc's set of allowed values, e.g. ``{"full", "same", "valid"}``."""
    return "{" + ", ".join("None" if v is None else f'"{v}"' for v in values) + "}"


#: Entries of the TensorFlow-style functions' docstrings.
CONV_DOCS: dict[str, str] = {
    "strides": _entry("strides : int or sequence of int", _INTS),
    "stride": _entry("stride : int or sequence of int", _INTS),
    "strides_optional": _entry("strides : int or sequence of int, optional", _INTS, "Default 1."),
    "dilations": _entry("dilations : int or sequence of int, optional", _INTS, "Default 1."),
    "padding": _entry("padding : str, int or sequence of (int, int)", _PADDING),
    "padding_optional": _entry("padding : str, int or sequence of (int, int), optional", _PADDING),
    **{
        f"data_format_{rank}": _entry(f"data_format : {choices}, optional", _DATA_FORMAT)
        for rank, choices in _FORMATS.items()
    },
    "name": _entry("name : str, optional", "Ignored; accepted so TensorFlow code runs unchanged."),
    "padding_mode": _entry(
        f"padding_mode : {_choices(PADDING_MODES)}, optional",
        "How SAME or explicit padding is filled: zeros (default), mirrored without",
        "(reflect) or with (symmetric) the edge, the edge repeated, or wrapped around",
        "(circular). Keyword-only.",
    ),
    "padding_mode_zeros": _entry(
        'padding_mode : {"zeros"}, optional',
        'Only "zeros" (the forward functions take every mode). Keyword-only.',
    ),
    "extras": "\n".join(
        [
            _entry(
                f"method : {_choices(METHODS)}, optional",
                'The algorithm: "auto" (default) chooses from the shapes, "native" is the',
                "library's own convolution (torch, JAX; cuDNN for CuPy); an algorithm this",
                "version lacks raises ``ValueError``. Keyword-only.",
            ),
            _entry(
                "memory_budget : int, optional",
                "Bytes of temporaries one call may hold; larger work is chunked (default:",
                "the package's budget). Keyword-only.",
            ),
            _entry(
                f"precision : {_choices(PRECISIONS)}, optional",
                'None or "float32": float16 and bfloat16 accumulate in float32; "native":',
                "compute in the input dtype. Keyword-only.",
            ),
        ]
    ),
    "returns_raises": _RETURNS_RAISES,
}


# --- xconv.ndimage ---------------------------------------------------------------------

#: Entries of :mod:`xconv.ndimage`'s docstrings.
NDIMAGE_DOCS: dict[str, str] = {
    "input": (
        "input : array or array_like\n"
        "    The input array (a list, tuple or NumPy scalar is a NumPy array)."
    ),
    "weights": (
        "weights : array or array_like\n"
        "    The kernel, one dimension per filtered axis. A list or tuple becomes an\n"
        "    array of the input's library on its device."
    ),
    "weights_1d": (
        "weights : array or array_like\n"
        "    The kernel (1-d). A list or tuple becomes an array of the input's library\n"
        "    on its device."
    ),
    "axis": "axis : int, optional\n    The axis to filter along (default: the last).",
    "output": (
        "output : dtype, str or array, optional\n"
        "    The result's dtype (default: the input's, complex if the weights are), or an\n"
        "    array of the input's library and shape to write the result into and return\n"
        "    (not for immutable arrays such as JAX's)."
    ),
    "mode": (
        'mode : {"reflect", "constant", "nearest", "mirror", "wrap"}, optional\n'
        "    How the input is extended beyond its edges (see :mod:`xconv.ndimage`)."
    ),
    "cval": 'cval : number, optional\n    The value of ``mode="constant"``.',
    "origin": (
        "origin : int or sequence of int, optional\n"
        "    Shift of the kernel's centre ``n // 2``; each entry in\n"
        "    ``[-(n // 2), (n - 1) // 2]``."
    ),
    "origin_1d": (
        "origin : int, optional\n"
        "    Shift of the kernel's centre ``n // 2``, in ``[-(n // 2), (n - 1) // 2]``."
    ),
    "axes": (
        "axes : int or sequence of int, optional\n"
        "    The axes to filter (default: all); ``weights`` has one dimension per axis."
    ),
    "returns_raises": """\
Returns
-------
array
    The filtered array, of the input's shape, library and device.

Raises
------
TypeError
    Inputs that are neither arrays nor array-likes of numbers, arrays of different
    libraries, an ``output`` that is not a dtype or array, a real ``output`` array
    (or dtype name) for complex data (also a ``RuntimeError``, as SciPy's).
ValueError
    Weights of the wrong number of dimensions or empty, an ``origin`` sequence of
    another length, a sequence of modes (these also ``RuntimeError``, as SciPy's),
    unknown ``mode``, ``origin`` out of range, bad ``axes``/``axis``, a complex
    ``cval`` for real input.

Warns
-----
UserWarning
    A real ``output`` dtype for complex data: promoted to complex, as SciPy does.""",
}
