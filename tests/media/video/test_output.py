"""The output: written where it is told (temporary files are the caller's), extensions checked."""

from __future__ import annotations

import av
import pytest

from restorecli.errors import OutputFormatError
from restorecli.media.video import probe_video, restore_video

from .clips import N, invert, leftovers


def test_writes_only_the_path_it_is_given(videos, tmp_path, monkeypatch):
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"old")  # whether to replace a file is the caller's decision
    written = []
    real_open = av.open

    def spy(file, mode=None, *args, **kwargs):
        if mode == "w" and isinstance(file, str):
            written.append(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(av, "open", spy)
    restore_video(videos["mp4"], dst, invert)
    assert written == [str(dst)]
    assert probe_video(dst).frames == N
    assert leftovers(tmp_path, set()) == ["out.mp4"]


def test_unknown_output_extension_is_a_format_error(videos, tmp_path):
    with pytest.raises(OutputFormatError):
        restore_video(videos["mkv"], tmp_path / "out.notavideo", invert)
    assert leftovers(tmp_path, set()) == []
