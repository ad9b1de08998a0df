"""benchmarks/denoiser_overfit.py on a tiny trained run: both photo sets, every step count."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from restorecli.models import UNetConfig
from restorecli.train.data import CropConfig
from restorecli.train.denoiser import DenoiserTrainConfig, export_denoiser, train_denoiser

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_table_compares_held_out_and_training_photos(
    tiny_weights, tmp_path, monkeypatch, capsys, load_repo_script
):
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(8):
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    run = tmp_path / "run"
    cfg = DenoiserTrainConfig(
        data=str(photos),
        out=str(run),
        task="dehaze",
        autoencoder=str(tiny_weights / "autoencoder.safetensors"),
        steps=1,
        batch_size=2,
        crop=CropConfig(size=32),
        model=UNetConfig(channels=8, channel_mults=(1, 2), blocks_per_level=1, emb_dim=16),
        val_images=2,
        val_size=32,
        sample_steps=1,
        device="cpu",
        progress=False,
    )
    weights = export_denoiser(train_denoiser(cfg), tmp_path / "denoiser.safetensors")
    # A run from before `view` existed has no such key in its config.json.
    raw = json.loads((run / "config.json").read_text())
    del raw["view"]
    (run / "config.json").write_text(json.dumps(raw))

    script = load_repo_script("benchmarks/denoiser_overfit.py")
    monkeypatch.setattr(
        sys, "argv", ["x", str(run), str(weights), "--size", "32", "--steps", "1,2"]
    )
    script.main()
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows[1:]]
    assert [(c[0], c[1]) for c in cells] == [
        ("held-out (2)", "1"),
        ("training (2)", "1"),
        ("held-out (2)", "2"),
        ("training (2)", "2"),
    ]
    assert all(float(c[3]) > 0 for c in cells)
