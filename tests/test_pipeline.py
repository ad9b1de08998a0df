"""Restorer: the whole chain on tiny random models (shapes, determinism, loading, options)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from restorecli.errors import DeviceError, WeightsError
from restorecli.init_state import INIT_MODES
from restorecli.pipeline import STAGES, RestoreConfig, Restorer

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def make_restorer(make_tiny_models):
    """Restorer over the conftest tiny models (the same ones tiny_weights holds)."""

    def make(**config) -> Restorer:
        ae, unet = make_tiny_models()
        return Restorer(ae, unet, config=RestoreConfig(**config), device="cpu")

    return make


def rand_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def rand_frames(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, h, w, 3), dtype=np.float32)


# --- configuration -------------------------------------------------------------------------------


def test_config_defaults() -> None:
    cfg = RestoreConfig()
    assert (cfg.init, cfg.lam, cfg.steps, cfg.seed) == ("chebyshev", 0.5, 4, 0)
    assert (cfg.tile, cfg.tile_overlap, cfg.batch_size) == (512, 128, 4)


@pytest.mark.parametrize(
    "bad",
    [
        {"init": "nearest"},
        {"lam": -0.1},
        {"lam": 1.5},
        {"lam": float("nan")},
        {"steps": 0},
        {"tile": 32},
        {"tile": -64},
        {"tile": 128, "tile_overlap": 65},
        {"tile": 128, "tile_overlap": -1},
        {"batch_size": 0},
        {"ensemble": 0},
        {"ensemble": 9},
        {"guide_radius": -1},
        {"guide_eps": 0.0},
        {"strength": 0.0},
        {"strength": 1.5},
        {"temporal": 1.0},
        {"temporal": -0.1},
    ],
    ids=lambda bad: ",".join(f"{k}={v}" for k, v in bad.items()),
)
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        RestoreConfig(**bad)


def test_config_accepts_edge_values() -> None:
    RestoreConfig(lam=0.0)
    RestoreConfig(lam=1.0)
    RestoreConfig(tile=0, tile_overlap=10_000)  # overlap is irrelevant without tiles
    RestoreConfig(tile=64, tile_overlap=32)


# --- shapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("init", INIT_MODES)
def test_every_init_mode_keeps_shape_and_dtype(init: str, make_restorer) -> None:
    restorer = make_restorer(init=init, steps=2)
    for h, w in [(37, 53), (5, 7), (1, 1)]:
        out = restorer.restore_array(rand_image(h, w))
        assert out.shape == (h, w, 3) and out.dtype == np.float32, (h, w)
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1, (h, w)


def test_grayscale_like_and_batched_frames(make_restorer) -> None:
    restorer = make_restorer(init="zq", steps=2)
    gray = np.repeat(rand_image(21, 30)[..., :1], 3, axis=2)
    assert restorer.restore_array(gray).shape == (21, 30, 3)
    frames = rand_frames(3, 9, 14)
    out = restorer.restore_batch(frames)
    assert out.shape == frames.shape and out.dtype == np.float32


def test_tiled_path_keeps_odd_shapes(make_restorer) -> None:
    restorer = make_restorer(init="zq", steps=1, tile=64, tile_overlap=16)
    events: list[dict] = []
    out = restorer.restore_array(rand_image(70, 101), callback=events.append)
    assert out.shape == (70, 101, 3)
    assert any(e.get("stage") == "tile" for e in events)


@pytest.mark.parametrize("shape", [(2, 8, 8), (1, 8, 8, 4), (8, 8, 3)])
def test_restore_batch_rejects_other_layouts(shape: tuple[int, ...], make_restorer) -> None:
    with pytest.raises(ValueError, match="N x H x W x 3"):
        make_restorer(init="zq").restore_batch(np.zeros(shape, np.float32))


# --- seeds ---------------------------------------------------------------------------------------


def test_same_seed_same_output(make_restorer) -> None:
    image = rand_image(24, 32)
    a = make_restorer(init="ze", seed=7).restore_array(image)
    restorer = make_restorer(init="ze", seed=7)
    assert np.array_equal(restorer.restore_array(image), a)
    assert np.array_equal(restorer.restore_array(image), a)  # no state carried between calls


def test_different_seed_different_output(make_restorer) -> None:
    image = rand_image(24, 32)
    a = make_restorer(init="ze", seed=1).restore_array(image)
    b = make_restorer(init="ze", seed=2).restore_array(image)
    assert not np.array_equal(a, b)


def test_no_seed_differs_between_calls(make_restorer) -> None:
    restorer = make_restorer(init="ze", seed=None)
    image = rand_image(24, 32)
    assert not np.array_equal(restorer.restore_array(image), restorer.restore_array(image))


def test_batch_size_does_not_change_the_result(make_restorer) -> None:
    frames = rand_frames(4, 16, 24)
    one_batch = make_restorer(init="ze", batch_size=4).restore_batch(frames)
    chunked = make_restorer(init="ze", batch_size=3).restore_batch(frames)
    # Not bit-exact: convolution kernels round differently for other batch sizes (2e-6 here).
    np.testing.assert_allclose(chunked, one_batch, atol=1e-4, rtol=0)


def test_restore_array_matches_the_frame_in_a_batch(make_restorer) -> None:
    frames = rand_frames(2, 16, 24)
    restorer = make_restorer(init="ze")
    alone = restorer.restore_array(frames[1])
    np.testing.assert_allclose(alone, restorer.restore_batch(frames)[1], atol=1e-4, rtol=0)


# --- ensemble ------------------------------------------------------------------------------------


def test_ensemble_averages_the_frame_its_mirror_and_other_noise(make_restorer) -> None:
    image = rand_image(24, 32)
    plain = make_restorer(init="ze", seed=7).restore_array(image)
    mirrored = make_restorer(init="ze", seed=7).restore_array(image[:, ::-1].copy())[:, ::-1]
    next_seed = make_restorer(init="ze", seed=8).restore_array(image)
    assert np.array_equal(make_restorer(init="ze", seed=7, ensemble=1).restore_array(image), plain)
    two = make_restorer(init="ze", seed=7, ensemble=2).restore_array(image)
    np.testing.assert_allclose(two, (plain + mirrored) / 2, atol=1e-6, rtol=0)
    three = make_restorer(init="ze", seed=7, ensemble=3).restore_array(image)
    np.testing.assert_allclose(three, (plain + mirrored + next_seed) / 3, atol=1e-6, rtol=0)
    assert not np.allclose(two, plain, atol=1e-4)  # the mirror pass does differ


# --- guided filter -------------------------------------------------------------------------------


def test_guide_radius_filters_the_restoration_by_the_input(make_restorer) -> None:
    from restorecli.guided import transfer_detail

    image = rand_image(40, 56)
    plain = make_restorer(init="ze", ensemble=2).restore_array(image)
    guided = make_restorer(init="ze", ensemble=2, guide_radius=5, guide_eps=1e-3)
    out = guided.restore_array(image)
    as_tensor = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None]  # noqa: E731
    expected = transfer_detail(as_tensor(image), as_tensor(plain), 5, 1e-3)
    np.testing.assert_allclose(out, expected[0].permute(1, 2, 0).numpy(), atol=1e-6, rtol=0)
    assert not np.allclose(out, plain, atol=1e-3)
    assert guided.stage_seconds["guide"] > 0


def test_strength_moves_that_share_of_the_way_from_the_input(make_restorer) -> None:
    image = rand_image(24, 32)
    full = make_restorer(init="ze", guide_radius=3).restore_array(image)
    half = make_restorer(init="ze", guide_radius=3, strength=0.5).restore_array(image)
    np.testing.assert_allclose(half, image + 0.5 * (full - image), atol=1e-6, rtol=0)


def test_sequence_carries_the_tones_across_batches_and_only_inside(make_restorer) -> None:
    # Consecutive frames of one shot: small changes (a cut would start afresh).
    frames = (rand_frames(1, 24, 32) + 0.03 * rand_frames(4, 24, 32, seed=1)).astype(np.float32)
    restorer = make_restorer(init="ze", guide_radius=3, batch_size=2, temporal=0.8)
    alone = restorer.restore_batch(frames)
    assert np.array_equal(restorer.restore_batch(frames[2:]), alone[2:])  # outside: no state
    with restorer.sequence() as session:
        in_one = restorer.restore_batch(frames, session=session)
    with restorer.sequence() as session:  # a new video starts afresh
        in_two = np.concatenate([restorer.restore_batch(f[None], session=session) for f in frames])
    np.testing.assert_allclose(in_one, in_two, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(in_one[0], alone[0])  # the first frame has no past
    assert not np.allclose(in_one[1:], alone[1:], atol=1e-4)
    off = make_restorer(init="ze", guide_radius=3, temporal=0.0)
    with off.sequence() as session:
        np.testing.assert_array_equal(off.restore_batch(frames, session=session), alone)


def test_registry_guide_settings_reach_the_config(tiny_weights: Path, tmp_path, monkeypatch):
    import shutil

    from restorecli.weights.authoring import register_bundled

    files = {}
    for role in ("autoencoder", "denoiser"):
        files[role] = shutil.copy(tiny_weights / f"{role}.safetensors", tmp_path)
    registry = tmp_path / "weights.toml"
    register_bundled(registry, "guided", task="dehaze", files=files, default_init="ze",
                     default_steps=2, licence="MIT",
                     settings={"guide_radius": 32, "guide_eps": 2e-3})  # fmt: skip
    monkeypatch.setenv("RESTORE_WEIGHTS_TOML", str(registry))
    loaded = Restorer.from_pretrained("guided", device="cpu")
    cfg = loaded.config
    assert (cfg.init, cfg.steps, cfg.guide_radius, cfg.guide_eps) == ("ze", 2, 32, 2e-3)
    given = Restorer.from_pretrained("guided", config=RestoreConfig(), device="cpu")
    assert given.config.guide_radius == 0  # a given config is used as it is


# --- loading -------------------------------------------------------------------------------------


def test_from_pretrained_folder_matches_the_models_it_holds(tiny_weights: Path, make_restorer):
    cfg = RestoreConfig(init="lerp", steps=2, seed=3)
    loaded = Restorer.from_pretrained(tiny_weights, config=cfg, device="cpu")
    assert loaded.device == torch.device("cpu")
    assert loaded.config == cfg
    image = rand_image(19, 26)
    expected = make_restorer(init="lerp", steps=2, seed=3).restore_array(image)
    np.testing.assert_array_equal(loaded.restore_array(image), expected)
    # A str path works too, and without a config gives the defaults (Chebyshev, 4 steps),
    # with the fidelity weight 0: the folder has no fidelity file to weigh.
    default = Restorer.from_pretrained(str(tiny_weights), device="cpu")
    assert default.config == RestoreConfig(fidelity=0.0)
    assert default.restore_array(image).shape == image.shape


def test_from_pretrained_errors(tmp_path: Path, tiny_weights: Path) -> None:
    with pytest.raises(WeightsError):
        Restorer.from_pretrained(tmp_path / "nowhere", device="cpu")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "autoencoder.safetensors").write_bytes(
        (tiny_weights / "autoencoder.safetensors").read_bytes()
    )
    with pytest.raises(WeightsError):
        Restorer.from_pretrained(tmp_path / "half", device="cpu")
    with pytest.raises(ValueError):
        Restorer.from_pretrained(None, device="cpu")
    with pytest.raises(DeviceError):
        Restorer.from_pretrained(tiny_weights, device="cpu", precision="fp16")


def test_fp16_on_cpu_is_a_device_error(make_tiny_models) -> None:
    ae, unet = make_tiny_models()
    with pytest.raises(DeviceError):
        Restorer(ae, unet, device="cpu", precision="fp16")


# --- tensors, timings, progress ------------------------------------------------------------------


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_restore_tensor_keeps_the_input_device(device: str, make_restorer) -> None:
    restorer = make_restorer(init="zq", steps=1)
    x = torch.rand(2, 3, 13, 17, device=device)
    out = restorer.restore_tensor(x)
    assert out.device == x.device and out.dtype == torch.float32 and out.shape == x.shape
    # The array API gives the same numbers.
    frames = x.permute(0, 2, 3, 1).cpu().numpy()
    as_arrays = restorer.restore_batch(frames)
    np.testing.assert_array_equal(out.permute(0, 2, 3, 1).cpu().numpy(), as_arrays)


def test_stage_seconds_cover_every_stage(make_restorer) -> None:
    restorer = make_restorer(init="chebyshev", steps=2, guide_radius=2, strength=0.5)
    restorer.restore_array(rand_image(16, 16))
    assert set(restorer.stage_seconds) == set(STAGES)
    assert all(seconds >= 0 for seconds in restorer.stage_seconds.values())
    before = dict(restorer.stage_seconds)
    restorer.restore_array(rand_image(16, 16))
    assert all(restorer.stage_seconds[s] >= before[s] for s in STAGES)  # accumulated


@pytest.mark.parametrize(("init", "built"), [("zq", False), ("chebyshev", True), ("auto", True)])
def test_prepare_builds_only_what_the_initial_state_needs(init, built, make_restorer) -> None:
    restorer = make_restorer(init=init, steps=1)
    restorer.prepare()
    assert (restorer._tables is not None) is built
    if init == "auto":
        assert "neighbors" in restorer._tables


def test_callback_gets_one_event_per_step(make_restorer) -> None:
    events: list[dict] = []
    make_restorer(init="zq", steps=3).restore_array(rand_image(16, 16), callback=events.append)
    assert [e["step"] for e in events] == [0, 1, 2]
    assert all(e["total"] == 3 for e in events)
    etas = [e["t"] for e in events]
    assert etas == sorted(etas, reverse=True)  # from high noise to low


# --- the fidelity path and re-quantization --------------------------------------------------------


def _fidelity_parts(ae, seed: int = 1):
    from restorecli.models.fidelity import FidelityConfig, FidelityNet
    from restorecli.models.vector_regression import VectorRegression, VRConfig

    torch.manual_seed(seed)
    fid = FidelityNet(FidelityConfig(ae.config.channels, ae.config.half_channels, 8))
    vr = VectorRegression(VRConfig(neighbours=4, channels=8, blocks=1))
    with torch.no_grad():  # trained-looking: every branch contributes
        for p in [*fid.parameters(), *vr.score.parameters()]:
            p.normal_(0, 0.2)
    return fid.eval(), vr.eval()


@pytest.fixture
def make_full_restorer(make_tiny_models):
    """Restorer over the tiny models plus a fidelity net and a VR head."""

    def make(**config) -> Restorer:
        ae, unet = make_tiny_models()
        fid, vr = _fidelity_parts(ae)
        cfg = RestoreConfig(**config)
        return Restorer(ae, unet, config=cfg, device="cpu", fidelity=fid, requantizer=vr)

    return make


def test_fidelity_zero_and_hard_requantize_is_the_papers_pipeline(
    make_restorer, make_full_restorer
) -> None:
    image = rand_image(40, 36)
    paper = make_restorer(init="ze", steps=2).restore_array(image)
    full = make_full_restorer(init="ze", steps=2, fidelity=0.0, requantize="hard")
    np.testing.assert_array_equal(full.restore_array(image), paper)
    with_path = make_full_restorer(init="ze", steps=2, fidelity=1.0).restore_array(image)
    assert np.abs(with_path - paper).max() > 1e-3


def test_fidelity_weight_and_requantize_modes_change_the_output(make_full_restorer) -> None:
    image = rand_image(32, 32)
    outs = {
        (w, mode): make_full_restorer(init="ze", fidelity=w, requantize=mode).restore_array(image)
        for w in (0.0, 0.5, 1.0)
        for mode in ("hard", "vr", "none")
    }
    keys = list(outs)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            assert np.abs(outs[a] - outs[b]).max() > 1e-4, (a, b)
        assert outs[a].min() >= 0 and outs[a].max() <= 1


def test_requantize_modes_return_codes_weights_or_the_latent(make_full_restorer) -> None:
    r = make_full_restorer()
    z0 = torch.randn(1, 3, 5, 5)
    hard, idx = r.requantize(z0, "hard")
    assert torch.equal(hard, r.autoencoder.quantizer.lookup(idx))
    kept, idx2 = r.requantize(z0, "none")
    assert torch.equal(kept, z0) and torch.equal(idx, idx2)
    vr, _ = r.requantize(z0, "vr")
    assert not torch.equal(vr, hard) and not torch.equal(vr, z0)


def test_a_model_without_the_parts_refuses_what_needs_them(make_restorer) -> None:
    from restorecli.errors import ModelNotAvailableError

    r = make_restorer(requantize="vr")
    with pytest.raises(ModelNotAvailableError, match="no requantizer file"):
        r.restore_array(rand_image(16, 16))
    r = make_restorer(fidelity=0.5)
    r.restore_array(rand_image(16, 16))  # nothing to weigh: ignored unless asked for
    with pytest.raises(ModelNotAvailableError, match="no fidelity file"):
        r.check_config({"fidelity"})


def test_tiles_agree_with_the_whole_frame_with_the_fidelity_path(make_tiny_models) -> None:
    ae, unet = make_tiny_models(levels=1)
    fid, vr = _fidelity_parts(ae)
    image = rand_image(300, 330)
    outs = []
    for tile in (0, 256):
        cfg = RestoreConfig(init="ze", steps=1, tile=tile, tile_overlap=128, requantize="vr")
        r = Restorer(ae, unet, config=cfg, device="cpu", fidelity=fid, requantizer=vr)
        outs.append(r.restore_array(image))
    assert np.abs(outs[0] - outs[1]).max() < 1e-3


def test_a_folder_with_fidelity_and_requantizer_files_loads_them(tmp_path, make_tiny_models):
    from restorecli.pipeline import save_pretrained_folder

    ae, unet = make_tiny_models()
    fid, vr = _fidelity_parts(ae)
    folder = save_pretrained_folder(tmp_path / "w", ae, unet, fidelity=fid, requantizer=vr)
    loaded = Restorer.from_pretrained(folder, device="cpu")
    assert loaded.fidelity is not None and loaded.requantizer is not None
    assert loaded.config.fidelity == 1.0  # the config's default: the whole path
    image = rand_image(24, 28)
    cfg = replace(loaded.config, init="ze", requantize="vr")
    loaded.config = cfg
    direct = Restorer(ae, unet, config=cfg, device="cpu", fidelity=fid, requantizer=vr)
    np.testing.assert_allclose(loaded.restore_array(image), direct.restore_array(image), atol=1e-6)


def test_a_step_count_the_model_was_not_validated_at_is_refused_with_the_reason(make_restorer):
    from restorecli.errors import SettingError

    r = make_restorer(steps=4)
    r.name, r.validated_steps = "rain-model", (1,)
    r.check_config()  # the config alone (eval sweeps, the API) may use any count
    with pytest.raises(SettingError, match=r"--steps 4: rain-model was validated at 1 step"):
        r.check_config({"steps"})
    r.config = replace(r.config, steps=1)
    r.check_config({"steps"})


def test_integer_images_are_scaled_by_their_range_and_come_back_in_it(make_restorer) -> None:
    r = make_restorer(init="ze", steps=1)
    image = rand_image(20, 24)
    want = r.restore_array(image)
    for kind in (np.uint8, np.uint16):
        peak = np.iinfo(kind).max
        ints = np.rint(image * peak).astype(kind)
        out = r.restore_array(ints)
        assert out.dtype == kind and out.shape == ints.shape
        expected = r.restore_array(ints.astype(np.float32) / peak)
        np.testing.assert_array_equal(out, np.rint(expected * peak).astype(kind))
        assert np.abs(out / peak - want).max() < 0.05  # the same picture, not a white one
    with pytest.raises(ValueError, match="use restore_batch"):
        r.restore_array(rand_frames(2, 8, 8))
    with pytest.raises(ValueError, match="uint8 or uint16"):
        r.restore_array(np.zeros((8, 8, 3), np.int32))


def test_tiles_agree_with_the_whole_frame_with_a_fidelity_context(make_tiny_models) -> None:
    from restorecli.models.fidelity import FidelityConfig, FidelityNet

    ae, unet = make_tiny_models(levels=1)
    torch.manual_seed(3)
    fid = FidelityNet(FidelityConfig(ae.config.channels, ae.config.half_channels, 8, context=8))
    with torch.no_grad():
        for p in fid.parameters():
            p.normal_(0, 0.2)
    image = rand_image(300, 330)
    outs = []
    for tile in (0, 256):
        cfg = RestoreConfig(init="ze", steps=1, tile=tile, tile_overlap=128)
        outs.append(Restorer(ae, unet, config=cfg, device="cpu", fidelity=fid).restore_array(image))
    assert np.abs(outs[0] - outs[1]).max() < 1e-3
    off = replace(RestoreConfig(init="ze", steps=1), fidelity=0.0)
    plain = Restorer(ae, unet, config=off, device="cpu", fidelity=fid)
    assert plain.fidelity_context(torch.zeros(1, 3, 32, 32)) is None  # off: not computed
