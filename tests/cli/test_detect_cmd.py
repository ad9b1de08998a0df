"""`restore detect FILE...` through the real command line, with tiny detectors made here."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from restorecli.cli import app

runner = CliRunner()


def photo(path, value=120):
    Image.fromarray(np.full((20, 24, 3), value, np.uint8)).save(path)
    return path


def test_lines_and_json_name_the_tasks_in_run_order(tmp_path, detector_file):
    det = detector_file({"dehaze": 0.8, "denoise": 0.6})
    a, b = photo(tmp_path / "a.png"), photo(tmp_path / "b.png", 30)
    result = runner.invoke(app, ["detect", str(a), str(b), "--detector", str(det)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{a}: denoise (0.60), dehaze (0.80)", f"{b}: " + (
        "denoise (0.60), dehaze (0.80)")]  # fmt: skip
    result = runner.invoke(app, ["detect", str(a), "--detector", str(det), "--json"])
    rows = json.loads(result.stdout)
    assert rows[0]["path"] == str(a) and rows[0]["tasks"] == ["denoise", "dehaze"]
    assert rows[0]["confidence"]["dehaze"] == 0.8 and len(rows[0]["scores"]) == 6


def test_clean_is_an_empty_task_list(tmp_path, detector_file):
    det = detector_file({"deblur": 0.2})
    a = photo(tmp_path / "a.png")
    assert (
        f"{a}: clean (highest: deblur 0.20)"
        in runner.invoke(app, ["detect", str(a), "--detector", str(det)]).stdout
    )
    rows = json.loads(
        runner.invoke(app, ["detect", str(a), "--detector", str(det), "--json"]).stdout
    )
    assert rows[0]["tasks"] == []
    high = runner.invoke(app, ["detect", str(a), "--detector", str(det), "--threshold", "0.1"])
    assert "deblur (0.20)" in high.stdout


def test_a_bad_file_is_named_and_the_others_go_on(tmp_path, detector_file):
    det = str(detector_file({}))
    a = photo(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    result = runner.invoke(
        app, ["detect", str(tmp_path / "bad.png"), str(a), "--detector", det, "--json"]
    )
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert rows[0]["tasks"] is None and "error" in rows[0] and rows[1]["tasks"] == []
    assert result.stderr.startswith("restore: error: ")
    single = runner.invoke(app, ["detect", str(tmp_path / "missing.png"), "--detector", det])
    assert single.exit_code == 3 and "restore: error:" in single.stderr


def test_detect_reads_stdin_and_videos(tmp_path, detector_file):
    det = str(detector_file({"derain": 0.9}))
    data = photo(tmp_path / "a.png").read_bytes()
    result = runner.invoke(app, ["detect", "-", "--detector", det], input=data)
    assert result.exit_code == 0 and result.stdout == "-: derain (0.90)\n"
