"""Pieces shared by the training loops: schedule, metrics log, progress, run metadata."""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def lr_at(step: int, base: float, total: int, warmup: int = 200, floor: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``floor * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean PSNR in dB of images in [0, 1] (per image, then averaged)."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return float((10 * torch.log10(1.0 / mse)).mean())


def corpus_fingerprint(root: str | Path) -> str:
    """sha256 of the corpus manifest (``manifest.csv``), or of the sorted file list."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if manifest.is_file():
        return hashlib.sha256(manifest.read_bytes()).hexdigest()
    names = "\n".join(sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()))
    return hashlib.sha256(names.encode()).hexdigest()


class MetricsLog:
    """Append-only JSON-lines file: one record per logging step or validation."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def make_progress(total: int, enabled: bool) -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled or not sys.stderr.isatty(),
    )


def seed_everything(seed: int, rank: int) -> np.random.Generator:
    torch.manual_seed(seed * 1000 + rank)
    return np.random.default_rng([seed, rank])


def to_tensor(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """N x H x W x 3 float array in [0, 1] -> N x 3 x H x W tensor in [-1, 1]."""
    return torch.from_numpy(batch).permute(0, 3, 1, 2).to(device) * 2 - 1
