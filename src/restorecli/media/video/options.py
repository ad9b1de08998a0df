"""What ``restore_video`` takes (options, callbacks) and what it returns (a report)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

ProcessFn = Callable[[np.ndarray], np.ndarray]
"""Maps a float32 batch N x H x W x 3 in [0, 1] (RGB) to an array of the same shape."""

ProgressFn = Callable[[int, "int | None"], None]
"""Called as ``progress(frames_done, frames_total)``; the total is None when unknown."""


@dataclass
class VideoOptions:
    """How ``restore_video`` encodes its output.

    ``codec`` falls back to the first available encoder the output container accepts (see the
    report's ``codec``). ``crf``/``preset`` apply to the x264/x265/VP9 encoders; other encoders
    get a comparable fixed quantiser. ``pix_fmt=None`` picks yuv420p, or yuv420p10le for inputs
    with more than 8 bits when the encoder supports it.
    """

    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str | None = None
    batch_size: int = 4
    audio: bool = True  # copy audio and subtitle streams; False drops them
    format: str | None = None  # output container (FFmpeg muxer name); None = from extension
    queue_size: int = 2  # batches buffered between the decode, process and encode stages

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if not 0 <= self.crf <= 63:
            raise ValueError("crf must be between 0 and 63")


@dataclass
class VideoReport:
    """What ``restore_video`` did."""

    frames: int
    frames_expected: int | None
    codec: str
    pix_fmt: str
    width: int
    height: int
    padding: tuple[int, int]  # (right, bottom) pixels added so the encoder gets even sizes
    fps: Fraction | None
    rotation: int
    audio_copied: int = 0
    audio_reencoded: int = 0
    subtitles_copied: int = 0
    streams_dropped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
