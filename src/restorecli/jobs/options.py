"""How each file is read and written: the options a job takes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from restorecli.media.image import DEFAULT_QUALITY

# (done, total or None): frames of a video, tiles of a large image.
Progress = Callable[[int, int | None], None]


@dataclasses.dataclass
class VideoSettings:
    """Encoder choices handed to ``restorecli.media.video`` (None: its defaults)."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    audio: bool = True


@dataclasses.dataclass
class FileOptions:
    """How each file is read and written."""

    overwrite: bool = False
    quality: int = DEFAULT_QUALITY  # JPEG / WebP quality
    max_pixels: int | None = None  # None: $RESTORE_MAX_PIXELS or 200 MP; 0: no limit
    video: VideoSettings = dataclasses.field(default_factory=VideoSettings)
