"""Writing one output: names and checks first, then one temporary file, published whole."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from restorecli.errors import OutputExistsError, OutputFormatError
from restorecli.jobs.inputs import open_input
from restorecli.jobs.options import FileOptions
from restorecli.jobs.outputs import (
    check_destination,
    default_destination,
    keep_media,
    restore_media,
)
from restorecli.jobs.results import KEPT, RESTORED
from restorecli.media import safe_write
from restorecli.media.video import probe_video

from .fakes import FakeRestorer, make_video, pixels, write_png


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
        result = restore_media(FakeRestorer(), media, out, FileOptions())
    back = np.asarray(Image.open(io.BytesIO(out.getvalue()))).astype(int)
    assert np.array_equal(back, 255 - pixels(src))
    assert result.output == "<stdout>"


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


def test_a_tiled_image_reports_its_tiles(tmp_path: Path) -> None:
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


def spy_writes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """From now on: the temporary files made beside outputs, the files FFmpeg writes."""
    seen: dict[str, list] = {"temps": [], "encoded": []}
    make_temp, real_open = safe_write._make_temp, av.open

    def spy_temp(path):
        seen["temps"].append(path)
        return make_temp(path)

    def spy_open(file, mode=None, *args, **kwargs):
        if mode == "w" and isinstance(file, str):  # not the muxers' in-memory dry runs
            seen["encoded"].append(Path(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(safe_write, "_make_temp", spy_temp)
    monkeypatch.setattr(av, "open", spy_open)
    return seen


def test_a_video_output_is_one_temporary_file_published_whole(tmp_path, monkeypatch) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=5)
    writes = spy_writes(monkeypatch)
    dst = tmp_path / "out" / "clip.mp4"
    with open_input(src) as media:
        result = restore_media(FakeRestorer(), media, dst, FileOptions(), create_parents=True)
    assert writes["temps"] == [dst]  # one temporary file, beside the output
    (encoded,) = writes["encoded"]  # and the encoder wrote that file, not one of its own
    assert encoded.parent == dst.parent and safe_write.is_temp_file(encoded)
    assert not encoded.exists() and sorted(p.name for p in dst.parent.iterdir()) == ["clip.mp4"]
    assert result.frames == 5 and probe_video(dst, count_frames=True).frames == 5


def test_a_video_to_a_stream_is_encoded_once_then_streamed(tmp_path, monkeypatch) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=5)
    writes = spy_writes(monkeypatch)
    out = io.BytesIO()
    with open_input(src) as media:
        result = restore_media(FakeRestorer(), media, out, FileOptions())
    assert writes["temps"] == [] and len(writes["encoded"]) == 1
    assert writes["encoded"][0].suffix == ".mp4"  # the input's container
    assert not writes["encoded"][0].parent.exists()  # a private folder, removed
    streamed = tmp_path / "streamed.mp4"
    streamed.write_bytes(out.getvalue())
    assert result.frames == 5 and probe_video(streamed, count_frames=True).frames == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "streamed.mp4"]


def test_an_existing_video_output_is_kept_unless_overwrite(tmp_path: Path) -> None:
    src = make_video(tmp_path / "clip.mp4")
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"precious")
    with open_input(src) as media, pytest.raises(OutputExistsError):
        restore_media(FakeRestorer(), media, dst, FileOptions())
    assert dst.read_bytes() == b"precious"
    with open_input(src) as media:
        restore_media(FakeRestorer(), media, dst, FileOptions(overwrite=True))
    assert probe_video(dst).frames == 5
    with open_input(dst) as media, pytest.raises(OutputExistsError, match="over the input"):
        restore_media(FakeRestorer(), media, dst, FileOptions(overwrite=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]


@pytest.mark.parametrize("error", [RuntimeError("model exploded"), KeyboardInterrupt()])
def test_a_failed_video_leaves_no_partial_file(tmp_path: Path, error) -> None:
    class Failing(FakeRestorer):
        def restore_batch(self, frames, *, callback=None, session=None):
            if self.calls == 1:  # the second batch: the output has been started
                raise error
            return super().restore_batch(frames, callback=callback)

    src = make_video(tmp_path / "clip.mp4", frames=8)
    with open_input(src) as media, pytest.raises(type(error)):
        restore_media(Failing(), media, tmp_path / "out.mp4", FileOptions())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_a_kept_video_is_its_own_bytes(tmp_path: Path) -> None:
    src = make_video(tmp_path / "clip.mp4")
    with open_input(src) as media:
        result = keep_media(media, tmp_path / "same.mp4", FileOptions())
    assert result.status == KEPT and (tmp_path / "same.mp4").read_bytes() == src.read_bytes()
    with open_input(src) as media:  # another container: re-encoded, the frames as they were
        result = keep_media(media, tmp_path / "other.mkv", FileOptions())
    assert result.status == KEPT and probe_video(tmp_path / "other.mkv").frames == 5
