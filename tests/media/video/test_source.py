"""Opening the input: missing, empty, damaged and non-video inputs."""

from __future__ import annotations

import io

import pytest

from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    UnsupportedInputError,
)
from restorecli.media.video import restore_video

from .clips import OneWay, invert, leftovers


def test_truncated_video_raises_corrupt_and_leaves_no_output(videos, tmp_path):
    data = videos["mp4"].read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptInputError) as caught:
        restore_video(bad, tmp_path / "out.mp4", invert)
    assert "\n" not in str(caught.value)
    assert leftovers(tmp_path, {"bad.mp4"}) == []


def test_empty_file_raises_corrupt(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(CorruptInputError, match="empty"):
        restore_video(empty, tmp_path / "out.mp4", invert)
    with pytest.raises(CorruptInputError, match="empty"):  # an empty pipe
        restore_video(io.BufferedReader(OneWay()), tmp_path / "out.mp4", invert)
    assert leftovers(tmp_path, {"empty.mp4"}) == []


def test_not_a_video_and_unknown_codec_are_unsupported(videos, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some words\n" * 20)
    with pytest.raises(UnsupportedInputError):
        restore_video(text, tmp_path / "out.mp4", invert)
    data = videos["mkv"].read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    unknown = tmp_path / "unknown.mkv"
    unknown.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/QQQ"))
    with pytest.raises(UnsupportedInputError):
        restore_video(unknown, tmp_path / "out.mp4", invert)
    with pytest.raises(InputNotFoundError):
        restore_video(tmp_path / "missing.mp4", tmp_path / "out.mp4", invert)
    assert leftovers(tmp_path, {"notes.txt", "unknown.mkv"}) == []
