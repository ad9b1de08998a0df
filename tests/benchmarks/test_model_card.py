"""benchmarks/model_card.py end to end: tiny registered models, a tiny benchmark folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.weights import sha256_file
from restorecli.weights.authoring import register_bundled

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _image(path: Path, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(path)


def test_card_block_is_measured_and_the_prose_kept(
    tiny_weights: Path, tmp_path: Path, monkeypatch, load_repo_script
):
    card = load_repo_script("benchmarks/model_card.py")
    rng = np.random.default_rng(0)
    data = tmp_path / "bench"
    for name in ("kodim01.png", "kodim02.png"):
        _image(data / card.KODAK / "target" / name, rng)
    for name in ("1.png", "2.png"):
        _image(data / card.RAIN / "input" / name, rng)
        _image(data / card.RAIN / "target" / name, rng)

    reg_dir = tmp_path / "reg"
    (reg_dir / "weights").mkdir(parents=True)
    files = {}
    for role in ("autoencoder", "denoiser"):
        files[role] = reg_dir / "weights" / f"{role}.safetensors"
        shutil.copyfile(tiny_weights / f"{role}.safetensors", files[role])
    registry = reg_dir / "weights.toml"
    common = {"files": files, "default_init": "chebyshev", "default_steps": 1, "licence": "MIT"}
    register_bundled(registry, "rain", task="derain", default=True, **common)
    register_bundled(registry, "rain-zq", task="derain", **{**common, "default_init": "zq"})
    register_bundled(registry, "haze", task="dehaze", default=True, **common)
    register_bundled(registry, "noise", task="denoise", default=True, **common)
    for name in ("a.png", "b.png"):
        _image(data / "PolyU_real_noise" / "input" / name, rng)
        _image(data / "PolyU_real_noise" / "target" / name, rng)
    # main() points RESTORE_WEIGHTS_TOML at --registry for its `restore` runs; set here, it is
    # undone after the test instead of leaking the tiny models into later tests.
    monkeypatch.setenv("RESTORE_WEIGHTS_TOML", str(registry))

    out = tmp_path / "models.md"
    out.write_text(f"# Models\n\nprose before\n\n{card.BEGIN}\nold\n{card.END}\n\nprose after\n")
    assert card.main(["--data", str(data), "--out", str(out), "--registry", str(registry)]) == 0
    text = out.read_text()
    assert text.startswith("# Models\n\nprose before\n") and text.endswith("\nprose after\n")
    assert "\nold\n" not in text
    assert sha256_file(files["denoiser"])[:16] in text
    lines = text.splitlines()
    (ae_row,) = [x for x in lines if x.startswith("| autoencoder alone")]
    assert "| rain | 2 |" in ae_row and "--autoencoder-only" in ae_row
    rain_rows = [x for x in lines if x.startswith("| derain, Rain100H")]
    assert len(rain_rows) == 3 and "--weights rain-zq" in rain_rows[2]
    assert "(comparison)" in rain_rows[2] and "(comparison)" not in rain_rows[0]
    # The default model also in the paper's setting, beside it and not held to the floor.
    assert (
        "rain, paper's pipeline" in rain_rows[1]
        and "--fidelity 0 --requantize hard" in rain_rows[1]
    )
    assert "| - | - |" in rain_rows[1]
    haze_row, haze_paper = [x for x in lines if x.startswith("| dehaze, hazed Kodak24")]
    assert "restore eval --task dehaze HAZY" in haze_row
    assert "--fidelity 0 --requantize hard" in haze_paper
    clean_rows = [x for x in lines if "clean Kodak24 (no harm)" in x]
    assert len(clean_rows) == 5  # derain and dehaze, default and the paper's pipeline; denoise
    assert "restore eval --task derain CLEAN" in clean_rows[0] and ">= 35 dB" in clean_rows[0]
    # Tiny random weights cannot restore anything: the floors are reported as missed.
    assert "**no**" in rain_rows[0] and "**no**" in haze_row
    noise = [x for x in lines if x.startswith("| denoise, ")]
    assert [x.split(" | ")[0] for x in noise] == [
        "| denoise, clean Kodak24 (no harm)",
        "| denoise, Kodak24, Gaussian std 25",
        "| denoise, Kodak24, Gaussian std 15",
        "| denoise, Kodak24, Gaussian std 50",
        "| denoise, PolyU real noise",
    ]
    assert "| >= 30.5 dB | **no** |" in noise[1] and "| - | - |" in noise[2]
    assert "(restore degrade denoise KODAK --set kind=gaussian" in noise[1]
    assert "sigma=25/255" in noise[1] and "DATA/PolyU_real_noise" in noise[4]
    assert ">= input + 1.5 dB" in noise[4]
    assert not [x for x in lines if x.startswith("| deblur, ")]  # no deblur model registered


def test_the_fidelity_runs_validation_is_described_as_such(load_repo_script, tmp_path, monkeypatch):
    import json

    card = load_repo_script("benchmarks/model_card.py")
    run = tmp_path / "training" / "fidelity"
    run.mkdir(parents=True)
    record = {"step": 500, "val_psnr": 28.5, "val_plain_derain_s0": 30.0,
              "val_plain_dehaze_s0": 20.0, "val_fid_derain_s0": 45.0}  # fmt: skip
    (run / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    monkeypatch.setattr(card, "REPO", tmp_path)
    (row,) = [x for x in card.validation_table() if "fidelity" in x]
    assert "PSNR 28.50 dB with the fidelity path, 25.00 dB decoding the latent alone" in row
