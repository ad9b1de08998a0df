"""Do the tones of a restored video pump from frame to frame? Flicker with and without
the guided filter's temporal smoothing.

No public hazy video with a clean reference is at hand, so each clean photo of a folder becomes
a short clip: a window panning across it a few pixels per frame, every frame degraded with the
same seed and severity (the same haze over the window, as a fixed camera would see it). The clip
is restored as a video is (consecutive frames inside ``Restorer.sequence()``) at each
``--temporal`` weight. Flicker is the mean absolute change of the mean luma from one frame to
the next, in 8-bit levels; the clean clip's own (the content moving in) is printed beside it,
and PSNR against the clean frames shows the smoothing costs no fidelity.

    python benchmarks/video_flicker.py DATA/Noise_clean_Kodak24_FFDNet/target --task dehaze \
        --temporal 0,0.5,0.8,0.9
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from PIL import Image

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.degrade import degrade
from restorecli.degrade.base import luminance
from restorecli.evaluate.metrics import psnr
from restorecli.pipeline import Restorer


def flicker(frames: np.ndarray) -> float:
    """Mean absolute frame-to-frame change of the mean luma of N x H x W x 3 frames, 0-255."""
    mean_luma = luminance(frames).mean(axis=(1, 2))
    return float(np.abs(np.diff(mean_luma)).mean() * 255)


def panning_clip(image: np.ndarray, size: tuple[int, int], frames: int, step: int) -> np.ndarray:
    """``frames`` windows of ``size`` (h, w) sliding right by ``step`` pixels, from the top left."""
    h, w = size
    if image.shape[0] < h or image.shape[1] < w + step * (frames - 1):
        raise ValueError(f"image {image.shape[1]}x{image.shape[0]} too small for the clip")
    return np.stack([image[:h, step * t : step * t + w] for t in range(frames)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="clean photos")
    parser.add_argument("--task", required=True)
    parser.add_argument("--weights", help="model name or weights folder (default: the task's)")
    parser.add_argument("--temporal", default="0,0.5,0.8,0.9", help="weights to compare")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--step", type=int, default=8, help="pixels the window moves per frame")
    parser.add_argument("--size", default="256x320", help="frame size HxW")
    parser.add_argument("--severity", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="first N photos (0: all)")
    args = parser.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    weights = [float(v) for v in args.temporal.split(",")]

    restorer = Restorer.from_pretrained(args.weights, task=args.task, device="cpu")
    paths = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    if args.limit:
        paths = paths[: args.limit]
    rows: dict[float, list[tuple[float, float]]] = {wt: [] for wt in weights}
    clean_flicker = []
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
        clean = panning_clip(image, (h, w), args.frames, args.step)
        bad = np.stack(
            [degrade(args.task, f, seed=args.seed, severity=args.severity) for f in clean]
        )
        clean_flicker.append(flicker(clean))
        for wt in weights:
            restorer.config = dataclasses.replace(restorer.config, temporal=wt)
            with restorer.sequence():
                out = restorer.restore_batch(bad)
            rows[wt].append(
                (
                    flicker(out),
                    float(np.mean([psnr(o, c) for o, c in zip(out, clean, strict=True)])),
                )
            )

    cfg = restorer.config
    print(f"{len(paths)} clips of {args.frames} frames, {h}x{w}, {args.step} px per frame; "
          f"{args.task} severity {args.severity}, seed {args.seed}; guide radius "
          f"{cfg.guide_radius} (temporal smoothing needs it)")  # fmt: skip
    print(f"clean clips: flicker {np.mean(clean_flicker):.2f}")
    print("temporal | flicker | PSNR")
    for wt in weights:
        fl, ps = np.mean(rows[wt], axis=0)
        print(f"{wt:g} | {fl:.2f} | {ps:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
