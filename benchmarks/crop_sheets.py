"""Before/after sheets of real photos at 100 %: input, the paper's pipeline, the default.

    python benchmarks/crop_sheets.py --task derain DATA/NTURain_real_video_SPAC_noGT/frames \
        --recursive --limit 6 --out docs/results/derain_crops.png

Each photo is restored twice with the task's model: with its registered settings and with the
paper's decoding (``--fidelity 0 --requantize hard``). A window of ``--crop`` pixels from the
centre of each (no resampling: one image pixel per sheet pixel, where fine detail shows) goes
into one row: input | paper's pipeline | default. Rows are stacked into one PNG.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.evaluate.sheets import contact_sheet, save_png, side_by_side
from restorecli.train.data import IMAGE_SUFFIXES, load_rgb

PAPER = {"fidelity": 0.0, "requantize": "hard"}


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The centred ``size`` x ``size`` window (the whole side where the image is smaller)."""
    h, w = image.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[y : y + size, x : x + size]


def photos(folder: Path, recursive: bool, limit: int) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    found = sorted(p for p in folder.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(found) > limit:  # spread over the folder (video frames: different moments)
        step = len(found) / limit
        found = [found[int(i * step)] for i in range(limit)]
    return found


def crop_rows(restorer, files: list[Path], crop: int, max_side: int) -> list:
    """One sheet row per photo: input | paper's pipeline | the restorer's own settings."""
    own = restorer.config
    rows = []
    for path in files:
        image = load_rgb(path, max_side).astype(np.float32) / 255
        restorer.config = replace(own, **PAPER)
        paper = restorer.restore_array(image)
        restorer.config = own
        default = restorer.restore_array(image)
        panels = [centre_crop(im, crop) for im in (image, paper, default)]
        captions = [path.name, "paper (fidelity 0, hard)", f"default (fidelity {own.fidelity:g})"]
        rows.append(side_by_side(panels, captions, max_side=None))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--task", required=True)
    parser.add_argument("--weights", help="default: the task's model")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recursive", action="store_true")
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--crop", type=int, default=192, help="side of the 100 %% window")
    parser.add_argument("--max-side", type=int, default=1024, help="photos larger are shrunk")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    from restorecli.pipeline import Restorer

    restorer = Restorer.from_pretrained(args.weights, task=args.task, device=args.device)
    files = photos(args.folder, args.recursive, args.limit)
    if not files:
        raise SystemExit(f"no images in {args.folder}")
    sheet = contact_sheet(crop_rows(restorer, files, args.crop, args.max_side), max_width=None)
    print(save_png(sheet, args.out, overwrite=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
