"""Do smooth areas come out in steps? Contour banding before and after restoration.

A latent code with few dimensions holds a smooth gradient (a hazy sky) as a staircase of
nearby codes; dehazing stretches the contrast and makes the steps visible. For one image and a
band of rows (default: the top third, where skies are), this prints the step energy (std of
the luma minus its Gaussian blur, sigma 3 px: a smooth gradient has almost none, steps raise
it) of the input, of the autoencoder alone (encode, initial state, decode; no diffusion) and
of the restored image. ``--sheet`` writes the band of each side by side with its contrast
stretched round its mean, where the steps can be seen.

    python benchmarks/sky_banding.py DATA/RealHazy_misc_PyTorchDehazing/input/test5.jpg \
        --task dehaze --max-side 512 --sheet bands.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.evaluate.levels import autoencode
from restorecli.pipeline import Restorer


def step_energy(image: np.ndarray, rows: slice) -> float:
    """Std of the luma's high band (minus a sigma-3 blur) within ``rows``."""
    y = image[..., :3].mean(axis=2).astype(np.float32)
    return float((y - cv2.GaussianBlur(y, (0, 0), 3.0))[rows].std())


def stretch(image: np.ndarray, rows: slice, gain: float) -> np.ndarray:
    """The band ``rows`` with its contrast multiplied by ``gain`` round its mean, clipped."""
    band = image[rows]
    return np.clip((band - band.mean()) * gain + 0.5, 0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--task", help="use the task's default model")
    parser.add_argument("--weights", help="model name or weights folder")
    parser.add_argument("--max-side", type=int, default=0, help="shrink first (0: as is)")
    parser.add_argument("--rows", type=float, default=1 / 3, help="top share of rows to measure")
    parser.add_argument("--sheet", type=Path, help="write the stretched bands here (PNG)")
    parser.add_argument("--gain", type=float, default=8.0, help="contrast stretch of --sheet")
    args = parser.parse_args(argv)
    if not (args.task or args.weights):
        parser.error("give --task or --weights")

    img = Image.open(args.image).convert("RGB")
    if args.max_side:
        img.thumbnail((args.max_side, args.max_side), Image.Resampling.LANCZOS)
    x = np.asarray(img, np.float32) / 255.0
    restorer = Restorer.from_pretrained(args.weights, task=args.task, device="cpu")
    rows = slice(0, max(1, round(x.shape[0] * args.rows)))
    versions = {
        "input": x,
        f"autoencoder ({restorer.config.init})": autoencode(restorer, x, restorer.config.init),
        "restored": restorer.restore_array(x),
    }
    print("image | step energy")
    for name, image in versions.items():
        print(f"{name} | {step_energy(image, rows):.4f}")
    if args.sheet:
        strip = np.concatenate([stretch(v, rows, args.gain) for v in versions.values()], axis=1)
        Image.fromarray((strip * 255 + 0.5).astype(np.uint8)).save(args.sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
