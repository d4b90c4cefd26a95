"""A tiny CNN written with xconv on NumPy: forward and backward by hand, checked
against torch autograd when torch is installed.

    python examples/tiny_cnn.py

conv 3x3 (SAME, stride 2) -> ReLU -> conv 3x3 (VALID) -> mean squared loss. The
backward pass uses xconv's gradient ops (``conv2d_backprop_input`` and
``conv2d_backprop_filter``, TensorFlow's raw ops), so it needs nothing but NumPy.
"""

from __future__ import annotations

import numpy as np

import xconv


def forward_backward(
    x: np.ndarray, w1: np.ndarray, w2: np.ndarray, target: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Loss and its gradients with respect to ``x``, ``w1`` and ``w2``."""
    z1 = xconv.conv2d(x, w1, 2, "SAME")
    h1 = np.maximum(z1, 0)
    y = xconv.conv2d(h1, w2, 1, "VALID")
    loss = float(np.mean((y - target) ** 2))
    dy = 2 * (y - target) / y.size
    dw2 = xconv.conv2d_backprop_filter(h1, w2.shape, dy, 1, "VALID")
    dh1 = xconv.conv2d_backprop_input(h1.shape, w2, dy, 1, "VALID")
    dz1 = dh1 * (z1 > 0)
    dw1 = xconv.conv2d_backprop_filter(x, w1.shape, dz1, 2, "SAME")
    dx = xconv.conv2d_backprop_input(x.shape, w1, dz1, 2, "SAME")
    return loss, dx, dw1, dw2


def torch_reference(
    x: np.ndarray, w1: np.ndarray, w2: np.ndarray, target: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray] | None:
    """The same network with torch autograd (xconv on torch tensors), or None."""
    try:
        import torch
    except ImportError:
        return None
    xt, w1t, w2t = (torch.tensor(a, requires_grad=True) for a in (x, w1, w2))
    h1 = torch.relu(xconv.conv2d(xt, w1t, 2, "SAME"))
    loss = torch.mean((xconv.conv2d(h1, w2t, 1, "VALID") - torch.tensor(target)) ** 2)
    loss.backward()
    return float(loss.detach()), xt.grad.numpy(), w1t.grad.numpy(), w2t.grad.numpy()


def main() -> int:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 16, 16, 3))
    w1 = rng.standard_normal((3, 3, 3, 8)) * 0.3
    w2 = rng.standard_normal((3, 3, 8, 2)) * 0.3
    target = rng.standard_normal((4, 6, 6, 2))
    loss, *grads = forward_backward(x, w1, w2, target)
    print(f"loss {loss:.4f}; grad shapes {[g.shape for g in grads]}")
    ref = torch_reference(x, w1, w2, target)
    if ref is None:
        print("torch is not installed: skipped the check against torch autograd")
        return 0
    errs = [abs(loss - ref[0])] + [float(np.max(np.abs(g - r))) for g, r in zip(grads, ref[1:])]
    print(f"torch autograd agrees: max |diff| {max(errs):.1e}")
    return 0 if max(errs) < 1e-8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
