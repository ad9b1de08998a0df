"""probe_video, describe_video and what open_video takes for a video."""

from __future__ import annotations

import av
import pytest

from restorecli.errors import InputNotFoundError, UnsupportedInputError
from restorecli.media.video import describe_video, open_video, probe_video

from .clips import RATE, H, N, W, pattern


def test_probe_and_what_opens_as_a_video(videos, tmp_path):
    info = probe_video(videos["mp4"])
    assert (info.width, info.height, info.frames, info.fps) == (W, H, N, RATE)
    assert info.codec == "h264" and info.has_audio and info.audio_codecs == ("aac",)
    assert abs(info.duration - N / RATE) < 1 / RATE
    assert probe_video(videos["vfr"]).has_audio is False

    open_video(videos["mkv"]).close()
    png = tmp_path / "still.png"
    av.VideoFrame.from_ndarray(pattern(0, W, H), format="rgb24").save(str(png))
    renamed = tmp_path / "still.mp4"  # content decides, not the extension
    renamed.write_bytes(png.read_bytes())
    text = tmp_path / "words.txt"
    text.write_text("hello\n")
    for path in (png, renamed, text):
        with pytest.raises(UnsupportedInputError):
            open_video(path)
    with pytest.raises(InputNotFoundError):
        open_video(tmp_path / "missing.mkv")


def test_describe_reads_only_up_to_the_first_frame(videos):
    source = open_video(videos["mp4"], name="<stdin>")
    try:
        info = describe_video(source)
        assert info.path == "<stdin>" and (info.width, info.height) == (W, H)
        assert source.video_packets < N  # the rest is left for the restore
        assert describe_video(source) == info  # the first frame is kept, not read again
    finally:
        source.close()
    assert probe_video(videos["mp4"], count_frames=True).frames == N
