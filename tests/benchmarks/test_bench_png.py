"""benchmarks/bench_png.py: PNG encode time and size per zlib level."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_levels_are_timed_and_higher_levels_are_not_larger(
    load_repo_script, tmp_path, capsys, monkeypatch
) -> None:
    bench = load_repo_script("benchmarks/bench_png.py")
    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.integers(0, 3, (64, 80, 3)), axis=1).clip(0, 255).astype(np.uint8)
    im = Image.fromarray(smooth)
    sizes = [bench.encode_seconds(im, level, 1)[1] for level in (1, 6)]
    assert sizes[1] <= sizes[0]
    path = tmp_path / "p.png"
    im.save(path)
    argv = ["bench_png.py", str(path), "--size", "32x24", "--repeats", "1"]
    monkeypatch.setattr("sys.argv", argv)
    bench.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["level", "seconds", "bytes"] and len(lines) == 4
