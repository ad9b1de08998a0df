"""benchmarks/video_flicker.py: the flicker measure, the panning clip, and a run on a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def vf(load_repo_script):
    return load_repo_script("benchmarks/video_flicker.py")


def test_flicker_counts_mean_luma_changes_in_levels(vf) -> None:
    steady = np.full((4, 8, 8, 3), 0.5, np.float32)
    assert vf.flicker(steady) == 0.0
    pumping = steady.copy()
    pumping[1::2] += 2 / 255  # every other frame two levels brighter
    assert vf.flicker(pumping) == pytest.approx(2.0, abs=1e-3)


def test_panning_clip_slides_right(vf) -> None:
    image = np.arange(10 * 30 * 3, dtype=np.float32).reshape(10, 30, 3)
    clip = vf.panning_clip(image, (6, 12), frames=4, step=5)
    assert clip.shape == (4, 6, 12, 3)
    np.testing.assert_array_equal(clip[3], image[:6, 15:27])
    with pytest.raises(ValueError, match="too small"):
        vf.panning_clip(image, (6, 12), frames=5, step=5)


def test_main_prints_a_row_per_weight(vf, tiny_weights: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "clean"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)).save(folder / name)
    args = [str(folder), "--task", "dehaze", "--weights", str(tiny_weights), "--temporal", "0,0.8",
            "--frames", "3", "--step", "4", "--size", "32x48"]  # fmt: skip
    assert vf.main(args) == 0
    out = capsys.readouterr().out
    assert "2 clips of 3 frames, 32x48" in out and "clean clips: flicker" in out
    rows = [line for line in out.splitlines() if line.startswith(("0 |", "0.8 |"))]
    assert len(rows) == 2
