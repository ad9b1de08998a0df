"""Does a denoiser do better on its training photos than on held-out ones, and at which steps?

Builds the validation of a training run (crops degraded the way training degrades them, at
severities spread over its range) twice: from the held-out photos and from as many training
photos, then restores both with the exported weights at each step count. A model that scores
much higher on training photos than on held-out ones at some step count has memorised them.

    python benchmarks/denoiser_overfit.py training/dehaze-cheb \
        src/restorecli/data/weights/dehaze-cheb.safetensors --data CORPUS
"""

from __future__ import annotations

import argparse
from pathlib import Path

from restorecli.models import load_model
from restorecli.pipeline import RestoreConfig, Restorer
from restorecli.train.data import PhotoCrops
from restorecli.train.denoiser import (
    DenoiserTrainConfig,
    config_from_run,
    validate,
    validation_pairs,
)


def run_config(run: Path, data: Path | None) -> DenoiserTrainConfig:
    """The run's own training config, validating on held-out photos of ``data`` if given."""
    cfg = config_from_run(run)
    cfg.val_dir = None  # the held-out photos, not a paired folder
    if data is not None:
        cfg.data = str(data)
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="training run folder (its config.json)")
    parser.add_argument("weights", type=Path, help="the exported denoiser .safetensors")
    parser.add_argument("--data", type=Path, help="photo folder, if not the run's own")
    parser.add_argument("--autoencoder", type=Path, help="if not the run's own")
    parser.add_argument("--steps", default="1,4", help="step counts to compare")
    parser.add_argument("--size", type=int, default=256, help="crop size of the pairs")
    args = parser.parse_args()

    cfg = run_config(args.run, args.data)
    cfg.val_size = args.size
    ae = load_model(args.autoencoder or cfg.autoencoder, kind="autoencoder")
    net = load_model(args.weights, kind="denoiser")
    held_out = PhotoCrops(cfg.data, "val", cfg.crop)
    seen = PhotoCrops(cfg.data, "train", cfg.crop)
    # As many training photos as held-out ones, spread over the sorted list.
    stride = max(len(seen.images) // len(held_out.images), 1)
    seen.images = seen.images[::stride][: len(held_out.images)]
    pairs = {"held-out": validation_pairs(cfg, held_out), "training": validation_pairs(cfg, seen)}

    print("| photos | steps | input PSNR | PSNR | SSIM |\n|---|---:|---:|---:|---:|")
    for steps in (int(s) for s in args.steps.split(",")):
        restorer = Restorer(
            ae,
            net,
            config=RestoreConfig(init=cfg.init, lam=cfg.lam, steps=steps),
            task=cfg.task,
            train_kappa=cfg.kappa,
        )
        for name, items in pairs.items():
            m = validate(restorer, items)
            print(
                f"| {name} ({len(items)}) | {steps} | {m['val_input_psnr']:.2f} | "
                f"{m['val_psnr']:.2f} | {m['val_ssim']:.4f} |"
            )


if __name__ == "__main__":
    main()
