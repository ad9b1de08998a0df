"""How often the degradation detector picks the right tasks: held-out photos and real folders.

    python benchmarks/detector_confusion.py --corpus CORPUS --data ../shared/data/bench \
        [--detector NAME|PATH] [--threshold 0.5]

Prints two Markdown tables. (1) The corpus's held-out photos (``split_images(CORPUS, 0.05)``,
never trained on), each clean and under each task at severities 0.3, 0.6 and 0.9 (seeded by
photo and task): per true class, how many files got each task, none, and exactly the right set.
(2) The real benchmark folders, each with the task its images need (clean for the clean
targets): how many files got that task, and exactly that task alone.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from restorecli.config import DETECT_THRESHOLD
from restorecli.degrade import degrade
from restorecli.detect import load_detector
from restorecli.train.data import load_rgb, split_images

SEVERITIES = (0.3, 0.6, 0.9)
# Folder under the benchmark data -> the task its images need ("clean": none).
REAL_FOLDERS = (
    ("Rain100H_MSPFN/input", "derain"),
    ("NTURain_real_video_SPAC_noGT/frames", "derain"),
    ("RainSmoke3_MFDNet/input", "derain"),
    ("RealHazy_misc_PyTorchDehazing/input", "dehaze"),
    ("SOTS_outdoor_examples_GCANet_noGT/input", "dehaze"),
    ("Snow_testImg_HDCWNet_noGT/input", "desnow"),
    ("RainDrop_demo_DeRaindrop_noGT/input", "deraindrop"),
    ("PolyU_real_noise/input", "denoise"),
    ("GoPro_examples_DeepDeblur/input", "deblur"),
    ("Noise_clean_Kodak24_FFDNet/target", "clean"),
    ("PolyU_real_noise/target", "clean"),
    ("GoPro_examples_DeepDeblur/target", "clean"),
    ("Rain100H_MSPFN/target", "clean"),
)
SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        rgb = ImageOps.exif_transpose(im).convert("RGB")
        return np.asarray(rgb, dtype=np.float32) / 255.0


def predicted(detector, image: np.ndarray, threshold: float) -> set[str]:
    return {d.task for d in detector.detect(image, threshold)}


def held_out_table(detector, corpus: Path, threshold: float) -> list[str]:
    labels = list(detector.labels)
    _, photos = split_images(corpus, 0.05)
    rows = [
        f"| true class | files | {' | '.join(labels)} | none | exactly right |",
        "|---|---:|" + "---:|" * (len(labels) + 2),
    ]
    for j, truth in enumerate(("clean", *labels)):
        counts: Counter[str] = Counter()
        files = exact = 0
        for i, path in enumerate(photos):
            clean = load_rgb(path, 640).astype(np.float32) / 255.0
            for k, severity in enumerate((0.0,) if truth == "clean" else SEVERITIES):
                image = clean
                if truth != "clean":
                    image = degrade(truth, clean, seed=1000 * i + 10 * j + k, severity=severity)
                got = predicted(detector, image, threshold)
                counts.update(got or {"none"})
                files += 1
                exact += got == (set() if truth == "clean" else {truth})
        cells = " | ".join(str(counts[t]) for t in (*labels, "none"))
        rows.append(f"| {truth} | {files} | {cells} | {exact} ({100 * exact / files:.0f} %) |")
    return rows


def real_table(detector, data: Path, threshold: float) -> list[str]:
    rows = [
        "| folder | needs | files | task found | exactly that | most found (files) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for folder, truth in REAL_FOLDERS:
        paths = sorted(p for p in (data / folder).rglob("*") if p.suffix.lower() in SUFFIXES)
        if not paths:
            continue
        counts: Counter[str] = Counter()
        found = exact = 0
        for path in paths:
            got = predicted(detector, read(path), threshold)
            counts.update(got or {"none"})
            want = set() if truth == "clean" else {truth}
            found += (not got) if truth == "clean" else truth in got
            exact += got == want
        common = ", ".join(f"{t} ({n})" for t, n in counts.most_common(3))
        rows.append(f"| `{folder}` | {truth} | {len(paths)} | {found} | {exact} | {common} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="../shared/data/bench")
    parser.add_argument("--detector", default=None, help="registered name or file")
    parser.add_argument("--threshold", type=float, default=DETECT_THRESHOLD)
    args = parser.parse_args()
    detector = load_detector(args.detector, device="cpu")
    print(f"Detector {detector.name}, threshold {args.threshold}.\n")
    print("\n".join(held_out_table(detector, args.corpus, args.threshold)))
    print()
    print("\n".join(real_table(detector, args.data, args.threshold)))


if __name__ == "__main__":
    main()
