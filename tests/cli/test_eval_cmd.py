"""`restore eval` through the real command line, on tiny weights and tiny paired folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from restorecli.cli import app

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "pairs"
    for sub in ("input", "target"):
        (root / sub).mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png"):
        clean = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(clean).save(root / "target" / name)
        Image.fromarray(noisy).save(root / "input" / name)
    return root


def run(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


def test_sweep_writes_csv_json_md_and_sheets(pairs: Path, tiny_weights: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    result = run(
        "--task", "derain", str(pairs), "--weights", str(tiny_weights), "--device", "cpu",
        "--init", "zq,chebyshev", "--steps", "1,2",
        "--csv", str(out / "r.csv"), "--json", str(out / "r.json"), "--md", str(out / "r.md"),
        "--save", str(out / "saved"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PSNR" in result.stdout and "chebyshev" in result.stdout

    rows = list(csv.DictReader((out / "r.csv").open()))
    assert len(rows) == 4 * (3 + 1)  # 4 settings x (3 images + the mean)
    settings = {(r["init"], r["steps"]) for r in rows}
    assert settings == {("zq", "1"), ("zq", "2"), ("chebyshev", "1"), ("chebyshev", "2")}
    assert {r["image"] for r in rows} == {"a.png", "b.png", "c.png", "mean"}
    assert float(rows[0]["input_psnr"]) > float(rows[0]["psnr"])  # random weights lose

    data = json.loads((out / "r.json").read_text())
    assert data["task"] == "derain" and data["images"] == 3 and len(data["settings"]) == 4
    first = data["settings"][0]
    assert set(first) >= {"config", "mean", "input_mean", "images", "setting"}
    assert set(first["mean"]) == {"psnr", "ssim", "psnr_y", "ssim_y"}
    assert (
        len(data["weights"]) == 1 and len(data["weights"][0]["files"]["denoiser"]["sha256"]) == 64
    )
    assert "--init zq,chebyshev" in data["command"]

    md = (out / "r.md").read_text()
    assert (
        "| init | steps | PSNR |" in md
        and data["weights"][0]["files"]["autoencoder"]["sha256"] in md
    )

    saved = sorted(p.name for p in (out / "saved").iterdir())
    assert saved == ["init-chebyshev_steps-1", "init-chebyshev_steps-2", "init-zq_steps-1",
                     "init-zq_steps-2"]  # fmt: skip
    one = out / "saved" / "init-zq_steps-1"
    assert {p.name for p in one.iterdir()} == {
        "a.png",
        "b.png",
        "c.png",
        "sheets",
        "contact_sheet.png",
    }
    assert len(list((one / "sheets").iterdir())) == 3


def test_single_setting_limit_and_stdout_json(pairs: Path, tiny_weights: Path, tmp_path: Path):
    result = run(
        "-t", "dehaze", str(pairs), "--weights", str(tiny_weights), "--device", "cpu",
        "--limit", "1", "--json", "-", "--save", str(tmp_path / "s"), "--crop-border", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["images"] == 1 and data["crop_border"] == 2
    assert [i["image"] for i in data["settings"][0]["images"]] == ["a.png"]
    assert (tmp_path / "s" / "a.png").is_file() and (tmp_path / "s" / "contact_sheet.png").is_file()
    assert "a.png" in result.stderr  # the per-image table went to stderr


def test_missing_target_folder(pairs: Path, tiny_weights: Path) -> None:
    for f in (pairs / "target").iterdir():
        f.unlink()
    (pairs / "target").rmdir()
    result = run("--task", "derain", str(pairs), "--weights", str(tiny_weights))
    assert result.exit_code == 3
    assert result.stderr.startswith("restore: error:") and "target: no such folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_mismatched_names(pairs: Path, tiny_weights: Path) -> None:
    (pairs / "target" / "b.png").rename(pairs / "target" / "z.png")
    result = run("--task", "derain", str(pairs), "--weights", str(tiny_weights))
    assert result.exit_code == 3 and "no target for b.png" in result.stderr


def test_existing_output_is_refused_before_work(pairs: Path, tiny_weights: Path, tmp_path: Path):
    existing = tmp_path / "r.csv"
    existing.write_text("keep")
    result = run(
        "--task", "derain", str(pairs), "--weights", str(tiny_weights), "--csv", str(existing)
    )
    assert result.exit_code == 7 and "--overwrite" in result.stderr
    assert existing.read_text() == "keep"


@pytest.mark.parametrize(
    "bad",
    [["--init", "zq,nope"], ["--steps", "0"], ["--lam", "2"], ["--task", "colour"],
     ["--precision", "fp8"], ["--tile", "32"], ["--ensemble", "0"]],
)  # fmt: skip
def test_bad_values_are_usage_errors(pairs: Path, bad: list[str]) -> None:
    args = ["--task", "derain", str(pairs), *bad] if bad[0] != "--task" else [*bad, str(pairs)]
    result = run(*args)
    assert result.exit_code == 2, result.output


def test_command_line_lists_the_given_options_in_a_fixed_order() -> None:
    from restorecli.cli.eval_cmd import _command

    given = {"init": "zq,lerp", "lam": None, "tile_overlap": "8", "weights": "my model"}
    line = _command("derain", Path("data/set"), given, "cpu", 3, 4)
    assert line == (
        "restore eval --task derain data/set --init zq,lerp --tile-overlap 8 "
        "--weights 'my model' --device cpu --limit 3 --crop-border 4"
    )
    assert _command("derain", Path("d"), {"init": None}, "auto", None, 0) == (
        "restore eval --task derain d"
    )


def test_autoencoder_only_scores_the_reconstruction_of_clean_images(
    pairs: Path, tiny_weights: Path, tmp_path: Path
):
    from restorecli.evaluate.levels import autoencode
    from restorecli.evaluate.metrics import image_metrics, quantize
    from restorecli.pipeline import Restorer

    out = tmp_path / "r.json"
    base = ["--task", "derain", "--weights", str(tiny_weights), "--device", "cpu"]
    # A folder of clean images with no input/: the target/ side of a paired folder, or a plain one.
    result = run(*base, str(pairs / "target"), "--autoencoder-only", "--json", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert "--autoencoder-only" in data["command"] and data["images"] == 3
    (setting,) = data["settings"]
    assert setting["config"]["init"] == "zq"  # the plain VQ reconstruction by default

    restorer = Restorer.from_pretrained(tiny_weights, device="cpu")
    image = np.asarray(Image.open(pairs / "target" / "a.png"), np.float32) / 255
    expected = image_metrics(quantize(autoencode(restorer, image, "zq"), 8), image)
    first = setting["images"][0]
    assert first["image"] == "a.png"
    assert abs(first["psnr"] - expected.psnr) < 1e-6

    # A paired folder is read from its target/ side; --init picks the decoded state.
    result = run(*base, str(pairs), "--autoencoder-only", "--init", "zq,chebyshev", "--md", "-")
    assert result.exit_code == 0, result.output
    assert "chebyshev" in result.stdout and "zq" in result.stdout
    assert "input PSNR" not in result.stdout  # the input is the target: no columns for it


@pytest.mark.parametrize(
    "flag", ["--steps", "--ensemble", "--seed", "--kappa", "--guide-radius", "--strength"]
)
def test_autoencoder_only_refuses_diffusion_options(pairs: Path, tiny_weights: Path, flag: str):
    result = run("--task", "derain", str(pairs), "--autoencoder-only", flag, "1")
    assert result.exit_code == 2
    words = " ".join(w for w in result.output.split() if w != "│")  # unwrap Rich's error box
    assert "no diffusion runs" in words
