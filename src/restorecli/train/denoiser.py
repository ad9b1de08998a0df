"""Train a latent denoiser for one task: clean crops, degraded on the fly, frozen autoencoder.

Per step: degrade clean crops with ``restorecli.degrade``; encode both with the frozen
autoencoder; the target ``x0`` is the quantized latent of the clean crop and the chain's start
``y0`` is the chosen initial state of the degraded crop (the paper trains with it); draw a noise
level, form ``x_t`` by the forward process and regress the network's prediction onto ``x0``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from restorecli.degrade import TASKS, degrade
from restorecli.degrade.noise import NoiseConfig, noise
from restorecli.diffusion import ResShiftSchedule
from restorecli.errors import InputNotFoundError, UnsupportedInputError, WeightsError
from restorecli.init_state import INIT_MODES, code_neighbors, initial_state
from restorecli.models import LatentUNet, UNetConfig, VQAutoencoder, load_model, save_model
from restorecli.pipeline import RestoreConfig, Restorer
from restorecli.train.checkpoint import load_checkpoint
from restorecli.train.data import CropConfig, PhotoCrops, list_images, load_rgb
from restorecli.train.loop import (
    check_counts,
    psnr,
    to_tensor,
)
from restorecli.train.run import TrainingRun
from restorecli.weights import sha256_file


@dataclass
class DenoiserTrainConfig:
    """Options of one denoiser run (saved as ``OUT/config.json``)."""

    data: str
    out: str
    task: str
    autoencoder: str  # path of the frozen autoencoder's weights
    init: str = "chebyshev"
    lam: float = 0.5
    kappa: float = 1.0
    # Training severities are drawn uniformly from this range; derain wants the heavy end
    # because real heavy rain (Rain100H) sits near severity 0.9 of the rain model.
    severity: tuple[float, float] = (0.0, 1.0)
    # Side of the square view that is degraded before the crop is cut from it (0: degrade the
    # crop itself). Haze and rain veils vary smoothly over a whole photo; degraded crop by crop
    # they vary over 128 pixels instead, a scale real photos never show.
    view: int = 0
    # Share of training views left as they are (target = input). A denoiser that only ever
    # saw degraded photos reads a pale, low-contrast scene as a degraded one and "restores" it
    # (lightly hazed photos came out darker and more saturated than the truth); clean examples
    # teach it what undegraded photos look like.
    clean_fraction: float = 0.0
    # Share of degraded training views that then go through a camera (light sensor noise on a
    # raw mosaic, demosaicing, JPEG), as real degraded photos did: in a real veil, faint
    # differences are partly noise and compression blocks, which a dehazer should not stretch
    # into scene detail.
    camera_fraction: float = 0.0
    # A denoiser file to start from (fine-tuning); a file without the frame-context branch
    # loads into a model with one (the branch starts from its random init).
    init_weights: str | None = None
    steps: int = 20000
    batch_size: int = 8
    crop: CropConfig = field(default_factory=lambda: CropConfig(size=128))
    model: UNetConfig = field(default_factory=lambda: UNetConfig(channels=32))
    lr: float = 5e-4
    # Weight of a pixel loss: the prediction decoded by the frozen decoder against the clean
    # crop (MSE in [-1, 1]). Latent MSE alone weighs every latent direction alike, but D = 3
    # latents carry colour and texture together, and small latent errors the decoder turns
    # into colour blotches are what a pixel loss sees. 0: latent loss only.
    pixel_weight: float = 0.0
    # "mse": the mean squared error over the batch. "log-mse": the mean over crops of the log of
    # each crop's MSE (a PSNR loss). Under MSE a lightly degraded crop, whose error is small,
    # hardly counts, so the model trades it away (it over-corrects light haze); PSNR, the
    # measure of the result, weighs every crop's relative error alike.
    loss: str = "mse"
    ema_decay: float = 0.999
    log_every: int = 25
    val_every: int = 500
    ckpt_every: int = 250
    val_dir: str | None = None  # paired folder (input/, target/); None = held-out synthetic
    val_images: int = 8
    val_size: int = 256
    sample_steps: int = 4  # steps used by validation sampling
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}: use one of {', '.join(TASKS)}")
        if self.init not in INIT_MODES:
            raise ValueError(f"unknown init {self.init!r}: use one of {', '.join(INIT_MODES)}")
        if not 0.0 <= self.lam <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")
        if not self.kappa > 0:
            raise ValueError(f"kappa must be > 0, got {self.kappa}")
        self.severity = tuple(float(v) for v in self.severity)  # type: ignore[assignment]
        low, high = self.severity
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"severity range must satisfy 0 <= min <= max <= 1, got {low}, {high}")
        check_counts(self, "steps", "batch_size", "log_every", "val_every", "ckpt_every")
        check_counts(self, "val_images", "val_size", "sample_steps")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}: use one of {', '.join(LOSSES)}")
        if not 0.0 <= self.camera_fraction <= 1.0:
            raise ValueError(f"camera_fraction must be in [0, 1], got {self.camera_fraction}")
        if not 0.0 <= self.clean_fraction < 1.0:
            raise ValueError(f"clean_fraction must be in [0, 1), got {self.clean_fraction}")
        if not self.pixel_weight >= 0.0:
            raise ValueError(f"pixel_weight must be >= 0, got {self.pixel_weight}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.view and self.view < self.crop.size:
            raise ValueError(
                f"view must be 0 or at least the crop size ({self.crop.size}), got {self.view}"
            )
        # Latents are 1/4 of the crop and the UNet halves them (size_multiple - 1) times.
        multiple = 4 * self.model.size_multiple
        if self.crop.size < multiple or self.crop.size % multiple:
            raise ValueError(
                f"crop size must be a positive multiple of {multiple} for this model, "
                f"got {self.crop.size}"
            )


LOSSES = ("mse", "log-mse")
# Floor of a crop's MSE inside the log: a crop restored almost perfectly stops pulling harder.
LOG_MSE_FLOOR = 1e-4


def regression_loss(
    pred: torch.Tensor, target: torch.Tensor, kind: str, floor: float = LOG_MSE_FLOOR
) -> torch.Tensor:
    """The batch's loss: plain MSE, or the mean over crops of log(MSE of the crop + floor)."""
    if kind == "mse":
        return F.mse_loss(pred, target)
    per_crop = (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)
    return torch.log(per_crop + floor).mean()


def config_from_run(run: str | Path) -> DenoiserTrainConfig:
    """The config a run was trained with, from its ``config.json`` (fields added since the run
    was made take their defaults)."""
    raw = json.loads((Path(run) / "config.json").read_text())
    raw["crop"] = CropConfig(**raw["crop"])
    raw["model"] = UNetConfig(**raw["model"])
    raw["severity"] = tuple(raw["severity"])
    known = {f.name for f in dataclasses.fields(DenoiserTrainConfig)}
    return DenoiserTrainConfig(**{k: v for k, v in raw.items() if k in known})


def validation_pairs(
    cfg: DenoiserTrainConfig, held_out: PhotoCrops
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(degraded, clean) float images: from ``val_dir`` or made from held-out photos."""
    if cfg.val_dir:
        root = Path(cfg.val_dir)
        inputs = list_images(root / "input")[: cfg.val_images]
        if not inputs:
            raise InputNotFoundError(f"no images under {root / 'input'} (--val-dir)")
        pairs = []
        for p in inputs:
            target = root / "target" / p.name
            if not target.is_file():
                raise InputNotFoundError(f"{p.name} has no target {target} (--val-dir)")
            degraded, clean = load_rgb(p), load_rgb(target)
            if degraded.shape != clean.shape:
                raise UnsupportedInputError(
                    f"{p.name}: input {degraded.shape[1]}x{degraded.shape[0]} and target "
                    f"{clean.shape[1]}x{clean.shape[0]} differ in size (--val-dir)"
                )
            pairs.append((degraded.astype(np.float32) / 255, clean.astype(np.float32) / 255))
        return pairs
    views = held_out.fixed_crops(cfg.val_images, max(cfg.val_size, cfg.view), seed=cfg.seed)
    low, high = cfg.severity
    # Spread the held-out severities evenly over the inner 80 % of the training range.
    levels = np.linspace(low + 0.1 * (high - low), high - 0.1 * (high - low), len(views))
    pairs = []
    for i, (clean, level) in enumerate(zip(views, levels, strict=True)):
        degraded = degrade(cfg.task, clean, seed=1000 + i, severity=float(level))
        pairs.append((_centre(degraded, cfg.val_size), _centre(clean, cfg.val_size)))
    return pairs


def validation_setup(cfg: DenoiserTrainConfig, count: int) -> str:
    """What the validation scores measure, stored with them: only equal setups compare."""
    source = (
        f"pairs {cfg.val_dir}"
        if cfg.val_dir
        else f"held-out {cfg.val_size}px crops, view {cfg.view}, severity "
        f"{cfg.severity[0]:g}-{cfg.severity[1]:g}"
    )
    return f"{source}; {count} images; {cfg.sample_steps} steps; init {cfg.init}"


def _centre(image: np.ndarray, size: int) -> np.ndarray:
    """The centred size x size window of a square image."""
    y = (image.shape[0] - size) // 2
    x = (image.shape[1] - size) // 2
    return image[y : y + size, x : x + size]


def degraded_crops(
    task: str,
    views: np.ndarray,
    size: int,
    severity: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``(clean, degraded)`` size x size crops: each view is degraded whole, then the same
    random window is cut from both."""
    clean, degraded, _, _ = degraded_views_and_crops(task, views, size, severity, rng)
    return clean, degraded


def degraded_views_and_crops(
    task: str,
    views: np.ndarray,
    size: int,
    severity: tuple[float, float],
    rng: np.random.Generator,
    clean_fraction: float = 0.0,
    camera_fraction: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`degraded_crops` plus the whole degraded views (what a frame-context branch
    reads: the photo the crop came from) and each crop's top-left (y, x) in its view. A
    ``clean_fraction`` share of the views is left undegraded; a ``camera_fraction`` share of
    the degraded ones then goes through :func:`through_camera`."""
    clean_out, degraded_out, views_out, origins = [], [], [], []
    for view in views:
        # Drawn only when asked for, so runs without clean views keep their random stream.
        if clean_fraction and rng.random() < clean_fraction:
            degraded = view
        else:
            degraded = degrade(task, view, rng=rng, severity=float(rng.uniform(*severity)))
            if camera_fraction and rng.random() < camera_fraction:
                degraded = through_camera(degraded, rng)
        y = x = 0
        if view.shape[0] > size:  # crop-sized views keep the random stream of older runs
            y, x = (int(v) for v in rng.integers(0, view.shape[0] - size + 1, size=2))
        clean_out.append(view[y : y + size, x : x + size])
        degraded_out.append(degraded[y : y + size, x : x + size])
        views_out.append(degraded)
        origins.append((y, x))
    return (
        np.stack(clean_out),
        np.stack(degraded_out),
        np.stack(views_out),
        np.array(origins, dtype=np.int64),
    )


# Severities of the camera noise put on degraded training views: the lighter end of the noise
# model (a daylight photo), not the low-light noise that `restore denoise` is for.
CAMERA_SEVERITY = (0.0, 0.3)


def through_camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` as a camera would have recorded it: light raw noise, demosaicing, JPEG."""
    severity = float(rng.uniform(*CAMERA_SEVERITY))
    return noise(image, rng, severity, NoiseConfig(kind="camera")).image


def load_matching_weights(net: LatentUNet, path: str | Path) -> list[str]:
    """Copy a denoiser file's weights into ``net`` (fine-tuning start); returns the names of
    ``net``'s tensors the file lacks, which may only be those of the frame-context branch.
    A ``net`` with more input channels (a map or prior the file's model did not read) gets the
    file's first layer for its leading channels and zeros for the new ones, so it starts as
    the file's model and learns to use them."""
    source = load_model(path, kind="denoiser")
    state = source.state_dict()
    ours, theirs = net.inp.weight, state["inp.weight"]
    if ours.shape[1] > theirs.shape[1] and ours.shape[0] == theirs.shape[0]:
        grown = torch.zeros_like(ours)
        grown[:, : theirs.shape[1]] = theirs.to(ours.dtype)
        state["inp.weight"] = grown
    problem = ""
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError:  # same names, other shapes
        problem = "its layers have other sizes"
    else:
        foreign = [k for k in missing if not k.startswith("frame_context.")]
        if foreign or unexpected:
            problem = f"missing {foreign[:3]}, unexpected {unexpected[:3]}"
    if problem:
        raise WeightsError(
            f"{path}: not a starting point for this model ({problem}): use the same --channels"
        )
    return list(missing)


@torch.no_grad()
def validate(restorer: Restorer, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """PSNR/SSIM of the restored images (and PSNR of the inputs) against the clean ones."""
    from restorecli.evaluate.metrics import ssim  # metrics live with the evaluation tools

    out_psnr, in_psnr, out_ssim = [], [], []
    for degraded, clean in pairs:
        restored = restorer.restore_array(degraded)
        t = torch.from_numpy(clean)[None]
        out_psnr.append(psnr(torch.from_numpy(restored)[None], t))
        in_psnr.append(psnr(torch.from_numpy(degraded)[None], t))
        out_ssim.append(float(ssim(restored, clean)))
    return {
        "val_psnr": float(np.mean(out_psnr)),
        "val_ssim": float(np.mean(out_ssim)),
        "val_input_psnr": float(np.mean(in_psnr)),
    }


def train_denoiser(cfg: DenoiserTrainConfig, *, resume: bool = True) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    run = TrainingRun(cfg, f"denoiser {cfg.task}")
    device = run.device
    ae: VQAutoencoder = load_model(cfg.autoencoder, device=device, kind="autoencoder")  # type: ignore[assignment]
    ae.requires_grad_(False)
    codebook = ae.codebook.float()
    centers = radii = None
    if cfg.init in ("chebyshev", "auto"):  # the other states need no table (slow for large K)
        from restorecli.geometry import load_or_build

        centers, radii = load_or_build(codebook)
    neighbors = code_neighbors(codebook) if cfg.init == "auto" else None
    schedule = ResShiftSchedule(steps=cfg.sample_steps, kappa=cfg.kappa)

    # Before the photos load: a wrong starting file is found in a second.
    model = LatentUNet(cfg.model)
    if cfg.init_weights:  # a resumed checkpoint, loaded by attach, overrides this start
        fresh = load_matching_weights(model, cfg.init_weights)
        run.console.log(
            f"started from {cfg.init_weights}" + (f" ({len(fresh)} new tensors)" if fresh else "")
        )
        run.extra_info["init_weights_sha256"] = sha256_file(cfg.init_weights)
    train_set = PhotoCrops(cfg.data, "train", cfg.crop)
    pairs = validation_pairs(cfg, PhotoCrops(cfg.data, "val", cfg.crop))
    run.console.log(f"{len(train_set.paths)} training photos; {len(pairs)} validation pairs")
    setup = validation_setup(cfg, len(pairs))
    net = run.attach(model, resume=resume)
    run.extra_info["autoencoder_sha256"] = sha256_file(cfg.autoencoder)

    for _ in run.steps():
        views = train_set.batch(cfg.batch_size, run.rng, cfg.view)
        clean_np, degraded_np, views_np, origins = degraded_views_and_crops(
            cfg.task,
            views,
            cfg.crop.size,
            cfg.severity,
            run.rng,
            cfg.clean_fraction,
            cfg.camera_fraction,
        )
        # The whole degraded views go in as they are: the network shrinks them inside its
        # call, so DDP sees the context branch's parameters used in the forward pass.
        context = to_tensor(views_np, device) if cfg.model.context else None
        with torch.no_grad():
            clean, degraded = to_tensor(clean_np, device), to_tensor(degraded_np, device)
            x0 = ae.quantizer.lookup(ae.quantizer.nearest(ae.encode(clean)))
            z_e = ae.encode(degraded)
            idx = ae.quantizer.nearest(z_e)
            y0 = initial_state(
                cfg.init,
                z_e,
                idx,
                codebook,
                centers=centers,
                radii=radii,
                lam=cfg.lam,
                neighbors=neighbors,
            )
            eta = schedule.sample_training_eta(cfg.batch_size, device=device)
            x_t = schedule.q_sample(x0, y0, eta, torch.randn_like(x0))
        x0_hat = net(x_t, y0, eta, context, torch.from_numpy(origins))
        loss = latent_loss = regression_loss(x0_hat, x0, cfg.loss)
        extra = {}
        if cfg.pixel_weight:
            pixel_loss = regression_loss(ae.decode(x0_hat), clean, cfg.loss)
            loss = latent_loss + cfg.pixel_weight * pixel_loss
            extra = {
                "latent_loss": float(latent_loss.detach()),
                "pixel_loss": float(pixel_loss.detach()),
            }
        run.update(loss)
        run.log_step(float(loss.detach()), **extra)
        if run.is_main and run.due(cfg.val_every):
            restorer = Restorer(
                ae,
                run.ema,
                config=RestoreConfig(init=cfg.init, lam=cfg.lam, steps=cfg.sample_steps),
                device=device,
                task=cfg.task,
                train_kappa=cfg.kappa,
            )
            run.record(validate(restorer, pairs), best="val_psnr", setup=setup)
        if run.due(cfg.ckpt_every):
            run.save()
    return run.close()


def export_denoiser(checkpoint: Path, dest: Path) -> Path:
    """Write the EMA weights as fp16 with what inference needs (task, init, kappa) in metadata."""
    cfg = json.loads((checkpoint.parent / "config.json").read_text())
    model = LatentUNet(UNetConfig(**cfg["model"]))
    ema = LatentUNet(model.config)
    info = load_checkpoint(checkpoint, model=model, ema=ema, optimizer=None)
    training = {
        "task": cfg["task"],
        "init": cfg["init"],
        "lam": cfg["lam"],
        "kappa": cfg["kappa"],
        # The step count the run validated with, so the weights were chosen at it: a file
        # used outside the registry runs at it by default.
        "sample_steps": cfg.get("sample_steps"),
        **info,
    }
    return save_model(
        ema, dest, dtype=torch.float16, metadata={"restorecli.training": json.dumps(training)}
    )
