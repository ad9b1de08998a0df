"""A few frames spread over a video, found by seeking (restore auto and detect judge by them)."""

from __future__ import annotations

import pytest

from restorecli.errors import CorruptInputError, UnsupportedInputError
from restorecli.media.video.sample import sample_frames

from .clips import H, N, W


def frame_index(frame) -> int:
    """clips.pattern sets the blue channel to 60 + 6 i."""
    return round((frame[..., 2].mean() * 255 - 60) / 6)


@pytest.mark.parametrize("name", ["mp4", "mkv"])
def test_frames_are_spread_over_the_video(videos, name):
    frames = sample_frames(videos[name], 3)
    assert [f.shape for f in frames] == [(H, W, 3)] * 3
    indices = [frame_index(f) for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == 3
    assert indices[0] < N / 3 and indices[-1] >= 2 * N / 3
    assert all(f.min() >= 0.0 and f.max() <= 1.0 for f in frames)


def test_one_frame_asked_is_the_middle_one(videos):
    (frame,) = sample_frames(videos["mp4"], 1)
    assert abs(frame_index(frame) - N // 2) <= 1


def test_not_a_video_is_refused(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"\x00" * 100)  # content decides, not the extension
    with pytest.raises(UnsupportedInputError):
        sample_frames(tmp_path / "x.mp4")
    (tmp_path / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    with pytest.raises(CorruptInputError, match=r"truncated video \(MP4/MOV container\)"):
        sample_frames(tmp_path / "cut.mp4")
