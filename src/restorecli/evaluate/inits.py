"""Initial-state comparison (the paper's Tables 1 and 2) on a paired folder.

- train-free (Table 1): one model, the initial state switched at inference only
  (zq, ze, lerp with lam 0.5, chebyshev, auto);
- trained-with (Table 2): models trained with different initial states (e.g. one with zq, one
  with chebyshev), each evaluated with the state it was trained with, and optionally with all.

Every row is one (model, initial state) with the mean scores over the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from restorecli.evaluate.metrics import Metrics
from restorecli.evaluate.paired import Pair
from restorecli.evaluate.sweep import Loader, Setting, SweepRow, run_sweep
from restorecli.init_state import INIT_MODES

__all__ = ["TRAINED", "TRAIN_FREE", "InitRow", "compare_inits", "paired_difference"]

TRAIN_FREE = "train-free"
TRAINED = "trained-with"


@dataclass
class InitRow:
    """Mean scores of one model evaluated with one initial state."""

    kind: str  # train-free | trained-with
    trained_with: str | None  # the initial state the model was trained with (None: not given)
    weights: str | None
    init: str  # the initial state used at inference
    mean: Metrics
    input_mean: Metrics
    images: int
    config: dict[str, Any]
    seconds_per_image: float = 0.0  # restoration only: loading and scoring excluded
    psnr_per_image: list[float] = field(default_factory=list)  # in the order of the pairs

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "trained_with": self.trained_with,
            "weights": self.weights,
            "init": self.init,
            "images": self.images,
            "seconds_per_image": self.seconds_per_image,
            **self.mean.as_dict(),
            **{f"input_{k}": v for k, v in self.input_mean.as_dict().items()},
            "config": self.config,
        }


def compare_inits(
    pairs: Sequence[Pair],
    *,
    load: Loader,
    weights: str | None = None,
    trained: Mapping[str, str | None] | None = None,
    inits: Sequence[str] = INIT_MODES,
    trained_all_inits: bool = False,
    lam: float = 0.5,
    steps: int | None = None,
    seed: int | None = 0,
    crop_border: int = 0,
    train_free: bool = True,
    on_row: Callable[[InitRow], None] | None = None,
    max_pixels: int | None = None,
) -> list[InitRow]:
    """Train-free rows for ``weights`` (unless ``train_free`` is False), then trained-with rows.

    ``trained`` maps a training initial state to the weights trained with it, e.g.
    ``{"zq": "runs/derain-zq", "chebyshev": "runs/derain-cheb"}``. ``steps`` None keeps each
    model's default step count. ``load(weights, precision)`` makes a Restorer.
    """
    base: dict[str, Any] = {"lam": lam, "seed": seed}
    if steps is not None:
        base["steps"] = steps
    plan: list[tuple[str, str | None, Setting]] = []
    if train_free:
        for init in inits:
            plan.append((TRAIN_FREE, None, Setting(weights, overrides={**base, "init": init})))
    for train_init, w in (trained or {}).items():
        if train_init not in INIT_MODES:
            raise ValueError(f"unknown training initial state {train_init!r}")
        evals = list(inits) if trained_all_inits else [train_init]
        if train_init not in evals:
            evals.insert(0, train_init)
        for init in evals:
            plan.append((TRAINED, train_init, Setting(w, overrides={**base, "init": init})))
    rows: list[InitRow] = []
    index = 0

    def collect(row: SweepRow) -> None:
        nonlocal index
        kind, train_init, setting = plan[index]
        index += 1
        item = InitRow(
            kind,
            train_init,
            setting.weights,
            str(setting.overrides["init"]),
            row.mean,
            row.result.input_mean,
            len(row.result.images),
            row.config,
            row.result.seconds / max(len(row.result.images), 1),
            [r.output.psnr for r in row.result.images],
        )
        rows.append(item)
        if on_row is not None:
            on_row(item)

    run_sweep(
        pairs,
        [s for _, _, s in plan],
        load=load,
        crop_border=crop_border,
        on_row=collect,
        max_pixels=max_pixels,
    )
    return rows


def paired_difference(
    row: InitRow, reference: InitRow, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Mean per-image PSNR difference ``row - reference`` and the half-width of its
    ``confidence`` interval (Student t over the images, paired: the same images in both).

    Per-image differences vary far less than the PSNRs themselves, so pairing separates
    initial states that unpaired means over a few images could not. None when the rows were
    not scored on the same number of images; the half-width is nan for a single image.
    """
    a, b = np.asarray(row.psnr_per_image), np.asarray(reference.psnr_per_image)
    if len(a) != len(b) or not len(a):
        return None
    diff = a - b
    if len(diff) < 2:
        return float(diff.mean()), float("nan")
    sem = diff.std(ddof=1) / np.sqrt(len(diff))
    return float(diff.mean()), float(stats.t.ppf(0.5 + confidence / 2, len(diff) - 1) * sem)
