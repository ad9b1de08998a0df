"""Train the VQ autoencoder on clean photos (reconstruction + commitment loss)."""

from __future__ import annotations

import copy
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

from restorecli.device import select_device
from restorecli.models import AutoencoderConfig, VQAutoencoder, save_model
from restorecli.train.checkpoint import ema_update, load_checkpoint, save_checkpoint
from restorecli.train.data import CropConfig, PhotoCrops
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
    device = select_device(cfg.device)
    dist = init_distributed(device)
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    console = Console(stderr=True, quiet=not dist.is_main)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = seed_everything(cfg.seed, dist.rank)

    train_set = PhotoCrops(cfg.data, "train", cfg.crop)
    val_set = PhotoCrops(cfg.data, "val", cfg.crop)
    val_crops = to_tensor(val_set.fixed_crops(cfg.val_crops, cfg.val_size), device)
    console.log(f"{len(train_set.paths)} training photos, {len(val_set.paths)} held out")

    # channels_last: the CPU convolution and layer-norm kernels run 1.5-2x faster in it.
    model = VQAutoencoder(cfg.model).to(device, memory_format=torch.channels_last)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = out / "checkpoint.safetensors"
    info = {"step": 0, "wall_time": 0.0, "crops": 0}
    if resume and ckpt.is_file():
        info = load_checkpoint(ckpt, model=model, ema=ema, optimizer=opt)
        console.log(f"resumed from {ckpt} at step {info['step']}")
        rng = seed_everything(cfg.seed + info["step"], dist.rank)
    net = DistributedDataParallel(model) if dist.world_size > 1 else model
    log = MetricsLog(out / "metrics.jsonl", enabled=dist.is_main)
    if dist.is_main:
        write_text_atomic(out / "config.json", json.dumps(asdict(cfg), indent=2))
        log.truncate_after(info["step"])

    step, wall0, t_last, crops_last = info["step"], info["wall_time"], time.time(), 0
    start = time.time()
    with make_progress(cfg.steps, cfg.progress and dist.is_main) as bar:
        task = bar.add_task("autoencoder", total=cfg.steps, completed=step, status="")
        while step < cfg.steps:
            model.train()
            lr = lr_at(step, cfg.lr, cfg.steps)
            for group in opt.param_groups:
                group["lr"] = lr
            x = to_tensor(train_set.batch(cfg.batch_size, rng), device)
            x = x.contiguous(memory_format=torch.channels_last)
            quantize = step >= cfg.vq_start
            if quantize and not bool(model.quantizer.initialized):
                place_codes(model, train_set, rng, cfg, device)
                console.log(f"step {step}: codebook placed by k-means, quantizing from now on")
            result = net(x, quantize=quantize)
            rec = F.l1_loss(result.recon, x) + F.mse_loss(result.recon, x)
            commit = result.quant.commit_loss if result.quant is not None else rec.new_zeros(())
            loss = rec + cfg.commit_weight * commit
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
                rec_mean = all_mean(float(rec.detach()), dist)
                ppl = float(result.quant.perplexity) if result.quant is not None else 0.0
                log.write(
                    {
                        "step": step,
                        "loss": rec_mean,
                        "commit": float(commit.detach()),
                        "perplexity": ppl,
                        "lr": lr,
                        "crops_per_s": rate,
                    }
                )
                status = f"loss {rec_mean:.4f} ppl {ppl:.0f} {rate:.1f} crops/s"
                bar.update(task, completed=step, status=status)
                if not sys.stderr.isatty() and dist.is_main:
                    console.log(f"step {step} {status}")
            if dist.is_main and (step % cfg.val_every == 0 or step == cfg.steps):
                metrics = validate(ema, val_crops)
                log.write({"step": step, **metrics})
                console.log(f"step {step} validation: {metrics}")
            if dist.is_main and (step % cfg.ckpt_every == 0 or step == cfg.steps):
                info = {
                    "step": step,
                    "wall_time": wall0 + time.time() - start,
                    "corpus_sha256": corpus_fingerprint(cfg.data),
                    "world_size": dist.world_size,
                }
                save_checkpoint(ckpt, model=model, ema=ema, optimizer=opt, info=info)
    cleanup_distributed()
    return ckpt


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
