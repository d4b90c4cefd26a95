"""Static types of the public API, as a user's type checker sees them.

``tests/typing/use_api.py`` calls every public function; ``mypy --strict`` must
accept it, and must refuse copies of it with one mistake each: a misspelt keyword
(TensorFlow's or one of the extras) or a value outside a ``Literal``. All files go
through one mypy run (the cost is reading numpy's and xconv's types once).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import typing
from pathlib import Path

import pytest

import xconv
from xconv import _typing, ndimage, signal

SCRIPT = Path(__file__).parent / "typing" / "use_api.py"

#: Libraries that xconv imports only inside functions (never needed for its types).
LAZY_IMPORTS = ("torch", "jax", "jaxlib", "dask", "distributed", "cupy", "scipy", "tensorflow")

#: file name -> (text in the script, its replacement, what mypy's error must say).
MISTAKES = {
    "misspelt_padding.py": (
        'strides=1, padding="SAME", method="gemm"',
        'strides=1, paddin="SAME", method="gemm"',
        r'Unexpected keyword argument "paddin" for "conv2d"',
    ),
    "misspelt_method.py": (
        'strides=1, padding="SAME", method="gemm"',
        'strides=1, padding="SAME", methd="gemm"',
        r'Unexpected keyword argument "methd" for "conv2d"',
    ),
    "unknown_method.py": (
        'strides=1, padding="SAME", method="gemm"',
        'strides=1, padding="SAME", method="gemmm"',
        r'Argument "method" to "conv2d" has incompatible type "Literal\[\'gemmm\'\]"',
    ),
    "unknown_padding_mode.py": (
        'padding_mode="reflect"',
        'padding_mode="mirror"',
        r'Argument "padding_mode" to "conv2d" has incompatible type "Literal\[\'mirror\'\]"',
    ),
    "unknown_precision.py": (
        'precision="native"',
        'precision="float16"',
        r'"precision" to "depthwise_conv2d_backprop_filter" has incompatible type',
    ),
    "unknown_signal_mode.py": (
        'signal.convolve(a, k, mode="same"',
        'signal.convolve(a, k, mode="sam"',
        r'Argument "mode" to "convolve" has incompatible type "Literal\[\'sam\'\]"',
    ),
    "unknown_ndimage_mode.py": (
        'mode="nearest"',
        'mode="nearby"',
        r'Argument "mode" to "correlate" has incompatible type "Literal\[\'nearby\'\]"',
    ),
}


def _errors(report: str) -> dict[str, list[str]]:
    """mypy's error lines per file name."""
    found: dict[str, list[str]] = {}
    for line in report.splitlines():
        match = re.match(r"(.+?):\d+: error: (.*)", line)
        if match:
            found.setdefault(Path(match[1]).name, []).append(match[2])
    return found


def test_mypy_strict_accepts_the_script_and_refuses_mistakes(tmp_path: Path) -> None:
    mypy_api = pytest.importorskip("mypy.api")
    text = SCRIPT.read_text()
    files = [tmp_path / SCRIPT.name]
    files[0].write_text(text)
    for name, (old, new, _) in MISTAKES.items():
        assert text.count(old) == 1, f"the script must contain {old!r} once"
        files.append(tmp_path / name)
        files[-1].write_text(text.replace(old, new))
    # xconv as this test imports it (the checkout under test, not another install);
    # errors inside the package are for `nox -s lint` to report, not the user. The
    # libraries xconv imports inside functions are not read (torch's types alone
    # take mypy many seconds).
    src = Path(xconv.__file__).parent.parent
    config = tmp_path / "mypy.ini"
    config.write_text(
        f"[mypy]\nstrict = True\nmypy_path = {src}\ncache_dir = {tmp_path / 'cache'}\n"
        "[mypy-xconv.*]\nfollow_imports = silent\n"
        f"[mypy-{','.join(f'{m}.*' for m in LAZY_IMPORTS)}]\nfollow_imports = skip\n"
    )
    stdout, stderr, status = mypy_api.run(["--config-file", str(config), *map(str, files)])
    errors = _errors(stdout)
    assert SCRIPT.name not in errors, stdout
    for name, (_, _, expected) in MISTAKES.items():
        assert len(errors.get(name, [])) == 1, f"{name}: {errors.get(name)}\n{stdout}{stderr}"
        assert re.search(expected, errors[name][0]), errors[name][0]
    assert status == 1


def test_script_runs() -> None:
    """The script's calls are valid at run time too."""
    spec = importlib.util.spec_from_file_location("use_api", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tf_shapes, scipy_shapes = module.tensorflow_style(), module.scipy_style()
    assert len(tf_shapes) == 17
    assert len(scipy_shapes) == 10


def test_script_calls_every_public_function() -> None:
    text = SCRIPT.read_text()
    public = [f"xconv.{n}(" for n in xconv._api.__all__]
    public += [f"signal.{n}(" for n in signal.__all__]
    public += [f"ndimage.{n}(" for n in ndimage.__all__]
    assert [p for p in public if p not in text] == []


@pytest.mark.parametrize(
    ("literal", "values"),
    [
        (_typing.PaddingMode, _typing.PADDING_MODES),
        (_typing.Method, _typing.METHODS),
        (_typing.Precision, _typing.PRECISIONS),
        (_typing.SignalMode, _typing.SIGNAL_MODES),
        (_typing.SignalMethod, _typing.SIGNAL_METHODS),
        (_typing.Boundary, _typing.BOUNDARIES),
        (_typing.NdimageMode, _typing.NDIMAGE_MODES),
    ],
)
def test_allowed_values_are_the_literals(literal: object, values: tuple[object, ...]) -> None:
    assert values == typing.get_args(literal)
    assert len(values) == len(set(values))


def test_scipy_name_maps_cover_their_literals() -> None:
    """Every ``boundary``/``mode`` name has a core padding mode, and nothing else does."""
    assert tuple(signal.BOUNDARY_MODES) == _typing.BOUNDARIES
    assert tuple(ndimage.MODE_PADDING) == _typing.NDIMAGE_MODES
    modes = {*signal.BOUNDARY_MODES.values(), *ndimage.MODE_PADDING.values()}
    assert modes <= set(_typing.PADDING_MODES)


@pytest.mark.parametrize("name", xconv._api.__all__)
def test_signature_is_the_def(name: str) -> None:
    """``inspect`` reads the function's own parameters: a plain def, no built signature."""
    func = getattr(xconv, name)
    assert inspect.isfunction(func)
    assert not hasattr(func, "__signature__")
    assert func.__module__ == "xconv"
    assert func.__name__ == name
    assert "%(" not in (func.__doc__ or ""), "a docstring placeholder was left unfilled"
    hints = typing.get_type_hints(func, vars(_typing))
    assert hints["method"] == _typing.Method
    assert hints["padding_mode"] == _typing.PaddingMode
