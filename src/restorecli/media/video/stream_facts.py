"""Facts about the input's video stream read from its headers: rate, duration, frames, depth."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import Any

import av


def frame_rate(stream: Any) -> Fraction | None:
    """The stream's frame rate (average, else guessed, else base), or None."""
    for value in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if value:
            return Fraction(value)
    return None


def duration_seconds(container: Any, stream: Any) -> float | None:
    """The stream's duration, else its Matroska DURATION tag, else the container's."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION")  # Matroska keeps per-stream durations as tags
    if tag:
        with contextlib.suppress(ValueError):
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if container.duration:
        return container.duration / av.time_base
    return None


def expected_frames(container: Any, stream: Any) -> tuple[int | None, bool]:
    """``(frames, exact)``: the header's count (exact), else duration x rate, else None."""
    if stream.frames:
        return int(stream.frames), True
    duration, fps = duration_seconds(container, stream), frame_rate(stream)
    if duration and fps:
        return round(duration * fps), False
    return None, False


def bit_depth(stream: Any) -> int:
    """Bits of the deepest component of the decoded pixel format (8 when unknown)."""
    fmt = stream.codec_context.format if stream.codec_context is not None else None
    if fmt is None or not fmt.components:
        return 8
    return max(c.bits for c in fmt.components)
