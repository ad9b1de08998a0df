"""Resolution without the network: explicit paths, bundled files, unknown names."""

from __future__ import annotations

from pathlib import Path

import pytest

# fake_hub.py is loaded by conftest.py under this name.
from restorecli_tests_fake_hub import SHA_A, file_entry, model, registry_toml, tiny_safetensors

from restorecli.errors import ModelNotAvailableError, WeightsError
from restorecli.weights import load_registry, locate, resolve, resolve_detector


def bundled_registry(tmp_path: Path, *, with_hub: bool = False) -> Path:
    """A registry whose two files sit next to it (as the package's bundled files do)."""
    weights = tmp_path / "weights"
    weights.mkdir()
    files = []
    for seed, role in enumerate(("autoencoder", "denoiser")):
        content = tiny_safetensors(seed)
        (weights / f"{role}.safetensors").write_bytes(content)
        hub = {"repo_id": "someone/restore-test", "revision": SHA_A} if with_hub else {}
        files.append(file_entry(role, content, bundled=f"weights/{role}.safetensors", **hub))
    path = tmp_path / "weights.toml"
    path.write_text(registry_toml({"derain-bundled": model("derain", files)}), encoding="utf-8")
    return path


def test_bundled_files_are_used_without_any_network(tmp_path, hub):
    registry = bundled_registry(tmp_path, with_hub=True)  # Hub fields present but not needed
    resolved = resolve("derain-bundled", registry=registry)
    assert dict(resolved.sources) == {"autoencoder": "bundled", "denoiser": "bundled"}
    assert resolved.files["denoiser"] == tmp_path.resolve() / "weights" / "denoiser.safetensors"
    assert (resolved.task, resolved.default_init, resolved.default_steps) == (
        "derain",
        "chebyshev",
        4,
    )
    assert not resolved.combined
    assert hub.requests == []


def test_corrupt_bundled_file_is_refused(tmp_path):
    registry = bundled_registry(tmp_path)
    target = tmp_path / "weights" / "autoencoder.safetensors"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"does not match weights\.toml.*correct its entry in"):
        resolve("derain-bundled", registry=registry)


def test_missing_bundled_file_without_hub_fallback(tmp_path):
    registry = bundled_registry(tmp_path)
    (tmp_path / "weights" / "denoiser.safetensors").unlink()
    entry = load_registry(registry).get("derain-bundled")
    assert locate(entry.file("denoiser")).state == "missing"
    with pytest.raises(WeightsError, match="is missing; put the right file there or correct"):
        resolve("derain-bundled", registry=registry)


def test_single_combined_file_path(tmp_path):
    path = tmp_path / "mine.safetensors"
    path.write_bytes(tiny_safetensors(7))
    for arg in (path, str(path)):
        resolved = resolve(arg)
        assert resolved.combined
        assert resolved.files == {"autoencoder": path, "denoiser": path}
        assert resolved.name == "mine" and resolved.task is None
        assert set(resolved.sources.values()) == {"path"}


def test_folder_with_one_file_per_role(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    for seed, role in enumerate(("autoencoder", "denoiser")):
        (folder / f"{role}.safetensors").write_bytes(tiny_safetensors(seed))
    resolved = resolve(folder)
    assert not resolved.combined
    assert resolved.files["denoiser"] == folder / "denoiser.safetensors"
    assert resolved.name == "my-model"


def test_folder_missing_a_role(tmp_path):
    (tmp_path / "autoencoder.safetensors").write_bytes(tiny_safetensors(0))
    with pytest.raises(WeightsError, match=r"lacks denoiser\.safetensors"):
        resolve(tmp_path)


def test_path_that_is_not_safetensors(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_bytes(b"\xff" * 64)
    with pytest.raises(WeightsError, match="not a safetensors file"):
        resolve(path)


def test_path_that_does_not_exist(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        resolve(tmp_path / "missing.safetensors")


def test_unknown_name(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="unknown model 'no-such-model'"):
        resolve("no-such-model", registry=bundled_registry(tmp_path))


def test_bare_name_of_an_existing_file_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("local").mkdir()
    for seed, role in enumerate(("autoencoder", "denoiser")):
        (Path("local") / f"{role}.safetensors").write_bytes(tiny_safetensors(seed))
    assert resolve("local").sources["autoencoder"] == "path"


def test_a_damaged_file_of_the_shipped_registry_asks_for_a_reinstall(tmp_path, monkeypatch):
    import importlib

    resolve_mod = importlib.import_module("restorecli.weights.resolve")
    registry = bundled_registry(tmp_path)
    monkeypatch.setattr(resolve_mod, "builtin_registry_path", lambda: registry)
    (tmp_path / "weights" / "denoiser.safetensors").unlink()
    with pytest.raises(WeightsError, match="is missing; reinstall restorecli"):
        resolve("derain-bundled", registry=registry)


def test_the_detector_resolves_by_default_by_name_or_by_path(tmp_path, hub):
    content = tiny_safetensors(7)
    (tmp_path / "det.safetensors").write_bytes(content)
    hub.add("someone/detector", SHA_A, "detector.safetensors", content)
    det = file_entry("detector", content, bundled="det.safetensors")
    remote = file_entry("detector", content, repo_id="someone/detector", revision=SHA_A)
    models = {
        "det-local": {"task": "detect", "licence": "MIT", "files": [det]},
        "det-hub": {"task": "detect", "licence": "MIT", "files": [remote]},
    }
    registry = tmp_path / "weights.toml"
    registry.write_text(registry_toml(models, {"detect": "det-hub"}), encoding="utf-8")
    reg = load_registry(registry, include_builtin=False)
    path, name = resolve_detector(registry=reg)  # the default: downloaded, then verified
    assert name == "det-hub" and path.read_bytes() == content and len(hub.requests) > 0
    local = resolve_detector("det-local", registry=reg)
    assert local == ((tmp_path / "det.safetensors").resolve(), "det-local")
    assert resolve_detector(tmp_path / "det.safetensors")[1] == "det"
    with pytest.raises(WeightsError, match="is not a safetensors file"):
        (tmp_path / "bad.safetensors").write_bytes(b"nope")
        resolve_detector(str(tmp_path / "bad.safetensors"))
    (tmp_path / "r").mkdir()
    other = load_registry(bundled_registry(tmp_path / "r"), include_builtin=False)
    with pytest.raises(ModelNotAvailableError, match="registered for task 'detect'"):
        resolve_detector(registry=other)
    with pytest.raises(ModelNotAvailableError, match="is a derain model, not a detector"):
        resolve_detector("derain-bundled", registry=other)
