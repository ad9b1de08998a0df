"""Output naming rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from restorecli.paths import (
    default_batch_dir,
    default_output_path,
    is_stdio,
    is_within,
    mirror_path,
    output_is_stdout,
)


def test_default_output_is_beside_the_input_with_the_task() -> None:
    assert default_output_path("dir/in.png", "derain") == Path("dir/in_derain.png")
    assert default_output_path("clip.tar.mp4", "dehaze") == Path("clip.tar_dehaze.mp4")
    assert default_output_path("in.png", "derain", suffix="-clean") == Path("in-clean.png")
    with pytest.raises(ValueError):
        default_output_path("in.png", "derain", suffix="")


def test_batch_dir_is_a_sibling_never_inside(tmp_path: Path, monkeypatch) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    assert default_batch_dir(photos, "desnow") == tmp_path / "photos_desnow"
    monkeypatch.chdir(photos)
    assert default_batch_dir(".", "desnow") == tmp_path / "photos_desnow"
    assert not is_within(default_batch_dir(".", "desnow"), photos)
    with pytest.raises(ValueError):
        default_batch_dir("/", "derain")


def test_mirror_path_keeps_the_tree() -> None:
    assert mirror_path("in/a/b.png", "in", "out") == Path("out/a/b.png")
    assert mirror_path("in/a/b.png", "in", "out", suffix="_x") == Path("out/a/b_x.png")


def test_is_within_and_stdio(tmp_path: Path) -> None:
    assert is_within(tmp_path / "a" / ".." / "a" / "b", tmp_path / "a")
    assert is_within(tmp_path, tmp_path)
    assert not is_within(tmp_path / "ab", tmp_path / "a")
    assert is_stdio("-") and not is_stdio("-x") and not is_stdio(None)


def test_stdout_for_dash_output_or_dash_input_alone() -> None:
    assert output_is_stdout("in.png", "-") and output_is_stdout("-", "-")
    assert output_is_stdout("-", None)
    assert not output_is_stdout("-", "out.png") and not output_is_stdout("in.png", None)
