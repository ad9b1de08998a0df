"""``restore train autoencoder|denoiser``: train models from a folder of clean photos."""

from __future__ import annotations

from pathlib import Path

import typer

train_app = typer.Typer(help="Train models on a folder of clean photos.", no_args_is_help=True)


@train_app.command("autoencoder")
def train_autoencoder_cmd(
    data: Path = typer.Argument(..., help="Folder of clean photos (searched recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoint, metrics, config."),
    steps: int = typer.Option(20000, help="Total optimizer steps (resuming continues to this)."),
    batch_size: int = typer.Option(8, help="Crops per step (per process under torchrun)."),
    crop: int = typer.Option(128, help="Crop size in pixels."),
    lr: float = typer.Option(1e-3, help="Peak learning rate (warm-up, then cosine decay)."),
    channels: int = typer.Option(64, help="Width of the 1/4-resolution stage."),
    blocks: int = typer.Option(4, help="Residual blocks on each side."),
    codebook_size: int = typer.Option(8192, help="Number of codes K."),
    latent_dim: int = typer.Option(3, help="Latent dimension D."),
    val_every: int = typer.Option(500, help="Validate every N steps."),
    ckpt_every: int = typer.Option(250, help="Checkpoint every N steps."),
    seed: int = typer.Option(0, help="Random seed."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N or mps."),
    resume: bool = typer.Option(True, help="Resume from OUT/checkpoint.safetensors if present."),
    export: Path | None = typer.Option(
        None, help="After training, write the EMA weights as fp16 safetensors here."
    ),
) -> None:
    """Train the VQ autoencoder (reconstruction of clean crops)."""
    from restorecli.models import AutoencoderConfig
    from restorecli.train.autoencoder import (
        AutoencoderTrainConfig,
        export_autoencoder,
        train_autoencoder,
    )
    from restorecli.train.data import CropConfig

    cfg = AutoencoderTrainConfig(
        data=str(data),
        out=str(out),
        steps=steps,
        batch_size=batch_size,
        crop=CropConfig(size=crop),
        model=AutoencoderConfig(
            latent_dim=latent_dim, codebook_size=codebook_size, channels=channels, num_blocks=blocks
        ),
        lr=lr,
        val_every=val_every,
        ckpt_every=ckpt_every,
        seed=seed,
        device=device,
    )
    ckpt = train_autoencoder(cfg, resume=resume)
    if export is not None:
        export_autoencoder(ckpt, export, {})
        typer.echo(str(export))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
