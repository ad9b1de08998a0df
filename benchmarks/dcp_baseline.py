"""A classical reference for dehazing: the dark channel prior (He, Sun and Tang, CVPR 2009).

No learning: the dark channel (a local minimum of the RGB minimum) of a haze-free outdoor
photo is near zero, so in a hazy one it measures the veil. The airlight is read at the pixels
with the brightest dark channel, the transmission is ``1 - omega * dark(I / A)``, smoothed by a
guided filter on the image's luma, and the scene is ``J = (I - A) / max(t, t0) + A``.

It tells how hard a set of hazy pairs is for a method that knows nothing of our corpus: on a
paired folder it prints the PSNR and SSIM of the input and of the dehazed image per pair and
their means; ``--out`` writes the dehazed images (any folder of hazy photos, no targets needed).

    python benchmarks/dcp_baseline.py HAZY
    python benchmarks/dcp_baseline.py DATA/RealHazy_misc_PyTorchDehazing/input --out dcp/
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.evaluate import metrics
from restorecli.evaluate.paired import find_pairs, load_pair
from restorecli.media.image import ImageData, read_image, write_image


@dataclass(frozen=True)
class DCPConfig:
    """The published defaults, for an image of about 600 pixels."""

    patch: int = 15  # side of the dark channel's minimum filter
    top_share: float = 0.001  # airlight: the brightest 0.1 % of the dark channel
    omega: float = 0.95  # keep a little haze so far parts still look far
    t0: float = 0.1  # lower bound of the transmission
    radius: int = 40  # guided filter window radius, pixels
    eps: float = 1e-3  # guided filter regularisation


def dark_channel(image: np.ndarray, patch: int) -> np.ndarray:
    """Local minimum (``patch`` x ``patch``) of the per-pixel RGB minimum."""
    return cv2.erode(image.min(axis=2), np.ones((patch, patch), np.uint8))


def airlight(image: np.ndarray, dark: np.ndarray, share: float) -> np.ndarray:
    """Mean RGB of the pixels with the brightest dark channel, (3,)."""
    top = np.argsort(dark.ravel())[-max(1, int(dark.size * share)) :]
    return image.reshape(-1, 3)[top].mean(axis=0)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` along the edges of the grey ``guide``."""

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, (2 * radius + 1, 2 * radius + 1))

    mg, ms = mean(guide), mean(src)
    a = (mean(guide * src) - mg * ms) / (mean(guide * guide) - mg * mg + eps)
    b = ms - a * mg
    return mean(a) * guide + mean(b)


def dehaze(image: np.ndarray, config: DCPConfig = DCPConfig()) -> np.ndarray:
    """H x W x 3 float32 hazy image in [0, 1] -> the dehazed image, clipped to [0, 1]."""
    image = image.astype(np.float32)
    a = airlight(image, dark_channel(image, config.patch), config.top_share)
    a = np.maximum(a, 1e-3).astype(np.float32)
    t = 1.0 - config.omega * dark_channel(image / a, config.patch)
    t = guided_filter(image.mean(axis=2), t.astype(np.float32), config.radius, config.eps)
    t = np.maximum(t, config.t0)[..., None]
    return np.clip((image - a) / t + a, 0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="paired folder (input/, target/) or photos")
    parser.add_argument("--out", type=Path, help="write the dehazed images here (PNG)")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)

    paired = (args.folder / "input").is_dir() and (args.folder / "target").is_dir()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    if not paired:
        if not args.out:
            parser.error("a folder without input/ and target/ needs --out")
        photos = sorted(p for p in args.folder.iterdir() if p.is_file())[: args.limit]
        for path in photos:
            write_image(args.out / f"{path.stem}.png", ImageData(dehaze(read_image(path).rgb)))
        print(f"{len(photos)} images dehazed into {args.out}")
        return 0

    rows = []
    print("image | input PSNR | dehazed PSNR | input SSIM | dehazed SSIM")
    for pair in find_pairs(args.folder, limit=args.limit):
        hazy, target, _ = load_pair(pair)
        out = dehaze(hazy)
        if args.out:
            write_image(args.out / f"{pair.input.stem}.png", ImageData(out))
        row = [
            metrics.psnr(hazy, target),
            metrics.psnr(out, target),
            metrics.ssim(hazy, target),
            metrics.ssim(out, target),
        ]
        rows.append(row)
        print(
            pair.input.name,
            "|",
            " | ".join(f"{v:.4f}" if i > 1 else f"{v:.2f}" for i, v in enumerate(row)),
        )
    mean = np.mean(rows, axis=0)
    print(f"mean of {len(rows)} | {mean[0]:.2f} | {mean[1]:.2f} | {mean[2]:.4f} | {mean[3]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
