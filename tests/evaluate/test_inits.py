"""Initial-state comparison: train-free rows, then trained-with rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from restorecli.evaluate.inits import TRAIN_FREE, TRAINED, compare_inits
from restorecli.evaluate.paired import find_pairs
from restorecli.init_state import INIT_MODES


@dataclasses.dataclass
class Config:
    init: str = "chebyshev"
    lam: float = 0.5
    steps: int = 4
    seed: int | None = 0


class Fake:
    def __init__(self, weights):
        self.weights, self.config, self.runs = weights, Config(), []

    def restore_array(self, image: np.ndarray) -> np.ndarray:
        self.runs.append((self.config.init, self.config.steps, self.config.lam))
        return image


def test_train_free_then_trained(paired_dir: Path) -> None:
    pairs = find_pairs(paired_dir, limit=1)
    models: dict = {}

    def load(weights, precision):
        models[weights] = Fake(weights)
        return models[weights]

    rows = compare_inits(
        pairs, load=load, weights="base", trained={"zq": "m_zq", "chebyshev": "m_cheb"}, steps=2
    )
    assert [(r.kind, r.trained_with, r.weights, r.init) for r in rows] == [
        *((TRAIN_FREE, None, "base", i) for i in INIT_MODES),
        (TRAINED, "zq", "m_zq", "zq"),
        (TRAINED, "chebyshev", "m_cheb", "chebyshev"),
    ]
    assert [i for i, _, _ in models["base"].runs] == list(INIT_MODES)
    assert all(s == 2 and lam == 0.5 for _, s, lam in models["base"].runs)
    assert rows[0].images == 1 and rows[0].as_dict()["kind"] == TRAIN_FREE

    everything = compare_inits(
        pairs, load=load, trained={"chebyshev": "m"}, trained_all_inits=True, train_free=False
    )
    assert [r.init for r in everything] == list(INIT_MODES)
    assert all(r.trained_with == "chebyshev" for r in everything)


def test_seconds_per_image_leaves_out_the_one_time_set_up(paired_dir: Path, monkeypatch) -> None:
    """Each row's time is the mean restoration time; ``prepare`` (tables) runs before timing."""
    clock = {"now": 0.0}

    def perf_counter() -> float:
        return clock["now"]

    class Timed(Fake):
        def prepare(self) -> None:
            self.runs.append(("prepare", self.config.init, None))
            clock["now"] += 100.0  # a slow table build must not show up per image

        def restore_array(self, image: np.ndarray) -> np.ndarray:
            clock["now"] += 0.25 if self.config.init == "zq" else 0.5
            return super().restore_array(image)

    monkeypatch.setattr("restorecli.evaluate.paired.time.perf_counter", perf_counter)
    pairs = find_pairs(paired_dir, limit=2)
    model = Timed("base")
    rows = compare_inits(pairs, load=lambda w, p: model, weights="base", inits=["zq", "chebyshev"])
    assert [(r.init, r.seconds_per_image) for r in rows] == [("zq", 0.25), ("chebyshev", 0.5)]
    assert rows[0].as_dict()["seconds_per_image"] == 0.25
    assert [r for r in model.runs if r[0] == "prepare"] == [
        ("prepare", "zq", None),
        ("prepare", "chebyshev", None),
    ]


def _row(psnrs: list[float], init: str = "zq"):
    from restorecli.evaluate.inits import InitRow
    from restorecli.evaluate.metrics import Metrics

    m = Metrics(0.0, 0.0, 0.0, 0.0)
    return InitRow(TRAIN_FREE, None, None, init, m, m, len(psnrs), {}, 0.0, psnrs)


def test_paired_difference_matches_a_paired_t_interval() -> None:
    from scipy import stats

    from restorecli.evaluate.inits import paired_difference

    a, b = [20.0, 22.0, 25.0, 19.0], [19.5, 21.0, 24.8, 18.0]
    mean, half = paired_difference(_row(a), _row(b, "chebyshev"))
    diff = np.subtract(a, b)
    low, high = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert mean == pytest.approx(diff.mean())
    assert (mean - half, mean + half) == pytest.approx((low, high))
    assert paired_difference(_row(a), _row(a[:2])) is None
    one = paired_difference(_row([20.0]), _row([19.0]))
    assert one[0] == 1.0 and np.isnan(one[1])
