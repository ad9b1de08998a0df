"""Fidelity-path training on a tiny folder with tiny frozen models; export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from restorecli.models import UNetConfig, load_model, read_metadata, save_model
from restorecli.models.fidelity import FidelityConfig, FidelityNet
from restorecli.models.vector_regression import VectorRegression, VRConfig
from restorecli.train.data import CropConfig
from restorecli.train.fidelity import FidelityTrainConfig, export_fidelity, log_mse, train_fidelity

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def frozen_files(make_tiny_models, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A tiny autoencoder, a derain denoiser without and a dehaze one with a frame context."""
    ae, unet = make_tiny_models()
    folder = tmp_path_factory.mktemp("frozen")
    ae_file = save_model(ae, folder / "ae.safetensors", dtype=torch.float16, inference_only=True)
    derain = save_model(unet, folder / "derain.safetensors")
    from restorecli.models import LatentUNet

    torch.manual_seed(1)
    ctx = LatentUNet(
        UNetConfig(
            channels=8,
            channel_mults=(1, 2),
            blocks_per_level=1,
            emb_dim=16,
            context=8,
            context_size=32,
            context_grid=2,
        )
    )
    dehaze = save_model(ctx, folder / "dehaze.safetensors")
    return ae_file, derain, dehaze


def _config(photos: Path, out: Path, files, **overrides) -> FidelityTrainConfig:
    ae_file, derain, dehaze = files
    options = {
        "tasks": ("derain", "dehaze"),
        "denoisers": (str(derain), str(dehaze)),
        "steps": 4,
        "batch_size": 2,
        "view": 48,
        "crop": CropConfig(size=32),
        "model": FidelityConfig(channels=8, half_channels=8, head_channels=8),
        "vr": VRConfig(neighbours=4, channels=8, blocks=1),
        "log_every": 1,
        "val_every": 4,
        "ckpt_every": 2,
        "val_images": 2,
        "val_size": 32,
        "val_severities": (0.0, 0.8),
        "device": "cpu",
        "progress": False,
        **overrides,
    }
    return FidelityTrainConfig(data=str(photos), out=str(out), autoencoder=str(ae_file), **options)


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_training_logs_both_losses_and_validates_every_task_and_severity(
    photos, frozen_files, tmp_path
):
    run = tmp_path / "run"
    train_fidelity(_config(photos, run, frozen_files))
    records = _records(run)
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all(np.isfinite(r["pixel_loss"]) and np.isfinite(r["latent_loss"]) for r in steps)
    (val,) = [r for r in records if "val_psnr" in r]
    for task in ("derain", "dehaze"):
        for s in ("0", "0.8"):
            for name in ("plain", "fid", "fidvr", "input"):
                assert f"val_{name}_{task}_s{s}" in val
    # Severity 0 is the clean crop itself: its input scores the PSNR ceiling.
    assert val["val_input_derain_s0"] > 100


def test_resume_then_export_loads_as_fp16_models(photos, frozen_files, tmp_path):
    run = tmp_path / "run"
    train_fidelity(_config(photos, run, frozen_files, steps=2))
    ckpt = train_fidelity(_config(photos, run, frozen_files, steps=4))
    assert [r["step"] for r in _records(run) if "loss" in r] == [1, 2, 3, 4]
    fid_file, vr_file = export_fidelity(ckpt, tmp_path / "export")
    for path, kind, cls in (
        (fid_file, "fidelity", FidelityNet),
        (vr_file, "requantizer", VectorRegression),
    ):
        meta = read_metadata(path)
        assert meta["restorecli.kind"] == kind
        assert json.loads(meta["restorecli.training"])["tasks"] == ["derain", "dehaze"]
        assert isinstance(load_model(path, kind=kind), cls)
        with safe_open(str(path), framework="pt") as f:
            assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())  # noqa: SIM118


def test_one_denoiser_per_task_is_required(photos, frozen_files, tmp_path):
    with pytest.raises(ValueError, match="one denoiser file per task"):
        _config(photos, tmp_path, frozen_files, tasks=("derain",))


def test_log_mse_is_the_mean_log_of_each_crops_error() -> None:
    target = torch.zeros(2, 3, 4, 4)
    pred = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.01)])
    want = (np.log(0.01 + 1e-5) + np.log(1e-4 + 1e-5)) / 2
    assert float(log_mse(pred, target, 1e-5)) == pytest.approx(want, rel=1e-5)


def test_a_run_with_a_frame_context_starts_from_a_run_without(photos, frozen_files, tmp_path):
    from restorecli.train.fidelity import FidelityBundle, start_from

    first = train_fidelity(_config(photos, tmp_path / "a", frozen_files, steps=2))
    grown = FidelityConfig(channels=8, half_channels=8, head_channels=8, context=8)
    model = FidelityBundle(grown, VRConfig(neighbours=4, channels=8, blocks=1))
    fresh = start_from(model, first)
    assert fresh and all(name.startswith("fidelity.frame_context.") for name in fresh)
    ckpt = train_fidelity(
        _config(photos, tmp_path / "b", frozen_files, model=grown, init_weights=str(first))
    )
    assert ckpt.is_file()
    (val,) = [r for r in _records(tmp_path / "b") if "val_psnr" in r]
    assert np.isfinite(val["val_fid_dehaze_s0.8"])


def test_a_one_by_one_kernel_starts_as_the_sum_of_the_checkpoints_taps(
    photos, frozen_files, tmp_path
):
    from restorecli.train.fidelity import FidelityBundle, start_from

    first = train_fidelity(_config(photos, tmp_path / "a", frozen_files, steps=2))
    with safe_open(str(first), framework="pt") as f:
        old = f.get_tensor("ema.fidelity.head_in.weight")
    fast = FidelityConfig(channels=8, half_channels=8, head_channels=8, head_in_kernel=1)
    model = FidelityBundle(fast, VRConfig(neighbours=4, channels=8, blocks=1))
    assert start_from(model, first) == []
    torch.testing.assert_close(
        model.fidelity.head_in.weight, old.sum(dim=(2, 3), keepdim=True).float()
    )


def test_a_head_started_as_the_input_returns_almost_the_input(make_tiny_models) -> None:
    from restorecli.train.fidelity import KEEP_INPUT_LOGIT, keep_input

    ae, _ = make_tiny_models()
    net = FidelityNet(FidelityConfig(channels=8, half_channels=8, head_channels=8)).eval()
    keep_input(net)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z = ae.quantize(ae.encode(x))[0]
    y = ae.decode(z)
    share = torch.sigmoid(torch.tensor(KEEP_INPUT_LOGIT))
    out = net.decode(ae.decoder, z, ae.features(x), x)
    torch.testing.assert_close(out, y + share * (x - y))
    assert share > 0.95


def test_a_run_started_as_the_input_validates_near_the_input(photos, frozen_files, tmp_path):
    ckpt = train_fidelity(_config(photos, tmp_path, frozen_files, steps=2, start_as_input=True))
    assert ckpt.is_file()
    (val,) = [r for r in _records(tmp_path) if "val_psnr" in r]
    # Two steps at lr 5e-4 barely move it from the input it started as.
    assert abs(val["val_fid_derain_s0.8"] - val["val_input_derain_s0.8"]) < 1.0


def test_the_log_floor_bounds_the_pixel_loss(photos, frozen_files, tmp_path) -> None:
    # log(MSE + floor) >= log(floor): with a floor of 1 no step's pixel loss is below 0.
    train_fidelity(_config(photos, tmp_path, frozen_files, steps=2, log_floor=1.0))
    losses = [r["pixel_loss"] for r in _records(tmp_path) if "pixel_loss" in r]
    assert losses and min(losses) >= 0.0
    with pytest.raises(ValueError, match="log_floor"):
        _config(photos, tmp_path, frozen_files, log_floor=0.0)
