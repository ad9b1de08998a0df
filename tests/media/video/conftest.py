"""The tiny videos shared by the video tests (made once for the package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .clips import make_video


@pytest.fixture(scope="package")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    srt = folder / "text.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,300\nhello there\n\n")
    return {
        "mp4": make_video(folder / "clip.mp4"),
        "mkv": make_video(folder / "clip.mkv"),
        "rotated": make_video(folder / "rotated.mp4", rotation=90),
        "vfr": make_video(
            folder / "vfr.mkv", pts=[0, 1, 3, 4, 7, 8, 9, 12, 13, 14, 20], audio=None
        ),
        "odd": make_video(folder / "odd.mkv", size=(33, 25), pix_fmt="yuv444p", audio=None),
        "opus_srt": make_video(folder / "opus.mkv", frames=10, audio="libopus", subtitles=srt),
        "10bit": make_video(folder / "deep.mkv", frames=6, pix_fmt="yuv420p10le", audio=None),
    }
