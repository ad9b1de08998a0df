"""Registry entries written from real files: hashes, sizes, defaults, header kept, checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from restorecli.errors import WeightsError
from restorecli.weights import load_registry, sha256_file
from restorecli.weights.authoring import register_bundled

HEADER = "# my registry\n# second line\n\n"


def _files(root: Path, tag: str) -> dict[str, Path]:
    (root / "weights").mkdir(parents=True, exist_ok=True)
    files = {}
    for role in ("autoencoder", "denoiser"):
        path = root / "weights" / f"{tag}-{role}.safetensors"
        path.write_bytes(f"{tag} {role} bytes".encode())
        files[role] = path
    return files


def _register(registry: Path, name: str, files: dict[str, Path], **options) -> None:
    defaults = {"task": "derain", "default_init": "chebyshev", "default_steps": 4}
    register_bundled(registry, name, files=files, licence="Apache-2.0", **{**defaults, **options})


def test_entries_carry_the_files_real_hash_and_size(tmp_path: Path):
    registry = tmp_path / "weights.toml"
    registry.write_text(HEADER + "[models]\n\n[defaults]\n", encoding="utf-8")
    files = _files(tmp_path, "a")
    _register(registry, "rain-a", files, description='say "hi"', default=True)
    _register(registry, "rain-b", _files(tmp_path, "b"), default_init="zq", default_steps=2)

    assert registry.read_text(encoding="utf-8").startswith(HEADER)
    reg = load_registry(registry, include_builtin=False)
    entry = reg.get("rain-a")
    assert entry.description == 'say "hi"' and entry.default_steps == 4
    for role, path in files.items():
        f = entry.file(role)
        assert f.sha256 == sha256_file(path) and f.size == path.stat().st_size
        assert f.bundled == path.resolve() and f.repo_id is None
    assert reg.default_for("derain") == "rain-a"  # the second model did not take the default
    assert reg.get("rain-b").default_init == "zq"
    assert reg.get("rain-b").settings == {}
    assert "guide_radius" not in registry.read_text(encoding="utf-8")  # written only when set
    settings = {"guide_radius": 64, "guide_eps": 1e-05, "fidelity": 0.5}
    _register(registry, "haze", _files(tmp_path, "h"), settings=settings)
    reg = load_registry(registry, include_builtin=False)
    assert reg.get("haze").settings == settings

    # Registering again replaces the entry (new bytes, new hash) instead of adding one.
    files["denoiser"].write_bytes(b"retrained")
    _register(registry, "rain-a", files)
    reg = load_registry(registry, include_builtin=False)
    assert reg.get("rain-a").file("denoiser").sha256 == sha256_file(files["denoiser"])
    assert registry.read_text(encoding="utf-8").count("[models.rain-a]") == 1


def test_files_outside_the_registry_folder_or_bad_values_leave_it_untouched(tmp_path: Path):
    registry = tmp_path / "reg" / "weights.toml"
    registry.parent.mkdir()
    registry.write_text(HEADER + "[models]\n\n[defaults]\n", encoding="utf-8")
    before = registry.read_bytes()
    with pytest.raises(ValueError, match="not inside"):
        _register(registry, "x", _files(tmp_path, "out"))
    with pytest.raises(WeightsError, match="default_init"):
        _register(registry, "x", _files(registry.parent, "in"), default_init="middle")
    assert registry.read_bytes() == before
    assert [p.name for p in registry.parent.iterdir() if p.name.startswith(".")] == []


def test_validated_steps_and_optional_roles_are_written_and_read_back(tmp_path: Path):
    registry = tmp_path / "weights.toml"
    registry.write_text(HEADER + "[models]\n\n[defaults]\n", encoding="utf-8")
    files = _files(tmp_path, "v")
    extra = tmp_path / "fidelity.safetensors"
    extra.write_bytes(b"fidelity bytes")
    files = {**files, "fidelity": extra}
    _register(registry, "rain-v", files, validated_steps=[1, 2], settings={"fidelity": 0.5})
    entry = load_registry(registry, include_builtin=False).get("rain-v")
    assert entry.validated_steps == (1, 2) and entry.settings == {"fidelity": 0.5}
    assert entry.file("fidelity").sha256 == sha256_file(extra)


def test_a_detector_is_registered_without_init_or_steps(tmp_path: Path):
    registry = tmp_path / "weights.toml"
    registry.write_text("[models]\n\n[defaults]\n", encoding="utf-8")
    (tmp_path / "weights").mkdir()
    det = tmp_path / "weights" / "det.safetensors"
    det.write_bytes(b"detector bytes")
    register_bundled(registry, "det", task="detect", files={"detector": det}, default=True)
    entry = load_registry(registry, include_builtin=False).get("det")
    assert entry.default_init is None and entry.files[0].sha256 == sha256_file(det)
    with pytest.raises(ValueError, match="one detector file"):
        register_bundled(registry, "x", task="detect", files={"detector": det}, default_steps=1)
    with pytest.raises(ValueError, match="default init and steps"):
        register_bundled(registry, "y", task="derain", files=_files(tmp_path, "y"))
