"""Rotation metadata carried through restore_video and read by probe_video."""

from __future__ import annotations

from restorecli.media.video import probe_video, restore_video

from .clips import H, W


def test_rotation_metadata_carried_and_frames_not_rotated(videos, tmp_path):
    src = videos["rotated"]
    assert probe_video(src).rotation == 90
    shapes: list[tuple[int, ...]] = []
    for name in ("out.mp4", "out.mkv"):
        dst = tmp_path / name
        report = restore_video(src, dst, lambda f: shapes.append(f.shape) or 1.0 - f)
        assert report.rotation == 90
        assert shapes[-1][1:3] == (H, W)  # stored orientation, not the displayed one
        info = probe_video(dst)
        assert info.rotation == 90 and (info.width, info.height) == (W, H)
