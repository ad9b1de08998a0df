"""Folder batches: the plan, the run, bad files reported, with a fake restorer (1 - x)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from restorecli.errors import CorruptInputError, OutputExistsError
from restorecli.jobs.folders import RESTORE, batch_output_dir, plan_batch, run_batch, walk_files
from restorecli.jobs.options import FileOptions
from restorecli.jobs.results import FAILED, IGNORED, RESTORED, SKIPPED
from restorecli.media.video import probe_video

from .fakes import FakeRestorer, count_opens, make_video, pixels, write_png


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_png(root / "a.png", 1)
    write_png(root / "b.jpg", 2)
    (root / "notes.txt").write_text("not media")
    (root / "broken.png").write_bytes(write_png(tmp_path / "x.png").read_bytes()[:60])
    (root / "empty.jpg").write_bytes(b"")
    (root / ".a.restore-tmp-1234.png").write_bytes(b"left by kill -9")
    write_png(root / "sub" / "c.png", 3)
    return root


def test_batch_output_dir_defaults_to_a_sibling_and_spares_the_input(folder: Path) -> None:
    assert batch_output_dir(folder, None, "derain") == folder.parent / "photos_derain"
    assert batch_output_dir(folder, "elsewhere", "derain") == Path("elsewhere")
    with pytest.raises(OutputExistsError, match="input folder"):
        batch_output_dir(folder, folder / "sub" / "..", "derain")
    assert batch_output_dir(folder, folder, "derain", suffix="_x") == folder  # names differ


def test_walk_skips_hidden_and_respects_recursive(folder: Path) -> None:
    names = [p.relative_to(folder).as_posix() for p in walk_files(folder)]
    assert names == ["a.png", "b.jpg", "broken.png", "empty.jpg", "notes.txt"]
    deep = [p.relative_to(folder).as_posix() for p in walk_files(folder, recursive=True)]
    assert deep[-1] == "sub/c.png"


def test_plan_classifies_every_file(folder: Path, tmp_path: Path) -> None:
    items = {i.src.name: i for i in plan_batch(folder, tmp_path / "out", recursive=True)}
    assert items["a.png"].action == RESTORE and items["a.png"].dst == tmp_path / "out" / "a.png"
    assert items["c.png"].dst == tmp_path / "out" / "sub" / "c.png"
    assert items["notes.txt"].action == IGNORED
    assert items["empty.jpg"].action == FAILED and "empty" in items["empty.jpg"].note
    # broken.png has a PNG header: it is only found broken when decoded
    assert items["broken.png"].action == RESTORE


def test_batch_reports_bad_files_and_goes_on(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    restorer = FakeRestorer()
    done = []
    report = run_batch(
        restorer, plan_batch(folder, out, recursive=True), FileOptions(), on_done=done.append
    )
    status = {Path(r.input).name: r.status for r in report.results}
    assert status == {
        "a.png": RESTORED, "b.jpg": RESTORED, "broken.png": FAILED, "empty.jpg": FAILED,
        "notes.txt": IGNORED, "c.png": RESTORED,
    }  # fmt: skip
    assert not report.ok and report.count(RESTORED) == 3 and len(done) == 6
    broken = next(r for r in report.results if r.input.endswith("broken.png"))
    assert broken.exit_code == CorruptInputError.exit_code
    assert np.array_equal(pixels(out / "a.png"), 255 - pixels(folder / "a.png"))
    assert (out / "sub" / "c.png").exists()
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert written == ["a.png", "b.jpg", "sub", "sub/c.png"]  # no partial or temp files
    assert report.to_dict()["counts"] == {
        "restored": 3,
        "kept": 0,
        "skipped": 0,
        "ignored": 1,
        "failed": 2,
    }


def test_skip_existing_resumes_and_existing_fails_without_flags(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_png(root / "a.png", 1)
    write_png(root / "b.png", 2)
    out = tmp_path / "out"
    write_png(out / "a.png", 9)  # from an earlier, interrupted run
    before = (out / "a.png").read_bytes()

    report = run_batch(FakeRestorer(), plan_batch(root, out, skip_existing=True), FileOptions())
    assert [r.status for r in report.results] == [SKIPPED, RESTORED] and report.ok
    assert (out / "a.png").read_bytes() == before

    (out / "b.png").unlink()
    report = run_batch(FakeRestorer(), plan_batch(root, out), FileOptions())
    assert [r.status for r in report.results] == [FAILED, RESTORED]
    assert report.results[0].exit_code == OutputExistsError.exit_code
    assert (out / "a.png").read_bytes() == before

    items = plan_batch(root, out, overwrite=True)
    report = run_batch(FakeRestorer(), items, FileOptions(overwrite=True))
    assert report.ok and (out / "a.png").read_bytes() != before


def test_output_folder_inside_input_is_not_walked(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_png(root / "a.png")
    write_png(root / "clean" / "a.png")  # results of an earlier run, inside the input
    items = plan_batch(root, root / "clean", recursive=True)
    assert [i.src.relative_to(root).as_posix() for i in items] == ["a.png"]


def test_unexpected_errors_are_reported_or_raised(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_png(root / "a.png")

    class Broken(FakeRestorer):
        def restore_array(self, image, *, callback=None):
            raise RuntimeError("bug")

    report = run_batch(Broken(), plan_batch(root, tmp_path / "o"), FileOptions())
    assert report.results[0].status == FAILED and "RuntimeError" in report.results[0].message
    with pytest.raises(RuntimeError):
        run_batch(Broken(), plan_batch(root, tmp_path / "o"), FileOptions(), raise_unexpected=True)


def test_ctrl_c_stops_the_batch_and_leaves_no_partial_file(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_png(root / "a.png")

    class Interrupted(FakeRestorer):
        def restore_array(self, image, *, callback=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(Interrupted(), plan_batch(root, tmp_path / "o"), FileOptions())
    out = tmp_path / "o"
    assert not out.exists() or list(out.rglob("*")) == []


def test_video_in_a_batch(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    make_video(root / "clip.mp4", frames=5)
    write_png(root / "a.png")
    progress = []
    report = run_batch(
        FakeRestorer(), plan_batch(root, tmp_path / "out"), FileOptions(),
        progress=lambda done, total: progress.append((done, total)),
    )  # fmt: skip
    by_name = {Path(r.input).name: r for r in report.results}
    assert report.ok, report.to_dict()
    assert by_name["clip.mp4"].kind == "video" and by_name["clip.mp4"].frames == 5
    assert progress and progress[-1][0] == 5
    info = probe_video(tmp_path / "out" / "clip.mp4", count_frames=True)
    assert info.frames == 5 and (info.width, info.height) == (32, 24)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "clip.mp4"]


class SequenceRestorer(FakeRestorer):
    """Records whether each batch of video frames came inside ``sequence()``."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.batches_inside: list[bool] = []

    def sequence(self):
        import contextlib

        @contextlib.contextmanager
        def scope():
            self.inside = True
            try:
                yield "the session"
            finally:
                self.inside = False

        return scope()

    def restore_batch(self, frames: np.ndarray, *, callback=None, session=None) -> np.ndarray:
        self.batches_inside.append(self.inside and session == "the session")
        return super().restore_batch(frames, callback=callback)


def test_video_frames_are_restored_inside_one_sequence(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    make_video(root / "clip.mp4", frames=5)
    restorer = SequenceRestorer()
    report = run_batch(restorer, plan_batch(root, tmp_path / "out"), FileOptions())
    assert report.ok, report.to_dict()
    assert restorer.batches_inside and all(restorer.batches_inside)
    assert not restorer.inside  # closed after the video


def test_a_video_is_opened_once_by_the_plan_and_once_by_the_run(tmp_path, monkeypatch) -> None:
    root = tmp_path / "in"
    video = make_video(root / "clip.mp4", frames=5)
    opened = count_opens(monkeypatch)
    items = plan_batch(root, tmp_path / "out")
    assert [i.kind for i in items] == ["video"] and opened == [str(video)]
    assert run_batch(FakeRestorer(), items, FileOptions()).ok
    assert opened == [str(video)] * 2
