"""Denoiser training on a tiny folder with a tiny frozen autoencoder; export and inference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from restorecli.errors import InputNotFoundError, UnsupportedInputError, WeightsError
from restorecli.models import LatentUNet, UNetConfig, load_model, read_metadata, save_model
from restorecli.pipeline import Restorer
from restorecli.train.data import CropConfig
from restorecli.train.denoiser import (
    DenoiserTrainConfig,
    export_denoiser,
    sha256_file,
    train_denoiser,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY_UNET = UNetConfig(channels=8, channel_mults=(1, 2), blocks_per_level=1, emb_dim=16)


@pytest.fixture(scope="module")
def autoencoder_file(make_tiny_models, tmp_path_factory) -> Path:
    """A tiny autoencoder exported the way training exports it (fp16, inference tensors only)."""
    ae, _ = make_tiny_models()
    path = tmp_path_factory.mktemp("ae") / "autoencoder.safetensors"
    return save_model(ae, path, dtype=torch.float16, inference_only=True)


def _config(data: Path, out: Path, autoencoder: Path, **overrides) -> DenoiserTrainConfig:
    options = {
        "task": "derain",
        "steps": 3,
        "batch_size": 2,
        "crop": CropConfig(size=32),
        "model": TINY_UNET,
        "log_every": 1,
        "val_every": 3,
        "ckpt_every": 3,
        "val_images": 2,
        "val_size": 32,
        "sample_steps": 2,
        "device": "cpu",
        "progress": False,
        **overrides,
    }
    return DenoiserTrainConfig(
        data=str(data), out=str(out), autoencoder=str(autoencoder), **options
    )


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("init", ["chebyshev", "zq"])
def test_training_logs_loss_and_validation(photos, autoencoder_file, tmp_path, init):
    run = tmp_path / "run"
    ckpt = train_denoiser(_config(photos, run, autoencoder_file, init=init))
    records = _records(run)
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and r["loss"] >= 0 for r in records if "loss" in r)
    (val,) = [r for r in records if "val_psnr" in r]
    assert val["step"] == 3
    assert 0 < val["val_psnr"] < 100 and -1 <= val["val_ssim"] <= 1
    assert 0 < val["val_input_psnr"] < 100
    with safe_open(str(ckpt), framework="pt") as f:
        info = json.loads(f.metadata()["info"])
    assert info["step"] == 3 and info["autoencoder_sha256"] == sha256_file(autoencoder_file)
    assert json.loads((run / "config.json").read_text())["init"] == init


def test_resume_and_export_then_restore_with_the_pair(photos, autoencoder_file, tmp_path):
    run = tmp_path / "run"
    train_denoiser(_config(photos, run, autoencoder_file, steps=2, kappa=0.5, init="lerp"))
    ckpt = train_denoiser(_config(photos, run, autoencoder_file, steps=4, kappa=0.5, init="lerp"))
    assert [r["step"] for r in _records(run) if "loss" in r] == [1, 2, 3, 4]

    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "autoencoder.safetensors").write_bytes(autoencoder_file.read_bytes())
    dest = export_denoiser(ckpt, weights / "denoiser.safetensors")
    meta = read_metadata(dest)
    assert meta["restorecli.kind"] == "denoiser"
    training = json.loads(meta["restorecli.training"])
    assert training["task"] == "derain" and training["init"] == "lerp"
    assert training["kappa"] == 0.5 and training["lam"] == 0.5 and training["step"] == 4
    with safe_open(str(dest), framework="pt") as f:
        assert f.get_tensor("out.weight").dtype == torch.float16
    unet = load_model(dest, kind="denoiser")
    assert isinstance(unet, LatentUNet) and unet.config == TINY_UNET

    restorer = Restorer.from_pretrained(weights, device="cpu")
    assert restorer.task == "derain" and restorer.train_kappa == 0.5
    # With no registry entry, the state the denoiser was trained with is the default.
    assert restorer.config.init == restorer.trained_init == "lerp"
    # ... and so is the step count its validation sampled with (2 here; the config default is 4).
    assert training["sample_steps"] == 2 and restorer.config.steps == 2
    image = np.random.default_rng(0).random((40, 36, 3), dtype=np.float32)
    out = restorer.restore_array(image)
    assert out.shape == image.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def _paired(root: Path, *, same: bool) -> Path:
    rng = np.random.default_rng(1)
    for sub in ("input", "target"):
        (root / sub).mkdir(parents=True)
    for name in ("a.png", "b.png"):
        clean = (rng.random((32, 40, 3)) * 255).astype(np.uint8)
        noisy = clean if same else (255 - clean)
        Image.fromarray(clean).save(root / "target" / name)
        Image.fromarray(noisy).save(root / "input" / name)
    return root


def test_held_out_pairs_follow_the_training_severity_range(photos, autoencoder_file, tmp_path):
    from restorecli.degrade import degrade_full
    from restorecli.train.data import PhotoCrops
    from restorecli.train.denoiser import validation_pairs

    heavy = _config(photos, tmp_path / "a", autoencoder_file, severity=(0.6, 1.0), val_images=3)
    light = _config(photos, tmp_path / "b", autoencoder_file, severity=(0.0, 0.2), val_images=3)
    held_out = PhotoCrops(photos, "val", heavy.crop)
    heavy_pairs, light_pairs = validation_pairs(heavy, held_out), validation_pairs(light, held_out)
    # Same clean crops, same seeds: only the severity differs, and heavier rain is further off.
    for (h, c1), (lo, c2) in zip(heavy_pairs, light_pairs, strict=True):
        np.testing.assert_array_equal(c1, c2)
        assert np.abs(h - c1).mean() > np.abs(lo - c2).mean()
    expected = degrade_full("derain", heavy_pairs[0][1], seed=1000, severity=0.64).image
    np.testing.assert_allclose(heavy_pairs[0][0], expected)


def test_views_are_degraded_whole_then_cut():
    from restorecli.degrade import degrade
    from restorecli.train.denoiser import degraded_crops

    views = np.random.default_rng(1).random((3, 48, 48, 3), dtype=np.float32)
    clean, degraded = degraded_crops("dehaze", views, 16, (0.5, 1.0), np.random.default_rng(7))
    assert clean.shape == degraded.shape == (3, 16, 16, 3)
    # Replaying the same random stream gives the whole degraded view; the crops are one window
    # of it and the same window of the clean view.
    rng = np.random.default_rng(7)
    for view, c, d in zip(views, clean, degraded, strict=True):
        whole = degrade("dehaze", view, rng=rng, severity=float(rng.uniform(0.5, 1.0)))
        y, x = (int(v) for v in rng.integers(0, 48 - 16 + 1, size=2))
        np.testing.assert_array_equal(c, view[y : y + 16, x : x + 16])
        np.testing.assert_array_equal(d, whole[y : y + 16, x : x + 16])


def test_each_crop_comes_with_its_place_in_the_view():
    from restorecli.train.denoiser import degraded_views_and_crops

    views = np.random.default_rng(2).random((4, 48, 40, 3), dtype=np.float32)
    clean, degraded, whole, origins = degraded_views_and_crops(
        "dehaze", views, 16, (0.2, 1.0), np.random.default_rng(5)
    )
    assert origins.shape == (4, 2) and whole.shape == views.shape
    for view, c, d, w, (y, x) in zip(views, clean, degraded, whole, origins, strict=True):
        np.testing.assert_array_equal(c, view[y : y + 16, x : x + 16])
        np.testing.assert_array_equal(d, w[y : y + 16, x : x + 16])


def test_a_clean_fraction_leaves_that_share_of_views_undegraded():
    from restorecli.train.denoiser import degraded_views_and_crops

    views = np.random.default_rng(3).random((200, 16, 16, 3), dtype=np.float32)
    clean, degraded, whole, _ = degraded_views_and_crops(
        "dehaze", views, 16, (0.0, 1.0), np.random.default_rng(0), clean_fraction=0.25
    )
    untouched = np.array([np.array_equal(c, d) for c, d in zip(clean, degraded, strict=True)])
    assert 0.15 < untouched.mean() < 0.35
    np.testing.assert_array_equal(whole[untouched], views[untouched])
    changed = zip(clean[~untouched], degraded[~untouched], strict=True)
    assert all(np.abs(d - c).mean() > 1e-3 for c, d in changed)


def test_a_camera_fraction_puts_degraded_views_through_a_camera():
    from restorecli.degrade import degrade
    from restorecli.train.denoiser import degraded_views_and_crops, through_camera

    # Smooth views: the camera's demosaicing and JPEG would rewrite per-pixel noise wholesale.
    ramp = np.linspace(0.2, 0.8, 32, dtype=np.float32)
    views = np.stack([np.stack([ramp[:, None] + 0 * ramp] * 3, -1) * k for k in (0.5, 0.8, 1)])
    _, _, whole, _ = degraded_views_and_crops(
        "dehaze", views, 16, (0.2, 0.6), np.random.default_rng(9), camera_fraction=1.0
    )
    # Replaying the random stream: haze, the draw, then the camera, on every view.
    rng = np.random.default_rng(9)
    for view, got in zip(views, whole, strict=True):
        hazy = degrade("dehaze", view, rng=rng, severity=float(rng.uniform(0.2, 0.6)))
        assert rng.random() < 1.0
        expected = through_camera(hazy, rng)
        rng.integers(0, 32 - 16 + 1, size=2)
        np.testing.assert_array_equal(got, expected)
        assert 0.0 < np.abs(expected - hazy).mean() < 0.05  # light noise, not a new image
        assert expected.min() >= 0.0 and expected.max() <= 1.0


def test_crop_sized_views_are_degraded_as_they_are():
    from restorecli.degrade import degrade
    from restorecli.train.denoiser import degraded_crops

    views = np.random.default_rng(1).random((2, 16, 16, 3), dtype=np.float32)
    clean, degraded = degraded_crops("derain", views, 16, (0.2, 0.9), np.random.default_rng(3))
    rng = np.random.default_rng(3)
    expected = [degrade("derain", v, rng=rng, severity=float(rng.uniform(0.2, 0.9))) for v in views]
    np.testing.assert_array_equal(clean, views)
    np.testing.assert_array_equal(degraded, np.stack(expected))


def test_validation_with_a_view_keeps_the_validation_size(photos, autoencoder_file, tmp_path):
    from restorecli.train.data import PhotoCrops
    from restorecli.train.denoiser import validation_pairs

    cfg = _config(photos, tmp_path / "a", autoencoder_file, view=48, task="dehaze")
    pairs = validation_pairs(cfg, PhotoCrops(photos, "val", cfg.crop))
    assert [p[0].shape for p in pairs] == [(32, 32, 3)] * 2
    assert all(np.abs(d - c).mean() > 0 for d, c in pairs)
    train_denoiser(_config(photos, tmp_path / "run", autoencoder_file, steps=1, view=48))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["view"] == 48


def test_validation_uses_the_paired_folder(photos, autoencoder_file, tmp_path):
    val_dir = _paired(tmp_path / "pairs", same=True)
    run = tmp_path / "run"
    train_denoiser(_config(photos, run, autoencoder_file, steps=1, val_dir=str(val_dir)))
    (val,) = [r for r in _records(run) if "val_psnr" in r]
    assert val["val_input_psnr"] > 100  # input == target: the inputs are perfect


def test_a_paired_folder_must_pair_up(photos, autoencoder_file, tmp_path):
    val_dir = _paired(tmp_path / "pairs", same=False)
    cfg = _config(photos, tmp_path / "run", autoencoder_file, steps=1, val_dir=str(val_dir))
    Image.new("RGB", (8, 8)).save(val_dir / "target" / "a.png")
    with pytest.raises(UnsupportedInputError, match="differ in size"):
        train_denoiser(cfg)
    (val_dir / "target" / "a.png").unlink()
    with pytest.raises(InputNotFoundError, match=r"a\.png has no target"):
        train_denoiser(cfg)
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "desmog"}, "unknown task"),
        ({"init": "middle"}, "unknown init"),
        ({"lam": 1.5}, "lam"),
        ({"kappa": 0.0}, "kappa"),
        ({"crop": CropConfig(size=36)}, "multiple of 8"),  # latents 9 px: the UNet halves them
        ({"batch_size": 0}, "batch_size"),
        ({"severity": (0.8, 0.2)}, "severity range"),
        ({"severity": (0.5, 1.5)}, "severity range"),
        ({"view": 16}, "view must be 0 or at least the crop size"),
        ({"pixel_weight": -1.0}, "pixel_weight"),
        ({"loss": "l1"}, "unknown loss"),
    ],
)
def test_bad_options_fail_before_training(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        _config(tmp_path, tmp_path / "run", tmp_path / "ae.safetensors", **overrides)


def test_validation_records_say_what_they_measured(photos, autoencoder_file, tmp_path):
    run = tmp_path / "run"
    train_denoiser(_config(photos, run, autoencoder_file, steps=1, view=48))
    (val,) = [r for r in _records(run) if "val_psnr" in r]
    assert val["val_setup"] == (
        "held-out 32px crops, view 48, severity 0-1; 2 images; 2 steps; init chebyshev"
    )
    assert (run / "best.safetensors").is_file()


def test_a_context_model_fine_tunes_from_a_file_without_the_branch(
    photos, autoencoder_file, tmp_path
):
    from dataclasses import replace

    from restorecli.train.denoiser import load_checkpoint

    start = tmp_path / "start.safetensors"
    torch.manual_seed(0)
    save_model(LatentUNet(TINY_UNET), start)
    with_context = replace(TINY_UNET, context=4, context_size=32)
    cfg = _config(
        photos,
        tmp_path / "run",
        autoencoder_file,
        task="dehaze",
        model=with_context,
        view=48,
        init_weights=str(start),
        steps=3,
    )
    ckpt = train_denoiser(cfg)
    trained = LatentUNet(with_context)
    info = load_checkpoint(ckpt, model=trained, ema=None, optimizer=None)
    assert info["init_weights_sha256"] == sha256_file(start)
    source = load_model(start, kind="denoiser")
    # Training started from the file and moved on from it, branch included.
    assert not torch.equal(trained.inp.weight, source.inp.weight)
    assert trained.inp.weight.shape == source.inp.weight.shape
    assert any(r.get("val_psnr") is not None for r in _records(tmp_path / "run"))


def test_a_model_with_a_context_map_trains_and_restores(photos, autoencoder_file, tmp_path):
    from dataclasses import replace

    with_map = replace(TINY_UNET, context=4, context_size=32, context_grid=2)
    cfg = _config(
        photos, tmp_path / "run", autoencoder_file, task="dehaze", model=with_map, view=48
    )
    ckpt = train_denoiser(cfg)
    den = export_denoiser(ckpt, tmp_path / "den.safetensors")
    net = load_model(den, kind="denoiser")
    assert net.config.context_grid == 2 and net.frame_context.grid_head is not None
    ae = load_model(autoencoder_file, kind="autoencoder")
    image = np.random.default_rng(0).random((40, 56, 3), dtype=np.float32)
    out = Restorer(ae, net, device="cpu").restore_array(image)
    assert out.shape == image.shape and np.isfinite(out).all()
    assert any(r.get("val_psnr") is not None for r in _records(tmp_path / "run"))


def test_a_model_with_the_dark_prior_starts_as_the_file_it_grows_from(tmp_path):
    from dataclasses import replace

    from restorecli.models.context import Context
    from restorecli.train.denoiser import load_matching_weights

    base = replace(TINY_UNET, context=4, context_size=32)
    source = LatentUNet(base)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    start = save_model(source, tmp_path / "s.safetensors")
    grown = LatentUNet(replace(base, dark_prior=True))
    assert load_matching_weights(grown, start) == []
    loaded = load_model(start, kind="denoiser").float()
    assert torch.equal(grown.inp.weight[:, :-1], loaded.inp.weight)
    assert not grown.inp.weight[:, -1].any()  # the new channel starts unread
    frames = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    x, y0, t = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8), torch.tensor([0.5])
    with torch.no_grad():
        ctx = grown.encode_context(frames, (8, 8))
        before = loaded(x, y0, t, Context(ctx.vector))
        after = grown(x, y0, t, ctx)
    torch.testing.assert_close(after, before)


def test_fine_tuning_needs_a_file_of_the_same_width(photos, autoencoder_file, tmp_path):
    from dataclasses import replace

    start = save_model(LatentUNet(replace(TINY_UNET, channels=4)), tmp_path / "s.safetensors")
    cfg = _config(photos, tmp_path / "run", autoencoder_file, init_weights=str(start))
    with pytest.raises(WeightsError, match="same --channels"):
        train_denoiser(cfg)


def test_a_pixel_loss_is_logged_beside_the_latent_loss(photos, autoencoder_file, tmp_path):
    train_denoiser(_config(photos, tmp_path / "run", autoencoder_file, pixel_weight=0.5))
    logged = [r for r in _records(tmp_path / "run") if "loss" in r]
    for r in logged:
        assert r["loss"] == pytest.approx(r["latent_loss"] + 0.5 * r["pixel_loss"], rel=1e-5)
        assert r["pixel_loss"] > 0


def test_without_a_pixel_weight_only_the_latent_loss_is_logged(photos, autoencoder_file, tmp_path):
    train_denoiser(_config(photos, tmp_path / "run", autoencoder_file))
    assert not any("pixel_loss" in r for r in _records(tmp_path / "run"))


def test_log_mse_weighs_every_crop_by_its_relative_error() -> None:
    from restorecli.train.denoiser import LOG_MSE_FLOOR, regression_loss

    target = torch.zeros(2, 3, 4, 4)
    pred = torch.zeros(2, 3, 4, 4, requires_grad=True)
    with torch.no_grad():
        pred[0] += 0.01  # a nearly right crop ...
        pred[1] += 1.0  # ... and a badly wrong one
    loss = regression_loss(pred, target, "log-mse")
    expected = (np.log(1e-4 + LOG_MSE_FLOOR) + np.log(1.0 + LOG_MSE_FLOOR)) / 2
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    # Under MSE the wrong crop's gradient is 100 times the right one's; under log-MSE the
    # nearly right crop pulls harder (its error is large relative to itself).
    g = pred.grad.flatten(1).abs().mean(dim=1)
    assert g[0] > g[1]
    assert float(regression_loss(pred.detach(), target, "mse")) == pytest.approx((1e-4 + 1.0) / 2)


def test_log_mse_trains(photos, autoencoder_file, tmp_path):
    train_denoiser(_config(photos, tmp_path / "run", autoencoder_file, loss="log-mse"))
    losses = [r["loss"] for r in _records(tmp_path / "run") if "loss" in r]
    assert losses and all(np.isfinite(v) and v < 0 for v in losses)  # log of MSEs below 1
