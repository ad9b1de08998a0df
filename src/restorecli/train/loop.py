"""Pieces shared by the training loops: schedule, metrics log, progress, run metadata."""

from __future__ import annotations

import hashlib
import json
import math
import os
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


def check_counts(cfg: object, *names: str) -> None:
    """Raise ValueError unless every named field of ``cfg`` is >= 1."""
    for name in names:
        value = getattr(cfg, name)
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


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
    files = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    names = "\n".join(sorted(files))
    return hashlib.sha256(names.encode()).hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` via a temp file in the same folder (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class MetricsLog:
    """Append-only JSON-lines file: one record per logging step or validation."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        """Append one record, stamped with the wall-clock time."""
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def best(self, key: str, before: int, where: dict[str, Any] | None = None) -> float | None:
        """The highest ``key`` logged at a step before ``before`` in records that match
        ``where`` (a missing field counts as None); None when there is none."""
        values = [
            r[key]
            for r in self._records()
            if key in r
            and r.get("step", 0) < before
            and all(r.get(k) == v for k, v in (where or {}).items())
        ]
        return max(values) if values else None

    def _records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step``: a resumed run logs them again.

        Records written between the last checkpoint and a crash would otherwise appear twice;
        at step 0 (a fresh run in an old folder) the file starts empty.
        """
        if not self.enabled or not self.path.is_file():
            return
        keep = [json.dumps(r) + "\n" for r in self._records() if r.get("step", 0) <= step]
        write_text_atomic(self.path, "".join(keep))


def make_progress(total: int, enabled: bool) -> Progress:
    """A rich progress bar on stderr, shown only when ``enabled`` and stderr is a terminal."""
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
    """Seed torch for this rank and return the numpy generator that draws its crops."""
    torch.manual_seed(seed * 1000 + rank)
    return np.random.default_rng([seed, rank])


def to_tensor(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """N x H x W x 3 float array in [0, 1] -> N x 3 x H x W tensor in [-1, 1]."""
    return torch.from_numpy(batch).permute(0, 3, 1, 2).to(device) * 2 - 1
