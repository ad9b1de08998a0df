"""safetensors I/O: round trips, metadata, clear errors for bad files, no pickles."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from restorecli.errors import WeightsError
from restorecli.models import (
    AutoencoderConfig,
    LatentUNet,
    UNetConfig,
    VQAutoencoder,
    load_model,
    read_metadata,
    save_model,
)
from restorecli.models.serialization import TRAINING_ONLY

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny_autoencoder() -> VQAutoencoder:
    torch.manual_seed(0)
    model = VQAutoencoder(
        AutoencoderConfig(codebook_size=32, channels=8, num_blocks=1, half_channels=8)
    )
    with torch.no_grad():
        # Distinct EMA statistics, so a round trip that dropped or mixed them would show.
        model.quantizer.ema_count.uniform_(0.5, 2.0)
        model.quantizer.ema_sum.normal_()
        model.quantizer.initialized.fill_(True)
    return model


def tiny_denoiser() -> LatentUNet:
    torch.manual_seed(1)
    model = LatentUNet(UNetConfig(channels=8, channel_mults=(1, 2), blocks_per_level=1, emb_dim=8))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module, atol: float = 0.0) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sb[key].dtype == sa[key].dtype, key
        assert torch.allclose(sb[key].double(), sa[key].double(), atol=atol, rtol=0), key


@pytest.mark.parametrize("factory", [tiny_autoencoder, tiny_denoiser])
def test_fp32_round_trip_is_exact(factory, tmp_path: Path) -> None:
    model = factory()
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert loaded.config == model.config
    assert not loaded.training
    assert_same_state(model, loaded)


def test_fp16_file_loads_as_float32_close_to_the_original(tmp_path: Path) -> None:
    model = tiny_denoiser()
    path = save_model(model, tmp_path / "m.safetensors", dtype=torch.float16)
    with safe_open(str(path), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}  # noqa: SIM118
    loaded = load_model(path)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    for key, value in model.state_dict().items():
        # fp16 keeps 11 significant bits: relative error below 2^-11.
        assert torch.allclose(loaded.state_dict()[key], value, rtol=2**-11, atol=1e-7), key


def test_fp16_autoencoder_keeps_its_flag_and_loads_in_half(tmp_path: Path) -> None:
    model = tiny_autoencoder()
    path = save_model(model, tmp_path / "ae.safetensors", dtype=torch.float16)
    with safe_open(str(path), framework="pt") as f:
        assert f.get_tensor("quantizer.initialized").dtype == torch.bool
    loaded = load_model(path, dtype=torch.float16)
    assert loaded.encoder.stem.weight.dtype == torch.float16
    # The nearest-code search stays in float32 in a half-precision model.
    assert loaded.quantizer.codebook.dtype == torch.float32
    assert bool(loaded.quantizer.initialized)


def test_metadata_holds_kind_config_and_extras(tmp_path: Path) -> None:
    model = tiny_denoiser()
    extras = {"restorecli.training": {"kappa": 1.5, "task": "derain"}, "note": "hello"}
    path = save_model(model, tmp_path / "m.safetensors", metadata=extras)
    meta = read_metadata(path)
    assert meta["restorecli.kind"] == "denoiser"
    config = json.loads(meta["restorecli.config"])
    assert config["channels"] == 8 and config["channel_mults"] == [1, 2]
    assert json.loads(meta["restorecli.training"]) == {"kappa": 1.5, "task": "derain"}
    assert meta["note"] == "hello"
    ae_path = save_model(tiny_autoencoder(), tmp_path / "ae.safetensors")
    assert read_metadata(ae_path)["restorecli.kind"] == "autoencoder"


def test_file_is_safetensors_not_pickle(tmp_path: Path) -> None:
    path = save_model(tiny_autoencoder(), tmp_path / "ae.safetensors")
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])  # little-endian u64, then that much JSON
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"]["restorecli.kind"] == "autoencoder"
    assert "encoder.stem.weight" in header
    assert not raw.startswith((b"\x80", b"PK"))  # neither a pickle nor a torch.save zip


def test_save_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "m.safetensors"
    save_model(tiny_denoiser(), path)
    save_model(tiny_autoencoder(), path)  # replace the file with another model
    assert read_metadata(path)["restorecli.kind"] == "autoencoder"
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]  # no temp file left


def test_inference_only_drops_ema_buffers_and_still_loads(tmp_path: Path) -> None:
    model = tiny_autoencoder()
    path = save_model(model, tmp_path / "ae.safetensors", inference_only=True)
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
    assert keys.isdisjoint(TRAINING_ONLY)
    assert "quantizer.codebook" in keys
    loaded = load_model(path)
    assert torch.equal(loaded.codebook, model.codebook)
    assert bool(loaded.quantizer.initialized)
    # The EMA statistics are rebuilt to agree with the codebook (not left at the random init),
    # so a training step from this file keeps the codes where they are.
    assert torch.equal(loaded.quantizer.ema_sum, loaded.codebook)
    assert torch.equal(loaded.quantizer.ema_count, torch.ones(32))
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.allclose(loaded(x).recon, model.eval()(x).recon)


def test_wrong_kind_is_a_weights_error(tmp_path: Path) -> None:
    path = save_model(tiny_denoiser(), tmp_path / "d.safetensors")
    assert isinstance(load_model(path, kind="denoiser"), LatentUNet)
    with pytest.raises(WeightsError, match="holds a denoiser"):
        load_model(path, kind="autoencoder")


def write_bytes(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a weights file at all",
        struct.pack("<Q", 10**9) + b"{}",  # header longer than the file
        struct.pack("<Q", 5) + b"{nope",  # header that is not JSON
        b"\x80\x04\x95" + b"\x00" * 64,  # a pickle
    ],
    ids=["empty", "text", "long-header", "bad-json", "pickle"],
)
def test_garbage_file_is_a_weights_error(data: bytes, tmp_path: Path) -> None:
    path = write_bytes(tmp_path, data)
    with pytest.raises(WeightsError):
        read_metadata(path)
    with pytest.raises(WeightsError):
        load_model(path)


def test_missing_and_truncated_files_are_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsError):
        load_model(tmp_path / "missing.safetensors")
    good = save_model(tiny_autoencoder(), tmp_path / "ae.safetensors").read_bytes()
    with pytest.raises(WeightsError):
        load_model(write_bytes(tmp_path, good[: len(good) - 100]))


def resave(src: Path, dst: Path, *, drop_key=None, meta_update=None, meta_drop=None) -> Path:
    """Copy a weights file with one tensor or metadata entry changed."""
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    state = load_file(str(src))
    if drop_key:
        del state[drop_key]
    meta.update(meta_update or {})
    if meta_drop:
        del meta[meta_drop]
    save_file(state, str(dst), metadata=meta)
    return dst


def _config_with(src: Path, **changes: object) -> dict[str, str]:
    config = json.loads(read_metadata(src)["restorecli.config"])
    return {"restorecli.config": json.dumps({**config, **changes})}


BROKEN = {
    # A safetensors file from another project: no restorecli metadata.
    "foreign": lambda src: {"meta_drop": "restorecli.kind"},
    "unknown kind": lambda src: {"meta_update": {"restorecli.kind": "vae"}},
    "no config": lambda src: {"meta_drop": "restorecli.config"},
    "config not json": lambda src: {"meta_update": {"restorecli.config": "{"}},
    "unknown config field": lambda src: {"meta_update": _config_with(src, heads=4)},
    # Tensors whose shapes disagree with the config in the metadata.
    "shape mismatch": lambda src: {"meta_update": _config_with(src, channels=16)},
    "missing tensor": lambda src: {"drop_key": "encoder.out.weight"},
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_foreign_or_inconsistent_files_are_weights_errors(case: str, tmp_path: Path) -> None:
    src = save_model(tiny_autoencoder(), tmp_path / "ae.safetensors")
    path = resave(src, tmp_path / "broken.safetensors", **BROKEN[case](src))
    with pytest.raises(WeightsError):
        load_model(path)


def test_damaged_tensor_data_behind_an_intact_header_is_a_weights_error(tmp_path) -> None:
    import struct

    from restorecli.errors import WeightsError
    from restorecli.models import LatentUNet, UNetConfig, load_model, save_model

    path = save_model(LatentUNet(UNetConfig(channels=8, channel_mults=(1,), emb_dim=16)),
                      tmp_path / "d.safetensors")  # fmt: skip
    data = bytearray(path.read_bytes())
    (header_len,) = struct.unpack("<Q", data[:8])
    start = 8 + header_len
    data[start : start + 64] = b"\xff" * 64  # float32 NaNs where the weights begin
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="NaN or infinite values; the file is damaged"):
        load_model(path)


def test_a_file_of_another_kind_is_named_with_its_article(tmp_path) -> None:
    from restorecli.errors import WeightsError
    from restorecli.models import LatentUNet, UNetConfig, load_model, save_model

    path = save_model(LatentUNet(UNetConfig(channels=8, channel_mults=(1,), emb_dim=16)),
                      tmp_path / "d.safetensors")  # fmt: skip
    with pytest.raises(WeightsError, match="holds a denoiser, expected an autoencoder"):
        load_model(path, kind="autoencoder")
