"""benchmarks/bench_engines.py: the folder it builds, and a run of both engines on a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from restorecli.media.video import probe_video


@pytest.fixture(scope="module")
def be(load_repo_script):
    return load_repo_script("benchmarks/bench_engines.py")


def test_the_folder_has_photos_and_a_video_with_keyframes(be, tmp_path: Path) -> None:
    be.make_folder(
        tmp_path, images=2, photos=None, video_frames=8, frames=None, gop=4, size=(32, 24)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000.png", "001.png", "clip.mp4"]
    info = probe_video(tmp_path / "clip.mp4", count_frames=True)
    assert (info.frames, info.width, info.height) == (8, 32, 24)


@pytest.mark.usefixtures("ray_cluster")
def test_main_times_both_engines_on_the_same_folder(be, tiny_weights: Path, capsys) -> None:
    args = ["--weights", str(tiny_weights), "--steps", "2", "--images", "2", "--size", "32x24"]
    args += ["--video-frames", "12", "--gop", "4", "--segment-frames", "4", "--workers", "2"]
    assert be.main([*args, "--engines", "local1,ray"]) == 0
    out = capsys.readouterr().out
    assert "| local engine, --threads 1 |" in out and "| Ray engine, --workers 2 |" in out
    assert "ray: note: restored in 3 segments cut at keyframes" in out
    assert "largest difference, ray vs local1: photos 0 levels" in out  # within one level
    assert "load average (1, 5, 15 min): before " in out
