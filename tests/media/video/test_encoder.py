"""The output encoder: padding odd sizes, 10-bit output, encoder fallback."""

from __future__ import annotations

import numpy as np

from restorecli.media.video import VideoOptions, probe_video, restore_video

from .clips import decode_rgb, invert


def test_odd_dimensions_padded_for_yuv420(videos, tmp_path):
    src, dst = videos["odd"], tmp_path / "out.mp4"
    report = restore_video(src, dst, invert)
    assert report.padding == (1, 1) and (report.width, report.height) == (34, 26)
    assert any("padded" in note for note in report.notes)
    got = decode_rgb(dst)
    assert got.shape[1:3] == (26, 34)
    expected = 1.0 - decode_rgb(src)
    assert np.abs(got[:, :25, :33] - expected).mean() < 0.03
    # the padding repeats the edge instead of adding a black border
    assert np.abs(got[:, :25, 33] - got[:, :25, 32]).mean() < 0.05


def test_ten_bit_input_keeps_precision(videos, tmp_path):
    src, dst = videos["10bit"], tmp_path / "out.mkv"
    assert probe_video(src).bit_depth == 10
    batches: list[np.ndarray] = []
    report = restore_video(src, dst, lambda f: batches.append(f.copy()) or f)
    assert report.pix_fmt == "yuv420p10le"
    assert probe_video(dst).bit_depth == 10
    values = np.concatenate([b.ravel() for b in batches]) * 255
    assert np.abs(values - np.round(values)).max() > 0.01  # finer steps than 8-bit
    assert np.abs(decode_rgb(dst) - decode_rgb(src)).mean() < 0.03


def test_encoder_fallback_and_mpeg4(videos, tmp_path):
    report = restore_video(
        videos["mkv"], tmp_path / "a.mkv", invert, options=VideoOptions(codec="no-such-encoder")
    )
    assert report.codec == "libx264" and any("no-such-encoder" in n for n in report.notes)
    dst = tmp_path / "b.mp4"
    report = restore_video(videos["mkv"], dst, invert, options=VideoOptions(codec="mpeg4"))
    assert report.codec == "mpeg4" and probe_video(dst).codec == "mpeg4"
    assert np.abs(decode_rgb(dst) - (1.0 - decode_rgb(videos["mkv"]))).mean() < 0.06
