"""`restore bench` through the real command line, on tiny weights and tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from restorecli.cli import app
from restorecli.evaluate.speed import BENCH_STAGES

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def run(*args: str):
    return CliRunner().invoke(app, ["bench", *args])


def test_bench_json_keys(tiny_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = run(
        "--weights", str(tiny_weights), "--device", "cpu", "--sizes", "32x24,16",
        "--steps", "1,2", "--repeats", "1", "--frames", "2", "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "images/s" in result.stdout  # the table
    data = json.loads(out.read_text())
    assert set(data) >= {"task", "weights", "environment", "config", "rows", "command", "repeats"}
    assert data["environment"]["device"] == "cpu"
    assert len(data["weights"]["files"]["autoencoder"]["sha256"]) == 64
    assert [(r["width"], r["height"], r["steps"]) for r in data["rows"]] == [
        (16, 16, 1),
        (16, 16, 2),
        (32, 24, 1),
        (32, 24, 2),
    ]
    for row in data["rows"]:
        assert set(row) >= {"images_per_s", "frames_per_s", "seconds_per_image", "stages",
                            "peak_rss_mib", "peak_cuda_mib"}  # fmt: skip
        assert set(row["stages"]) == set(BENCH_STAGES)
        assert row["images_per_s"] > 0 and row["frames_per_s"] > 0
    assert data["command"] == (
        f"restore bench --weights {tiny_weights} --sizes 32x24,16 --steps 1,2 --repeats 1 "
        f"--frames 2 --device cpu --json {out}"
    )


def test_bench_json_to_stdout(tiny_weights: Path) -> None:
    result = run(
        "--weights", str(tiny_weights), "--device", "cpu", "--sizes", "16x16", "--steps", "1",
        "--repeats", "1", "--frames", "0", "--json", "-", "--init", "zq",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"][0]["frames_per_s"] is None and data["config"]["init"] == "zq"


@pytest.mark.parametrize(
    "bad", [["--sizes", "big"], ["--steps", "0"], ["--repeats", "0"], ["--task", "x"]]
)
def test_bad_values_are_usage_errors(bad: list[str]) -> None:
    assert run(*bad).exit_code == 2


def test_existing_json_refused(tiny_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    out.write_text("{}")
    result = run("--weights", str(tiny_weights), "--sizes", "16", "--json", str(out))
    assert result.exit_code == 7 and out.read_text() == "{}"


def test_missing_default_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from restorecli.errors import ModelNotAvailableError

    def no_model(*args, **kwargs):
        raise ModelNotAvailableError("no weights are registered for task 'derain'")

    monkeypatch.setattr("restorecli.jobs.restorer.load_restorer", no_model)
    result = run("--sizes", "16", "--steps", "1")
    assert result.exit_code == 10 and "no weights are registered" in result.stderr


def test_inconsistent_options_fail_before_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_load(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr("restorecli.jobs.restorer.load_restorer", no_load)
    result = run("--sizes", "16", "--steps", "1", "--tile", "32", "--offline")
    assert result.exit_code == 2 and "--tile must be 0 (off) or >= 64" in result.output


def test_fidelity_weights_are_timed_in_one_run(make_tiny_models, tmp_path: Path) -> None:
    from restorecli.models.fidelity import FidelityConfig, FidelityNet
    from restorecli.pipeline import save_pretrained_folder

    ae, unet = make_tiny_models()
    fid = FidelityNet(FidelityConfig(ae.config.channels, ae.config.half_channels, 8))
    folder = save_pretrained_folder(tmp_path / "w", ae, unet, fidelity=fid)
    out = tmp_path / "b.json"
    result = run(
        "--weights", str(folder), "--device", "cpu", "--sizes", "16", "--steps", "1",
        "--repeats", "1", "--frames", "0", "--fidelity", "0,1", "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["fidelity"] for r in json.loads(out.read_text())["rows"]] == [0.0, 1.0]
    assert "fidelity" in result.stdout
    nothing = run("--weights", str(tmp_path / "w"), "--fidelity", "2", "--sizes", "16")
    assert nothing.exit_code == 2
