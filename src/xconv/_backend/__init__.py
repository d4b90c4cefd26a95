"""The only package that touches backend-specific functions.

Everything else in xconv is written against the standard namespace ``xp``. This layer
offers a few primitives with fast paths where a library has them and a fallback in
standard operations only, one module per concern:

- :mod:`~xconv._backend.libraries` — which library is behind a namespace and what it
  can do: :func:`capabilities` (a frozen :class:`Capabilities`, built once per
  namespace), :func:`library`, :func:`has_strided_views`, :func:`has_einsum`;
- :mod:`~xconv._backend.arrays` — :func:`namespace` (the caller's namespace, with clear
  ``TypeError``\\ s), :func:`device`, :func:`on_accelerator`, :func:`is_dense`,
  :func:`zero_size`, :func:`all_finite`, :func:`extension_float`, :func:`map_samples`,
  :func:`finish`;
- :mod:`~xconv._backend.arraylike` — :func:`as_arrays`: SciPy's array-likes (lists,
  NumPy scalars, Python numbers) as arrays of the arguments' namespace;
- :mod:`~xconv._backend.windows` — :func:`sliding_windows`: a read-only strided view on
  NumPy, CuPy and torch; strided slices + ``stack`` elsewhere;
- :mod:`~xconv._backend.products` — :func:`contract` (``einsum`` where the library has
  one, else a batched ``matmul``), :func:`matmul`, :func:`contraction_dtype`;
- :mod:`~xconv._backend.native` — ``method="native"``: torch's and JAX's own
  convolutions, and cuDNN's for CuPy (:func:`native_conv`, :func:`native_pads`,
  :func:`native_unsupported`; cuDNN's gradients :func:`native_input_grad`,
  :func:`native_filter_grad`, and where they may run, :func:`native_grads`);
- :mod:`~xconv._backend.cudnn` — cuDNN's convolutions for CuPy arrays through
  cudnn-frontend's graph API (imports neither library until it runs one);
- :mod:`~xconv._backend.inplace` — :func:`supports_inplace`, :func:`copy_into`, :func:`add_into`,
  :func:`product_into`, which write only into xconv's own fresh temporaries;
- :mod:`~xconv._backend.threads` — :func:`host_threads` and :func:`parallel` on kept
  helper threads;
- :mod:`~xconv._backend.staging` — :func:`staged`: whole algorithms as one ``jax.jit``
  program;
- :mod:`~xconv._backend.fft` — :func:`fft_namespace`: ``scipy.fft`` on every core for
  NumPy arrays when SciPy is installed, else the library's ``fft`` extension;
- :mod:`~xconv._backend.memory` — :func:`memory_limit` where an array lives;
- :mod:`~xconv._backend.buffers` — raw host buffers and typed views of them for
  :mod:`xconv._workspace` (:func:`host_workspace`, :func:`raw_buffer`, ...).

:func:`by_chunks`, the Dask hook of the core's pipeline, lives in :mod:`xconv._dask`
and is re-exported here. Library checks use array-api-compat's ``is_*_namespace``
helpers, which never import a library that the caller has not imported; no module
here imports cupy, torch, jax, dask or scipy at module level. Nothing here moves data
to the host.
"""

from __future__ import annotations

from .._dask import by_chunks
from . import products, staging, threads
from .arraylike import as_arrays
from .arrays import (
    all_finite,
    device,
    extension_float,
    finish,
    is_dense,
    map_samples,
    namespace,
    on_accelerator,
    zero_size,
)
from .buffers import (
    buffer_key,
    buffer_view,
    fresh_copy,
    host_workspace,
    itemsize,
    raw_buffer,
    shares_buffer,
)
from .fft import FFTFunctions, fft_namespace
from .inplace import add_into, copy_into, product_into, supports_inplace
from .libraries import Capabilities, capabilities, has_einsum, has_strided_views, library
from .memory import memory_limit
from .native import (
    CUDNN_INSTALL,
    NativeRefused,
    cudnn_status,
    cudnn_unavailable,
    native_accumulates_half,
    native_batch_invariant,
    native_conv,
    native_filter_grad,
    native_grads,
    native_input_grad,
    native_pads,
    native_unsupported,
)
from .products import contract, contraction_dtype, matmul
from .staging import staged
from .threads import (
    BLAS_SMALL_WORK,
    THREADS_ENV,
    host_threads,
    parallel,
    parallel_map,
    sample_threads,
)
from .windows import sliding_windows

__all__ = [
    "BLAS_SMALL_WORK",
    "CUDNN_INSTALL",
    "THREADS_ENV",
    "Capabilities",
    "FFTFunctions",
    "NativeRefused",
    "add_into",
    "all_finite",
    "as_arrays",
    "buffer_key",
    "buffer_view",
    "by_chunks",
    "capabilities",
    "contract",
    "contraction_dtype",
    "copy_into",
    "cudnn_status",
    "cudnn_unavailable",
    "device",
    "extension_float",
    "fft_namespace",
    "finish",
    "fresh_copy",
    "has_einsum",
    "has_strided_views",
    "host_threads",
    "host_workspace",
    "is_dense",
    "itemsize",
    "library",
    "map_samples",
    "matmul",
    "memory_limit",
    "namespace",
    "native_accumulates_half",
    "native_batch_invariant",
    "native_conv",
    "native_filter_grad",
    "native_grads",
    "native_input_grad",
    "native_pads",
    "native_unsupported",
    "on_accelerator",
    "parallel",
    "parallel_map",
    "product_into",
    "raw_buffer",
    "sample_threads",
    "shares_buffer",
    "sliding_windows",
    "staged",
    "supports_inplace",
    "zero_size",
]

# Private names kept under their former spelling for the tests and notes that use them.
_jax_jit = staging.jax_jit
_matmul_by_products = products.matmul_by_products
_helper_pool = threads.helper_pool
