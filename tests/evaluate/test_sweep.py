"""Sweeps: value parsing, the cartesian product, one model per weights, config per setting."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from restorecli.evaluate.paired import find_pairs
from restorecli.evaluate.sweep import (
    Setting,
    expand_grid,
    images_table,
    parse_values,
    per_image_csv,
    run_sweep,
    summary_table,
    varying_keys,
)
from restorecli.init_state import INIT_MODES


@dataclasses.dataclass
class Config:
    init: str = "chebyshev"
    lam: float = 0.5
    steps: int = 4
    seed: int | None = 0


class Recorder:
    """A stand-in restorer that records the config of every call."""

    def __init__(self, weights: str | None) -> None:
        self.weights = weights
        self.config = Config()
        self.seen: list[tuple] = []

    def restore_array(self, image: np.ndarray) -> np.ndarray:
        self.seen.append((self.weights, self.config.init, self.config.steps))
        return image * 0.5 + 0.25


def test_parse_values() -> None:
    assert parse_values("init", "all") == list(INIT_MODES)
    assert parse_values("init", "zq, chebyshev") == ["zq", "chebyshev"]
    assert parse_values("steps", "1,2,4,2") == [1, 2, 4]
    assert parse_values("lam", "0.3,0.5") == [0.3, 0.5]
    assert parse_values("seed", "0,-1") == [0, None]
    assert parse_values("weights", "a,b/c") == ["a", "b/c"]
    assert parse_values("steps", None) is None
    with pytest.raises(ValueError, match="--steps"):
        parse_values("steps", "1,x")
    with pytest.raises(ValueError, match="unknown"):
        parse_values("init", "zq,nope")
    with pytest.raises(ValueError, match="cannot sweep"):
        parse_values("colour", "1")


def test_expand_grid_is_the_cartesian_product() -> None:
    settings = expand_grid(
        {"init": ["zq", "ze", "lerp"], "steps": [1, 2], "seed": None, "weights": ["a", "b"]}
    )
    assert len(settings) == 3 * 2 * 2
    assert [s.weights for s in settings] == ["a"] * 6 + ["b"] * 6  # weights vary slowest
    combos = {(s.weights, s.overrides["init"], s.overrides["steps"]) for s in settings}
    assert len(combos) == 12
    assert all("seed" not in s.overrides for s in settings)
    assert expand_grid({}) == [Setting()]
    assert varying_keys(settings) == ["weights", "init", "steps"]
    assert settings[0].label(["init", "steps"]) == "init=zq steps=1"
    assert Setting("runs/x/", overrides={"lam": 0.3}).slug() == "weights-x_precision-fp32_lam-0.3"


def test_run_sweep_loads_each_model_once(paired_dir: Path) -> None:
    pairs = find_pairs(paired_dir, limit=2)
    settings = expand_grid({"weights": ["a", "b"], "init": ["zq", "ze"], "steps": [1, 3]})
    loads: list[str | None] = []
    models: dict = {}

    def load(weights, precision):
        loads.append(weights)
        models[weights] = Recorder(weights)
        return models[weights]

    done = []
    rows = run_sweep(pairs, settings, load=load, on_row=done.append)
    assert loads == ["a", "b"]
    assert len(rows) == len(done) == 8
    # Each setting ran on every image with its own config, in order.
    expected = [(s.weights, s.overrides["init"], s.overrides["steps"]) for s in settings]
    seen = models["a"].seen + models["b"].seen
    assert seen == [e for e in expected for _ in range(2)]
    assert rows[0].config["init"] == "zq" and rows[-1].config["steps"] == 3
    assert rows[0].config["lam"] == 0.5  # unswept fields keep the model's defaults
    # Tables: one summary row per setting; csv has every image plus a mean row per setting.
    table = summary_table(rows)
    assert len(table.rows) == 8 and table.header[:3] == ["weights", "init", "steps"]
    assert len(per_image_csv(rows).rows) == 8 * 3
    assert images_table(rows[0]).rows[-1][0] == "mean"


def test_run_sweep_on_tiny_weights(restorer, paired_dir: Path) -> None:
    pairs = find_pairs(paired_dir, limit=1)
    settings = expand_grid({"init": ["zq", "chebyshev"], "steps": [1, 2]})
    rows = run_sweep(pairs, settings, load=lambda w, p: restorer)
    assert [(r.config["init"], r.config["steps"]) for r in rows] == [
        ("zq", 1),
        ("zq", 2),
        ("chebyshev", 1),
        ("chebyshev", 2),
    ]
    assert rows[0].config["kappa"] == pytest.approx(restorer.schedule.kappa)
    assert all(np.isfinite(r.mean.psnr) for r in rows)
    # The degraded input's own scores do not depend on the setting.
    assert len({r.result.input_mean for r in rows}) == 1
