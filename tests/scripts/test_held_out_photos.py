"""scripts/held_out_photos.py: exactly the held-out split, downscaled, flat PNG names."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from restorecli.train.data import split_images


def test_writes_the_held_out_photos(tmp_path: Path, monkeypatch, capsys, load_repo_script) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "photos"
    for i in range(12):
        folder = data / ("sub" if i % 3 else "")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (rng.random((60, 90, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.jpg")
    out = tmp_path / "held_out"
    module = load_repo_script("scripts/held_out_photos.py")
    monkeypatch.setattr(
        sys, "argv", ["x", str(data), str(out), "--max-side", "45", "--val-fraction", "0.3"]
    )
    module.main()

    _, held_out = split_images(data, 0.3)
    expected = {
        p.relative_to(data).with_suffix(".png").as_posix().replace("/", "__") for p in held_out
    }
    assert held_out and {p.name for p in out.iterdir()} == expected
    assert all(Image.open(p).size == (45, 30) for p in out.iterdir())
    assert f"{len(held_out)} held-out photos" in capsys.readouterr().out


def test_from_training_copies_evenly_spaced_training_photos(
    tmp_path: Path, monkeypatch, capsys, load_repo_script
) -> None:
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(20):
        Image.fromarray(np.full((20, 30, 3), i * 10, np.uint8)).save(data / f"p{i:02d}.png")
    out = tmp_path / "training"
    module = load_repo_script("scripts/held_out_photos.py")
    argv = ["x", str(data), str(out), "--val-fraction", "0.3", "--from-training", "4"]
    monkeypatch.setattr(sys, "argv", argv)
    module.main()

    training, held_out = split_images(data, 0.3)
    step = len(training) // 4
    expected = {p.name for p in training[::step][:4]}
    assert {p.name for p in out.iterdir()} == expected
    assert not expected & {p.name for p in held_out}  # never a held-out photo
    assert "4 training photos" in capsys.readouterr().out
