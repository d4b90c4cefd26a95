"""xconv's sessions. `nox` runs the CPU set; `nox -R -s NAME` reuses an env, skipping installs."""

# Every dependency comes from pyproject.toml (the `test` extra and [dependency-groups]);
# only how PyTorch's CPU build is found depends on the machine, and lives here.

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
# pip + virtualenv: pip honours the machine's pip.conf (find-links, constraints),
# which is how the local CPU build of torch is found. uv would not see it.
nox.options.default_venv_backend = "virtualenv"
nox.options.error_on_missing_interpreters = True

DIR = Path(__file__).parent.resolve()
PYPROJECT = nox.project.load_toml(DIR / "pyproject.toml")

#: CPU array backends; each gets a ``tests-<backend>`` session.
BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "dask")
#: What ``nox`` with no ``-s`` runs: the README's test command.
nox.options.sessions = [*(f"tests-{b}" for b in BACKENDS), "oracle", "lint"]

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: pytest options when the command line gives none: a worker per core, slowest tests.
PYTEST_DEFAULTS = ("-n", "auto", "--dist", "worksteal", "--durations=10")


def group(name: str) -> tuple[str, ...]:
    """Requirements of one ``[dependency-groups]`` table of pyproject.toml."""
    return nox.project.dependency_groups(PYPROJECT, name)


def pip_find_links() -> list[str]:
    """Local folders pip searches for wheels (``PIP_FIND_LINKS`` and pip's config files)."""
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".find-links"):
            links += value.strip().strip("'\"").split()
    return list(dict.fromkeys(link.removeprefix("file://") for link in links))


def torch_cpu_install_args() -> list[str]:
    """pip arguments that install a CPU-only torch, never a multi-GB CUDA build.

    ``XCONV_TORCH_SPEC`` (a requirement) and ``XCONV_TORCH_INDEX`` (an index URL,
    empty for pip's default) override the choice. Otherwise: a ``torch-*+cpu``
    wheel for this Python in a ``PIP_FIND_LINKS`` folder is pinned exactly (pip
    takes it from disk); failing that, PyTorch's CPU index is used.
    """
    spec = os.environ.get("XCONV_TORCH_SPEC")
    index = os.environ.get("XCONV_TORCH_INDEX")
    if spec is None:
        tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
        pattern = re.compile(rf"torch-([0-9][^-]*)\+cpu-{tag}-{tag}-.*\.whl$")
        versions = [
            m.group(1)
            for folder in pip_find_links()
            if Path(folder).is_dir()
            for f in Path(folder).iterdir()
            if (m := pattern.match(f.name))
        ]
        if versions:
            spec = f"torch=={max(versions, key=lambda v: tuple(map(int, v.split('.'))))}"
            index = "" if index is None else index
        else:
            spec = "torch"
    if index is None:
        index = TORCH_CPU_INDEX
    return [spec, *group("torch"), *(["--index-url", index] if index else [])]


def install_torch_cpu(session: nox.Session) -> None:
    """Install CPU torch on its own, before anything else can pull a CUDA build."""
    session.install(*torch_cpu_install_args())


def show_versions(session: nox.Session, *modules: str) -> None:
    """Fail early (not by skipping every test) if a backend does not import."""
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    m = importlib.import_module(name)\n"
        "    print(name, getattr(m, '__version__', '?'), 'from', m.__file__)\n"
    )
    session.run("python", "-c", code, *modules, silent=False)


def run_tests(session: nox.Session, backends: str, *args: str, **env: str) -> None:
    """pytest ``args`` (default: testpaths) + PYTEST_DEFAULTS, or ``nox ... -- ARGS``.

    The package is installed editable, so ``nox -R`` (no reinstall) tests the current code.
    """
    session.run(
        "pytest",
        *(session.posargs or (*args, *PYTEST_DEFAULTS)),
        env={"XCONV_TEST_BACKENDS": backends, **env},
    )


def make_tests_session(backend: str) -> None:
    module = {"array_api_strict": "array_api_strict", "dask": "dask.array"}.get(backend, backend)

    @nox.session(name=f"tests-{backend}")
    def tests(session: nox.Session) -> None:
        if backend == "torch":
            install_torch_cpu(session)
        session.install("-e", ".[test]", *group("test"), *group(backend))
        show_versions(session, "xconv", module)
        # Peer comparisons (marker `oracle`) run in the oracle session, not here.
        paths = ("--doctest-modules", "src/xconv", "tests") if backend == "numpy" else ()
        # JAX compiles a program for every new shape a property test draws: it runs the
        # `quick` profile (8 examples) unless HYPOTHESIS_PROFILE says otherwise.
        env = {"HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "quick")}
        run_tests(session, backend, "-m", "not oracle", *paths, **(env if backend == "jax" else {}))

    tests.__doc__ = (
        f"Run the test suite on the {backend} backend (XCONV_TEST_BACKENDS={backend})"
        + (", plus every docstring example." if backend == "numpy" else ".")
    )


for _backend in BACKENDS:
    make_tests_session(_backend)


@nox.session(default=False)
def tests_gpu(session: nox.Session) -> None:
    """Run the tests on CuPy and CUDA torch (needs an NVIDIA GPU; not run by default)."""
    session.install("-e", ".[test]", *group("test"), *group("gpu"))
    session.run(
        "python",
        "-c",
        "import cupy, torch; print('cupy', cupy.__version__, cupy.cuda.runtime.getDeviceCount(), "
        "'device(s)'); print('torch', torch.__version__, 'cuda', torch.cuda.is_available()); "
        "assert torch.cuda.is_available()",
    )
    run_tests(session, os.environ.get("XCONV_TEST_BACKENDS", "cupy,torch_cuda"))


@nox.session
def oracle(session: nox.Session) -> None:
    """Compare xconv with TensorFlow (tensorflow-cpu) and PyTorch, plus the reference tests."""
    install_torch_cpu(session)
    session.install("-e", ".[test]", *group("oracle"))
    show_versions(session, "xconv", "numpy", "torch", "tensorflow")
    run_tests(
        session,
        "numpy,torch",
        "tests/test_oracle.py",
        "tests/test_reference.py",
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_ENABLE_ONEDNN_OPTS="0",
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Run ruff (lint and format check) on everything and mypy on src/xconv."""
    session.install(".", *group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", *session.posargs)
    session.run("mypy", "--strict", "tests/typing")


@nox.session(default=False)
def keras(session: nox.Session) -> None:
    """Run Keras's own convolution tests on its NumPy backend, stock and on xconv.

    Installs xconv with the ``keras`` extra (Keras 3 and the JAX its NumPy backend
    imports) and runs the tests Keras ships in its wheel, ``keras/src/ops/nn_test.py``
    (``-k conv``) and ``keras/src/layers/convolutional/``: first on the stock backend,
    then with ``xconv.integrations.keras`` installed by the pytest plugin
    ``tests/keras_plugin.py``, which prints how often each adapter function ran and
    fails if none did. The two runs' closing lines should report the same counts.
    Then xconv's own adapter tests (``tests/test_keras.py``) and the example.
    Arguments go to both runs of Keras's tests, e.g. ``-- -x``.
    """
    session.install("-e", ".[keras,test]", *group("test"))
    session.env["KERAS_BACKEND"] = "numpy"  # read at Keras's first import; default: tensorflow
    show_versions(session, "xconv", "keras", "jax", "numpy")
    code = "import keras, os; print(os.path.dirname(keras.__file__))"
    keras_dir = str(session.run("python", "-c", code, silent=True)).strip().splitlines()[-1]
    paths = [os.path.join(keras_dir, "src", "ops", "nn_test.py")]
    paths.append(os.path.join(keras_dir, "src", "layers", "convolutional"))
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        session.error(f"this Keras wheel ships no tests ({', '.join(missing)} missing)")
    # Keras's tests with pytest's defaults, not xconv's configuration (filterwarnings=error).
    ini = Path(session.create_tmp()).resolve() / "pytest.ini"
    ini.write_text("[pytest]\n")
    env = {"PYTHONPATH": str(DIR / "tests")}
    common = ("-c", str(ini), "--rootdir", keras_dir, "-p", "no:cacheprovider")
    common += ("-p", "keras_plugin", "-q", "-rfE", "-k", "conv")
    for conv in ("stock", "xconv"):
        session.log(f"Keras's convolution tests, NumPy backend, convolutions: {conv}")
        session.run("pytest", *common, f"--keras-conv={conv}", *paths, *session.posargs, env=env)
    session.log("xconv's adapter tests and the Keras example")
    session.run(
        "pytest", "tests/test_keras.py", "tests/test_examples.py", "-k", "keras",
        env={"XCONV_TEST_BACKENDS": "numpy"},
    )  # fmt: skip


#: SciPy's test modules of the functions xconv.signal and xconv.ndimage reimplement.
SCIPY_TEST_MODULES = ("scipy.signal.tests.test_signaltools", "scipy.ndimage.tests.test_filters")
#: Array backends of the scipy-suite session: SciPy's NumPy mode, then its array-API
#: mode (``SCIPY_ARRAY_API``, a JSON list of SciPy's backend names) on each other one.
SCIPY_SUITE_BACKENDS = ("numpy", "torch", "jax.numpy", "array_api_strict")


def scipy_suite_args(scipy_dir: str, ini: str) -> list[str]:
    """pytest arguments that run SciPy's installed tests of the convolutions on xconv.

    SciPy's own ``conftest.py`` (its ``xp`` fixture and markers) with pytest's
    defaults rather than xconv's configuration; ``tests/scipy_plugin.py`` selects the
    tests and puts xconv's functions in SciPy's place; ``-m "not slow"`` as SciPy's
    own default run.
    """
    return [
        "-c", ini, "--rootdir", scipy_dir, "--confcutdir", scipy_dir,
        "-p", "no:cacheprovider", "-p", "scipy_plugin", "-q", "-rfE", "-m", "not slow",
        "--pyargs", *SCIPY_TEST_MODULES,
    ]  # fmt: skip


@nox.session(name="scipy-suite")
def scipy_suite(session: nox.Session) -> None:
    """Run SciPy's own tests of its convolutions with xconv's functions in their place.

    The tests the installed SciPy wheel ships for ``scipy.signal``'s ``convolve``,
    ``correlate``, ``fftconvolve``, ``oaconvolve``, ``convolve2d``, ``correlate2d``,
    ``choose_conv_method`` and ``scipy.ndimage``'s ``convolve``, ``correlate``,
    ``convolve1d``, ``correlate1d`` run four times: on NumPy, then in SciPy's array-API
    mode on torch, JAX and array-api-strict. The pytest plugin ``tests/scipy_plugin.py``
    replaces those functions by counting wrappers around xconv's, prints the calls per
    function and fails a run in which one was never called. Arguments go to every run
    (default ``-n auto``), e.g. ``nox -s scipy-suite -- -n 2 -x``.
    """
    install_torch_cpu(session)
    session.install("-e", ".[test]", *group("scipy-suite"))
    show_versions(session, "xconv", "scipy", "numpy", "torch", "jax", "array_api_strict")
    code = "import scipy, os; print(os.path.dirname(scipy.__file__))"
    scipy_dir = str(session.run("python", "-c", code, silent=True)).strip().splitlines()[-1]
    tests = [os.path.join(scipy_dir, *m.split(".")[1:]) + ".py" for m in SCIPY_TEST_MODULES]
    missing = [path for path in tests if not os.path.exists(path)]
    if missing:
        session.error(f"this SciPy wheel ships no tests ({', '.join(missing)} missing)")
    # SciPy's tests with pytest's defaults, not xconv's configuration (filterwarnings=error).
    ini = Path(session.create_tmp()).resolve() / "pytest.ini"
    ini.write_text("[pytest]\n")
    args = scipy_suite_args(scipy_dir, str(ini))
    for backend in SCIPY_SUITE_BACKENDS:
        mode = "" if backend == "numpy" else json.dumps([backend])
        session.log(f"SciPy's convolution tests on xconv, backend {backend}")
        session.run(
            "pytest", *args, *(session.posargs or ("-n", "auto")),
            env={"PYTHONPATH": str(DIR / "tests"), "SCIPY_ARRAY_API": mode},
        )  # fmt: skip


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """Install xconv and run ``python -m xconv demo`` (NumPy, plus any backends installed)."""
    session.install(".")
    session.run("python", "-m", "xconv", "demo", *session.posargs)


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the documentation into docs/_build/html and run every example in it.

    ``sphinx-build -W`` (warnings are errors) for HTML, then ``-b doctest``: every
    ``>>>`` block of the pages and of the API docstrings. Arguments go to the HTML
    build (e.g. ``-- -E`` to rebuild everything).
    """
    install_torch_cpu(session)
    session.install("-e", ".", *group("docs"))
    for builder in ("html", "doctest"):
        args = session.posargs if builder == "html" else ()
        session.run(
            "sphinx-build", "-W", "--keep-going", "-b", builder, "docs",
            f"docs/_build/{builder}", *args,
        )  # fmt: skip


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmark xconv against TF, torch, JAX and SciPy; write benchmarks/results/.

    With no arguments: the full suite, then the crossover and scaling sweeps (about 12
    minutes on 2 cores). Arguments go to benchmarks/run.py alone, e.g.
    ``nox -s bench -- --quick`` (a smoke run) or ``-- --cases 'conv3x3-*'``.
    """
    install_torch_cpu(session)
    session.install("-e", ".", *group("bench"))
    show_versions(session, "xconv", "numpy", "scipy", "tensorflow", "torch", "jax")
    session.run("python", "benchmarks/run.py", *session.posargs)
    if not session.posargs:
        session.run("python", "benchmarks/crossover.py")


if __name__ == "__main__":
    nox.main()
