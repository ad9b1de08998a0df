"""Train the degradation detector on the degradation library applied to clean photos.

Each sample is a training photo at a random size, left clean or given one or two degradations
(in the order a real photo gets them, ``detect.PHYSICAL_ORDER``) at a random severity, then,
half the time, a JPEG round trip any photo may have had: JPEG alone is no task. A pool of such
samples is made once (degrading a whole photo costs far more than a step of this small
network) and refreshed a slice at a time; each step draws from it with random flips.
Validation: every held-out photo once clean and once under each single task, at fixed seeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from restorecli.degrade import degrade
from restorecli.degrade.jpeg import jpeg_roundtrip
from restorecli.detect import PHYSICAL_ORDER, analysis_image, analysis_views
from restorecli.models import save_model
from restorecli.models.detector import DegradationDetector, DetectorConfig
from restorecli.train.checkpoint import load_checkpoint
from restorecli.train.data import load_rgb, split_images
from restorecli.train.loop import check_counts
from restorecli.train.run import TrainingRun


@dataclass
class DetectorTrainConfig:
    """Options of one detector run (saved as ``OUT/config.json``)."""

    data: str
    out: str
    model: DetectorConfig = field(default_factory=DetectorConfig)
    steps: int = 3000
    batch_size: int = 16
    clean_fraction: float = 0.3  # samples left clean
    pair_fraction: float = 0.25  # of the degraded samples, those with two tasks
    min_severity: float = 0.15  # below this some degradations are invisible: not a label
    jpeg_fraction: float = 0.5
    jpeg_quality: tuple[int, int] = (60, 95)
    min_side: int = 320  # photos are loaded with a long side in [min_side, analysis_side]
    # Clean detail as soft as a camera's at full size: this share of photos is a crop enlarged
    # by a factor in soft_scale (the corpus is mostly downscaled, so sharper than that). Soft
    # is not blurred: without this, real full-size crops (PolyU) were taken for blur.
    soft_fraction: float = 0.3
    soft_scale: tuple[float, float] = (1.0, 2.0)
    pool: int = 2048
    refresh: int = 32  # pool samples replaced by fresh ones every `refresh_every` steps
    refresh_every: int = 16
    val_fraction: float = 0.05
    lr: float = 2e-3
    ema_decay: float = 0.995
    log_every: int = 25
    val_every: int = 250
    ckpt_every: int = 250
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        check_counts(self, "steps", "batch_size", "log_every", "val_every", "ckpt_every")
        check_counts(self, "pool", "refresh", "refresh_every")
        fractions = ("clean", "pair", "jpeg", "soft")
        for name in (*(f"{f}_fraction" for f in fractions), "min_severity"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        unknown = set(self.model.labels) - set(PHYSICAL_ORDER)
        if unknown:
            raise ValueError(f"labels without a degradation: {', '.join(sorted(unknown))}")


def degrade_sample(
    photo: np.ndarray,
    tasks: tuple[str, ...],
    rng: np.random.Generator,
    cfg: DetectorTrainConfig,
    severity: float | None = None,
    jpeg: bool | None = None,
) -> np.ndarray:
    """``photo`` (uint8) with ``tasks`` applied in physical order, float32 in [0, 1]."""
    image = photo.astype(np.float32) / 255.0
    for task in PHYSICAL_ORDER:
        if task in tasks:
            s = rng.uniform(cfg.min_severity, 1.0) if severity is None else severity
            image = degrade(task, image, rng=rng, severity=float(s))
    if jpeg if jpeg is not None else rng.random() < cfg.jpeg_fraction:
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        image = jpeg_roundtrip(np.clip(image, 0, 1), quality)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def draw_tasks(rng: np.random.Generator, cfg: DetectorTrainConfig) -> tuple[str, ...]:
    labels = cfg.model.labels
    if rng.random() < cfg.clean_fraction:
        return ()
    count = 2 if rng.random() < cfg.pair_fraction else 1
    return tuple(rng.choice(labels, size=min(count, len(labels)), replace=False).tolist())


class SamplePool:
    """Views and label vectors of degraded training photos, refreshed a slice at a time."""

    def __init__(self, paths: list[Path], cfg: DetectorTrainConfig, rng: np.random.Generator):
        self.cfg = cfg
        self.photos = [load_rgb(p, cfg.model.analysis_side) for p in paths]
        m = cfg.model
        self.crops = np.zeros((cfg.pool, m.crops, m.crop_size, m.crop_size, 3), np.uint8)
        self.frames = np.zeros((cfg.pool, m.global_size, m.global_size, 3), np.uint8)
        self.labels = np.zeros((cfg.pool, len(m.labels)), np.float32)
        self._next = 0
        self.fill(cfg.pool, rng)

    def fill(self, count: int, rng: np.random.Generator) -> None:
        cfg = self.cfg
        for _ in range(count):
            i = self._next
            self._next = (self._next + 1) % cfg.pool
            photo = self.photos[rng.integers(len(self.photos))]
            side = int(rng.integers(cfg.min_side, cfg.model.analysis_side + 1))
            photo = analysis_image(photo, side)
            if rng.random() < cfg.soft_fraction:
                photo = _enlarge_crop(photo, float(rng.uniform(*cfg.soft_scale)), rng)
            tasks = draw_tasks(rng, cfg)
            crops, frame = analysis_views(degrade_sample(photo, tasks, rng, cfg), cfg.model, rng)
            self.crops[i] = np.round(crops * 255)
            self.frames[i] = np.round(frame * 255)
            self.labels[i] = [t in tasks for t in cfg.model.labels]

    def batch(
        self, n: int, rng: np.random.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = rng.integers(0, self.cfg.pool, n)
        crops = torch.from_numpy(self.crops[idx]).permute(0, 1, 4, 2, 3).float() / 127.5 - 1
        frames = torch.from_numpy(self.frames[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
        if rng.random() < 0.5:  # flips keep every degradation what it is
            crops, frames = crops.flip(-1), frames.flip(-1)
        return crops.to(device), frames.to(device), torch.from_numpy(self.labels[idx]).to(device)


def _enlarge_crop(photo: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """A random crop 1/factor of the photo's size, enlarged back (bicubic): the same size,
    softer detail."""
    import cv2

    h, w = photo.shape[:2]
    ch, cw = max(8, round(h / factor)), max(8, round(w / factor))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return cv2.resize(photo[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_CUBIC)


def validation_set(
    paths: list[Path], cfg: DetectorTrainConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Every held-out photo clean and under each single task (severities spread over the
    range by seed), views on the inference grid; returns crops, frames, labels, class names."""
    m = cfg.model
    crops, frames, labels, names = [], [], [], []
    for i, path in enumerate(paths):
        photo = load_rgb(path, m.analysis_side)
        for j, task in enumerate(("clean", *m.labels)):
            rng = np.random.default_rng([cfg.seed, i, j])
            tasks = () if task == "clean" else (task,)
            severity = cfg.min_severity + (1 - cfg.min_severity) * ((i + j) % 4 + 0.5) / 4
            image = degrade_sample(photo, tasks, rng, cfg, severity=severity, jpeg=(i + j) % 2 == 0)
            c, f = analysis_views(image, m)
            crops.append(c)
            frames.append(f)
            labels.append([t in tasks for t in m.labels])
            names.append(task)
    c = torch.from_numpy(np.stack(crops)).permute(0, 1, 4, 2, 3) * 2 - 1
    f = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2) * 2 - 1
    return c, f, torch.tensor(labels, dtype=torch.float32), names


@torch.no_grad()
def validate(
    model: DegradationDetector,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]],
    threshold: float = 0.5,
) -> dict[str, float]:
    """Per class: the share of photos whose predicted task set is exactly right."""
    crops, frames, labels, names = data
    model.eval()
    probs = torch.cat(
        [
            torch.sigmoid(model(crops[i : i + 16], frames[i : i + 16]))
            for i in range(0, len(names), 16)
        ]
    )
    exact = ((probs >= threshold) == labels.bool()).all(1).float()
    out = {"val_exact": float(exact.mean())}
    for name in dict.fromkeys(names):
        mask = torch.tensor([n == name for n in names])
        out[f"val_{name}"] = float(exact[mask].mean())
    return out


def train_detector(cfg: DetectorTrainConfig, *, resume: bool = True) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    run = TrainingRun(cfg, "detector")
    train_paths, val_paths = split_images(cfg.data, cfg.val_fraction)
    run.console.log(f"{len(train_paths)} training photos, {len(val_paths)} held out")
    val = validation_set(val_paths, cfg)
    net = run.attach(DegradationDetector(cfg.model), resume=resume)
    run.console.log(f"making a pool of {cfg.pool} degraded photos")
    pool = SamplePool(train_paths, cfg, run.rng)
    for step in run.steps():
        if step % cfg.refresh_every == 0:
            pool.fill(cfg.refresh, run.rng)
        crops, frames, labels = pool.batch(cfg.batch_size, run.rng, run.device)
        loss = F.binary_cross_entropy_with_logits(net(crops, frames), labels)
        run.update(loss)
        run.log_step(float(loss.detach()))
        if run.is_main and run.due(cfg.val_every):
            run.record(validate(run.ema, val), best="val_exact")
        if run.due(cfg.ckpt_every):
            run.save()
    return run.close()


def config_from_run(run: str | Path) -> DetectorTrainConfig:
    raw = json.loads((Path(run) / "config.json").read_text())
    raw["model"] = DetectorConfig(**raw["model"])
    raw["jpeg_quality"] = tuple(raw["jpeg_quality"])
    if "soft_scale" in raw:
        raw["soft_scale"] = tuple(raw["soft_scale"])
    return DetectorTrainConfig(**raw)


def export_detector(checkpoint: Path, dest: Path, metadata: dict[str, str]) -> Path:
    """Write the EMA weights of a detector checkpoint as a fp16 inference file."""
    cfg = config_from_run(checkpoint.parent)
    model, ema = DegradationDetector(cfg.model), DegradationDetector(cfg.model)
    info = load_checkpoint(checkpoint, model=model, ema=ema, optimizer=None)
    meta = {"restorecli.training": json.dumps(info), **metadata}
    return save_model(ema, dest, dtype=torch.float16, metadata=meta, inference_only=True)
