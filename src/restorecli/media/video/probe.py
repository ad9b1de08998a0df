"""Describing a video without restoring it: ``probe_video``, ``describe_video``, ``VideoInfo``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

import av

from restorecli.errors import CorruptInputError
from restorecli.media.video.ffmpeg_errors import ffmpeg_message
from restorecli.media.video.rotation import frame_rotation
from restorecli.media.video.source import InputVideo, Source, open_video
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


def describe_video(source: InputVideo) -> VideoInfo:
    """Describe an open video from its headers and first frame, decoding up to that frame.

    The source stays open and can still be restored from its start (``restore_video``).
    """
    container, stream = source.container, source.video
    rotation = frame_rotation(stream, source.first_frame())
    frames, exact = expected_frames(container, stream)
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


def probe_video(src: Source, *, count_frames: bool = False) -> VideoInfo:
    """Describe a video; ``count_frames`` demuxes every video packet for an exact frame count.

    Raises the restorecli input errors (not found, unsupported, corrupt) like ``restore_video``.
    """
    source = open_video(src)
    try:
        info = describe_video(source)
        if not count_frames:
            return info
        assert source.packets is not None
        packets = source.video_packets
        try:
            for packet in source.packets:
                if packet.stream.index == source.video.index:
                    packets += bool(packet.size)
        except av.FFmpegError as exc:
            raise CorruptInputError(
                f"{source.name}: cannot decode video ({ffmpeg_message(exc)})"
            ) from None
        # one packet per frame for the codecs we write
        return dataclasses.replace(info, frames=packets, frames_exact=True)
    finally:
        source.close()
