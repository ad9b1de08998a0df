"""``restore models ...`` and ``restore cache ...`` end to end, against a local fake Hub."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

# tests/weights/fake_hub.py, loaded by tests/conftest.py under this name (with the hub fixture).
import restorecli_tests_fake_hub as fh

from restorecli.cli import main

REPO = "someone/restore-test"
NAME = "derain-hub"


@pytest.fixture(autouse=True)
def _isolated(isolated_caches):
    """Every test here runs with its caches in tmp_path."""


@pytest.fixture
def setup(tmp_path, hub):
    """A registry with a Hub model (published on the fake Hub) and a bundled model."""
    contents = {"autoencoder": fh.tiny_safetensors(1), "denoiser": fh.tiny_safetensors(2)}
    for role, data in contents.items():
        hub.add(REPO, fh.SHA_A, f"{role}.safetensors", data)
    hub.add(REPO, fh.SHA_A, "README.md", b"not ours")
    (tmp_path / "w").mkdir()
    bundled = []
    for seed, role in enumerate(("autoencoder", "denoiser"), start=10):
        data = fh.tiny_safetensors(seed)
        (tmp_path / "w" / f"{role}.safetensors").write_bytes(data)
        bundled.append(fh.file_entry(role, data, bundled=f"w/{role}.safetensors"))
    hub_files = [
        fh.file_entry(role, data, repo_id=REPO, revision=fh.SHA_A)
        for role, data in contents.items()
    ]
    registry = tmp_path / "reg.toml"
    registry.write_text(
        fh.registry_toml(
            {
                NAME: fh.model("derain", hub_files),
                "dehaze-bundled": fh.model("dehaze", bundled, guide_radius=64),
            },
            {"derain": NAME},
        ),
        encoding="utf-8",
    )
    return registry, contents


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def list_json(capsys, registry: Path) -> dict[str, dict]:
    code, out, _ = run(capsys, "models", "list", "--json", "--registry", str(registry))
    assert code == 0
    return {row["name"]: row for row in json.loads(out)}


def test_list_with_no_models(capsys, tmp_path, monkeypatch):
    empty = tmp_path / "weights.toml"
    empty.write_text("[models]\n\n[defaults]\n")
    monkeypatch.setattr("restorecli.weights.registry.builtin_registry_path", lambda: empty)
    monkeypatch.delenv("RESTORE_WEIGHTS_TOML", raising=False)
    assert json.loads(run(capsys, "models", "list", "--json")[1]) == []
    code, out, err = run(capsys, "models", "list")
    assert code == 0 and out == ""
    assert "No models are registered" in err


def test_list_shows_where_files_are(capsys, setup):
    registry, _ = setup
    rows = list_json(capsys, registry)
    assert [f["status"] for f in rows["dehaze-bundled"]["files"]] == ["bundled", "bundled"]
    assert [f["status"] for f in rows[NAME]["files"]] == ["not downloaded"] * 2
    assert rows[NAME]["default_for_task"] is True
    settings = (rows[NAME]["settings"], rows["dehaze-bundled"]["settings"])
    assert settings == ({}, {"guide_radius": 64})
    code, out, _ = run(capsys, "models", "list", "--registry", str(registry))
    assert code == 0 and NAME in out and "not downloaded" in out and "derain (default)" in out
    assert "chebyshev, 4 steps guide_radius=64" in out


def test_download_then_path_then_list(capsys, setup, hub):
    registry, contents = setup
    code, _, err = run(capsys, "models", "path", NAME, "--registry", str(registry))
    assert code == 9 and "restore models download" in err  # nothing cached yet: no download

    code, out, err = run(capsys, "models", "download", NAME, "--registry", str(registry))
    assert code == 0, err
    paths = dict(line.split("\t") for line in out.splitlines())
    assert Path(paths["denoiser"]).read_bytes() == contents["denoiser"]
    assert "downloading" in err

    code, out, _ = run(capsys, "models", "path", "derain", "--registry", str(registry))
    assert code == 0 and dict(line.split("\t") for line in out.splitlines()) == paths
    code, out, _ = run(
        capsys, "models", "path", NAME, "--role", "autoencoder", "--registry", str(registry)
    )
    assert out.strip() == paths["autoencoder"]
    assert [f["status"] for f in list_json(capsys, registry)[NAME]["files"]] == ["cached"] * 2

    gets = len(hub.gets())
    code, _, err = run(capsys, "models", "download", NAME, "--registry", str(registry))
    assert code == 0 and "already in the cache" in err and len(hub.gets()) == gets


def test_verify_reports_a_corrupt_file(capsys, setup):
    registry, _ = setup
    assert run(capsys, "models", "download", NAME, "--registry", str(registry))[0] == 0
    code, out, _ = run(capsys, "models", "verify", "--registry", str(registry))
    assert code == 0 and "MISMATCH" not in out

    out = run(capsys, "models", "path", NAME, "--role", "denoiser", "--registry", str(registry))[1]
    blob = Path(os.path.realpath(out.strip()))
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))

    code, out, err = run(capsys, "models", "verify", NAME, "--registry", str(registry))
    assert code == 9
    assert "MISMATCH" in out and f"restore models download {NAME} --force" in err

    assert run(capsys, "models", "download", NAME, "--force", "--registry", str(registry))[0] == 0
    assert run(capsys, "models", "verify", NAME, "--registry", str(registry))[0] == 0


def test_unknown_model(capsys, setup):
    registry, _ = setup
    code, _, err = run(capsys, "models", "download", "nope", "--registry", str(registry))
    assert code == 10 and "unknown model 'nope'" in err


def test_cache_info_and_clear(capsys, setup, monkeypatch):
    registry, _ = setup
    assert run(capsys, "models", "download", NAME, "--registry", str(registry))[0] == 0
    from huggingface_hub import hf_hub_download

    readme = Path(hf_hub_download(REPO, "README.md", revision=fh.SHA_A))  # a file not ours
    from restorecli.weights import chebyshev_cache_dir

    (chebyshev_cache_dir(create=True) / "table.npz").write_bytes(b"t" * 10)

    code, out, _ = run(capsys, "cache", "info", "--json", "--registry", str(registry))
    info = json.loads(out)
    assert code == 0
    assert len(info["huggingface_cache"]["files"]) == 2
    assert info["chebyshev"]["size"] == 10

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, _, err = run(capsys, "cache", "clear", "--registry", str(registry))
    assert code == 1 and "Nothing deleted" in err
    assert (chebyshev_cache_dir() / "table.npz").exists()

    code, _, err = run(capsys, "cache", "clear", "--yes", "--registry", str(registry))
    assert code == 0 and "Freed" in err
    assert not chebyshev_cache_dir().exists()
    assert readme.read_bytes() == b"not ours"
    rows = list_json(capsys, registry)
    assert [f["status"] for f in rows[NAME]["files"]] == ["not downloaded"] * 2
    assert [f["status"] for f in rows["dehaze-bundled"]["files"]] == ["bundled"] * 2


def test_bad_role_is_a_usage_error(capsys, setup):
    registry, _ = setup
    code, _, err = run(capsys, "models", "path", NAME, "--role", "vae", "--registry", str(registry))
    assert code == 2 and "--role" in err


def test_path_of_a_task_without_weights_says_the_task_has_none(capsys, setup) -> None:
    registry, _ = setup
    code, _, err = run(capsys, "models", "path", "deblur", "--registry", str(registry))
    assert code == 10
    assert "no weights are registered for task 'deblur'" in err and "unknown model" not in err


def test_verify_of_a_damaged_bundled_file_does_not_suggest_a_download(capsys, setup, tmp_path):
    registry, _ = setup
    blob = tmp_path / "w" / "denoiser.safetensors"
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    code, _, err = run(capsys, "models", "verify", "dehaze-bundled", "--registry", str(registry))
    assert code == 9
    assert "--force" not in err and "reinstall restorecli" in err
