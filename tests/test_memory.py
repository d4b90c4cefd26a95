"""Work that cannot fit raises ``MemoryError`` naming the sizes, before allocating.

A result or padded input larger than the device's memory (huge explicit padding, a
huge transposed ``output_shape``, FULL padding with a huge dilation) must fail at
call time with a message that gives the shapes and bytes involved, not crash deep
in a backend (torch and JAX have their own allocator errors) or start work. Dask is
the exception by design: it computes block by block, so such a graph is built lazily
and nothing is allocated until a block is computed.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import xconv
from _helpers import make
from xconv import _backend

BIG = 10**6

#: name -> call of xconv on small input ``x`` (NHWC), filters ``w`` (HWIO, 3x3x1x1)
#: and a size ``n``: each makes a result of about ``(1, n, n, 1)`` or more.
CALLS: dict[str, Callable[[Any, Any, int], Any]] = {
    "explicit-padding": lambda x, w, n: xconv.conv2d(x, w, 1, [(n, n), (n, n)]),
    "huge-dilation-full": lambda x, w, n: xconv.convolution(x, w, padding="FULL", dilations=[n, n]),
    "transpose-output-shape": lambda x, w, n: xconv.conv2d_transpose(
        x, w, (1, n, n, 1), n // 4, "SAME"
    ),
    "backprop-input-sizes": lambda x, w, n: xconv.conv2d_backprop_input(
        (1, n, n, 1), w, x, n // 4, "SAME"
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_too_large_raises_before_work(xp: ModuleType, device: Any, name: str) -> None:
    x = make(xp, np.ones((1, 4, 4, 1), np.float32), device)
    w = make(xp, np.ones((3, 3, 1, 1), np.float32), device)
    if _backend.capabilities(xp).lazy:
        # Lazy: 40 GB in a graph of a few hundred blocks, built at once, none computed.
        y = CALLS[name](x, w, 10**5)
        assert y.shape[1] >= 10**5
        return
    CALLS[name](x, w, 4)  # a small call first: one-time imports (cuDNN's) are not per call
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match=r"needs about .* GiB.*shape \(1, \d{6,}, \d{6,}"):
            CALLS[name](x, w, BIG)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak} bytes traced before the MemoryError"


def test_message_names_sizes_and_limit() -> None:
    x, w = np.ones((2, 3, 3, 5), np.float64), np.ones((1, 1, 5, 7), np.float64)
    with pytest.raises(MemoryError) as info:
        xconv.conv2d(x, w, 1, [(BIG**2, BIG**2), (0, 0)])
    message = str(info.value)
    assert f"(2, {2 * BIG**2 + 3}, 3, 7)" in message  # the result
    assert f"(2, {2 * BIG**2 + 3}, 3, 5)" in message  # the padded input
    assert "of memory on cpu" in message


def test_limit_follows_address_space_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host limit is physical memory, lowered by ``ulimit -v`` when that is set."""
    resource = pytest.importorskip("resource")
    host = _backend.memory_limit(np, np.ones(1))
    if host is None:
        pytest.skip("this platform does not report its memory")
    monkeypatch.setattr(resource, "getrlimit", lambda _: (2**30, resource.RLIM_INFINITY))
    assert _backend.memory_limit(np, np.ones(1)) == min(host, 2**30)
    x, w = np.ones((1, 9000, 9000, 1), np.float32), np.ones((1, 1, 1, 1), np.float32)
    with pytest.raises(MemoryError, match="more than the 1 GiB"):
        xconv.conv2d(x, w, 1, [(9000, 9000)] * 2)


def test_fitting_work_unaffected(xp: ModuleType, device: Any) -> None:
    """Just under the limit is not refused: a normal call with a tiny budget runs."""
    x = make(xp, np.ones((1, 6, 6, 2), np.float32), device)
    w = make(xp, np.ones((3, 3, 2, 1), np.float32), device)
    y = xconv.conv2d(x, w, 1, "SAME", memory_budget=64)
    assert tuple(y.shape) == (1, 6, 6, 1)
