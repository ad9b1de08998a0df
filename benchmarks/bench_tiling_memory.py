"""Peak memory of tiled restoration against image size: bounded by the tile, not the image.

Each (size, tiling) pair runs in its own subprocess, which builds a Restorer from randomly
initialised default-sized models (``VQAutoencoder()`` and ``LatentUNet(UNetConfig(channels=32))``,
the size the denoisers are trained at), restores one random H x W image and reports its peak RSS
(``ru_maxrss``). The parent subtracts the frame-sized buffers the pipeline needs by design (their
sizes follow from H and W, see ``frame_buffers``), so what is left is the model's working memory
plus the process baseline (Python, torch, weights), printed as its own column.

    python benchmarks/bench_tiling_memory.py [--sizes 512,1024,2048] [--big] [--steps 2]
        [--tile 256] [--overlap 64] [--init chebyshev|zq] [--untiled-max 2048] [--json]
    python benchmarks/bench_tiling_memory.py --weights derain-cheb [--big]

With ``--weights`` the children load that shipped model instead (its fidelity path, frame
context and requantizer included) at its own settings: the tile, overlap and steps of
``restore TASK`` unless given.

Children run with one thread (OMP_NUM_THREADS=1) to compete less with other jobs. The Chebyshev
table of the random codebook is built once, in a separate subprocess so its own peak does not
count, into a temporary RESTORE_CACHE_DIR that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

if TYPE_CHECKING:
    from restorecli.pipeline import Restorer

MIB = 1024 * 1024
LATENT_DIM = 3  # AutoencoderConfig().latent_dim
STRIDE = 4  # AutoencoderConfig().stride
MULTIPLE = 16  # stride x the UNet's size multiple: frames are padded to this


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def build_restorer(
    steps: int, tile: int, overlap: int, init: str, weights: str | None = None
) -> Restorer:
    """The benchmark's Restorer: same seed, so every child sees the same random codebook; with
    ``weights``, that model at its defaults (``tile`` and ``overlap`` always as given)."""
    import dataclasses

    import torch

    from restorecli.models import LatentUNet, VQAutoencoder
    from restorecli.models.unet import UNetConfig
    from restorecli.pipeline import RestoreConfig, Restorer

    if weights:
        restorer = Restorer.from_pretrained(weights, device="cpu")
        restorer.config = dataclasses.replace(
            restorer.config, tile=tile, tile_overlap=overlap, batch_size=1, steps=steps
        )
        return restorer
    torch.manual_seed(0)
    config = RestoreConfig(init=init, steps=steps, tile=tile, tile_overlap=overlap, batch_size=1)
    restorer = Restorer(
        VQAutoencoder(), LatentUNet(UNetConfig(channels=32)), config=config, device="cpu"
    )
    if init in ("chebyshev", "auto"):
        restorer.tables()  # from the cache the prepare step filled
    return restorer


def child(
    size: int, steps: int, tile: int, overlap: int, init: str, weights: str | None = None
) -> dict:
    """Restore one random size x size image; return its peak RSS and the baseline before it."""
    import numpy as np
    import torch

    from restorecli.tiling import tiles

    torch.set_num_threads(1)
    start = time.perf_counter()
    restorer = build_restorer(steps, tile, overlap, init, weights)
    if size == 0:  # prepare step: build and cache the Chebyshev table only
        return {"seconds": time.perf_counter() - start}
    baseline = peak_rss_mib()
    image = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    start = time.perf_counter()
    out = restorer.restore_array(image)
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    assert out.shape == image.shape and np.isfinite(out).all()
    hp = -(-size // MULTIPLE) * MULTIPLE
    tile_px = max(MULTIPLE, tile // MULTIPLE * MULTIPLE)
    tiled = bool(tile) and hp > tile  # the pipeline's own test: smaller frames run whole
    count = len(list(tiles(hp, hp, tile_px, overlap, align=MULTIPLE))) if tiled else 1
    return {
        "baseline_mib": baseline,
        "peak_mib": peak,
        "seconds": seconds,
        "tiled": tiled,
        "tiles": count,
    }


def frame_buffers(height: int, width: int, steps: int, tiled: bool) -> dict[str, float]:
    """MiB of the frame-sized buffers one restore_array call holds by design.

    The input (H x W x 3 float32), the scaled and padded tensor, the sampling noise drawn once
    for the whole frame (steps x D x H/4 x W/4), and the output accumulator when tiled (the
    decoded frame when not), which is also what comes back: the blend divides it by two 1-D
    weight profiles, and a single pass returns it without a copy.
    """
    hp, wp = (-(-n // MULTIPLE) * MULTIPLE for n in (height, width))
    parts = {
        "input": 12 * height * width,
        "padded": 12 * hp * wp,
        "noise": 4 * steps * LATENT_DIM * (hp // STRIDE) * (wp // STRIDE),
        "accumulator" if tiled else "decoded": 12 * hp * wp,
    }
    return {k: v / MIB for k, v in parts.items()}


def run_child(args: argparse.Namespace, size: int, tile: int, env: dict[str, str]) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(size),
        "--tile",
        str(tile),
        "--overlap",
        str(args.overlap),
        "--steps",
        str(args.steps),
        "--init",
        args.init,
    ] + (["--weights", args.weights] if args.weights else [])
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"child for {size}x{size} tile={tile} failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024,2048", help="square image sizes, pixels")
    parser.add_argument("--big", action="store_true", help="also run 4096x4096 (tiled only)")
    parser.add_argument("--steps", type=int, help="diffusion steps (2; with --weights 1)")
    parser.add_argument("--tile", type=int, help="tile size (256; with --weights restore's)")
    parser.add_argument("--overlap", type=int, help="tile overlap (64; with --weights restore's)")
    parser.add_argument("--init", default="chebyshev", choices=("chebyshev", "zq"))
    parser.add_argument(
        "--untiled-max", type=int, default=2048, help="largest size also run with tile=0"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--weights", help="a shipped model (e.g. derain-cheb) instead of random default-sized ones"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.weights:  # the command line's own defaults (the shipped models run 1 step)
        from restorecli.config import RestoreConfig

        given = RestoreConfig()
        defaults = {"steps": 1, "tile": given.tile, "overlap": given.tile_overlap}
    else:
        defaults = {"steps": 2, "tile": 256, "overlap": 64}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.child is not None:
        print(
            json.dumps(
                child(args.child, args.steps, args.tile, args.overlap, args.init, args.weights)
            )
        )
        return 0

    sizes = [int(s) for s in args.sizes.split(",")] + ([4096] if args.big else [])
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", RESTORE_CACHE_DIR=cache)
        prep = run_child(args, 0, args.tile, env)
        if not args.json:
            print(f"prepare (models + Chebyshev table): {prep['seconds']:.1f} s", flush=True)
        for size in sizes:
            for tile in (args.tile, 0) if size <= args.untiled_max else (args.tile,):
                res = run_child(args, size, tile, env)
                frames = sum(frame_buffers(size, size, args.steps, res["tiled"]).values())
                row = {
                    "size": size,
                    "tile": tile,
                    "overlap": args.overlap if tile else 0,
                    **res,
                    "frame_buffers_mib": frames,
                    "peak_minus_frames_mib": res["peak_mib"] - frames,
                    "working_mib": res["peak_mib"] - frames - res["baseline_mib"],
                }
                rows.append(row)
                if not args.json:
                    print(
                        f"{size:5d}x{size:<5d} tile={tile:3d} tiles={res['tiles']:3d} "
                        f"baseline {res['baseline_mib']:6.1f}  peak {res['peak_mib']:7.1f}  "
                        f"frames {frames:6.1f}  peak-frames {row['peak_minus_frames_mib']:7.1f}  "
                        f"working {row['working_mib']:7.1f} MiB  ({res['seconds']:.1f} s)",
                        flush=True,
                    )
    model = {"weights": args.weights} if args.weights else {"init": args.init}
    settings = {**model, "steps": args.steps, "threads": 1, "batch_size": 1}
    if args.json:
        print(json.dumps({"settings": settings, "runs": rows}, indent=2))
        return 0
    print()
    print(f"settings: {settings}; baseline = peak RSS before the restore")
    print(
        "| size | tiles | peak RSS | frame buffers | peak - frames | working | "
        "untiled peak RSS | untiled frame buffers | untiled working |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        t = next(r for r in rows if r["size"] == size and r["tile"])
        u = next((r for r in rows if r["size"] == size and not r["tile"]), None)
        cells = [f"{size}x{size}", str(t["tiles"])]
        for key in ("peak_mib", "frame_buffers_mib", "peak_minus_frames_mib", "working_mib"):
            cells.append(f"{t[key]:.0f} MiB")
        for key in ("peak_mib", "frame_buffers_mib", "working_mib"):
            cells.append(f"{u[key]:.0f} MiB" if u else "not run")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
