"""restore_video end to end: frames, timing, progress, streams, failures."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from restorecli.media.video import VideoOptions, probe_video, restore_video

from .clips import (
    RATE,
    H,
    N,
    OneWay,
    W,
    assert_inverted,
    audio_packets,
    audio_vs_video,
    invert,
    no_worker_threads,
    video_timing,
)


def test_mp4_keeps_frames_timing_and_audio_packets(videos, tmp_path):
    src, dst = videos["mp4"], tmp_path / "out.mp4"
    seen: list[int] = []

    def process(frames: np.ndarray) -> np.ndarray:
        assert frames.dtype == np.float32 and frames.ndim == 4 and frames.shape[-1] == 3
        assert frames.min() >= 0.0 and frames.max() <= 1.0
        seen.append(len(frames))
        return 1.0 - frames

    report = restore_video(src, dst, process, options=VideoOptions(batch_size=3))
    assert max(seen) <= 3 and sum(seen) == N
    assert report.frames == N and report.codec == "libx264" and report.audio_copied == 1

    a, b = probe_video(src, count_frames=True), probe_video(dst, count_frames=True)
    assert b.frames == a.frames == N
    assert b.fps == a.fps == RATE
    assert (b.width, b.height) == (W, H)
    assert b.has_audio
    pts_in, tb_in, dur_in = video_timing(src)
    pts_out, tb_out, dur_out = video_timing(dst)
    assert tb_out == tb_in
    assert pts_out == pts_in
    assert abs(dur_out - dur_in) <= 1 / RATE
    assert audio_packets(dst) == audio_packets(src)  # copied byte for byte, same times
    assert_inverted(src, dst)


def test_variable_frame_rate_pts_carried(videos, tmp_path):
    src, dst = videos["vfr"], tmp_path / "out.mkv"
    restore_video(src, dst, invert)
    pts_in, _, dur_in = video_timing(src)
    pts_out, _, dur_out = video_timing(dst)
    assert pts_out == pts_in
    assert abs(dur_out - dur_in) <= 1 / RATE


def test_progress_reports_done_and_total(videos, tmp_path):
    calls: list[tuple[int, int | None]] = []
    restore_video(
        videos["mp4"],
        tmp_path / "out.mp4",
        invert,
        options=VideoOptions(batch_size=4),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[0] == (0, N) and calls[-1] == (N, N)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_non_seekable_streams_in_and_out(videos):
    src = videos["rotated"]
    reader = io.BufferedReader(OneWay(src.read_bytes()))
    sink = OneWay()
    report = restore_video(reader, sink, invert)
    assert report.frames == N
    data = bytes(sink.written)
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name.startswith("matroska")
    assert_inverted(src, data)
    # Matroska cannot start below zero, so the muxer may shift every stream by the AAC
    # priming delay; the packets and their timing against the video must not change.
    assert audio_vs_video(data) == audio_vs_video(src)


def test_truncated_matroska_is_restored_with_a_note(videos, tmp_path):
    data = videos["mkv"].read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])  # Matroska needs no index: the start still plays
    report = restore_video(cut, tmp_path / "out.mkv", invert)
    assert 0 < report.frames < N
    assert any("truncated" in note for note in report.notes)


@pytest.mark.parametrize("error", [RuntimeError("model exploded"), KeyboardInterrupt()])
def test_process_failure_passes_through_and_stops_the_threads(videos, tmp_path, error):
    calls = 0

    def process(frames: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise error
        return frames

    with pytest.raises(type(error)):
        restore_video(videos["mp4"], tmp_path / "out.mp4", process)
    assert calls == 2
    assert no_worker_threads()  # no partial file under its name: see tests/jobs/test_outputs.py
