"""The model behind a job: loaded once, its options checked first, described in reports."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping
from typing import Any

from restorecli.protocols import FrameRestorer


def load_restorer(
    weights: str | os.PathLike[str] | None,
    *,
    task: str | None,
    overrides: Mapping[str, Any] | None = None,
    device: str = "auto",
    precision: str = "fp32",
    offline: bool | None = None,
    threads: int | None = None,
) -> FrameRestorer:
    """Load a ``Restorer``; ``overrides`` replace fields of the model's own default config;
    ``threads`` sets torch's CPU threads (None: torch's default).

    Only the options the user gave are in ``overrides``, so a model's default ``init`` and
    ``steps`` (from its registry entry or file metadata) stay in force otherwise.
    """
    from restorecli.pipeline import Restorer

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    restorer = Restorer.from_pretrained(
        None if weights is None else str(weights),
        task=task,
        device=device,
        precision=precision,
        offline=offline,
    )
    if overrides:
        restorer.config = dataclasses.replace(restorer.config, **dict(overrides))
    restorer.check_config(overrides or {})  # an option this model lacks fails before any file
    return restorer


def check_overrides(overrides: Mapping[str, Any]) -> None:
    """Raise ValueError if ``overrides`` make no valid sampling config (e.g. ``tile=32``).

    Meant for before ``load_restorer``, so inconsistent options fail without loading a model.
    """
    from restorecli.config import RestoreConfig

    RestoreConfig(**overrides)


def describe_restorer(restorer: FrameRestorer) -> dict[str, Any]:
    """The model's name, device and sampling config, for JSON reports (None where unknown)."""
    config = restorer.config
    return {
        "model": restorer.name,
        "device": str(restorer.device) if restorer.device is not None else None,
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else None,
    }


def load_auto_restorer(
    detector: str | os.PathLike[str] | None,
    *,
    threshold: float,
    available: Collection[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    device: str = "auto",
    precision: str = "fp32",
    offline: bool | None = None,
    threads: int | None = None,
) -> Any:
    """An ``AutoRestorer`` (``--task auto``): the detector now, each task's registered model when
    a file first needs it, loaded as ``load_restorer`` loads it. ``available``: the tasks that
    have a model (None: all). The Ray engine builds one per worker with this."""
    from restorecli.auto import AutoRestorer
    from restorecli.detect import load_detector

    found = load_detector(detector, device=device, offline=offline)

    def load(task: str) -> FrameRestorer:
        return load_restorer(
            None,
            task=task,
            overrides=overrides,
            device=device,
            precision=precision,
            offline=offline,
            threads=threads,
        )

    return AutoRestorer(found, load, threshold, available)
