"""probe_video and is_video."""

from __future__ import annotations

import av

from restorecli.media.video import is_video, probe_video

from .clips import RATE, H, N, W, pattern


def test_probe_and_is_video(videos, tmp_path):
    info = probe_video(videos["mp4"])
    assert (info.width, info.height, info.frames, info.fps) == (W, H, N, RATE)
    assert info.codec == "h264" and info.has_audio and info.audio_codecs == ("aac",)
    assert abs(info.duration - N / RATE) < 1 / RATE
    assert probe_video(videos["vfr"]).has_audio is False

    assert is_video(videos["mkv"])
    png = tmp_path / "still.png"
    av.VideoFrame.from_ndarray(pattern(0, W, H), format="rgb24").save(str(png))
    renamed = tmp_path / "still.mp4"  # content decides, not the extension
    renamed.write_bytes(png.read_bytes())
    text = tmp_path / "words.txt"
    text.write_text("hello\n")
    assert not is_video(png) and not is_video(renamed) and not is_video(text)
    assert not is_video(tmp_path / "missing.mkv")
