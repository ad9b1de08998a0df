"""benchmarks/dcp_baseline.py: the classical dehazer undoes a known veil; the script's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.evaluate import metrics


@pytest.fixture(scope="module")
def dcp(load_repo_script):
    return load_repo_script("benchmarks/dcp_baseline.py")


def _scene(h: int = 96, w: int = 128) -> np.ndarray:
    """Coloured blocks, each with a dark pixel in every 15-px patch (the prior holds)."""
    rng = np.random.default_rng(0)
    blocks = rng.uniform(0.2, 0.8, (h // 16 + 1, w // 16 + 1, 3)).astype(np.float32)
    scene = np.kron(blocks, np.ones((16, 16, 1), np.float32))[:h, :w].copy()
    scene[::8, ::8] = 0.02
    return scene


def _hazy(scene: np.ndarray, t: float = 0.4, a: float = 0.9) -> np.ndarray:
    return scene * t + a * (1 - t)


def test_airlight_is_read_at_the_brightest_dark_channel(dcp) -> None:
    image = _hazy(_scene())
    image[:20, :20] = [0.95, 0.9, 0.85]  # a flat bright patch: the veil alone
    a = dcp.airlight(image, dcp.dark_channel(image, 15), 0.001)
    np.testing.assert_allclose(a, [0.95, 0.9, 0.85], atol=1e-6)


def test_guided_filter_keeps_a_constant_and_smooths_noise(dcp) -> None:
    guide = np.full((40, 40), 0.5, np.float32)
    flat = np.full((40, 40), 0.3, np.float32)
    np.testing.assert_allclose(dcp.guided_filter(guide, flat, 4, 1e-3), 0.3, atol=1e-5)
    noisy = flat + np.random.default_rng(1).normal(0, 0.05, flat.shape).astype(np.float32)
    assert dcp.guided_filter(guide, noisy, 4, 1e-3).std() < 0.2 * noisy.std()


def test_dehaze_undoes_a_uniform_veil(dcp) -> None:
    scene = _scene()
    hazy = _hazy(scene)
    hazy[:24, :24] = 0.9  # pure veil (a sky) wider than the patch, so the airlight is found
    out = dcp.dehaze(hazy)
    assert out.shape == hazy.shape and out.min() >= 0.0 and out.max() <= 1.0
    assert metrics.psnr(out, scene) > metrics.psnr(hazy, scene) + 8.0


def test_main_on_pairs_prints_rows_and_a_mean(dcp, tmp_path: Path, capsys) -> None:
    for sub in ("input", "target"):
        (tmp_path / "pairs" / sub).mkdir(parents=True)
    scene = _scene()
    for name in ("a.png", "b.png"):
        Image.fromarray((scene * 255).astype(np.uint8)).save(tmp_path / "pairs/target" / name)
        hazy = (_hazy(scene) * 255).astype(np.uint8)
        Image.fromarray(hazy).save(tmp_path / "pairs/input" / name)
    assert dcp.main([str(tmp_path / "pairs"), "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("image | input PSNR") and len(lines) == 4
    assert lines[-1].startswith("mean of 2 |")
    inp, out = (float(v) for v in lines[-1].split(" | ")[1:3])
    assert out > inp
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]


def test_main_on_photos_needs_out(dcp, tmp_path: Path) -> None:
    Image.fromarray((_scene() * 255).astype(np.uint8)).save(tmp_path / "p.png")
    with pytest.raises(SystemExit):
        dcp.main([str(tmp_path)])
    assert dcp.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "p.png").is_file()
