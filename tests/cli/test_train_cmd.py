"""`restore train ...` on the real command line: help, usage errors, tiny runs, corpus check."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import restorecli.train.autoencoder as ae_training
import restorecli.train.denoiser as denoiser_training
from restorecli.cli import app
from restorecli.models import read_metadata

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY_AE = ["--channels", "8", "--blocks", "1", "--codebook-size", "64"]
FAST = ["--batch-size", "2", "--crop", "32", "--device", "cpu", "--val-every", "2"]


def run(*args: str):
    return CliRunner().invoke(app, ["train", *args])


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(4):
        img = (rng.random((48 + 8 * i, 64, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(root / f"p{i}.png")
    return root


@pytest.fixture
def small_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validate on 2 crops of 32 px instead of the defaults (16 and 8 crops of 256 px).

    The commands have no flags for these; the run configs they build are swapped for subclasses
    with smaller defaults, which leaves everything the flags set untouched.
    """
    for module, name, fields in (
        (ae_training, "AutoencoderTrainConfig", {"val_crops": 2, "val_size": 32}),
        (denoiser_training, "DenoiserTrainConfig", {"val_images": 2, "val_size": 32}),
    ):
        base = getattr(module, name)
        small = dataclasses.make_dataclass(
            f"Small{name}",
            [(k, int, dataclasses.field(default=v)) for k, v in fields.items()],
            bases=(base,),
        )
        monkeypatch.setattr(module, name, small)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for name in ("autoencoder", "denoiser", "verify-corpus"):
        assert name in result.output


@pytest.mark.usefixtures("small_validation")
def test_train_autoencoder_then_denoiser_and_export(photos: Path, tmp_path: Path):
    ae = tmp_path / "w" / "autoencoder.safetensors"
    result = run(
        "autoencoder", str(photos), "-o", str(tmp_path / "ae"), "--steps", "2",
        *TINY_AE, *FAST, "--export", str(ae),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(ae)
    assert read_metadata(ae)["restorecli.kind"] == "autoencoder"

    den = tmp_path / "w" / "denoiser.safetensors"
    result = run(
        "denoiser", str(photos), "--task", "dehaze", "--autoencoder", str(ae),
        "-o", str(tmp_path / "den"), "--steps", "2", "--channels", "8", "--init", "zq",
        "--kappa", "2", "--severity", "0.4,0.9", "--ema-decay", "0.99", "--view", "48",
        "--val-steps", "1", *FAST,
        "--export", str(den),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    training = json.loads(read_metadata(den)["restorecli.training"])
    assert (training["task"], training["init"], training["kappa"]) == ("dehaze", "zq", 2.0)
    config = json.loads((tmp_path / "den" / "config.json").read_text())
    assert config["model"]["channels"] == 8 and config["crop"]["size"] == 32
    assert config["val_size"] == 32  # the run used the small validation
    assert config["severity"] == [0.4, 0.9] and config["ema_decay"] == 0.99
    assert config["view"] == 48 and config["sample_steps"] == 1

    # Re-export from the run folder: the last step, then the best validation (the only one).
    again = tmp_path / "w" / "again.safetensors"
    assert run("export", str(tmp_path / "den"), "-o", str(again)).exit_code == 0
    assert read_metadata(again)["restorecli.training"] == read_metadata(den)["restorecli.training"]
    best = tmp_path / "w" / "best.safetensors"
    result = run("export", str(tmp_path / "den"), "--best", "-o", str(best))
    assert result.exit_code == 0, result.output
    assert json.loads(read_metadata(best)["restorecli.training"])["step"] == 2
    result = run("export", str(tmp_path / "ae"), "-o", str(again))
    assert result.exit_code == 7 and "--force" in result.output  # never overwritten unasked
    assert run("export", str(tmp_path / "ae"), "-o", str(again), "--force").exit_code == 0
    assert read_metadata(again)["restorecli.kind"] == "autoencoder"
    result = run("export", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.safetensors"))
    assert result.exit_code == 3 and "not a training run" in result.output


@pytest.mark.usefixtures("small_validation")
def test_a_context_denoiser_fine_tunes_from_an_exported_one(photos: Path, tmp_path: Path):
    ae = tmp_path / "ae.safetensors"
    assert run("autoencoder", str(photos), "-o", str(tmp_path / "ae"), "--steps", "1",
               *TINY_AE, *FAST, "--export", str(ae)).exit_code == 0  # fmt: skip
    plain = tmp_path / "plain.safetensors"
    common = ["--task", "dehaze", "--autoencoder", str(ae), "--steps", "1", "--channels", "8",
              "--view", "48", "--val-steps", "1", *FAST]  # fmt: skip
    result = run("denoiser", str(photos), "-o", str(tmp_path / "a"), *common,
                 "--export", str(plain))  # fmt: skip
    assert result.exit_code == 0, result.output

    tuned = tmp_path / "tuned.safetensors"
    result = run(
        "denoiser", str(photos), "-o", str(tmp_path / "b"), *common, "--context", "4",
        "--clean-fraction", "0.5", "--camera-fraction", "0.5", "--init-weights", str(plain),
        "--loss", "log-mse",
        "--pixel-weight", "0.5",
        "--export", str(tuned),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(read_metadata(tuned)["restorecli.config"])["context"] == 4
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["loss"] == "log-mse" and config["pixel_weight"] == 0.5
    assert config["clean_fraction"] == 0.5 and config["camera_fraction"] == 0.5
    assert config["init_weights"] == str(plain)

    # A start of another width is a weights error on one line, before any step.
    result = run("denoiser", str(photos), "-o", str(tmp_path / "c"), *common, "--channels", "16",
                 "--init-weights", str(plain))  # fmt: skip
    assert result.exit_code == 9, result.output
    assert result.stderr.startswith("restore: error:") and "same --channels" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--init", "bogus"], "--init"),
        (["--task", "desmog"], "unknown task"),
        (["--lam", "2"], "lam"),
        (["--crop", "40"], "multiple of 16"),
        (["--severity", "0.5"], "MIN,MAX"),
        (["--severity", "0.9,0.1"], "severity range"),
        (["--ema-decay", "1"], "ema_decay"),
        (["--view", "64"], "at least the crop size"),
        (["--val-steps", "0"], "sample_steps"),
        (["--loss", "l1"], "unknown loss"),
        (["--pixel-weight", "-1"], "pixel_weight"),
        (["--context", "-1"], "context"),
        (["--context-grid", "4"], "context_grid needs"),
        (["--clean-fraction", "1"], "clean_fraction"),
        (["--camera-fraction", "1.5"], "camera_fraction"),
    ],
)
def test_bad_denoiser_options_are_usage_errors(tmp_path: Path, args, message):
    base = {"--task": "derain", "--autoencoder": str(tmp_path / "ae.safetensors")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flags = [item for pair in base.items() for item in pair]
    result = run("denoiser", str(tmp_path), "-o", str(tmp_path / "out"), *flags)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--crop", "30"], ["--steps", "0"], ["--ckpt-every", "0"]])
def test_bad_autoencoder_options_are_usage_errors(tmp_path: Path, args):
    result = run("autoencoder", str(tmp_path), "-o", str(tmp_path / "out"), *args)
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists()


def test_a_folder_without_photos_is_a_one_line_error(tmp_path: Path):
    result = run("autoencoder", str(tmp_path / "none"), "-o", str(tmp_path / "out"), *FAST)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("restore: error:") and "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _manifest(root: Path, path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "sha256"])
        for p in sorted(root.glob("*.png")):
            writer.writerow([p.name, hashlib.sha256(p.read_bytes()).hexdigest()])
    return path


def test_verify_corpus_passes_and_fails(photos: Path, tmp_path: Path):
    manifest = _manifest(photos, tmp_path / "manifest.csv")
    result = run("verify-corpus", str(photos), "--manifest", str(manifest))
    assert result.exit_code == 0, result.output
    assert "4 files checked, 0 missing, 0 differ" in result.stdout

    (photos / "p1.png").write_bytes(b"changed")
    (photos / "p2.png").unlink()
    result = run("verify-corpus", str(photos), "--manifest", str(manifest))
    assert result.exit_code == 1
    assert "missing: p2.png" in result.stderr and "sha256 differs: p1.png" in result.stderr
    assert "1 missing, 1 differ" in result.stdout


def test_verify_corpus_without_its_manifest_exits_3(photos: Path, tmp_path: Path):
    result = run("verify-corpus", str(photos), "--manifest", str(tmp_path / "none.csv"))
    assert result.exit_code == 3
    assert "manifest" in result.stderr


def test_the_dark_prior_needs_a_context_branch(tmp_path: Path):
    ae = str(tmp_path / "ae.safetensors")
    result = run(
        "denoiser",
        str(tmp_path),
        "-o",
        str(tmp_path / "o"),
        "--task",
        "dehaze",
        "--autoencoder",
        ae,
        "--dark-prior",
    )
    assert result.exit_code == 2, result.output
    assert "dark_prior needs" in result.output


def test_snapshot_keeps_the_fp16_ema_with_config_and_metrics(tmp_path) -> None:
    import torch
    from safetensors import safe_open

    from restorecli.cli import app
    from restorecli.train.checkpoint import save_checkpoint

    run = tmp_path / "run"
    run.mkdir()
    model, ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    save_checkpoint(run / "checkpoint.safetensors", model=model, ema=ema, optimizer=opt,
                    info={"step": 3})  # fmt: skip
    (run / "config.json").write_text("{}")
    (run / "metrics.jsonl").write_text('{"step": 3}\n')
    result = CliRunner().invoke(app, ["train", "snapshot", str(run), "-o", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    snap = tmp_path / "s"
    assert sorted(p.name for p in snap.iterdir()) == [
        "checkpoint.safetensors", "config.json", "metrics.jsonl"
    ]  # fmt: skip
    with safe_open(str(snap / "checkpoint.safetensors"), framework="pt") as f:
        assert sorted(f.keys()) == ["ema.bias", "ema.weight"]


def test_train_fidelity_trains_and_exports_both_files(tmp_path, make_tiny_models) -> None:
    import torch

    from restorecli.models import load_model, save_model

    ae, unet = make_tiny_models()
    ae_file = save_model(ae, tmp_path / "ae.safetensors", dtype=torch.float16, inference_only=True)
    derain = save_model(unet, tmp_path / "derain.safetensors")
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for i in range(4):
        photos.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (64, 72, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    result = run(
        "fidelity", str(photos), "--autoencoder", str(ae_file), "--denoiser", f"derain={derain}",
        "-o", str(tmp_path / "run"), "--steps", "2", "--view", "48", "--context", "8",
        "--context-grid", "2", "--head-blocks", "2", "--quarter-kernel", "1",
        "--head-in-kernel", "1", "--start-as-input", "--log-floor", "4e-4",
        "--export", str(tmp_path / "w"), *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    fid = load_model(tmp_path / "w" / "fidelity.safetensors", kind="fidelity")
    assert fid.config.channels == ae.config.channels and fid.config.context == 8
    assert (fid.config.context_grid, fid.config.head_blocks) == (2, 2)
    assert (fid.config.quarter_kernel, fid.config.head_in_kernel) == (1, 1)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["start_as_input"] is True and config["log_floor"] == 4e-4
    assert (tmp_path / "w" / "requantizer.safetensors").is_file()
    bad = run("fidelity", str(photos), "--autoencoder", str(ae_file), "--denoiser", "derain",
              "-o", str(tmp_path / "r2"))  # fmt: skip
    assert bad.exit_code == 2
    bad = run("fidelity", str(photos), "--autoencoder", str(ae_file), "--denoiser",
              f"derain={derain}", "-o", str(tmp_path / "r3"), "--quarter-kernel", "2")  # fmt: skip
    assert bad.exit_code == 2 and "must be 1 or 3" in bad.output


def test_train_detector_runs_exports_and_the_file_detects(photos: Path, tmp_path: Path):
    out, weights = tmp_path / "det", tmp_path / "det.safetensors"
    args = ["detector", str(photos), "-o", str(out), "--steps", "2", "--batch-size", "2"]
    result = run(*args, "--width", "4", "--pool", "4", "--device", "cpu", "--soft-fraction", "0",
                 "--export", str(weights))  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["soft_fraction"] == 0 and config["model"]["width"] == 4
    assert read_metadata(weights)["restorecli.kind"] == "detector"
    exported = run("export", str(out), "-o", str(tmp_path / "again.safetensors"))
    assert exported.exit_code == 0, exported.output
    detect = CliRunner().invoke(app, ["detect", str(photos / "p0.png"), "--detector", str(weights)])
    assert detect.exit_code == 0 and detect.stdout.startswith(f"{photos / 'p0.png'}: ")
    bad = run("detector", str(photos), "-o", str(out), "--soft-fraction", "2")
    assert bad.exit_code == 2 and "soft_fraction must be in [0, 1]" in bad.stderr
