"""The Ray engine on a real local Ray (2 CPUs, one for the session): the local engine's outputs,
failures reported per file, a worker killed mid-file, a long video cut across workers."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from restorecli.errors import RestoreError
from restorecli.jobs.folders import plan_batch, run_batch
from restorecli.jobs.options import FileOptions
from restorecli.jobs.ray_engine import RayOptions, run_batch_ray
from restorecli.jobs.restorer import load_restorer
from restorecli.jobs.results import FAILED, IGNORED, RESTORED
from restorecli.jobs.video_split import SplitPolicy
from restorecli.media.safe_write import is_temp_file
from restorecli.media.video import probe_video

from . import fakes
from .fakes import (
    CrashOnce,
    CrashThenRestartSlowly,
    FakeRestorer,
    make_clip,
    make_video,
    pixels,
    write_png,
)
from .test_video_split import frames_of, restore_whole, streams


@pytest.fixture(scope="module", autouse=True)
def _fakes_travel_by_value(ray_cluster):
    """Ray workers cannot import the test modules: the fake restorers go with each call."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(fakes)
    yield
    cloudpickle.unregister_pickle_by_value(fakes)


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_outputs_equal_the_local_engines(tiny_weights: Path, tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_png(root / "a.png", 1, size=(20, 24))
    write_png(root / "b.png", 2, size=(16, 12))
    write_png(root / "sub" / "c.png", 3, size=(24, 16))
    make_video(root / "clip.mp4", frames=4)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 40)
    (root / "notes.txt").write_text("not media")
    make = functools.partial(
        load_restorer,
        str(tiny_weights),
        task="derain",
        overrides={"steps": 2, "init": "zq"},
        device="cpu",
    )
    local = run_batch(make(), plan_batch(root, tmp_path / "local", recursive=True), FileOptions())
    done = []
    items = plan_batch(root, tmp_path / "ray", recursive=True)
    report = run_batch_ray(make, items, FileOptions(), RayOptions(), on_done=done.append)

    def summary(r, root):
        out = None if r.output is None else Path(r.output).relative_to(root).as_posix()
        return (r.input, out, r.status, r.kind, r.frames, r.exit_code, r.message)

    assert [summary(r, tmp_path / "ray") for r in report.results] == [
        summary(r, tmp_path / "local") for r in local.results
    ]
    assert len(done) == 6 and report.count(FAILED) == 1 and report.count(IGNORED) == 1
    assert files(tmp_path / "ray") == files(tmp_path / "local")
    for name in ("a.png", "b.png", "sub/c.png"):
        diff = pixels(tmp_path / "ray" / name) - pixels(tmp_path / "local" / name)
        assert np.abs(diff).max() <= 1, name
    ray_frames, local_frames = (frames_of(tmp_path / d / "clip.mp4") for d in ("ray", "local"))
    assert ray_frames.shape == local_frames.shape
    assert np.abs(ray_frames.astype(int) - local_frames).max() <= 1


def test_a_worker_killed_mid_file_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "in"
    make_video(root / "v.mp4", frames=6)
    write_png(root / "a.png", 1)
    write_png(root / "b.png", 2)
    marker = tmp_path / "crashed"
    out = tmp_path / "out"
    make = functools.partial(CrashOnce, marker)
    report = run_batch_ray(make, plan_batch(root, out), FileOptions(), RayOptions(split=None))
    assert marker.exists()  # a worker did die, in the middle of writing v.mp4
    assert [r.status for r in report.results] == [RESTORED] * 3, report.to_dict()
    visible = [name for name in files(out) if not is_temp_file(Path(name).name)]
    assert visible == ["a.png", "b.png", "v.mp4"]  # left by the dead one: hidden temp files
    assert probe_video(out / "v.mp4", count_frames=True).frames == 6
    assert np.array_equal(pixels(out / "a.png"), 255 - pixels(root / "a.png"))


def test_a_worker_that_restarts_slowly_gets_the_file_once_it_is_back(tmp_path: Path) -> None:
    # Its unit is not handed to it while it restarts: that call would fail at once, again and
    # again, and use up the file's retries without running it.
    make_video(tmp_path / "in" / "v.mp4", frames=4)
    marker = tmp_path / "crashed"
    make = functools.partial(CrashThenRestartSlowly, marker)
    items = plan_batch(tmp_path / "in", tmp_path / "out")
    report = run_batch_ray(make, items, FileOptions(), RayOptions(workers=1, split=None))
    assert marker.exists()
    assert [r.status for r in report.results] == [RESTORED], report.to_dict()
    assert probe_video(tmp_path / "out" / "v.mp4", count_frames=True).frames == 4


def test_a_model_that_cannot_load_stops_the_batch(tmp_path: Path) -> None:
    write_png(tmp_path / "in" / "a.png")
    make = functools.partial(load_restorer, str(tmp_path / "none.safetensors"), task="derain")
    with pytest.raises(RestoreError, match=r"none\.safetensors"):
        run_batch_ray(make, plan_batch(tmp_path / "in", tmp_path / "out"), FileOptions())
    assert not (tmp_path / "out" / "a.png").exists()


def test_a_long_video_is_cut_across_the_workers(tmp_path: Path) -> None:
    root = tmp_path / "in"
    src = make_clip(root / "long.mp4", frames=36, gop=6)
    write_png(root / "a.png", 1)
    options = RayOptions(workers=2, split=SplitPolicy(min_segment_frames=6))
    items = plan_batch(root, tmp_path / "out")
    report = run_batch_ray(FakeRestorer, items, FileOptions(), options)
    video = next(r for r in report.results if r.kind == "video")
    assert video.status == RESTORED and video.frames == 36
    assert video.notes[-1] == "restored in 3 segments cut at keyframes"
    assert video.output == str(tmp_path / "out" / "long.mp4")
    restore_whole(src, tmp_path / "whole.mp4")
    a, b = streams(tmp_path / "whole.mp4"), streams(tmp_path / "out" / "long.mp4")
    assert sorted(p[0] for p in a["0:video"]) == sorted(p[0] for p in b["0:video"])
    assert a["1:audio"] == b["1:audio"]
    assert probe_video(tmp_path / "whole.mp4").duration == probe_video(src).duration
    assert probe_video(tmp_path / "out" / "long.mp4").duration == probe_video(src).duration
    assert files(tmp_path / "out") == ["a.png", "long.mp4"]  # no segments left behind
