"""The output target: existing files kept, unknown extensions refused."""

from __future__ import annotations

import pytest

from restorecli.errors import (
    OutputExistsError,
    OutputFormatError,
)
from restorecli.media.video import VideoOptions, probe_video, restore_video

from .clips import N, invert, leftovers


def test_existing_output_is_kept_unless_overwrite(videos, tmp_path):
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        restore_video(videos["mp4"], dst, invert)
    assert dst.read_bytes() == b"precious"
    restore_video(videos["mp4"], dst, invert, options=VideoOptions(overwrite=True))
    assert probe_video(dst).frames == N
    with pytest.raises(OutputExistsError):
        restore_video(dst, dst, invert, options=VideoOptions(overwrite=True))


def test_unknown_output_extension_is_a_format_error(videos, tmp_path):
    with pytest.raises(OutputFormatError):
        restore_video(videos["mkv"], tmp_path / "out.notavideo", invert)
    assert leftovers(tmp_path, set()) == []
