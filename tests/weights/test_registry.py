"""The weights.toml schema: loading, merging, validation, task defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

# fake_hub.py is loaded by conftest.py under this name.
from restorecli_tests_fake_hub import SHA_A, file_entry, model, registry_toml, tiny_safetensors

from restorecli.errors import ModelNotAvailableError, WeightsError
from restorecli.weights import builtin_registry_path, load_registry, sha256_file
from restorecli.weights.registry import REGISTRY_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]


def hub_files(**hub) -> list[dict]:
    hub = {"repo_id": "someone/restore-test", "revision": SHA_A, **hub}
    return [
        file_entry("autoencoder", tiny_safetensors(1), **hub),
        file_entry("denoiser", tiny_safetensors(2), filename="denoiser.safetensors", **hub),
    ]


def write(tmp_path: Path, models: dict, defaults: dict | None = None) -> Path:
    path = tmp_path / "my-weights.toml"
    path.write_text(registry_toml(models, defaults), encoding="utf-8")
    return path


def test_top_level_weights_toml_is_the_packaged_registry():
    top = REPO_ROOT / "weights.toml"
    assert top.exists(), "the issue requires weights.toml at the repository top level"
    assert top.resolve() == REPO_ROOT / "src" / "restorecli" / "data" / "weights.toml"
    # Installed editable or not, the package reads the same registry.
    assert builtin_registry_path().read_bytes() == top.read_bytes()


def test_shipped_registry_is_valid_and_its_bundled_files_match():
    reg = load_registry(include_builtin=True)
    assert reg.sources == (builtin_registry_path(),)
    for entry in reg.models.values():
        for f in entry.files:
            if f.bundled is not None and f.bundled.exists():
                assert f.bundled.stat().st_size == f.size, f"{entry.name} {f.role}"
                assert sha256_file(f.bundled) == f.sha256, f"{entry.name} {f.role}"


def test_user_registry_adds_models_and_defaults(tmp_path):
    path = write(tmp_path, {"derain-test": model("derain", hub_files())}, {"derain": "derain-test"})
    reg = load_registry(path)
    entry = reg.get("derain-test")
    assert entry.task == "derain"
    assert entry.default_init == "chebyshev" and entry.default_steps == 4
    assert entry.settings == {}  # optional keys: the config's own defaults
    assert entry.file("denoiser").repo_id == "someone/restore-test"
    assert entry.file("denoiser").revision == SHA_A
    assert reg.defaults["derain"] == "derain-test"  # the user's default wins over the shipped one
    assert reg.sources[-1] == path.resolve()


def test_registry_from_environment_variable(tmp_path, monkeypatch):
    path = write(tmp_path, {"dehaze-test": model("dehaze", hub_files())})
    monkeypatch.setenv(REGISTRY_ENV, str(path))
    assert "dehaze-test" in load_registry().models


def test_later_registry_replaces_same_name(tmp_path):
    first = write(tmp_path, {"m": model("derain", hub_files())})
    second = tmp_path / "second.toml"
    second.write_text(registry_toml({"m": model("dehaze", hub_files())}), encoding="utf-8")
    # The builtin-then-user order: the user's file wins.
    reg = load_registry(second)
    assert reg.get("m").task == "dehaze"
    assert load_registry(first).get("m").task == "derain"


def test_bundled_paths_are_relative_to_the_registry_folder(tmp_path):
    files = [
        file_entry("autoencoder", b"x", bundled="w/ae.safetensors"),
        file_entry("denoiser", b"y", bundled="w/dn.safetensors"),
    ]
    reg = load_registry(write(tmp_path, {"m": model("derain", files)}), include_builtin=False)
    assert reg.get("m").file("autoencoder").bundled == tmp_path.resolve() / "w" / "ae.safetensors"


def test_missing_registry_file_is_an_error(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_registry(tmp_path / "nope.toml")


def test_optional_settings_are_read_by_their_declarations(tmp_path):
    table = model(
        "dehaze", hub_files(), guide_radius=48, guide_eps=1, fidelity=0.75, requantize="vr"
    )
    entry = load_registry(write(tmp_path, {"m": table}), include_builtin=False).get("m")
    assert entry.settings == {
        "guide_radius": 48, "guide_eps": 1.0, "fidelity": 0.75, "requantize": "vr"
    }  # fmt: skip
    assert isinstance(entry.settings["guide_eps"], float)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"default_init": "median"}, "default_init"),
        ({"default_steps": 0}, "default_steps"),
        ({"guide_radius": -1}, "guide_radius"),
        ({"guide_radius": 1.5}, "guide_radius"),
        ({"guide_eps": 0}, "guide_eps"),
        ({"guide_eps": "small"}, "guide_eps"),
        ({"fidelity": 1.5}, "fidelity"),
        ({"requantize": "soft"}, "requantize"),
        ({"colour": "red"}, "unknown key"),
        ({"licence": ""}, "licence"),
    ],
)
def test_invalid_model_fields_are_rejected(tmp_path, change, message):
    path = write(tmp_path, {"m": model("derain", hub_files(), **change)})
    with pytest.raises(WeightsError, match=message):
        load_registry(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"revision": "main"}, "40-hex commit"),
        ({"revision": "A" * 40}, "40-hex commit"),
        ({"repo_id": "no-owner"}, "repo_id"),
        ({"sha256": "abc"}, "sha256"),
        ({"size": -1}, "size"),
        ({"bundled": "../outside.safetensors"}, "relative path"),
        ({"role": "encoder"}, "role"),
    ],
)
def test_invalid_file_fields_are_rejected(tmp_path, change, message):
    files = hub_files()
    files[0].update(change)
    with pytest.raises(WeightsError, match=message):
        load_registry(write(tmp_path, {"m": model("derain", files)}))


def test_file_needs_a_source(tmp_path):
    files = hub_files()
    del files[1]["repo_id"], files[1]["revision"]
    with pytest.raises(WeightsError, match="needs 'bundled' or 'repo_id'"):
        load_registry(write(tmp_path, {"m": model("derain", files)}))


def test_each_role_exactly_once(tmp_path):
    files = hub_files()
    files[1]["role"] = "autoencoder"
    with pytest.raises(WeightsError, match="one file per role"):
        load_registry(write(tmp_path, {"m": model("derain", files)}))


def test_default_must_name_a_model_of_that_task(tmp_path):
    models = {"m": model("derain", hub_files())}
    with pytest.raises(WeightsError, match="not a registered model"):
        load_registry(write(tmp_path, models, {"derain": "other"}))
    with pytest.raises(WeightsError, match="task is 'derain'"):
        load_registry(write(tmp_path, models, {"dehaze": "m"}))


def test_invalid_toml_is_reported_with_its_path(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[models\n", encoding="utf-8")
    with pytest.raises(WeightsError, match="not valid TOML"):
        load_registry(path)


def test_default_model_for_task(tmp_path):
    from restorecli.weights import default_model_for_task

    models = {
        "derain-a": model("derain", hub_files()),
        "derain-b": model("derain", hub_files()),
        "dehaze-a": model("dehaze", hub_files()),
    }
    path = write(tmp_path, models, {"derain": "derain-b"})
    assert default_model_for_task("derain", registry=path) == "derain-b"
    alone = load_registry(path, include_builtin=False)  # no shipped dehaze default in the way
    assert default_model_for_task("dehaze", registry=alone) == "dehaze-a"  # first registered
    # Without the shipped registry, so the list of tasks is exactly this file's.
    reg = load_registry(path, include_builtin=False)
    with pytest.raises(ModelNotAvailableError, match=r"\(tasks with weights: dehaze, derain\)"):
        default_model_for_task("desnow", registry=reg)
    with pytest.raises(ModelNotAvailableError, match="no task has weights yet"):
        default_model_for_task("desnow", registry=load_registry(None, include_builtin=False))


def test_unknown_model_names_the_known_ones(tmp_path):
    reg = load_registry(write(tmp_path, {"derain-a": model("derain", hub_files())}))
    with pytest.raises(ModelNotAvailableError, match="derain-a"):
        reg.get("derain-z")


def test_validated_steps_are_read_and_checked(tmp_path):
    table = model("derain", hub_files(), validated_steps=[1, 2])
    entry = load_registry(write(tmp_path, {"m": table}), include_builtin=False).get("m")
    assert entry.validated_steps == (1, 2)
    for bad in ([0], [1.5], "1"):
        path = write(tmp_path, {"m": model("derain", hub_files(), validated_steps=bad)})
        with pytest.raises(WeightsError, match="validated_steps"):
            load_registry(path, include_builtin=False)


def detector_model(**extra) -> dict:
    files = [file_entry("detector", tiny_safetensors(3), bundled="det.safetensors")]
    return {"task": "detect", "description": "d", "licence": "MIT", **extra, "files": files}


def test_a_detector_has_one_file_and_no_sampling_settings(tmp_path):
    path = write(tmp_path, {"det": detector_model()}, {"detect": "det"})
    reg = load_registry(path, include_builtin=False)
    entry = reg.get("det")
    assert entry.default_init is None and entry.default_steps is None
    assert [f.role for f in entry.files] == ["detector"]
    assert reg.default_for("detect") == "det"
    with pytest.raises(WeightsError, match="no sampling settings"):
        load_registry(write(tmp_path, {"det": detector_model(fidelity=1.0)}), include_builtin=False)
    two = detector_model()
    two["files"].append(file_entry("denoiser", tiny_safetensors(4), bundled="d.safetensors"))
    with pytest.raises(WeightsError, match="one file, of role 'detector'"):
        load_registry(write(tmp_path, {"det": two}), include_builtin=False)


def test_only_a_detect_model_has_a_detector_file(tmp_path):
    files = [*hub_files(), file_entry("detector", tiny_safetensors(3), bundled="x.safetensors")]
    with pytest.raises(WeightsError, match="only a model of task 'detect'"):
        load_registry(write(tmp_path, {"m": model("derain", files)}), include_builtin=False)
