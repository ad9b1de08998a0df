"""How far tiled restoration is from restoring the whole image at once, with real weights.

    python benchmarks/bench_tiling_error.py --data KODAK24 [--task derain] [--weights NAME|PATH] \
        [--limit 4] [--tiles 256:64,256:128,384:128] [--json]

Each clean photo is degraded with `restorecli.degrade.degrade(task, image, seed=i,
severity=0.6)`, restored untiled (tile 0) and then with each TILE:OVERLAP, same seed and
settings otherwise. Reported per setting, averaged over the photos: PSNR of the tiled output
against the untiled one (higher = closer; identical outputs give inf), the largest absolute
difference in 8-bit levels, and the PSNR of both against the clean photo, so a difference can be
read as better or worse restoration rather than only as different. KODAK24 is
``../shared/data/bench/Noise_clean_Kodak24_FFDNet/target``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.degrade import degrade
from restorecli.errors import RestoreError
from restorecli.evaluate.metrics import psnr, quantize
from restorecli.evaluate.reconstruct import clean_image_pairs
from restorecli.jobs.restorer import load_restorer
from restorecli.media.image import read_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="clean photos: a folder, or a paired one's target/"
    )
    parser.add_argument("--task", default="derain")
    parser.add_argument("--weights", help="model name or weights folder (default: the task's)")
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--tiles", default="256:64,256:128,384:128")
    parser.add_argument("--severity", type=float, default=0.6)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tiles = [tuple(int(v) for v in t.split(":")) for t in args.tiles.split(",")]
    try:
        files = [pair.target for pair in clean_image_pairs(args.data, limit=args.limit)]
    except RestoreError as exc:
        raise SystemExit(f"bench_tiling_error: {exc}") from None
    restorer = load_restorer(args.weights, task=args.task, device=args.device)
    base = restorer.config
    scores: dict[str, list[dict[str, float]]] = {}
    for i, path in enumerate(files):
        clean = read_image(path).rgb
        degraded = degrade(args.task, clean, seed=i, severity=args.severity)
        restorer.config = dataclasses.replace(base, tile=0)
        whole = quantize(restorer.restore_array(degraded), 8)
        for tile, overlap in tiles:
            restorer.config = dataclasses.replace(base, tile=tile, tile_overlap=overlap)
            start = time.perf_counter()
            tiled = quantize(restorer.restore_array(degraded), 8)
            seconds = time.perf_counter() - start
            scores.setdefault(f"{tile}:{overlap}", []).append(
                {
                    "psnr_vs_untiled": psnr(tiled, whole),
                    "max_diff_levels": float(np.abs(tiled - whole).max() * 255),
                    "psnr_tiled": psnr(tiled, clean),
                    "psnr_untiled": psnr(whole, clean),
                    "seconds": seconds,
                }
            )
    rows = {}
    for key, records in scores.items():
        rows[key] = {m: float(np.mean([r[m] for r in records])) for m in records[0]}
        rows[key]["max_diff_levels"] = max(r["max_diff_levels"] for r in records)
    if args.json:
        print(json.dumps({"images": len(files), "task": args.task, "rows": rows}, indent=2))
        return 0
    model = getattr(restorer, "name", None) or args.weights
    print(f"{len(files)} photos of {args.data}, {args.task} severity {args.severity}, "
          f"model {model}, steps {base.steps}")  # fmt: skip
    print("| tile:overlap | PSNR tiled vs untiled | max diff (8-bit) | PSNR tiled | PSNR untiled |")
    print("|---|---:|---:|---:|---:|")
    for k, r in rows.items():
        print(f"| {k} | {r['psnr_vs_untiled']:.2f} | {r['max_diff_levels']:.0f} | "
              f"{r['psnr_tiled']:.2f} | {r['psnr_untiled']:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
