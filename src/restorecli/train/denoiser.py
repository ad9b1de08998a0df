"""Train a latent denoiser for one task: clean crops, degraded on the fly, frozen autoencoder.

Per step: degrade clean crops with ``restorecli.degrade``; encode both with the frozen
autoencoder; the target ``x0`` is the quantized latent of the clean crop and the chain's start
``y0`` is the chosen initial state of the degraded crop (the paper trains with it); draw a noise
level, form ``x_t`` by the forward process and regress the network's prediction onto ``x0``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from restorecli.degrade import TASKS, degrade
from restorecli.device import select_device
from restorecli.diffusion import ResShiftSchedule
from restorecli.errors import InputNotFoundError, UnsupportedInputError
from restorecli.init_state import INIT_MODES, code_neighbors, initial_state
from restorecli.models import LatentUNet, UNetConfig, VQAutoencoder, load_model, save_model
from restorecli.pipeline import RestoreConfig, Restorer
from restorecli.train.checkpoint import ema_update, load_checkpoint, save_checkpoint
from restorecli.train.data import CropConfig, PhotoCrops, list_images, load_rgb
from restorecli.train.distributed import all_mean, cleanup_distributed, init_distributed
from restorecli.train.loop import (
    MetricsLog,
    check_counts,
    corpus_fingerprint,
    lr_at,
    make_progress,
    psnr,
    seed_everything,
    to_tensor,
    write_text_atomic,
)


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
    steps: int = 20000
    batch_size: int = 8
    crop: CropConfig = field(default_factory=lambda: CropConfig(size=128))
    model: UNetConfig = field(default_factory=lambda: UNetConfig(channels=32))
    lr: float = 5e-4
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
        check_counts(self, "steps", "batch_size", "log_every", "val_every", "ckpt_every")
        check_counts(self, "val_images", "val_size", "sample_steps")
        # Latents are 1/4 of the crop and the UNet halves them (size_multiple - 1) times.
        multiple = 4 * self.model.size_multiple
        if self.crop.size < multiple or self.crop.size % multiple:
            raise ValueError(
                f"crop size must be a positive multiple of {multiple} for this model, "
                f"got {self.crop.size}"
            )


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    crops = held_out.fixed_crops(cfg.val_images, cfg.val_size, seed=cfg.seed)
    return [
        (degrade(cfg.task, c, seed=1000 + i, severity=0.2 + 0.6 * i / max(1, len(crops) - 1)), c)
        for i, c in enumerate(crops)
    ]


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
    device = select_device(cfg.device)
    dist = init_distributed(device)
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    console = Console(stderr=True, quiet=not dist.is_main)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = seed_everything(cfg.seed, dist.rank)

    ae: VQAutoencoder = load_model(cfg.autoencoder, device=device, kind="autoencoder")  # type: ignore[assignment]
    ae.requires_grad_(False)
    codebook = ae.codebook.float()
    centers = radii = None
    if cfg.init in ("chebyshev", "auto"):  # the other states need no table (slow for large K)
        from restorecli.geometry import load_or_build

        centers, radii = load_or_build(codebook)
    neighbors = code_neighbors(codebook) if cfg.init == "auto" else None
    schedule = ResShiftSchedule(steps=cfg.sample_steps, kappa=cfg.kappa)

    train_set = PhotoCrops(cfg.data, "train", cfg.crop)
    held_out = PhotoCrops(cfg.data, "val", cfg.crop)
    pairs = validation_pairs(cfg, held_out)
    console.log(f"{len(train_set.paths)} training photos; {len(pairs)} validation pairs")

    model = LatentUNet(cfg.model).to(device, memory_format=torch.channels_last)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    ckpt = out / "checkpoint.safetensors"
    info: dict = {"step": 0, "wall_time": 0.0}
    if resume and ckpt.is_file():
        info = load_checkpoint(ckpt, model=model, ema=ema, optimizer=opt)
        console.log(f"resumed from {ckpt} at step {info['step']}")
        rng = seed_everything(cfg.seed + info["step"], dist.rank)
    net = DistributedDataParallel(model) if dist.world_size > 1 else model
    log = MetricsLog(out / "metrics.jsonl", enabled=dist.is_main)
    if dist.is_main:
        write_text_atomic(out / "config.json", json.dumps(asdict(cfg), indent=2))
        log.truncate_after(info["step"])
    ae_sha = sha256_file(cfg.autoencoder)

    step, wall0, t_last, crops_last = info["step"], info["wall_time"], time.time(), 0
    start = time.time()
    with make_progress(cfg.steps, cfg.progress and dist.is_main) as bar:
        task = bar.add_task(f"denoiser {cfg.task}", total=cfg.steps, completed=step, status="")
        while step < cfg.steps:
            model.train()
            lr = lr_at(step, cfg.lr, cfg.steps)
            for group in opt.param_groups:
                group["lr"] = lr
            clean_np = train_set.batch(cfg.batch_size, rng)
            degraded_np = np.stack([degrade(cfg.task, c, rng=rng) for c in clean_np])
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
            pred = net(x_t, y0, eta)
            loss = F.mse_loss(pred, x0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            ema_update(ema, model, cfg.ema_decay)
            step += 1
            crops_last += cfg.batch_size * dist.world_size
            if step % cfg.log_every == 0 or step == cfg.steps:
                now = time.time()
                rate = crops_last / max(now - t_last, 1e-6)
                t_last, crops_last = now, 0
                loss_mean = all_mean(float(loss.detach()), dist)
                log.write({"step": step, "loss": loss_mean, "lr": lr, "crops_per_s": rate})
                status = f"loss {loss_mean:.5f} {rate:.1f} crops/s"
                bar.update(task, completed=step, status=status)
                if not sys.stderr.isatty() and dist.is_main:
                    console.log(f"step {step} {status}")
            if dist.is_main and (step % cfg.val_every == 0 or step == cfg.steps):
                restorer = Restorer(
                    ae,
                    ema,
                    config=RestoreConfig(init=cfg.init, lam=cfg.lam, steps=cfg.sample_steps),
                    device=device,
                    task=cfg.task,
                    train_kappa=cfg.kappa,
                )
                metrics = validate(restorer, pairs)
                log.write({"step": step, **metrics})
                console.log(f"step {step} validation: {metrics}")
            if dist.is_main and (step % cfg.ckpt_every == 0 or step == cfg.steps):
                info = {
                    "step": step,
                    "wall_time": wall0 + time.time() - start,
                    "corpus_sha256": corpus_fingerprint(cfg.data),
                    "autoencoder_sha256": ae_sha,
                    "world_size": dist.world_size,
                }
                save_checkpoint(ckpt, model=model, ema=ema, optimizer=opt, info=info)
    cleanup_distributed()
    return ckpt


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
        **info,
    }
    return save_model(
        ema, dest, dtype=torch.float16, metadata={"restorecli.training": json.dumps(training)}
    )
