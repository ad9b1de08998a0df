"""The bookkeeping every training loop shares, so each loop holds only its own step.

``TrainingRun`` owns the device and process group, the run folder (config, metrics, checkpoint),
resuming, the optimizer with its learning-rate schedule, the EMA copy, gradient clipping,
progress and logging. A loop asks it for step numbers, computes its loss, and hands the loss
back to ``step``.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch.nn.parallel import DistributedDataParallel

from restorecli.device import select_device
from restorecli.train.checkpoint import ema_update, load_checkpoint, save_checkpoint
from restorecli.train.distributed import all_mean, cleanup_distributed, init_distributed
from restorecli.train.loop import (
    MetricsLog,
    corpus_fingerprint,
    lr_at,
    make_progress,
    seed_everything,
    write_text_atomic,
)


class TrainingRun:
    """One run folder: ``checkpoint.safetensors``, ``metrics.jsonl`` and ``config.json``, plus
    ``best.safetensors`` (weights at the best validation so far) when a loop names its score.

    ``cfg`` is a training config dataclass with at least: data, out, steps, batch_size, lr,
    ema_decay, log_every, val_every, ckpt_every, seed, device, progress.
    """

    def __init__(self, cfg: Any, name: str) -> None:
        self.cfg = cfg
        self.name = name
        device = select_device(cfg.device)
        self.dist = init_distributed(device)
        if device.type == "cuda":
            device = torch.device("cuda", self.dist.local_rank)
        self.device = device
        self.console = Console(stderr=True, quiet=not self.dist.is_main)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path = self.out / "checkpoint.safetensors"
        self.best_path = self.out / "best.safetensors"
        self.rng = seed_everything(cfg.seed, self.dist.rank)
        self.log = MetricsLog(self.out / "metrics.jsonl", enabled=self.dist.is_main)
        self.step_count = 0
        self.lr = 0.0
        self.info: dict[str, Any] = {}
        self.extra_info: dict[str, Any] = {}  # the loop's own facts, saved with every checkpoint

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def attach(
        self, model: torch.nn.Module, *, weight_decay: float = 0.0, resume: bool = True
    ) -> torch.nn.Module:
        """Move ``model`` to the device, build EMA and AdamW, resume; returns the network to
        call (wrapped for DDP when several processes run)."""
        # channels_last: the CPU convolution and layer-norm kernels run 1.5-2x faster in it.
        self.model = model.to(self.device, memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=self.cfg.lr, weight_decay=weight_decay
        )
        self.info = {"step": 0, "wall_time": 0.0}
        if resume and self.checkpoint_path.is_file():
            self.info = load_checkpoint(
                self.checkpoint_path, model=self.model, ema=self.ema, optimizer=self.opt
            )
            self.console.log(f"resumed from {self.checkpoint_path} at step {self.info['step']}")
            # A fresh stream of crops, not a replay of the ones before the checkpoint.
            self.rng = seed_everything(self.cfg.seed + self.info["step"], self.dist.rank)
        self.step_count = self.info["step"]
        if self.is_main:
            write_text_atomic(self.out / "config.json", json.dumps(asdict(self.cfg), indent=2))
            self.log.truncate_after(self.step_count)
        if self.dist.world_size > 1:
            return DistributedDataParallel(self.model)
        return self.model

    def steps(self) -> Iterator[int]:
        """Yield the 0-based index of each remaining step, with the learning rate set for it."""
        cfg = self.cfg
        self._wall0, self._start = self.info.get("wall_time", 0.0), time.time()
        self._t_last, self._crops = time.time(), 0
        with make_progress(cfg.steps, cfg.progress and self.is_main) as bar:
            self._bar = bar
            self._task = bar.add_task(
                self.name, total=cfg.steps, completed=self.step_count, status=""
            )
            while self.step_count < cfg.steps:
                self.model.train()
                self.lr = lr_at(self.step_count, cfg.lr, cfg.steps)
                for group in self.opt.param_groups:
                    group["lr"] = self.lr
                yield self.step_count

    def update(self, loss: torch.Tensor) -> None:
        """Backward, clip, optimizer and EMA step for one batch."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        ema_update(self.ema, self.model, self.cfg.ema_decay)
        self.step_count += 1
        self._crops += self.cfg.batch_size * self.dist.world_size

    def due(self, every: int) -> bool:
        """True on every ``every``-th step and on the last one."""
        return self.step_count % every == 0 or self.step_count == self.cfg.steps

    def log_step(self, loss: float, **extra: float) -> None:
        """Every ``log_every`` steps: loss averaged over ranks, rate, to metrics and progress."""
        if not self.due(self.cfg.log_every):
            return
        now = time.time()
        rate = self._crops / max(now - self._t_last, 1e-6)
        self._t_last, self._crops = now, 0
        loss = all_mean(loss, self.dist)
        self.log.write(
            {"step": self.step_count, "loss": loss, **extra, "lr": self.lr, "crops_per_s": rate}
        )
        shown = " ".join(f"{k} {v:.4g}" for k, v in extra.items())
        status = f"loss {loss:.5f} {shown} {rate:.1f} crops/s".replace("  ", " ")
        self._bar.update(self._task, completed=self.step_count, status=status)
        if not sys.stderr.isatty() and self.is_main:
            self.console.log(f"step {self.step_count} {status}")

    def record(self, metrics: dict[str, float], best: str | None = None, setup: str = "") -> None:
        """Validation results: to the metrics file and the console.

        With ``best`` (a key of ``metrics``, higher is better), the weights are also written to
        ``best.safetensors`` whenever that score beats every earlier validation of the run with
        the same ``setup`` (what was validated and how; a resumed run may validate differently):
        small corpora overfit, and the last step is not always the best one.
        """
        record: dict[str, Any] = {"step": self.step_count, **metrics}
        if setup:
            record["val_setup"] = setup
        self.log.write(record)
        self.console.log(f"step {self.step_count} validation: {metrics}")
        if best is None or not self.is_main:
            return
        earlier = self.log.best(best, before=self.step_count, where={"val_setup": setup or None})
        if earlier is None or metrics[best] > earlier:
            self.save(path=self.best_path, optimizer=False, **{best: metrics[best]})

    def save(self, path: Path | None = None, *, optimizer: bool = True, **info: Any) -> None:
        """Checkpoint (main process only): weights, EMA, optimizer and where the run stands.

        ``path`` other than the run's checkpoint (e.g. the best weights) leaves ``self.info``,
        the state a resume starts from, alone; ``optimizer=False`` writes the weights only.
        """
        if not self.is_main:
            return
        info = {
            "step": self.step_count,
            "wall_time": self._wall0 + time.time() - self._start,
            "corpus_sha256": corpus_fingerprint(self.cfg.data),
            "world_size": self.dist.world_size,
            **self.extra_info,
            **info,
        }
        save_checkpoint(
            path or self.checkpoint_path,
            model=self.model,
            ema=self.ema,
            optimizer=self.opt if optimizer else None,
            info=info,
        )
        if path is None:
            self.info = info

    def close(self) -> Path:
        cleanup_distributed()
        return self.checkpoint_path
