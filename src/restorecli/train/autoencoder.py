"""Train the VQ autoencoder on clean photos (reconstruction + commitment loss)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from restorecli.models import AutoencoderConfig, VQAutoencoder, save_model
from restorecli.train.checkpoint import load_checkpoint
from restorecli.train.data import CropConfig, PhotoCrops
from restorecli.train.loop import (
    check_counts,
    psnr,
    to_tensor,
)
from restorecli.train.run import TrainingRun


@dataclass
class AutoencoderTrainConfig:
    """Options of one autoencoder run (saved as ``OUT/config.json``)."""

    data: str
    out: str
    steps: int = 20000
    batch_size: int = 8
    crop: CropConfig = field(default_factory=CropConfig)
    model: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    lr: float = 1e-3
    weight_decay: float = 0.0
    commit_weight: float = 0.25
    # Continuous warm-up: decode z_e directly for this many steps, then place the codes by
    # k-means on encoder outputs and quantize from there on (all K codes start in use).
    vq_start: int = 1500
    kmeans_batches: int = 48
    ema_decay: float = 0.999
    log_every: int = 25
    val_every: int = 500
    ckpt_every: int = 250
    val_crops: int = 16
    val_size: int = 256
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        check_counts(self, "steps", "batch_size", "log_every", "val_every", "ckpt_every")
        check_counts(self, "val_crops")
        stride = self.model.stride
        for name, size in (("crop size", self.crop.size), ("val_size", self.val_size)):
            if size < stride or size % stride:
                raise ValueError(f"{name} must be a positive multiple of {stride}, got {size}")


@torch.no_grad()
def validate(model: VQAutoencoder, crops: torch.Tensor, batch: int = 4) -> dict[str, float]:
    """PSNR of reconstructions on fixed held-out crops (quantized once the codebook is placed),
    and codebook usage."""
    model.eval()
    quantized = bool(model.quantizer.initialized)
    scores, used = [], set()
    for i in range(0, crops.shape[0], batch):
        x = crops[i : i + batch]
        z_e = model.encode(x)
        z_q, idx = model.quantize(z_e) if quantized else (z_e, z_e.new_zeros(0, dtype=torch.long))
        recon = model.decode(z_q).clamp(-1, 1)
        scores.append(psnr((recon + 1) / 2, (x + 1) / 2))
        used.update(idx.unique().tolist())
    return {"val_psnr": sum(scores) / len(scores), "val_codes_used": len(used)}


def train_autoencoder(cfg: AutoencoderTrainConfig, *, resume: bool = True) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    run = TrainingRun(cfg, "autoencoder")
    device = run.device
    train_set = PhotoCrops(cfg.data, "train", cfg.crop)
    val_set = PhotoCrops(cfg.data, "val", cfg.crop)
    val_crops = to_tensor(val_set.fixed_crops(cfg.val_crops, cfg.val_size), device)
    run.console.log(f"{len(train_set.paths)} training photos, {len(val_set.paths)} held out")
    model = VQAutoencoder(cfg.model)
    net = run.attach(model, weight_decay=cfg.weight_decay, resume=resume)
    model = run.model

    for step in run.steps():
        x = to_tensor(train_set.batch(cfg.batch_size, run.rng), device)
        x = x.contiguous(memory_format=torch.channels_last)
        quantize = step >= cfg.vq_start
        if quantize and not bool(model.quantizer.initialized):
            place_codes(model, train_set, run.rng, cfg, device)
            run.console.log(f"step {step}: codebook placed by k-means, quantizing from now on")
        result = net(x, quantize=quantize)
        rec = F.l1_loss(result.recon, x) + F.mse_loss(result.recon, x)
        commit = result.quant.commit_loss if result.quant is not None else rec.new_zeros(())
        run.update(rec + cfg.commit_weight * commit)
        ppl = float(result.quant.perplexity) if result.quant is not None else 0.0
        run.log_step(float(rec.detach()), commit=float(commit.detach()), perplexity=ppl)
        if run.is_main and run.due(cfg.val_every):
            run.record(validate(run.ema, val_crops))
        if run.due(cfg.ckpt_every):
            run.save()
    return run.close()


@torch.no_grad()
def place_codes(
    model: VQAutoencoder,
    crops: PhotoCrops,
    rng: np.random.Generator,
    cfg: AutoencoderTrainConfig,
    device: torch.device,
) -> None:
    """k-means the codebook onto encoder outputs of fresh training crops."""
    samples = []
    for _ in range(cfg.kmeans_batches):
        x = to_tensor(crops.batch(cfg.batch_size, rng), device)
        z = model.encode(x.contiguous(memory_format=torch.channels_last))
        samples.append(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).float())
    model.quantizer.init_from_samples(torch.cat(samples), seed=cfg.seed)


def export_autoencoder(checkpoint: Path, dest: Path, metadata: dict[str, str]) -> Path:
    """Write the EMA weights of a checkpoint as a fp16 inference file."""
    model = VQAutoencoder(_config_from_run(checkpoint))
    ema = VQAutoencoder(model.config)
    info = load_checkpoint(checkpoint, model=model, ema=ema, optimizer=None)
    meta = {"restorecli.training": json.dumps(info), **metadata}
    return save_model(ema, dest, dtype=torch.float16, metadata=meta, inference_only=True)


def _config_from_run(checkpoint: Path) -> AutoencoderConfig:
    cfg = json.loads((checkpoint.parent / "config.json").read_text())
    return AutoencoderConfig(**cfg["model"])
