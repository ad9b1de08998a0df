"""A long video restored in parallel: cut at keyframes, segments restored apart, joined in order.

``plan_split`` reads the video's packet index (no decoding) and cuts only where a keyframe opens
a closed group of pictures: every packet before it in decode order shows before every packet
after it, so a decoder started there gives exactly that segment's frames, found by their
timestamps. ``restore_segment`` decodes one segment from its keyframe, restores it and encodes
it with the same encoder settings as the whole video would get; its packets go to a file in a
hidden folder beside the output (``.NAME.restore-segments-*``). ``join_segments`` muxes those
packets in order into the output, with the source's audio, subtitles, metadata, chapters and
rotation copied once, as ``restore_video`` does: frame count, timestamps and duration are the
source's. What cannot be split exactly (missing or repeated timestamps, no clean keyframe,
a container without global headers) is restored whole; what fails a check after the work
(segments whose encoder headers or timestamps do not line up) raises ``SplitError``, and the
caller restores the file whole.

One difference from a whole restore: the guided filter's running tones (``--guide-radius``)
start afresh at each segment, as they would at the start of a video.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import io
import itertools
import math
import os
import shutil
import struct
import time
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from restorecli.errors import CorruptInputError, RestoreError
from restorecli.jobs.options import FileOptions
from restorecli.jobs.outputs import video_options
from restorecli.jobs.results import RESTORED, FileResult
from restorecli.media import VIDEO
from restorecli.media.safe_write import atomic_output
from restorecli.media.video import VideoOptions, VideoReport, open_video
from restorecli.media.video.encoder import add_video_stream, plan_video, start_report
from restorecli.media.video.ffmpeg_errors import ffmpeg_message
from restorecli.media.video.output import muxer_name, open_output, output_format
from restorecli.media.video.pixels import apply_process
from restorecli.media.video.reader import Reader
from restorecli.media.video.restore import add_output_streams
from restorecli.media.video.rotation import carry_rotation
from restorecli.media.video.stream_facts import expected_frames
from restorecli.media.video.threads import Batch
from restorecli.media.video.writer import Writer
from restorecli.protocols import FrameRestorer

# Containers that keep the encoder's headers once, in the stream's extradata: segments encoded
# apart then share them. Others (MPEG-TS, AVI) would need them repeated in the stream.
SPLIT_FORMATS = frozenset({"mp4", "mov", "matroska", "webm"})
SEGMENTS_MARKER = ".restore-segments-"
_RECORD = struct.Struct("<qqqBI")  # pts, dts, duration, keyframe, size; then the packet's bytes
_NONE = -(2**63)  # a missing pts/dts in a record


class SplitError(RestoreError):
    """The segments cannot be joined exactly: the caller restores the video whole."""


@dataclasses.dataclass
class SplitPolicy:
    """When and how finely a video is cut."""

    min_segment_frames: int = 250  # shorter videos are restored whole; no segment is shorter
    segments_per_worker: int = 2  # more segments than workers evens out their speeds

    def __post_init__(self) -> None:
        if self.min_segment_frames < 1 or self.segments_per_worker < 1:
            raise ValueError("min_segment_frames and segments_per_worker must be at least 1")


@dataclasses.dataclass(frozen=True)
class Segment:
    """Frames with ``start <= pts < end`` (end None: to the end), decoded from ``seek``."""

    start: int
    end: int | None
    seek: int
    frames: int


@dataclasses.dataclass
class SplitJob:
    """A video's segments and the hidden folder beside the output that holds their packets."""

    src: Path
    dst: Path
    folder: Path
    segments: list[Segment]

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.segments)

    def part(self, k: int) -> Path:
        return self.folder / f"{k:05d}.packets"

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclasses.dataclass
class SegmentDone:
    """What ``join_segments`` needs from a restored segment besides its packet file."""

    frames: int
    extradata: bytes
    time_base: Fraction
    seconds: float


def plan_split(
    src: Path, dst: Path, policy: SplitPolicy, workers: int, *, header_frames: int | None = None
) -> SplitJob | None:
    """Cut ``src`` into segments for ``workers``, or None: restore it whole (too short, no
    clean cut, an output container that cannot take segments)."""
    if output_format(dst, VideoOptions()) not in SPLIT_FORMATS:
        return None
    if header_frames is not None and header_frames < 2 * policy.min_segment_frames:
        return None  # the header says short: spare reading the whole file
    index = _packet_index(src)
    if index is None:
        return None
    cuts = _cuts(index, policy, workers)
    if len(cuts) < 2:
        return None
    segments = []
    for k, first in enumerate(cuts):
        last = cuts[k + 1] if k + 1 < len(cuts) else len(index)
        pts, dts, _ = index[first]
        end = index[last][0] if last < len(index) else None
        segments.append(Segment(pts, end, dts if dts is not None else pts, last - first))
    folder = dst.parent / f".{dst.name}{SEGMENTS_MARKER}{uuid.uuid4().hex[:8]}"
    return SplitJob(src, dst, folder, segments)


def _packet_index(src: Path) -> list[tuple[int, int | None, bool]] | None:
    """(pts, dts, keyframe) of every video packet in decode order, or None when a pts is
    missing or repeated (frames could not be told apart by their timestamps)."""
    source = open_video(src)
    try:
        video = source.video
        index = [
            (p.pts, p.dts, bool(p.is_keyframe))
            for p in source.container.demux(video)
            if p.size and p.stream.index == video.index
        ]
    except av.FFmpegError:
        return None  # a damaged file: the whole restore reports it as usual
    finally:
        source.close()
    stamps = [p for p, _, _ in index]
    if not index or None in stamps or len(set(stamps)) != len(stamps):
        return None
    return index


def _cuts(
    index: list[tuple[int, int | None, bool]], policy: SplitPolicy, workers: int
) -> list[int]:
    """Decode positions where segments start, at least a target length apart (and from the
    end): keyframes shown before every later packet and after every earlier one, so that a
    decoder started there needs nothing from before (a closed group of pictures)."""
    n = len(index)
    target = max(
        policy.min_segment_frames, math.ceil(n / max(1, workers * policy.segments_per_worker))
    )
    later = [0] * (n + 1)  # the earliest pts from position i on
    later[n] = 2**63
    for i in range(n - 1, -1, -1):
        later[i] = min(index[i][0], later[i + 1])
    cuts = [0]
    before = index[0][0]  # the latest pts before position i
    for i in range(1, n):
        pts, _, keyframe = index[i]
        clean = keyframe and before < pts == later[i]
        if clean and i - cuts[-1] >= target and n - i >= policy.min_segment_frames:
            cuts.append(i)
        before = max(before, pts)
    return cuts


def restore_segment(
    restorer: FrameRestorer, job: SplitJob, k: int, options: FileOptions
) -> SegmentDone:
    """Decode segment ``k`` from its keyframe, restore it, and write its encoded packets to
    ``job.part(k)`` (replaced whole: a segment run again overwrites the earlier try)."""
    started = time.perf_counter()
    segment = job.segments[k]
    vopts = video_options(restorer, options.video)
    fmt = output_format(job.dst, vopts)
    assert fmt is not None  # plan_split took only known containers
    source = open_video(job.src)
    scratch = av.open(io.BytesIO(), "w", format=fmt)  # only lends its encoder stream
    job.folder.mkdir(parents=True, exist_ok=True)
    tmp = job.part(k).with_suffix(".tmp")
    try:
        video = source.video
        plan = plan_video(video, vopts, muxer_name(scratch))
        stream = add_video_stream(scratch, video, plan, vopts)
        with open(tmp, "wb") as fh:
            recorder = _Recorder(scratch, stream, plan, fh)
            reader = Reader(source, {}, {})
            reader.size = (video.codec_context.width, video.codec_context.height)
            with restorer.sequence() as session:
                process = functools.partial(restorer.restore_batch, session=session)
                batches = _batches(source, segment, reader, vopts.batch_size, seek=k > 0)
                for frames, pts, durations in batches:
                    restored = apply_process(process, frames, plan.high_bit)
                    recorder.write(Batch(restored, pts, durations, []))
                    recorder.frames += len(pts)
            recorder.finish()
        if recorder.frames != segment.frames:
            raise SplitError(
                f"{job.src}: segment {k} decoded {recorder.frames} of {segment.frames} frames"
            )
        os.replace(tmp, job.part(k))
        return SegmentDone(
            frames=recorder.frames,
            extradata=bytes(stream.codec_context.extradata or b""),
            time_base=recorder.time_base or plan.time_base,
            seconds=time.perf_counter() - started,
        )
    except av.FFmpegError as exc:
        raise CorruptInputError(f"{job.src}: cannot decode video ({ffmpeg_message(exc)})") from None
    finally:
        tmp.unlink(missing_ok=True)
        source.close()
        scratch.close()


def _batches(
    source: Any, segment: Segment, reader: Reader, batch_size: int, *, seek: bool
) -> Iterator[tuple[Any, list[int], list[int]]]:
    """The segment's frames as RGB batches, with their pts and durations."""
    import numpy as np

    frames: list[Any] = []
    pts: list[int] = []
    durations: list[int] = []
    for frame in _segment_frames(source, segment, seek=seek):
        array, p, d = reader.to_array(frame)
        frames.append(array)
        pts.append(p)
        durations.append(d)
        if len(frames) == batch_size:
            yield np.stack(frames), pts, durations
            frames, pts, durations = [], [], []
    if frames:
        yield np.stack(frames), pts, durations


def _segment_frames(source: Any, segment: Segment, *, seek: bool) -> Iterator[Any]:
    """Decoded frames with ``start <= pts < end``, from the keyframe at ``seek`` on."""
    video = source.video
    if seek:  # lands on the segment's keyframe, or an earlier one: frames before are dropped
        source.container.seek(segment.seek, stream=video, backward=True, any_frame=False)
    for packet in source.container.demux(video):
        for frame in video.decode(packet):
            if frame.pts is None or frame.pts < segment.start:
                continue
            if segment.end is not None and frame.pts >= segment.end:
                return
            yield frame


class _Recorder(Writer):
    """The video writer, its packets recorded to a segment file instead of muxed."""

    def __init__(self, output: Any, video_out: Any, plan: Any, fh: Any) -> None:
        super().__init__(output, video_out, plan)
        self.fh = fh
        self.frames = 0
        self.time_base: Fraction | None = None

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            if not packet.size:
                continue
            self.time_base = self.time_base or packet.time_base
            pts = _NONE if packet.pts is None else packet.pts
            dts = _NONE if packet.dts is None else packet.dts
            data = bytes(packet)
            key = int(packet.is_keyframe)
            self.fh.write(_RECORD.pack(pts, dts, packet.duration or 0, key, len(data)))
            self.fh.write(data)


def _read_part(path: Path, time_base: Fraction) -> Iterator[av.Packet]:
    with open(path, "rb") as fh:
        while head := fh.read(_RECORD.size):
            pts, dts, duration, key, size = _RECORD.unpack(head)
            packet = av.Packet(fh.read(size))
            packet.pts = None if pts == _NONE else pts
            packet.dts = None if dts == _NONE else dts
            packet.duration = duration
            packet.is_keyframe = bool(key)
            packet.time_base = time_base
            yield packet


def join_segments(
    restorer: FrameRestorer, job: SplitJob, parts: list[SegmentDone], options: FileOptions
) -> FileResult:
    """Mux the restored segments in order, with the source's side streams, into ``job.dst``
    (written atomically). Raises SplitError when the segments do not line up."""
    started = time.perf_counter()
    vopts = video_options(restorer, options.video)
    source = open_video(job.src)
    try:
        video = source.video
        first = source.first_frame()
        with atomic_output(
            job.dst, overwrite=options.overwrite, input_paths=[job.src], create_parents=True
        ) as tmp:
            output = open_output(tmp, output_format(job.dst, vopts))
            try:
                report, frames = _mux_all(output, source, first, parts, job, vopts)
            finally:
                output.close()
    except av.FFmpegError as exc:
        message = f"{job.src}: cannot join segments ({ffmpeg_message(exc)})"
        raise CorruptInputError(message) from None
    finally:
        source.close()
    ctx = video.codec_context
    return FileResult(
        input=str(job.src),
        output=str(job.dst),
        status=RESTORED,
        kind=VIDEO,
        seconds=round(time.perf_counter() - started + sum(p.seconds for p in parts), 3),
        width=ctx.width,
        height=ctx.height,
        frames=frames,
        notes=[*report.notes, f"restored in {len(parts)} segments cut at keyframes"],
    )


def _mux_all(
    output: Any,
    source: Any,
    first: Any,
    parts: list[SegmentDone],
    job: SplitJob,
    vopts: VideoOptions,
) -> tuple[VideoReport, int]:
    video = source.video
    plan = plan_video(video, vopts, muxer_name(output))
    expected, _ = expected_frames(source.container, video)
    report = start_report(plan, expected, None)
    video_out, copy_map, decode_map = add_output_streams(output, source, plan, vopts, report)
    report.rotation = carry_rotation(video_out, video, first)
    output.start_encoding()  # opens the encoder: its headers are the ones segments must carry
    headers = bytes(video_out.codec_context.extradata or b"")
    if any(p.extradata != headers for p in parts):
        raise SplitError(f"{job.src}: the segments' encoder headers differ from the output's")
    reader = Reader(source, copy_map, decode_map)
    last_dts: int | None = None
    frames = 0
    for item in heapq.merge(
        _video_items(job, parts), _side_items(source, reader), key=lambda kv: kv[0]
    ):
        _, (out_index, payload) = item
        stream = output.streams[out_index] if out_index >= 0 else video_out
        if isinstance(payload, av.Packet):
            if out_index < 0:
                if payload.dts is not None and last_dts is not None and payload.dts <= last_dts:
                    raise SplitError(f"{job.src}: the segments' decode timestamps overlap")
                last_dts = payload.dts if payload.dts is not None else last_dts
                frames += 1
            payload.stream = stream
            output.mux(payload)
        else:  # decoded audio the output container needs re-encoded
            for packet in stream.encode(payload):
                output.mux(packet)
    for stream in output.streams:
        if stream is not video_out and stream.type == "audio" and stream.codec_context.is_encoder:
            for packet in stream.encode(None):
                output.mux(packet)
    if frames != job.frames:
        raise SplitError(f"{job.src}: joined {frames} of {job.frames} frames")
    return report, frames


def _seconds(ts: int | None, time_base: Fraction | None) -> Fraction:
    return Fraction(ts or 0) * (time_base or 0)


def _video_items(job: SplitJob, parts: list[SegmentDone]) -> Iterator[tuple[Fraction, Any]]:
    for k, part in enumerate(parts):
        for packet in _read_part(job.part(k), part.time_base):
            ts = packet.dts if packet.dts is not None else packet.pts
            yield _seconds(ts, part.time_base), (-1, packet)


def _side_items(source: Any, reader: Reader) -> Iterator[tuple[Fraction, Any]]:
    """The source's audio and subtitles, read once: what ``first_frame`` read ahead, then the
    rest of the same demux (video packets skipped, not decoded)."""
    video_index = source.video.index
    ahead = [p for p in source.head if isinstance(p, av.Packet)]
    rest = (p for p in source.packets if p.stream.index != video_index)
    for packet in itertools.chain(ahead, rest):
        for _, (out_index, payload) in reader.side_items(packet):
            ts = payload.dts if isinstance(payload, av.Packet) else None
            ts = ts if ts is not None else payload.pts
            yield _seconds(ts, payload.time_base), (out_index, payload)
