"""Long videos cut at keyframes, restored in segments and joined: the same video as restored
whole (frames, timestamps, duration, audio, subtitles), with a fake restorer (1 - x)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest

from restorecli.jobs.inputs import open_input
from restorecli.jobs.options import FileOptions, VideoSettings
from restorecli.jobs.outputs import restore_media
from restorecli.jobs.video_split import (
    SplitError,
    SplitPolicy,
    _cuts,
    join_segments,
    plan_split,
    restore_segment,
)
from restorecli.media.video import probe_video

from .fakes import FakeRestorer, make_clip, make_video

POLICY = SplitPolicy(min_segment_frames=6)


def restore_whole(src: Path, dst: Path) -> None:
    with open_input(src) as media:
        restore_media(FakeRestorer(), media, dst, FileOptions())


def restore_split(src: Path, dst: Path, workers: int = 2):
    job = plan_split(src, dst, POLICY, workers)
    assert job is not None
    restorer = FakeRestorer()
    parts = [restore_segment(restorer, job, k, FileOptions()) for k in range(len(job.segments))]
    try:
        return job, join_segments(restorer, job, parts, FileOptions())
    finally:
        job.cleanup()


def streams(path: Path) -> dict[str, list]:
    """Every stream's packets: (pts, dts, duration) in seconds; side streams with their bytes."""
    out: dict[str, list] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if not packet.size:
                continue
            tb = packet.time_base
            times = [None if t is None else t * tb for t in (packet.pts, packet.dts)]
            row = (*times, packet.duration * tb)
            if packet.stream.type != "video":
                row = (*row, bytes(packet))
            out.setdefault(f"{packet.stream.index}:{packet.stream.type}", []).append(row)
    return out


def frames_of(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.parametrize(("name", "subtitles"), [("clip.mp4", False), ("clip.mkv", True)])
def test_a_split_video_equals_the_whole_one(tmp_path: Path, name: str, subtitles: bool) -> None:
    src = make_clip(tmp_path / name, frames=36, gop=6, subtitles=subtitles)
    whole, split = tmp_path / f"whole{src.suffix}", tmp_path / f"split{src.suffix}"
    restore_whole(src, whole)
    job, result = restore_split(src, split)
    assert [s.frames for s in job.segments] == [12, 12, 12]  # 2 workers x 2, 6 at least
    assert result.frames == 36 and "restored in 3 segments" in result.notes[-1]
    a, b = streams(whole), streams(split)
    assert a.keys() == b.keys() and len(a) == (3 if subtitles else 2)
    video = next(k for k in a if k.endswith("video"))
    # The same frames at the same times, so the same duration.
    assert sorted(p[0] for p in a[video]) == sorted(p[0] for p in b[video])
    assert probe_video(whole).duration == probe_video(split).duration
    for key in a.keys() - {video}:  # audio and subtitles copied once, packet for packet
        assert a[key] == b[key]
    expected = 255 - frames_of(src).astype(int)
    assert np.abs(frames_of(split).astype(int) - expected).mean() < 3
    assert not list(tmp_path.glob(".*"))  # the segments' folder is gone


def test_short_or_unsplittable_videos_are_restored_whole(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=36, gop=6)
    assert plan_split(src, tmp_path / "out.avi", POLICY, 2) is None  # no global headers
    assert plan_split(src, tmp_path / "out.mp4", SplitPolicy(min_segment_frames=20), 2) is None
    one_gop = make_video(tmp_path / "one.mp4", frames=12)  # a single keyframe
    assert plan_split(one_gop, tmp_path / "o.mp4", SplitPolicy(min_segment_frames=2), 2) is None
    header_says_short = plan_split(src, tmp_path / "o.mp4", POLICY, 2, header_frames=11)
    assert header_says_short is None


def test_more_workers_cut_finer_but_never_below_the_minimum() -> None:
    index = [(i, i, i % 6 == 0) for i in range(60)]  # closed GOPs of 6 without B-frames
    assert _cuts(index, SplitPolicy(min_segment_frames=6, segments_per_worker=1), 1) == [0]
    assert _cuts(index, SplitPolicy(min_segment_frames=6, segments_per_worker=1), 2) == [0, 30]
    assert _cuts(index, SplitPolicy(min_segment_frames=12), 10) == [0, 12, 24, 36, 48]


def test_no_cut_where_a_later_packet_shows_before_the_keyframe() -> None:
    policy = SplitPolicy(min_segment_frames=2, segments_per_worker=8)
    # Open GOP: the keyframe at decode position 6 (pts 7) is followed by a frame shown before
    # it (pts 6), which needs the previous group to decode.
    pts = [0, 3, 1, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14]
    assert _cuts([(p, None, i in (0, 6, 10)) for i, p in enumerate(pts)], policy, 4) == [0]
    # Closed: the keyframe at position 12 (pts 12) shows before everything after it.
    pts = [0, 3, 1, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13, 15, 14]
    assert _cuts([(p, None, i in (0, 6, 12)) for i, p in enumerate(pts)], policy, 4) == [0, 12]


def test_segments_that_do_not_line_up_are_refused(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=24, gop=6)
    job = plan_split(src, tmp_path / "out.mp4", POLICY, 2)
    assert job is not None
    restorer = FakeRestorer()
    parts = [restore_segment(restorer, job, k, FileOptions()) for k in range(len(job.segments))]
    parts[1].extradata = b"other encoder settings"
    with pytest.raises(SplitError, match="headers"):
        join_segments(restorer, job, parts, FileOptions())
    parts[1].extradata = parts[0].extradata
    last = job.segments[-1]  # a frame the segments do not have
    job.segments[-1] = dataclasses.replace(last, frames=last.frames + 1)
    with pytest.raises(SplitError, match="frames"):
        join_segments(restorer, job, parts, FileOptions())
    assert not (tmp_path / "out.mp4").exists()
    job.cleanup()


def test_losslessly_encoded_the_split_frames_are_the_whole_ones(tmp_path: Path) -> None:
    """What differs at the default CRF is the encoder's rounding, started afresh per segment."""
    src = make_clip(tmp_path / "clip.mp4", frames=24, gop=6, audio=False)
    lossless = FileOptions(video=VideoSettings(crf=0))
    with open_input(src) as media:
        restore_media(FakeRestorer(), media, tmp_path / "whole.mp4", lossless)
    job = plan_split(src, tmp_path / "split.mp4", POLICY, 2)
    assert job is not None and len(job.segments) > 1
    restorer = FakeRestorer()
    parts = [restore_segment(restorer, job, k, lossless) for k in range(len(job.segments))]
    join_segments(restorer, job, parts, lossless)
    job.cleanup()
    assert np.array_equal(frames_of(tmp_path / "split.mp4"), frames_of(tmp_path / "whole.mp4"))
