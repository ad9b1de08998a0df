"""Describing a video without restoring it: ``probe_video``, ``is_video`` and ``VideoInfo``."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

from restorecli.errors import CorruptInputError
from restorecli.media.video.endpoints import Source
from restorecli.media.video.ffmpeg_errors import ffmpeg_message
from restorecli.media.video.rotation import frame_rotation
from restorecli.media.video.source import open_video
from restorecli.media.video.stream_facts import (
    bit_depth,
    duration_seconds,
    expected_frames,
    frame_rate,
)


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` learns from a video's headers (and its first frame)."""

    path: str
    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    bit_depth: int
    fps: Fraction | None
    time_base: Fraction | None
    frames: int | None  # header count, counted packets, or duration x fps (see frames_exact)
    frames_exact: bool
    duration: float | None  # seconds
    rotation: int  # counter-clockwise degrees from the display matrix, as players apply it
    has_audio: bool
    audio_codecs: tuple[str, ...] = ()
    subtitle_codecs: tuple[str, ...] = ()


def is_video(path: Source) -> bool:
    """True when the file at ``path`` holds a decodable video stream (judged by content).

    Still images (even renamed to .mp4), text, audio-only files and missing files are not
    videos. Reads from streams such as ``"-"`` would consume them: pass files only.
    """
    try:
        source = open_video(path)
    except Exception:
        return False
    source.container.close()
    return True


def probe_video(src: Source, *, count_frames: bool = False) -> VideoInfo:
    """Describe a video; ``count_frames`` demuxes every video packet for an exact frame count.

    Raises the restorecli input errors (not found, unsupported, corrupt) like ``restore_video``.
    """
    source = open_video(src)
    container, stream = source.container, source.video
    try:
        frames, exact = expected_frames(container, stream)
        rotation: int | None = None
        packets = 0
        try:  # one pass, no seeking (pipes): decode until the first frame, count if asked
            for packet in container.demux(stream):
                packets += bool(packet.size)
                if rotation is None:
                    for frame in stream.decode(packet):
                        rotation = frame_rotation(stream, frame)
                        break
                if rotation is not None and not count_frames:
                    break
        except av.FFmpegError as exc:
            raise CorruptInputError(
                f"{source.name}: cannot decode video ({ffmpeg_message(exc)})"
            ) from None
        if rotation is None:
            raise CorruptInputError(f"{source.name}: no decodable video frames")
        if count_frames:
            frames, exact = packets, True  # one packet per frame for the codecs we write
        streams = container.streams
        return VideoInfo(
            path=source.name,
            container=container.format.name,
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            pix_fmt=stream.codec_context.pix_fmt,
            bit_depth=bit_depth(stream),
            fps=frame_rate(stream),
            time_base=stream.time_base,
            frames=frames,
            frames_exact=exact,
            duration=duration_seconds(container, stream),
            rotation=rotation,
            has_audio=bool(streams.audio),
            audio_codecs=tuple(s.codec.name for s in streams.audio if s.codec),
            subtitle_codecs=tuple(s.codec.name for s in streams.subtitles if s.codec),
        )
    finally:
        container.close()
