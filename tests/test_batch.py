"""Per-file processing and folder batches, with a fake restorer (1 - x)."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.batch import (
    FAILED,
    IGNORED,
    RESTORE,
    RESTORED,
    SKIPPED,
    FileOptions,
    batch_output_dir,
    check_destination,
    check_overrides,
    default_destination,
    describe_restorer,
    input_kind,
    load_restorer,
    open_input,
    plan_batch,
    restore_media,
    run_batch,
    walk_files,
)
from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    InputTooLargeError,
    OutputExistsError,
    OutputFormatError,
    UnsupportedInputError,
)
from restorecli.media import IMAGE, video_module


@dataclasses.dataclass
class FakeConfig:
    init: str = "chebyshev"
    steps: int = 4
    seed: int | None = 0
    batch_size: int = 2


class FakeRestorer:
    """Stands in for restorecli.pipeline.Restorer: inverts the image."""

    task: str | None = None  # as the real one: None when the model's task is unknown
    name: str | None = None

    device = "cpu"

    def sequence(self):
        import contextlib

        return contextlib.nullcontext()

    def check_config(self, given=()) -> None:
        """The real one refuses options the model lacks parts for; the fake has them all."""

    def __init__(self) -> None:
        self.config = FakeConfig()
        self.calls = 0

    def restore_array(self, image: np.ndarray, *, callback=None) -> np.ndarray:
        self.calls += 1
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
        return 1.0 - image

    def restore_batch(self, frames: np.ndarray, *, callback=None, session=None) -> np.ndarray:
        self.calls += 1
        assert frames.dtype == np.float32 and frames.ndim == 4
        return 1.0 - frames


def write_png(path: Path, seed: int = 0, size: tuple[int, int] = (8, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(int)


def make_video(path: Path, frames: int = 5) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for i in range(frames):
            img = np.full((24, 32, 3), 20 * i, dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return path


# --- one file ------------------------------------------------------------------------------------


def test_restore_one_image_file(tmp_path: Path) -> None:
    src = write_png(tmp_path / "in.png")
    dst = tmp_path / "out.png"
    with open_input(src) as media:
        check_destination(dst, media.kind, input_paths=[src])
        result = restore_media(FakeRestorer(), media, dst, FileOptions())
    assert result.status == RESTORED and (result.width, result.height) == (10, 8)
    assert np.array_equal(pixels(dst), 255 - pixels(src))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


def test_restore_from_bytes_to_a_stream(tmp_path: Path) -> None:
    src = write_png(tmp_path / "in.png")
    out = io.BytesIO()
    with open_input(src.read_bytes()) as media:
        assert media.label == "<stdin>" and media.path is None
        restore_media(FakeRestorer(), media, out, FileOptions())
    back = np.asarray(Image.open(io.BytesIO(out.getvalue()))).astype(int)
    assert np.array_equal(back, 255 - pixels(src))


def test_open_input_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(UnsupportedInputError):
        open_input(tmp_path / "notes.png")
    with pytest.raises(UnsupportedInputError):
        open_input(b"hello, plain text on stdin")
    with pytest.raises(CorruptInputError):
        open_input(b"")
    with pytest.raises(InputTooLargeError):
        open_input(write_png(tmp_path / "big.png"), max_pixels=10)


def test_default_destination_and_checks(tmp_path: Path) -> None:
    src = write_png(tmp_path / "in.png")
    assert default_destination(src, "derain") == tmp_path / "in_derain.png"
    bare = tmp_path / "photo"
    bare.write_bytes(src.read_bytes())  # no extension: take one from the content
    assert default_destination(bare, "derain") == tmp_path / "photo_derain.png"
    with pytest.raises(OutputFormatError):
        check_destination(tmp_path / "o.gif", "image")
    with pytest.raises(OutputFormatError):
        check_destination(tmp_path / "o.png", "video")
    with pytest.raises(OutputExistsError):
        check_destination(src, "image", overwrite=True, input_paths=[src])


def test_load_restorer_keeps_model_defaults_unless_overridden(monkeypatch) -> None:
    seen = {}

    class Restorer:
        @classmethod
        def from_pretrained(cls, name, **kwargs):
            seen.update(name=name, **kwargs)
            r = FakeRestorer()
            r.config = FakeConfig(init="lerp", steps=6)  # the model's own defaults
            return r

    monkeypatch.setitem(
        sys.modules, "restorecli.pipeline", types.SimpleNamespace(Restorer=Restorer)
    )
    r = load_restorer(None, task="derain", device="cpu", offline=True)
    assert r.config == FakeConfig(init="lerp", steps=6)
    assert seen == {"name": None, "task": "derain", "device": "cpu", "precision": "fp32",
                    "offline": True}  # fmt: skip
    r = load_restorer("w.safetensors", task="derain", overrides={"steps": 2, "seed": None})
    assert r.config == FakeConfig(init="lerp", steps=2, seed=None)
    assert seen["name"] == "w.safetensors"


def test_input_kind_is_judged_before_decoding(tmp_path: Path) -> None:
    src = write_png(tmp_path / "in.png")
    assert input_kind(src) == IMAGE and input_kind(str(src)) == IMAGE
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(UnsupportedInputError, match=r"notes\.png: not an image or video"):
        input_kind(tmp_path / "notes.png")
    with pytest.raises(InputNotFoundError):
        input_kind(tmp_path / "missing.png")
    assert input_kind(src.read_bytes()) == IMAGE
    assert input_kind(b"") == IMAGE  # so that it fails as an empty image
    assert input_kind(b"\x00\x00\x00\x18ftypisom") is None  # maybe a video: probed later


def test_check_overrides_checks_the_declared_config_without_torch() -> None:
    check_overrides({"tile": 0, "fidelity": 0.5})
    with pytest.raises(ValueError, match="--tile"):
        check_overrides({"tile": 32})
    with pytest.raises(ValueError, match="--requantize"):
        check_overrides({"requantize": "soft"})
    code = (
        "import sys, restorecli.batch as b; b.check_overrides({'tile': 0}); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_describe_restorer() -> None:
    restorer = FakeRestorer()
    restorer.name, restorer.device = "derain-small", "cpu"
    assert describe_restorer(restorer) == {
        "model": "derain-small",
        "device": "cpu",
        "config": dataclasses.asdict(FakeConfig()),
    }
    restorer.name, restorer.device, restorer.config = None, None, None
    assert describe_restorer(restorer) == {"model": None, "device": None, "config": None}


# --- folders -------------------------------------------------------------------------------------


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


@pytest.mark.skipif(video_module() is None, reason="video support not installed")
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
    info = video_module().probe_video(tmp_path / "out" / "clip.mp4", count_frames=True)
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


@pytest.mark.skipif(video_module() is None, reason="video support not installed")
def test_video_frames_are_restored_inside_one_sequence(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    make_video(root / "clip.mp4", frames=5)
    restorer = SequenceRestorer()
    report = run_batch(restorer, plan_batch(root, tmp_path / "out"), FileOptions())
    assert report.ok, report.to_dict()
    assert restorer.batches_inside and all(restorer.batches_inside)
    assert not restorer.inside  # closed after the video


def test_a_tiled_image_reports_its_tiles(tmp_path: Path) -> None:
    from restorecli.batch import open_input, restore_media

    class Tiled(FakeRestorer):
        def restore_array(self, image, *, callback=None):
            for i in range(3):
                callback({"stage": "tile", "tile": i + 1, "tiles": 3})
            return image

    src = write_png(tmp_path / "in.png")
    seen = []
    with open_input(src) as media:
        restore_media(Tiled(), media, tmp_path / "out.png", FileOptions(),
                      progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen == [(1, 3), (2, 3), (3, 3)]
