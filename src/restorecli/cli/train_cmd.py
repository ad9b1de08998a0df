"""``restore train autoencoder|denoiser|fidelity|detector``: train models on clean photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

# The options every training command has.
Data = Annotated[Path, typer.Argument(help="Folder of clean photos (searched recursively).")]
RunFolder = Annotated[
    Path, typer.Option("--out", "-o", help="Run folder: checkpoint, metrics, config.")
]
Steps = Annotated[int, typer.Option(help="Total optimizer steps (resuming continues to this).")]
Lr = Annotated[float, typer.Option(help="Peak learning rate (warm-up, then cosine decay).")]
ValEvery = Annotated[int, typer.Option(help="Validate every N steps.")]
CkptEvery = Annotated[int, typer.Option(help="Checkpoint every N steps.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")]
Resume = Annotated[bool, typer.Option(help="Resume from OUT/checkpoint.safetensors if present.")]
# Options most of them share.
BatchSize = Annotated[int, typer.Option(help="Crops per step (per process under torchrun).")]
Crop = Annotated[int, typer.Option(help="Crop size in pixels.")]
Export = Annotated[
    Path | None,
    typer.Option(help="After training, write the EMA weights as fp16 safetensors here."),
]

train_app = typer.Typer(help="Train models on a folder of clean photos.", no_args_is_help=True)


def _train_and_export(
    make_config: Callable[[], Any],
    train: Callable[..., Path],
    export_weights: Callable[[Path, Path], object],
    *,
    resume: bool,
    export: Path | None,
) -> None:
    """Build the run config (a ValueError is a usage error), train, then export the weights."""
    from restorecli.train.distributed import is_main_process

    try:
        cfg = make_config()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    ckpt = train(cfg, resume=resume)
    # Under torchrun every rank gets here; one export is enough (and two would race).
    if export is not None and is_main_process():
        export_weights(ckpt, export)
        typer.echo(str(export))


@train_app.command("autoencoder")
def train_autoencoder_cmd(
    data: Data,
    out: RunFolder,
    steps: Steps = 20000,
    batch_size: BatchSize = 8,
    crop: Crop = 128,
    lr: Lr = 1e-3,
    channels: int = typer.Option(64, help="Width of the 1/4-resolution stage."),
    blocks: int = typer.Option(4, help="Residual blocks on each side."),
    codebook_size: int = typer.Option(8192, help="Number of codes K."),
    latent_dim: int = typer.Option(3, help="Latent dimension D."),
    vq_start: int = typer.Option(
        1500, help="Continuous warm-up steps before the codebook is placed by k-means."
    ),
    val_every: ValEvery = 500,
    ckpt_every: CkptEvery = 250,
    seed: Seed = 0,
    device: Device = "auto",
    resume: Resume = True,
    export: Export = None,
) -> None:
    """Train the VQ autoencoder (reconstruction of clean crops)."""
    from restorecli.models import AutoencoderConfig
    from restorecli.train.autoencoder import (
        AutoencoderTrainConfig,
        export_autoencoder,
        train_autoencoder,
    )
    from restorecli.train.data import CropConfig

    def make_config() -> AutoencoderTrainConfig:
        return AutoencoderTrainConfig(
            data=str(data),
            out=str(out),
            steps=steps,
            batch_size=batch_size,
            crop=CropConfig(size=crop),
            model=AutoencoderConfig(
                latent_dim=latent_dim,
                codebook_size=codebook_size,
                channels=channels,
                num_blocks=blocks,
            ),
            lr=lr,
            vq_start=vq_start,
            val_every=val_every,
            ckpt_every=ckpt_every,
            seed=seed,
            device=device,
        )

    _train_and_export(
        make_config,
        train_autoencoder,
        lambda ckpt, path: export_autoencoder(ckpt, path, {}),
        resume=resume,
        export=export,
    )


@train_app.command("denoiser")
def train_denoiser_cmd(
    data: Data,
    out: RunFolder,
    task: str = typer.Option(..., "--task", "-t", help="derain, dehaze, desnow, ..."),
    autoencoder: Path = typer.Option(..., help="Frozen autoencoder weights (.safetensors)."),
    init: str = typer.Option("chebyshev", help="Latent initial state used in training."),
    lam: float = typer.Option(0.5, help="lerp weight when --init lerp."),
    kappa: float = typer.Option(1.0, help="Noise scale of the residual-shift chain."),
    severity: str = typer.Option(
        "0,1", help="MIN,MAX: training severities are drawn uniformly from this range."
    ),
    steps: Steps = 20000,
    batch_size: BatchSize = 8,
    crop: Crop = 128,
    view: int = typer.Option(
        0,
        help="Degrade a square view this large, then cut the crop from it, so haze and veils "
        "vary at the scale of a photo (0: degrade the crop itself).",
    ),
    lr: Lr = 5e-4,
    pixel_weight: float = typer.Option(
        0.0,
        help="Weight of a pixel loss through the frozen decoder (prediction decoded vs the "
        "clean crop), added to the latent loss; 0: latent loss only.",
    ),
    loss: str = typer.Option(
        "mse",
        help="mse, or log-mse: the mean over crops of the log of each crop's error (a PSNR "
        "loss, so lightly degraded crops count as much as heavy ones).",
    ),
    ema_decay: float = typer.Option(
        0.999, help="Decay of the exported EMA weights (lower for short runs)."
    ),
    channels: int = typer.Option(32, help="UNet base width."),
    context: int = typer.Option(
        0,
        help="Width of the frame-context branch, which reads the whole degraded frame (shrunk "
        "to 256 px) and conditions every pixel on it; 0: none. Global degradations (haze) "
        "need it.",
    ),
    context_grid: int = typer.Option(
        0,
        help="Channels of a coarse map of the whole frame that the context branch also gives "
        "every latent pixel (where it is in the frame matters: haze thickens with depth); "
        "0: the summary vector only. Needs --context.",
    ),
    dark_prior: bool = typer.Option(
        False,
        "--dark-prior",
        help="Also give every latent pixel the frame's dark-channel estimate of the haze's "
        "transmission (a physical hint of the veil's density; dehaze). Needs --context.",
    ),
    clean_fraction: float = typer.Option(
        0.0,
        help="Share of training photos left undegraded, so the denoiser learns to leave clean "
        "photos alone (pale scenes are not haze).",
    ),
    camera_fraction: float = typer.Option(
        0.0,
        help="Share of degraded training photos that then pass through a camera (light raw "
        "noise, demosaicing, JPEG), as real photos did.",
    ),
    init_weights: Path | None = typer.Option(
        None,
        help="Start from this denoiser file (fine-tuning); one without the frame-context "
        "branch loads into a model with one. A checkpoint in OUT takes precedence.",
    ),
    val_dir: Path | None = typer.Option(
        None, help="Paired folder (input/, target/) for validation; default: held-out photos."
    ),
    val_every: ValEvery = 500,
    val_steps: int = typer.Option(
        4, help="Diffusion steps of the validation sampling (use the count you will ship)."
    ),
    ckpt_every: CkptEvery = 250,
    seed: Seed = 0,
    device: Device = "auto",
    resume: Resume = True,
    export: Export = None,
) -> None:
    """Train a latent denoiser for one task on synthetic degradations of clean photos."""
    from restorecli.init_state import INIT_MODES
    from restorecli.models import UNetConfig
    from restorecli.train.data import CropConfig
    from restorecli.train.denoiser import DenoiserTrainConfig, export_denoiser, train_denoiser

    if init not in INIT_MODES:
        raise typer.BadParameter(f"use one of {', '.join(INIT_MODES)}", param_hint="--init")
    try:
        low, high = (float(v) for v in severity.split(","))
    except ValueError:
        raise typer.BadParameter("give two numbers, MIN,MAX", param_hint="--severity") from None

    def make_config() -> DenoiserTrainConfig:
        return DenoiserTrainConfig(
            data=str(data),
            out=str(out),
            task=task,
            autoencoder=str(autoencoder),
            init=init,
            lam=lam,
            kappa=kappa,
            severity=(low, high),
            view=view,
            clean_fraction=clean_fraction,
            camera_fraction=camera_fraction,
            init_weights=str(init_weights) if init_weights else None,
            steps=steps,
            batch_size=batch_size,
            crop=CropConfig(size=crop),
            model=UNetConfig(
                channels=channels,
                context=context,
                context_grid=context_grid,
                dark_prior=dark_prior,
            ),
            lr=lr,
            pixel_weight=pixel_weight,
            loss=loss,
            ema_decay=ema_decay,
            val_dir=str(val_dir) if val_dir else None,
            val_every=val_every,
            sample_steps=val_steps,
            ckpt_every=ckpt_every,
            seed=seed,
            device=device,
        )

    _train_and_export(make_config, train_denoiser, export_denoiser, resume=resume, export=export)


@train_app.command("verify-corpus")
def verify_corpus_cmd(
    data: Path = typer.Argument(..., help="Folder of the rebuilt corpus."),
    manifest: Path = typer.Option(
        Path("corpus/manifest.csv"), help="Manifest with one sha256 per photo."
    ),
) -> None:
    """Check that a corpus folder holds exactly the photos of a manifest (by sha256)."""
    from restorecli.train.corpus import verify_corpus

    report = verify_corpus(data, manifest)
    for name in report.missing:
        typer.echo(f"missing: {name}", err=True)
    for name in report.mismatched:
        typer.echo(f"sha256 differs: {name}", err=True)
    for name in report.extra:
        typer.echo(f"not in the manifest: {name}", err=True)
    typer.echo(
        f"{report.checked} files checked, {len(report.missing)} missing, "
        f"{len(report.mismatched)} differ, {len(report.extra)} not in the manifest"
    )
    if not report.ok:
        raise typer.Exit(1)


@train_app.command("fidelity")
def train_fidelity_cmd(
    data: Data,
    out: RunFolder,
    autoencoder: Path = typer.Option(..., help="Frozen autoencoder weights (.safetensors)."),
    denoiser: list[str] = typer.Option(
        ..., help="TASK=FILE: a frozen denoiser per task (repeat), e.g. derain=derain.safetensors."
    ),
    steps: Steps = 12000,
    batch_size: int = typer.Option(8, help="Crops per step."),
    crop: Crop = 128,
    view: int = typer.Option(512, help="Degrade a view this large, then cut the crop from it."),
    clean_fraction: float = typer.Option(
        0.2, help="Share of views left clean (clean in, clean out)."
    ),
    camera_fraction: float = typer.Option(
        0.0, help="Share of degraded views that then pass through a camera (noise, JPEG)."
    ),
    context: int = typer.Option(
        0, help="Width of the head's frame-context branch (reads the whole frame); 0: none."
    ),
    context_grid: int = typer.Option(
        4,
        help="Channels of the coarse map of the whole frame that the context branch also "
        "gives every latent pixel (with --context).",
    ),
    head_blocks: int = typer.Option(
        1, min=1, help="Residual blocks of the output head (more: slower, better on noise)."
    ),
    quarter_kernel: int = typer.Option(
        3, min=1, max=3, help="Kernel of the gated skip at 1/4 resolution: 3, or 1 (faster)."
    ),
    head_in_kernel: int = typer.Option(
        3, min=1, max=3, help="Kernel of the head's first convolution: 3, or 1 (faster)."
    ),
    start_as_input: bool = typer.Option(
        False,
        "--start-as-input",
        help="Start the head as the identity on the degraded input (for blur, which the latent "
        "path cannot undo): it learns a correction of the input.",
    ),
    log_floor: float = typer.Option(
        1e-5,
        help="Floor of each crop's MSE (pixels in [-1, 1]) inside the loss's log: 1e-5 keeps "
        "clean photos exact; 4e-4 (40 dB) lets a blur head learn to sharpen.",
    ),
    lr: Lr = 5e-4,
    init_weights: Path | None = typer.Option(
        None,
        help="Start from this checkpoint of an earlier fidelity run (its EMA weights); a head "
        "with more blocks keeps the new ones as they start (the identity), a 1x1 kernel where "
        "the checkpoint has 3x3 starts as the sum of its taps.",
    ),
    val_every: ValEvery = 500,
    ckpt_every: CkptEvery = 250,
    seed: Seed = 0,
    device: Device = "auto",
    resume: Resume = True,
    export: Path | None = typer.Option(
        None, help="After training, write fidelity.safetensors and requantizer.safetensors here."
    ),
) -> None:
    """Train the fidelity path and the VR head, with encoder, codebook, decoder and denoisers
    frozen, on degraded/clean pairs of every severity (clean included)."""
    from restorecli.models.fidelity import FidelityConfig
    from restorecli.train.data import CropConfig
    from restorecli.train.fidelity import FidelityTrainConfig, export_fidelity, train_fidelity

    pairs = [item.partition("=") for item in denoiser]
    if any(not task or not path for task, _, path in pairs):
        raise typer.BadParameter("give TASK=FILE", param_hint="--denoiser")

    def make_config() -> FidelityTrainConfig:
        import json

        from restorecli.models import read_metadata

        # The skips enter the decoder: their widths are the autoencoder's.
        ae = json.loads(read_metadata(autoencoder)["restorecli.config"])
        widths = {"channels": ae["channels"], "half_channels": ae["half_channels"]}
        return FidelityTrainConfig(
            data=str(data),
            out=str(out),
            autoencoder=str(autoencoder),
            tasks=tuple(task for task, _, _ in pairs),
            denoisers=tuple(path for _, _, path in pairs),
            clean_fraction=clean_fraction,
            camera_fraction=camera_fraction,
            view=view,
            steps=steps,
            batch_size=batch_size,
            crop=CropConfig(size=crop),
            model=FidelityConfig(
                **widths,
                context=context,
                context_grid=context_grid,
                head_blocks=head_blocks,
                quarter_kernel=quarter_kernel,
                head_in_kernel=head_in_kernel,
            ),
            start_as_input=start_as_input,
            log_floor=log_floor,
            init_weights=str(init_weights) if init_weights else None,
            lr=lr,
            val_every=val_every,
            ckpt_every=ckpt_every,
            seed=seed,
            device=device,
        )

    _train_and_export(make_config, train_fidelity, export_fidelity, resume=resume, export=export)


@train_app.command("detector")
def train_detector_cmd(
    data: Data,
    out: RunFolder,
    steps: Steps = 3000,
    batch_size: int = typer.Option(16, help="Photos per step."),
    width: int = typer.Option(16, help="Channels of the network's first layers."),
    clean_fraction: float = typer.Option(0.3, help="Share of training photos left clean."),
    pair_fraction: float = typer.Option(
        0.25, help="Share of degraded photos given two degradations."
    ),
    min_severity: float = typer.Option(
        0.15, help="Lowest severity of a labelled degradation (fainter ones are invisible)."
    ),
    soft_fraction: float = typer.Option(
        0.3, help="Share of photos made as soft as a camera's full-size detail (not blur)."
    ),
    pool: int = typer.Option(2048, help="Degraded photos held in memory, refreshed as it runs."),
    lr: Lr = 2e-3,
    val_every: ValEvery = 250,
    ckpt_every: CkptEvery = 250,
    seed: Seed = 0,
    device: Device = "auto",
    resume: Resume = True,
    export: Export = None,
) -> None:
    """Train the degradation detector (restore detect, restore auto) on the degradation
    library applied to clean photos: clean, one or two tasks at once, JPEG or not."""
    from restorecli.models.detector import DetectorConfig
    from restorecli.train.detector import DetectorTrainConfig, export_detector, train_detector

    def make_config() -> DetectorTrainConfig:
        return DetectorTrainConfig(
            data=str(data),
            out=str(out),
            model=DetectorConfig(width=width),
            steps=steps,
            batch_size=batch_size,
            clean_fraction=clean_fraction,
            pair_fraction=pair_fraction,
            min_severity=min_severity,
            soft_fraction=soft_fraction,
            pool=pool,
            lr=lr,
            val_every=val_every,
            ckpt_every=ckpt_every,
            seed=seed,
            device=device,
        )

    _train_and_export(
        make_config,
        train_detector,
        lambda ckpt, path: export_detector(ckpt, path, {}),
        resume=resume,
        export=export,
    )


@train_app.command("export")
def export_cmd(
    run: Path = typer.Argument(..., help="Run folder (with config.json and checkpoints)."),
    out: Path = typer.Option(..., "--out", "-o", help="The fp16 .safetensors file to write."),
    best: bool = typer.Option(
        False, "--best", help="Export best.safetensors (best validation) instead of the last step."
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite OUT if it exists."),
) -> None:
    """Write a run's EMA weights as an fp16 inference file (autoencoder, denoiser or
    detector)."""
    import json

    from restorecli.errors import InputNotFoundError, OutputExistsError
    from restorecli.train.autoencoder import export_autoencoder
    from restorecli.train.denoiser import export_denoiser
    from restorecli.train.detector import export_detector

    ckpt = run / ("best.safetensors" if best else "checkpoint.safetensors")
    if not (run / "config.json").is_file() or not ckpt.is_file():
        raise InputNotFoundError(f"{run} has no config.json and {ckpt.name}: not a training run")
    if out.exists() and not force:
        raise OutputExistsError(f"{out} exists; pass --force to overwrite it")
    config = json.loads((run / "config.json").read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    if "labels" in config.get("model", {}):
        export_detector(ckpt, out, {})
    elif "task" in config:
        export_denoiser(ckpt, out)
    else:
        export_autoencoder(ckpt, out, {})
    typer.echo(str(out))


@train_app.command("snapshot")
def snapshot_cmd(
    run: Path = typer.Argument(..., help="Run folder with checkpoint.safetensors."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the snapshot into."),
) -> None:
    """Copy a run's progress as small as it resumes: EMA weights in fp16, config, metrics.

    Training resumes from the snapshot folder like from the run itself (pass it as --out): the
    model and its EMA start from the snapshot's EMA weights, AdamW afresh.
    """
    import shutil

    from restorecli.errors import InputNotFoundError
    from restorecli.train.checkpoint import compact_checkpoint

    ckpt = run / "checkpoint.safetensors"
    if not ckpt.is_file():
        raise InputNotFoundError(f"no checkpoint.safetensors in {run}")
    out.mkdir(parents=True, exist_ok=True)
    compact_checkpoint(ckpt, out / "checkpoint.safetensors")
    for name in ("config.json", "metrics.jsonl"):
        if (run / name).is_file():
            shutil.copyfile(run / name, out / name)
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
