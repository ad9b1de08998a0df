"""Autoencoder training end to end on a tiny folder: outputs, resuming, export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from restorecli.errors import WeightsError
from restorecli.models import VQAutoencoder, load_model, read_metadata
from restorecli.models.serialization import TRAINING_ONLY
from restorecli.train.autoencoder import (
    AutoencoderTrainConfig,
    export_autoencoder,
    train_autoencoder,
)
from restorecli.train.data import CropConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _info(ckpt: Path) -> dict:
    with safe_open(str(ckpt), framework="pt") as f:
        return json.loads(f.metadata()["info"])


@pytest.fixture(scope="module")
def six_step_run(photos: Path, run_config, tmp_path_factory) -> Path:
    """A finished 6-step run (tests copy it before changing it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see the torch_one_thread fixture
    try:
        out = tmp_path_factory.mktemp("ae") / "run"
        ckpt = train_autoencoder(run_config(photos, out))
    finally:
        torch.set_num_threads(threads)
    assert ckpt == out / "checkpoint.safetensors"
    return out


def test_a_run_writes_checkpoint_metrics_and_config(six_step_run: Path, photos: Path):
    assert {p.name for p in six_step_run.iterdir()} == {
        "checkpoint.safetensors",
        "metrics.jsonl",
        "config.json",
    }
    records = _records(six_step_run)
    losses = [r for r in records if "loss" in r]
    assert [r["step"] for r in losses] == [1, 2, 3, 4, 5, 6]
    assert all(r["loss"] > 0 and r["crops_per_s"] > 0 for r in losses)
    # Steps 1-2 decode z_e (no codes yet); from step 3 on the k-means codes are in use.
    assert [r["perplexity"] >= 1 for r in losses] == [False, False, True, True, True, True]
    vals = [r for r in records if "val_psnr" in r]
    assert [r["step"] for r in vals] == [3, 6]
    assert all(0 < r["val_psnr"] < 60 and r["val_codes_used"] >= 1 for r in vals)
    config = json.loads((six_step_run / "config.json").read_text())
    assert config["model"]["channels"] == 8 and config["crop"]["size"] == 32
    assert config["data"] == str(photos)
    info = _info(six_step_run / "checkpoint.safetensors")
    assert info["step"] == 6 and info["world_size"] == 1
    assert len(info["corpus_sha256"]) == 64 and info["wall_time"] > 0


def test_resuming_continues_from_the_saved_step(six_step_run: Path, photos: Path, run_config):
    run = shutil.copytree(six_step_run, six_step_run.parent / "resumed")
    first = _info(run / "checkpoint.safetensors")
    # A record logged after the last checkpoint by a run that was then killed, and a line cut
    # short: the resumed run logs step 7 again, so both must go.
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 7, "loss": 123.0}) + "\n" + '{"step": 8, "lo')
    train_autoencoder(run_config(photos, run, steps=10))
    records = _records(run)
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 11))
    assert all(r["loss"] != 123.0 for r in records if "loss" in r)
    assert [r["step"] for r in records if "val_psnr" in r] == [3, 6, 9, 10]
    info = _info(run / "checkpoint.safetensors")
    assert info["step"] == 10 and info["wall_time"] > first["wall_time"]
    assert json.loads((run / "config.json").read_text())["steps"] == 10


def test_a_finished_run_is_not_trained_further(six_step_run: Path, photos: Path, run_config):
    run = shutil.copytree(six_step_run, six_step_run.parent / "again")
    before = (run / "checkpoint.safetensors").read_bytes()
    train_autoencoder(run_config(photos, run))
    assert (run / "checkpoint.safetensors").read_bytes() == before


def test_resuming_with_another_model_is_refused(six_step_run: Path, photos: Path, run_config):
    run = shutil.copytree(six_step_run, six_step_run.parent / "other_model")
    cfg = run_config(photos, run, steps=8)
    cfg.model.channels = 16
    with pytest.raises(WeightsError, match="different model configuration"):
        train_autoencoder(cfg)
    assert json.loads((run / "config.json").read_text())["model"]["channels"] == 8


def test_export_writes_fp16_inference_weights(six_step_run: Path, tmp_path: Path):
    ckpt = six_step_run / "checkpoint.safetensors"
    dest = export_autoencoder(ckpt, tmp_path / "ae.safetensors", {"note": "tiny"})
    meta = read_metadata(dest)
    assert meta["restorecli.kind"] == "autoencoder" and meta["note"] == "tiny"
    assert json.loads(meta["restorecli.training"])["step"] == 6
    with safe_open(str(dest), framework="pt") as f:
        keys = set(f.keys())
        codebook = f.get_tensor("quantizer.codebook")
    assert codebook.dtype == torch.float16
    assert not keys & set(TRAINING_ONLY)
    with safe_open(str(ckpt), framework="pt") as f:
        ema_codebook = f.get_tensor("ema.quantizer.codebook")
    torch.testing.assert_close(codebook.float(), ema_codebook.half().float())

    model = load_model(dest, kind="autoencoder")
    assert isinstance(model, VQAutoencoder) and model.config.channels == 8
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z_q, idx = model.quantize(model.encode(x))
    assert model.decode(z_q).shape == x.shape and idx.max() < 64


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"crop": CropConfig(size=30)}, "crop size"),
        ({"val_size": 2}, "val_size"),
        ({"steps": 0}, "steps"),
        ({"val_every": 0}, "val_every"),
    ],
)
def test_bad_options_fail_before_training(tmp_path: Path, overrides, message):
    with pytest.raises(ValueError, match=message):
        AutoencoderTrainConfig(data=str(tmp_path), out=str(tmp_path / "o"), **overrides)
