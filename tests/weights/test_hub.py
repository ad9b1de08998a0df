"""Downloads through huggingface_hub, for real, against a local fake Hub (see fake_hub.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# fake_hub.py is loaded by conftest.py under this name.
from restorecli_tests_fake_hub import (
    SHA_A,
    file_entry,
    go_offline,
    model,
    registry_toml,
    tiny_safetensors,
)

from restorecli.errors import WeightsError
from restorecli.weights import download, load_registry, resolve
from restorecli.weights import hub as hub_mod

REPO = "someone/restore-test"
NAME = "derain-hub"


@pytest.fixture
def contents() -> dict[str, bytes]:
    # Large enough for a transfer to be cut halfway, small enough to stay instant.
    return {"autoencoder": tiny_safetensors(1, n=4096), "denoiser": tiny_safetensors(2, n=4096)}


@pytest.fixture
def registry(tmp_path, contents) -> Path:
    files = [
        file_entry(role, data, repo_id=REPO, revision=SHA_A, filename=f"v1/{role}.safetensors")
        for role, data in contents.items()
    ]
    path = tmp_path / "hub-weights.toml"
    path.write_text(registry_toml({NAME: model("derain", files)}), encoding="utf-8")
    return path


def publish(hub, contents, **kw) -> None:
    for role, data in contents.items():
        hub.add(REPO, SHA_A, f"v1/{role}.safetensors", data, **kw.get(role, {}))


def test_first_download_then_offline_from_cache(hub, registry, contents, monkeypatch):
    publish(hub, contents)
    first = resolve(NAME, registry=registry)
    assert dict(first.sources) == {"autoencoder": "downloaded", "denoiser": "downloaded"}
    for role, data in contents.items():
        assert first.files[role].read_bytes() == data
    assert len(hub.gets()) == 2

    # Second run: explicitly offline, from the cache, no request at all.
    count = len(hub.requests)
    second = resolve(NAME, registry=registry, offline=True)
    assert dict(second.sources) == {"autoencoder": "cached", "denoiser": "cached"}
    assert second.files == first.files
    assert len(hub.requests) == count

    # Third run: HF_HUB_OFFLINE=1 and the server gone.
    hub.stop()
    go_offline(monkeypatch)
    third = resolve(NAME, registry=registry)
    assert third.files == first.files


def test_interrupted_transfer_is_resumed(hub, registry, contents, monkeypatch):
    from huggingface_hub import constants

    # The client hands the body on in DOWNLOAD_CHUNK_SIZE (10 MB) pieces and resumes from the
    # last whole piece; a small piece lets a tiny file resume mid-way, as a big one would.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    half = len(contents["denoiser"]) // 2
    publish(hub, contents, denoiser={"cut_after": half})
    resolved = resolve(NAME, registry=registry)
    assert resolved.files["denoiser"].read_bytes() == contents["denoiser"]
    ranges = [r.range for r in hub.gets() if r.path.endswith("denoiser.safetensors")]
    resumed_at = half // 1024 * 1024  # the last whole piece received
    assert ranges == [None, f"bytes={resumed_at}-"]


def test_server_sending_wrong_bytes_is_rejected_and_not_kept(hub, registry, contents):
    bad = bytearray(contents["denoiser"])
    bad[100] ^= 0xFF
    publish(hub, contents, denoiser={"served": bytes(bad)})
    with pytest.raises(WeightsError, match=r"does not match .*download was deleted"):
        resolve(NAME, registry=registry)
    entry = load_registry(registry).get(NAME)
    assert hub_mod.cached_path(entry.file("denoiser")) is None  # next run will not trust it
    assert hub_mod.cached_path(entry.file("autoencoder")) is not None


def test_altered_cached_file_is_refused_then_repaired_with_force(hub, registry, contents):
    publish(hub, contents)
    path = resolve(NAME, registry=registry).files["autoencoder"]
    blob = Path(os.path.realpath(path))
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    st = blob.stat()  # filesystem clocks can be coarse: make the change visible to the record
    os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    with pytest.raises(WeightsError, match=rf"restore models download {NAME} --force"):
        resolve(NAME, registry=registry, offline=True)

    repaired = download(NAME, force=True, registry=registry)
    assert repaired.files["autoencoder"].read_bytes() == contents["autoencoder"]
    assert resolve(NAME, registry=registry, offline=True).sources["autoencoder"] == "cached"


def test_offline_with_nothing_cached_is_a_clear_error(hub, registry, contents, monkeypatch):
    publish(hub, contents)
    with pytest.raises(WeightsError, match=rf"offline mode is on.*restore models download {NAME}"):
        resolve(NAME, registry=registry, offline=True)
    go_offline(monkeypatch)
    with pytest.raises(WeightsError, match="offline mode is on"):
        resolve(NAME, registry=registry)
    assert hub.requests == []


def test_unknown_repository_is_a_weights_error(hub, registry):
    hub.add("someone/other-repo", SHA_A, "x", b"x")
    with pytest.raises(WeightsError, match="repository not found"):
        resolve(NAME, registry=registry)


def test_unreachable_hub_is_a_weights_error(registry, monkeypatch, tmp_path):
    from huggingface_hub.utils import _http
    from restorecli_tests_fake_hub import point_at

    # A closed port: connection refused at once. Skip the client's retry pauses.
    monkeypatch.setattr(_http, "time", type("T", (), {"sleep": staticmethod(lambda s: None)}))
    point_at(monkeypatch, "http://127.0.0.1:9")
    with pytest.raises(WeightsError, match="cannot be reached"):
        resolve(NAME, registry=registry)


def test_remove_cached_keeps_other_files_of_the_repo(hub, registry, contents):
    publish(hub, contents)
    hub.add(REPO, SHA_A, "README.md", b"not ours")
    from huggingface_hub import hf_hub_download

    readme = Path(hf_hub_download(REPO, "README.md", revision=SHA_A))
    entry = load_registry(registry).get(NAME)
    resolve(NAME, registry=registry)

    freed = hub_mod.remove_cached(entry.file("denoiser"))
    assert freed == len(contents["denoiser"])
    assert hub_mod.cached_path(entry.file("denoiser")) is None
    assert hub_mod.cached_path(entry.file("autoencoder")) is not None
    assert readme.read_bytes() == b"not ours"
