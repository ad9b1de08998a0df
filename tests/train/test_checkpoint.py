"""Resumable checkpoints: exact round trip, safetensors only, atomic writes, EMA arithmetic."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import restorecli.train.checkpoint as checkpoint
from restorecli.errors import WeightsError
from restorecli.models import AutoencoderConfig, VQAutoencoder, save_model
from restorecli.train.checkpoint import ema_update, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _train_steps(model: VQAutoencoder, ema: VQAutoencoder, opt, steps: int, seed: int) -> None:
    torch.manual_seed(seed)  # the quantizer draws restarts from the global generator
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        x = torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1
        out = model(x)
        loss = (out.recon - x).pow(2).mean() + out.quant.commit_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema_update(ema, model, 0.9)


def _setup(cfg: AutoencoderConfig, seed: int):
    torch.manual_seed(seed)
    model = VQAutoencoder(cfg)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    return model, ema, opt


@pytest.fixture
def trained(tiny_ae_config):
    model, ema, opt = _setup(tiny_ae_config(), seed=0)
    _train_steps(model, ema, opt, steps=3, seed=1)
    return model, ema, opt


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_round_trip_restores_model_ema_optimizer_and_info(tmp_path: Path, trained, tiny_ae_config):
    model, ema, opt = trained
    path = tmp_path / "checkpoint.safetensors"
    info = {"step": 3, "wall_time": 1.5, "world_size": 1}
    save_checkpoint(path, model=model, ema=ema, optimizer=opt, info=info)

    model2, ema2, opt2 = _setup(tiny_ae_config(), seed=5)  # different weights to start with
    assert load_checkpoint(path, model=model2, ema=ema2, optimizer=opt2) == info
    _assert_same_state(model.state_dict(), model2.state_dict())
    _assert_same_state(ema.state_dict(), ema2.state_dict())
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    assert json.dumps(sd["param_groups"]) == json.dumps(sd2["param_groups"])
    assert sd["state"].keys() == sd2["state"].keys() and len(sd["state"]) > 0
    for pid in sd["state"]:
        _assert_same_state(sd["state"][pid], sd2["state"][pid])
    assert float(sd2["state"][0]["step"]) == 3

    # Training on from either copy gives the same weights: nothing the optimizer needs is lost.
    _train_steps(model, ema, opt, steps=1, seed=9)
    _train_steps(model2, ema2, opt2, steps=1, seed=9)
    _assert_same_state(model.state_dict(), model2.state_dict())


def test_the_file_is_plain_safetensors_with_json_metadata(tmp_path: Path, trained):
    model, ema, opt = trained
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model=model, ema=ema, optimizer=opt, info={"step": 3})
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])  # the whole header is JSON: no pickle anywhere
    assert json.loads(header["__metadata__"]["info"]) == {"step": 3}
    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
    assert {k.split(".", 1)[0] for k in keys} == {"model", "ema", "optim"}
    assert "model.quantizer.codebook" in keys and "ema.quantizer.codebook" in keys


def test_ema_and_optimizer_are_optional(tmp_path: Path, trained, tiny_ae_config):
    model, _, opt = trained
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model=model, ema=None, optimizer=opt, info={"step": 1})
    model2, ema2, _ = _setup(tiny_ae_config(), seed=5)
    ema_before = copy.deepcopy(ema2.state_dict())
    load_checkpoint(path, model=model2, ema=ema2, optimizer=None)
    _assert_same_state(model.state_dict(), model2.state_dict())
    _assert_same_state(ema_before, ema2.state_dict())  # nothing saved for it: left alone


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path: Path, trained, monkeypatch):
    model, ema, opt = trained
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, model=model, ema=ema, optimizer=opt, info={"step": 3})
    before = path.read_bytes()

    def broken_save_file(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", broken_save_file)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, model=model, ema=ema, optimizer=opt, info={"step": 4})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_loading_into_another_model_configuration_is_a_weights_error(
    tmp_path: Path, trained, tiny_ae_config
):
    model, ema, opt = trained
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model=model, ema=ema, optimizer=opt, info={"step": 3})
    wider = AutoencoderConfig(codebook_size=64, channels=16, num_blocks=1, half_channels=8)
    other, other_ema, other_opt = _setup(wider, seed=0)
    with pytest.raises(WeightsError, match="different model configuration"):
        load_checkpoint(path, model=other, ema=other_ema, optimizer=other_opt)


def test_a_weights_file_is_not_a_checkpoint(tmp_path: Path, trained):
    model, ema, opt = trained
    weights = save_model(model, tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match="not a restorecli training checkpoint"):
        load_checkpoint(weights, model=model, ema=ema, optimizer=opt)
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(WeightsError):
        load_checkpoint(garbage, model=model, ema=ema, optimizer=opt)


class _WithBuffer(torch.nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.full((3,), value))
        self.register_buffer("counts", torch.full((2,), value))


def test_ema_update_averages_parameters_and_copies_buffers():
    ema, model = _WithBuffer(1.0), _WithBuffer(3.0)
    ema_update(ema, model, decay=0.75)
    torch.testing.assert_close(ema.weight.data, torch.full((3,), 0.75 * 1.0 + 0.25 * 3.0))
    torch.testing.assert_close(ema.counts, torch.full((2,), 3.0))
    ema_update(ema, model, decay=0.75)
    torch.testing.assert_close(ema.weight.data, torch.full((3,), 0.75 * 1.5 + 0.25 * 3.0))
    assert model.weight.data.eq(3.0).all()  # the source is untouched


def test_slim_checkpoint_drops_optimizer_state_and_still_resumes(tmp_path) -> None:
    from restorecli.train.checkpoint import slim_checkpoint

    torch.manual_seed(0)
    model, ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    full = tmp_path / "full.safetensors"
    checkpoint.save_checkpoint(full, model=model, ema=ema, optimizer=opt, info={"step": 7})
    slim = slim_checkpoint(full, tmp_path / "slim.safetensors")
    with safe_open(str(slim), framework="pt") as f:
        assert not [k for k in f.keys() if k.startswith("optim.")]  # noqa: SIM118
    fresh, fresh_ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    info = checkpoint.load_checkpoint(slim, model=fresh, ema=fresh_ema, optimizer=fresh_opt)
    assert info["step"] == 7
    assert torch.equal(fresh.weight, model.weight) and torch.equal(fresh_ema.bias, ema.bias)
    assert fresh_opt.state_dict()["state"] == {}


def test_a_compact_checkpoint_resumes_model_and_ema_from_the_fp16_ema(tmp_path) -> None:
    from restorecli.train.checkpoint import compact_checkpoint

    torch.manual_seed(0)
    model, ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    full = tmp_path / "full.safetensors"
    checkpoint.save_checkpoint(full, model=model, ema=ema, optimizer=opt, info={"step": 7})
    compact = compact_checkpoint(full, tmp_path / "compact.safetensors")
    with safe_open(str(compact), framework="pt") as f:
        keys = list(f.keys())
        assert all(k.startswith("ema.") for k in keys)
        assert all(f.get_tensor(k).dtype == torch.float16 for k in keys)
    fresh, fresh_ema = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    info = checkpoint.load_checkpoint(compact, model=fresh, ema=fresh_ema, optimizer=None)
    assert info["step"] == 7
    want = ema.weight.detach().half().float()
    assert torch.equal(fresh.weight, want) and torch.equal(fresh_ema.weight, want)
