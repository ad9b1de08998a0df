"""Copy the photos training holds out (its validation split) into a folder, downscaled.

Training never sees these photos, so settings chosen on them (the default step count, say) are
not tuned on the public benchmarks. Make paired data from them with ``restore degrade``:

    python scripts/held_out_photos.py /data/clean_photos runs/held_out --max-side 768
    restore degrade dehaze runs/held_out -o runs/held_out_dehaze --pairs --seed 0
    restore eval --task dehaze runs/held_out_dehaze --steps 1,2,4

``--from-training N`` copies N training photos instead (evenly spaced over the training list):
a model that scores far better on them than on the held-out ones has memorised its photos.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from restorecli.train.data import CropConfig, load_rgb, split_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the training photo folder")
    parser.add_argument("out", type=Path, help="folder to write PNGs into (created)")
    parser.add_argument("--max-side", type=int, default=768, help="downscale to this long side")
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=CropConfig().val_fraction,
        help="the held-out share the training run used",
    )
    parser.add_argument(
        "--from-training",
        type=int,
        metavar="N",
        help="copy N evenly spaced training photos instead of the held-out ones",
    )
    args = parser.parse_args()
    training, held_out = split_images(args.data, args.val_fraction)
    chosen, kind = held_out, "held-out"
    if args.from_training:
        step = max(1, len(training) // args.from_training)
        chosen, kind = training[::step][: args.from_training], "training"
    args.out.mkdir(parents=True, exist_ok=True)
    for path in chosen:
        name = path.relative_to(args.data).with_suffix(".png").as_posix().replace("/", "__")
        Image.fromarray(load_rgb(path, args.max_side)).save(args.out / name)
    print(f"{len(chosen)} {kind} photos -> {args.out}")


if __name__ == "__main__":
    main()
