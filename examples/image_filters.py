"""Edge detection and blur on an image with xconv (NumPy only; matplotlib optional).

    python examples/image_filters.py [--out DIR]

Makes a test image (or reads a PNG given with ``--image``), blurs it with a 9x9
Gaussian using ``padding_mode="reflect"`` (no dark border), finds edges with Sobel
filters (two output channels of one convolution), and writes ``filters.png`` with the
before and after when matplotlib is installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import xconv


def sample_image(size: int = 128) -> np.ndarray:
    """A grey image with a bright disc and a dark square, plus a little noise."""
    yy, xx = np.mgrid[:size, :size] / size
    img = 0.5 + 0.4 * ((xx - 0.35) ** 2 + (yy - 0.4) ** 2 < 0.05)
    img[int(0.6 * size) : int(0.85 * size), int(0.55 * size) : int(0.8 * size)] = 0.1
    return img + 0.05 * np.random.default_rng(0).standard_normal((size, size))


def gaussian_kernel(size: int = 9, sigma: float = 2.0) -> np.ndarray:
    """A normalised 2-d Gaussian, shaped (size, size, 1, 1) as conv2d's HWIO filters."""
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-(t**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return (k / k.sum())[:, :, None, None]


def sobel_kernels() -> np.ndarray:
    """Sobel x and y as the two output channels of one (3, 3, 1, 2) filter."""
    sx = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    return np.stack([sx, sx.T], axis=-1)[:, :, None, :]


def filter_image(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (blurred, edge magnitude) of a 2-d image."""
    x = img[None, :, :, None]  # NHWC, one image, one channel
    blurred = xconv.conv2d(x, gaussian_kernel(), 1, "SAME", padding_mode="reflect")
    grad = xconv.conv2d(blurred, sobel_kernels(), 1, "SAME", padding_mode="edge")
    edges = np.hypot(grad[..., 0], grad[..., 1])
    return blurred[0, :, :, 0], edges[0]


def save_png(path: Path, panels: dict[str, np.ndarray]) -> bool:
    """Write the panels side by side; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
    for ax, (title, a) in zip(axes, panels.items(), strict=True):
        ax.imshow(a, cmap="gray")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=".", help="folder for filters.png")
    p.add_argument("--image", help="a PNG to filter instead of the test image (matplotlib)")
    args = p.parse_args(argv)
    if args.image:
        import matplotlib.pyplot as plt

        img = plt.imread(args.image).astype(np.float64)
        img = img[..., :3].mean(axis=-1) if img.ndim == 3 else img
    else:
        img = sample_image()
    blurred, edges = filter_image(img)
    print(
        f"image {img.shape}: blurred std {blurred.std():.3f} (was {img.std():.3f}), "
        f"strongest edge {edges.max():.2f}"
    )
    out = Path(args.out) / "filters.png"
    if save_png(out, {"image": img, "Gaussian blur": blurred, "Sobel edges": edges}):
        print(f"wrote {out}")
    else:
        print("matplotlib is not installed: no PNG written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
