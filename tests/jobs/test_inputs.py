"""Opening one input: the kind judged once by content, images decoded, a video opened once."""

from __future__ import annotations

from pathlib import Path

import pytest

from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    InputTooLargeError,
    UnsupportedInputError,
)
from restorecli.jobs.inputs import detect_kind, open_input
from restorecli.jobs.options import FileOptions
from restorecli.jobs.outputs import restore_media
from restorecli.media import IMAGE, VIDEO
from restorecli.media.video import probe_video

from .fakes import FakeRestorer, count_opens, make_video, write_png

CUT_MKV = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + bytes(300)  # a signature, then nothing


class Refused(Exception):
    """What the output check of these tests raises."""


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
    with pytest.raises(InputTooLargeError):
        open_input(make_video(tmp_path / "big.mp4"), max_pixels=10)


def test_the_kind_is_checked_before_decoding(tmp_path: Path) -> None:
    kinds: list[str] = []

    def refuse(kind: str) -> None:
        kinds.append(kind)
        raise Refused

    broken = tmp_path / "broken.png"  # a PNG signature: found broken only when decoded
    broken.write_bytes(write_png(tmp_path / "x.png").read_bytes()[:60])
    with pytest.raises(Refused):
        open_input(broken, check_kind=refuse)
    with pytest.raises(Refused):
        open_input(broken.read_bytes(), check_kind=refuse)
    with pytest.raises(Refused):
        open_input(b"", check_kind=refuse)  # stdin: empty is an empty image
    with pytest.raises(Refused):
        open_input(make_video(tmp_path / "clip.mp4"), check_kind=refuse)
    assert kinds == [IMAGE, IMAGE, IMAGE, VIDEO]
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(UnsupportedInputError, match=r"notes\.png: not an image or video"):
        open_input(tmp_path / "notes.png", check_kind=refuse)
    with pytest.raises(InputNotFoundError):
        open_input(tmp_path / "missing.png", check_kind=refuse)
    with pytest.raises(CorruptInputError, match=r"<stdin>: corrupt or truncated video"):
        open_input(CUT_MKV, check_kind=refuse)  # known a video only once it opens
    assert kinds == [IMAGE, IMAGE, IMAGE, VIDEO]


def test_a_damaged_video_is_corrupt_and_text_is_not_media(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(CUT_MKV)
    message = r"corrupt or truncated video \(Matroska/WebM container\)"
    for source in (cut, CUT_MKV):
        with pytest.raises(CorruptInputError, match=message):
            open_input(source)
    (tmp_path / "notes.mp4").write_text("not a video\n" * 20)
    with pytest.raises(UnsupportedInputError, match="not an image or video we can read"):
        open_input(tmp_path / "notes.mp4")


def test_a_video_file_is_opened_once(tmp_path: Path, monkeypatch) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=5)
    opened = count_opens(monkeypatch)
    with open_input(src) as media:
        assert (media.kind, media.info.width, media.info.frames) == (VIDEO, 32, 5)
        result = restore_media(FakeRestorer(), media, tmp_path / "out.mp4", FileOptions())
    assert opened == [str(src)]  # checked, described and restored from one container
    assert result.frames == 5 and probe_video(tmp_path / "out.mp4", count_frames=True).frames == 5


def test_a_video_on_stdin_is_spooled_and_opened_once(tmp_path: Path, monkeypatch) -> None:
    data = make_video(tmp_path / "clip.mp4", frames=5).read_bytes()
    opened = count_opens(monkeypatch)
    with open_input(data) as media:
        spooled = media.source_path
        assert media.label == "<stdin>" and media.path is None and spooled.exists()
        result = restore_media(FakeRestorer(), media, tmp_path / "out.mkv", FileOptions())
    assert opened == [str(spooled)] and not spooled.exists()
    assert result.frames == 5


def test_detect_kind_judges_by_content(tmp_path: Path) -> None:
    assert detect_kind(write_png(tmp_path / "a.png")) == IMAGE
    bare = make_video(tmp_path / "clip.mp4").rename(tmp_path / "clip")  # content decides
    assert detect_kind(bare) == VIDEO
    (tmp_path / "notes.mp4").write_text("not a video\n" * 20)
    assert detect_kind(tmp_path / "notes.mp4") is None
    (tmp_path / "cut.mkv").write_bytes(CUT_MKV)
    with pytest.raises(CorruptInputError):
        detect_kind(tmp_path / "cut.mkv")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(CorruptInputError, match="empty"):
        detect_kind(tmp_path / "empty.jpg")
    with pytest.raises(UnsupportedInputError, match="is a folder"):
        detect_kind(tmp_path)
