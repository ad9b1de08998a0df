"""Loading the model with the user's overrides, checking them first, describing it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types

import pytest

from restorecli.jobs.restorer import check_overrides, describe_restorer, load_restorer

from .fakes import FakeConfig, FakeRestorer


def test_load_restorer_keeps_model_defaults_unless_overridden(monkeypatch) -> None:
    seen = {}

    class Restorer:
        @classmethod
        def from_pretrained(cls, name, **kwargs):
            seen.update(name=name, **kwargs)
            r = FakeRestorer()
            r.config = FakeConfig(init="lerp", steps=6)  # the model's own defaults
            return r

    monkeypatch.setitem(
        sys.modules, "restorecli.pipeline", types.SimpleNamespace(Restorer=Restorer)
    )
    r = load_restorer(None, task="derain", device="cpu", offline=True)
    assert r.config == FakeConfig(init="lerp", steps=6)
    assert seen == {"name": None, "task": "derain", "device": "cpu", "precision": "fp32",
                    "offline": True}  # fmt: skip
    r = load_restorer("w.safetensors", task="derain", overrides={"steps": 2, "seed": None})
    assert r.config == FakeConfig(init="lerp", steps=2, seed=None)
    assert seen["name"] == "w.safetensors"


def test_check_overrides_checks_the_declared_config_without_torch() -> None:
    check_overrides({"tile": 0, "fidelity": 0.5})
    with pytest.raises(ValueError, match="--tile"):
        check_overrides({"tile": 32})
    with pytest.raises(ValueError, match="--requantize"):
        check_overrides({"requantize": "soft"})
    code = (  # the whole jobs layer, as the command line imports it
        "import sys, restorecli.jobs.folders, restorecli.jobs.restorer as r; "
        "r.check_overrides({'tile': 0}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_describe_restorer() -> None:
    restorer = FakeRestorer()
    restorer.name, restorer.device = "derain-small", "cpu"
    assert describe_restorer(restorer) == {
        "model": "derain-small",
        "device": "cpu",
        "config": dataclasses.asdict(FakeConfig()),
    }
    restorer.name, restorer.device, restorer.config = None, None, None
    assert describe_restorer(restorer) == {"model": None, "device": None, "config": None}
