"""Training the degradation detector: samples, labels, validation per class, resume, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from restorecli.detect import PHYSICAL_ORDER
from restorecli.models import load_model
from restorecli.models.detector import DetectorConfig
from restorecli.train.data import split_images
from restorecli.train.detector import (
    DetectorTrainConfig,
    SamplePool,
    degrade_sample,
    draw_tasks,
    export_detector,
    train_detector,
)

TINY = DetectorConfig(width=4, crops=2, crop_size=16, global_size=16, analysis_side=96)


def run_config(data, out, **overrides) -> DetectorTrainConfig:
    options = {
        "model": TINY,
        "steps": 4,
        "batch_size": 4,
        "pool": 8,
        "refresh": 2,
        "refresh_every": 2,
        "min_side": 48,
        "log_every": 2,
        "val_every": 2,
        "ckpt_every": 2,
        "device": "cpu",
        "progress": False,
        "val_fraction": 0.3,
        **overrides,
    }
    return DetectorTrainConfig(data=str(data), out=str(out), **options)


def test_tasks_drawn_follow_the_fractions(tmp_path):
    cfg = run_config(tmp_path, tmp_path, clean_fraction=0.3, pair_fraction=0.25)
    rng = np.random.default_rng(0)
    drawn = [draw_tasks(rng, cfg) for _ in range(4000)]
    sizes = np.bincount([len(t) for t in drawn], minlength=3) / len(drawn)
    assert sizes[0] == pytest.approx(0.3, abs=0.03)
    assert sizes[2] == pytest.approx(0.7 * 0.25, abs=0.03)
    assert all(len(set(t)) == len(t) for t in drawn)
    assert {t for ts in drawn for t in ts} == set(TINY.labels)


def test_a_sample_is_its_degradations_in_physical_order(tmp_path):
    cfg = run_config(tmp_path, tmp_path)
    photo = np.full((40, 50, 3), 128, np.uint8)
    clean = degrade_sample(photo, (), np.random.default_rng(0), cfg, jpeg=False)
    np.testing.assert_allclose(clean, 128 / 255, atol=1e-6)  # clean stays clean
    noisy = degrade_sample(photo, ("denoise",), np.random.default_rng(0), cfg, severity=1.0)
    assert noisy.std() > 0.05 and noisy.min() >= 0 and noisy.max() <= 1
    # Two tasks: the scene's haze first, the sensor's noise last (noise is not hazed away).
    both = degrade_sample(photo, ("denoise", "dehaze"), np.random.default_rng(0), cfg, 1.0, False)
    assert both.std() > 0.05
    assert PHYSICAL_ORDER.index("dehaze") < PHYSICAL_ORDER.index("denoise")


def test_pool_labels_match_what_was_applied(photos, tmp_path):
    cfg = run_config(photos, tmp_path, clean_fraction=1.0)
    pool = SamplePool(split_images(photos, 0.3)[0], cfg, np.random.default_rng(0))
    assert pool.labels.sum() == 0  # all clean
    crops, frames, labels = pool.batch(3, np.random.default_rng(1), torch.device("cpu"))
    assert crops.shape == (3, 2, 3, 16, 16) and frames.shape == (3, 3, 16, 16)
    assert crops.min() >= -1 and crops.max() <= 1 and labels.shape == (3, 6)


def test_training_validates_every_class_resumes_and_exports(photos, tmp_path):
    out = tmp_path / "run"
    train_detector(run_config(photos, out))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if "val_exact" in r]
    assert [r["step"] for r in val] == [2, 4]
    assert {f"val_{c}" for c in ("clean", *TINY.labels)} <= set(val[-1])
    assert (out / "best.safetensors").is_file()
    train_detector(run_config(photos, out, steps=6))  # resumes at step 4
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 6
    path = export_detector(out / "checkpoint.safetensors", tmp_path / "det.safetensors", {})
    model = load_model(path, kind="detector")
    assert model.config == TINY
    assert next(iter(model.state_dict().values())).dtype == torch.float32  # loaded as fp32


def test_soft_photos_keep_their_size_and_lose_detail():
    from restorecli.train.detector import _enlarge_crop

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    soft = _enlarge_crop(photo, 2.0, rng)
    assert soft.shape == photo.shape
    detail = lambda im: np.abs(np.diff(im.astype(float), axis=1)).mean()  # noqa: E731
    assert detail(soft) < 0.7 * detail(photo)
