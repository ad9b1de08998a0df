"""`restore batch --engine ray` through the command line: the local engine's summary, JSON and
exit codes on a real local Ray (2 CPUs, one for the session), and its usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from restorecli.cli import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i, name in enumerate(("a.png", "b.png", "sub/c.png")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(i)
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(root / name)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 40)
    (root / "readme.txt").write_text("not media")
    return root


def test_the_ray_engine_without_ray_says_how_to_install_it(runner, photos, monkeypatch) -> None:
    monkeypatch.setattr("restorecli.jobs.ray_engine.ray_installed", lambda: False)
    result = runner.invoke(app, ["batch", str(photos), "-t", "derain", "--engine", "ray"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("restore: error: ")
    assert 'pip install "restorecli[ray]"' in lines[0]
    result = runner.invoke(app, ["batch", str(photos), "-t", "derain", "--workers", "2"])
    assert result.exit_code == 2 and "only --engine ray" in result.stderr
    assert not (photos.parent / "photos_derain").exists()


@pytest.mark.usefixtures("ray_cluster")
def test_batch_on_ray_reports_as_the_local_engine(runner, tiny_weights, photos, tmp_path) -> None:
    model = ["--weights", str(tiny_weights), "--device", "cpu", "--steps", "2", "--init", "zq"]
    reports = {}
    for engine in ("local", "ray"):
        args = ["batch", str(photos), "-t", "derain", "-r", "-o", str(tmp_path / engine)]
        result = runner.invoke(app, [*args, *model, "--engine", engine, "--json"])
        assert result.exit_code == 1, result.stderr  # corrupt.png
        reports[engine] = json.loads(result.stdout)
        for entry in reports[engine]["files"]:
            entry["seconds"] = 0
            entry["output"] = entry["output"] and Path(entry["output"]).name
        del reports[engine]["output"]
    assert reports["ray"] == reports["local"]
    assert reports["ray"]["counts"] == {
        "restored": 3, "kept": 0, "skipped": 0, "ignored": 1, "failed": 1,
    }  # fmt: skip

    args = ["batch", str(photos), "-t", "derain", "-r", "-o", str(tmp_path / "ray"), *model]
    resumed = runner.invoke(app, [*args, "--engine", "ray", "--skip-existing", "--workers", "1"])
    assert resumed.exit_code == 1
    assert "0 restored, 3 skipped, 1 ignored, 1 failed" in resumed.stderr
    quiet = runner.invoke(app, [*args, "--engine", "ray", "--skip-existing", "-q"])
    lines = quiet.stderr.splitlines()
    assert quiet.exit_code == 1 and len(lines) == 1
    assert lines[0].startswith(f"restore: error: {photos / 'corrupt.png'}")


@pytest.mark.usefixtures("ray_cluster")
def test_auto_on_ray_keeps_a_photo_it_judges_clean(runner, tmp_path, detector_file) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(root / "a.png")
    det = detector_file({})  # every task at 0.01: clean
    args = ["batch", str(root), "-t", "auto", "--detector", str(det), "--engine", "ray"]
    result = runner.invoke(app, [*args, "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"]["kept"] == 1 and report["files"][0]["tasks"] == []
    assert (tmp_path / "photos_auto" / "a.png").read_bytes() == (root / "a.png").read_bytes()
