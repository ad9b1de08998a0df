"""``restore degrade``: files, folders, pairs, seeds, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from restorecli.cli.degrade_cmd import register
from restorecli.degrade import degrade
from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    OutputExistsError,
    OutputFormatError,
    RestoreError,
)


@pytest.fixture
def cli():
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Keep ``degrade`` a subcommand (Typer flattens single-command apps)."""

    register(app)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["degrade", *args])

    return run


def make_image(path, h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def load(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_writes_one_file_matching_the_api(cli, tmp_path):
    src = tmp_path / "in.png"
    arr = make_image(src)
    out = tmp_path / "out.png"
    result = cli("derain", str(src), "-o", str(out), "--seed", "5", "--severity", "0.7")
    assert result.exit_code == 0, result.output
    expected = degrade("derain", arr.astype(np.float32) / 255, seed=5, severity=0.7)
    np.testing.assert_array_equal(load(out), (expected * 255 + 0.5).astype(np.uint8))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_refuses_to_overwrite_unless_asked(cli, tmp_path):
    src = tmp_path / "in.png"
    make_image(src)
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    result = cli("dehaze", str(src), "-o", str(out), "--seed", "1")
    assert isinstance(result.exception, OutputExistsError)
    assert out.read_bytes() == b"precious"
    result = cli("dehaze", str(src), "-o", str(out), "--seed", "1", "--overwrite")
    assert result.exit_code == 0, result.output
    assert load(out).shape == (24, 32, 3)


def test_never_replaces_the_input(cli, tmp_path):
    src = tmp_path / "in.png"
    make_image(src)
    before = src.read_bytes()
    result = cli("jpeg", str(src), "-o", str(src), "--overwrite")
    assert isinstance(result.exception, OutputExistsError)
    assert src.read_bytes() == before


def test_folder_with_pairs_is_deterministic_per_name(cli, tmp_path):
    src = tmp_path / "clean"
    src.mkdir()
    arr = make_image(src / "a.png")
    Image.fromarray(arr).save(src / "b.png")  # same pixels, different name
    (src / "notes.txt").write_text("not an image")
    out1, out2 = tmp_path / "set1", tmp_path / "set2"
    for out in (out1, out2):
        result = cli("denoise", str(src), "-o", str(out), "--seed", "3", "--pairs")
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out1 / "input").iterdir()) == ["a.png", "b.png"]
    np.testing.assert_array_equal(load(out1 / "target" / "a.png"), arr)
    np.testing.assert_array_equal(load(out1 / "input" / "a.png"), load(out2 / "input" / "a.png"))
    # Each file gets its own seed: identical pixels under two names degrade differently.
    assert not np.array_equal(load(out1 / "input" / "a.png"), load(out1 / "input" / "b.png"))


def test_folder_keeps_going_past_a_broken_file(cli, tmp_path):
    src = tmp_path / "clean"
    src.mkdir()
    make_image(src / "good.png")
    (src / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out = tmp_path / "out"
    result = cli("deblur", str(src), "-o", str(out), "--seed", "0")
    assert isinstance(result.exception, RestoreError)
    assert (out / "good.png").exists() and not (out / "bad.png").exists()


def test_exif_orientation_is_applied(cli, tmp_path):
    src = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(src, exif=exif.tobytes())
    out = tmp_path / "out.png"
    assert cli("jpeg", str(src), "-o", str(out), "--seed", "0").exit_code == 0
    assert load(out).shape == (40, 20, 3)


def test_user_errors(cli, tmp_path):
    src = tmp_path / "in.png"
    make_image(src)
    assert cli("defog", str(src), "-o", str(tmp_path / "x.png")).exit_code == 2
    assert cli("derain", str(src), "-o", str(tmp_path / "x.png"), "--severity", "2").exit_code == 2
    missing = cli("derain", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.png"))
    assert isinstance(missing.exception, InputNotFoundError)
    wrong_type = cli("derain", str(src), "-o", str(tmp_path / "x.xyz"))
    assert isinstance(wrong_type.exception, OutputFormatError)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert isinstance(cli("derain", str(empty), "-o", str(tmp_path / "y.png")).exception,
                      CorruptInputError)  # fmt: skip
    assert list(tmp_path.glob("x.*")) == [] and not (tmp_path / "y.png").exists()


def test_16bit_grey_input_is_scaled_not_saturated(cli, tmp_path):
    src = tmp_path / "grey16.png"
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(src)
    out = tmp_path / "out.png"
    assert cli("jpeg", str(src), "-o", str(out), "--severity", "0").exit_code == 0
    assert abs(int(load(out).mean()) - 128) <= 2


def test_set_fixes_settings_and_refuses_unknown_ones(cli, tmp_path):
    src = tmp_path / "clean.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(src)
    args = ["denoise", str(src), "--seed", "0", "--set", "kind=gaussian"]
    result = cli(*args, "--set", "sigma=25/255", "-o", str(tmp_path / "a.png"))
    assert result.exit_code == 0, result.output
    noise = np.asarray(Image.open(tmp_path / "a.png")).astype(float) - 128
    assert noise.std() == pytest.approx(25, rel=0.1)
    bad = cli(*args, "--set", "volume=3", "-o", str(tmp_path / "b.png"))
    assert bad.exit_code == 2 and "denoise has no setting 'volume'" in bad.output
    assert not (tmp_path / "b.png").exists()
