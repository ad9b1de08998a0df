"""Media input and output: still images (``image``), videos (``video``), safe writes.

An input's kind is judged by its content (``restorecli.jobs.inputs``); the extensions here
only say which names promise media.
"""

from __future__ import annotations

import os
from pathlib import Path

from restorecli.media.image import EXTENSIONS as IMAGE_EXTENSIONS

IMAGE = "image"
VIDEO = "video"

# Names that promise media: a file with one of these that we cannot read is reported as a
# failure; any other unreadable file is just skipped in a batch.
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m2ts",
        ".mts",
        ".wmv",
        ".flv",
        ".3gp",
        ".ogv",
        ".mxf",
    }
)
MEDIA_EXTENSIONS = frozenset(IMAGE_EXTENSIONS) | VIDEO_EXTENSIONS

__all__ = [
    "IMAGE",
    "IMAGE_EXTENSIONS",
    "MEDIA_EXTENSIONS",
    "VIDEO",
    "VIDEO_EXTENSIONS",
    "has_media_extension",
]


def has_media_extension(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS
