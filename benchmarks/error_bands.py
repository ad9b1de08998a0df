"""Where is a model's error: in the global colour, in the smooth part of the image, or in detail?

For each pair of a paired folder, restores the input and reports four PSNRs (RGB, full image):

- ``input``: the degraded input against the target;
- ``output``: the restored image against the target;
- ``affine``: the output after the best per-channel gain and offset (fitted to the target), so
  what a global colour and contrast error costs is ``affine - output``;
- ``low``: the output with its low band (Gaussian, sigma ``--sigma`` pixels) replaced by the
  target's, so ``low`` is what the output's detail alone would score and ``low - output`` is
  the cost of its smooth, large-scale errors (a veil left in place or removed too much).

Both corrected scores use the target: they are diagnoses, not results.

    python benchmarks/error_bands.py HAZY --task dehaze
    python benchmarks/error_bands.py HAZY --weights FOLDER --steps 1
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.evaluate import metrics
from restorecli.evaluate.paired import find_pairs, load_pair
from restorecli.pipeline import Restorer


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """The project's PSNR of ``a`` clipped to [0, 1] (the corrections can leave the range)."""
    return metrics.psnr(np.clip(a, 0, 1), b)


def affine_fit(out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``out`` after the least-squares gain and offset of each channel towards ``target``."""
    fitted = np.empty_like(out)
    for c in range(out.shape[-1]):
        x = out[..., c].ravel().astype(np.float64)
        design = np.stack([x, np.ones_like(x)], axis=1)
        (gain, offset), *_ = np.linalg.lstsq(design, target[..., c].ravel(), rcond=None)
        fitted[..., c] = out[..., c] * gain + offset
    return fitted


def swap_low_band(out: np.ndarray, target: np.ndarray, sigma: float) -> np.ndarray:
    """``out`` with its Gaussian low band replaced by ``target``'s."""

    def low(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (0, 0), sigma)

    return out - low(out) + low(target)


def bands(out: np.ndarray, target: np.ndarray, degraded: np.ndarray, sigma: float) -> list[float]:
    return [
        psnr(degraded, target),
        psnr(out, target),
        psnr(affine_fit(out, target), target),
        psnr(swap_low_band(out, target, sigma), target),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path, help="paired folder (input/, target/)")
    parser.add_argument("--task", help="use the task's default model")
    parser.add_argument("--weights", help="model name or weights folder")
    parser.add_argument("--steps", type=int, help="diffusion steps (default: the model's)")
    parser.add_argument("--sigma", type=float, default=16.0, help="low band: Gaussian sigma, px")
    parser.add_argument("--limit", type=int)
    parser.add_argument(
        "--split",
        type=float,
        help="also print the means over pairs whose input scores at least / below this PSNR "
        "(light and heavy degradations fail differently)",
    )
    args = parser.parse_args(argv)
    if not (args.task or args.weights):
        parser.error("give --task or --weights")

    restorer = Restorer.from_pretrained(args.weights, task=args.task, device="cpu")
    if args.steps:
        restorer.config = dataclasses.replace(restorer.config, steps=args.steps)
    rows = []
    print("image | input | output | affine | low")
    for pair in find_pairs(args.pairs, limit=args.limit):
        degraded, target, _ = load_pair(pair)
        out = restorer.restore_array(degraded)
        rows.append(bands(out, target, degraded, args.sigma))
        print(pair.name, "|", " | ".join(f"{v:.2f}" for v in rows[-1]), flush=True)
    groups = [(f"mean of {len(rows)}", rows)]
    if args.split is not None:
        groups.append((f"input >= {args.split:g} dB", [r for r in rows if r[0] >= args.split]))
        groups.append((f"input < {args.split:g} dB", [r for r in rows if r[0] < args.split]))
    for label, group in groups:
        if group:
            mean = np.mean(group, axis=0)
            print(f"{label} ({len(group)}) |", " | ".join(f"{v:.2f}" for v in mean))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
