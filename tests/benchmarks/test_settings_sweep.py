"""benchmarks/settings_sweep.py on tiny weights and tiny paired folders."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_one_row_per_setting_with_every_folder_and_the_worst_margin(
    load_repo_script, make_pairs, tiny_weights, tmp_path, capsys
) -> None:
    sweep = load_repo_script("benchmarks/settings_sweep.py")
    light = make_pairs(tmp_path / "light", n=2, seed=1)
    clean = tmp_path / "clean"  # input = target: the input's PSNR is infinite
    clean.mkdir()
    (clean / "input").symlink_to(light / "target")
    (clean / "target").symlink_to(light / "target")
    heavy = make_pairs(tmp_path / "heavy", n=2, seed=2)
    code = sweep.main([
        str(clean), str(light), str(heavy), "--task", "derain", "--weights", str(tiny_weights),
        "--set", "steps=1,2", "--set", "seed=0",
    ])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| setting | clean | light | heavy | worst margin over input |")
    rows = [x for x in lines[2:] if x.startswith("| steps=")]
    assert [r.split(" | ")[0] for r in rows] == ["| steps=1 seed=0", "| steps=2 seed=0"]
    assert lines[-1].startswith("| input | clean | ")
