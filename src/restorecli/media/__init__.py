"""Media input and output: still images (``image``), videos (``video``), safe writes.

``detect_kind`` tells images from videos by content: image signatures first (cheap, and a PNG
must never be taken for a one-frame video), then a video probe.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    RestoreError,
    UnsupportedInputError,
)
from restorecli.media.image import EXTENSIONS as IMAGE_EXTENSIONS
from restorecli.media.image import sniff_image_format

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
    "detect_kind",
    "has_media_extension",
    "video_module",
]


def video_module() -> ModuleType | None:
    """``restorecli.media.video`` (PyAV is imported on first use), or None if not installed."""
    try:
        from restorecli.media import video
    except ModuleNotFoundError as exc:
        if exc.name in ("restorecli.media.video", "av"):
            return None
        raise
    return video


def has_media_extension(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


def sniff_video_container(head: bytes) -> str | None:
    """The container a file's first bytes announce (MP4/MOV, Matroska/WebM, AVI), or None.

    Only used to tell a damaged video (the signature is there, the file does not open) from a
    file that was never a video.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "MP4/MOV"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "Matroska/WebM"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI"
    return None


def detect_kind(path: str | os.PathLike[str]) -> str | None:
    """``"image"``, ``"video"`` or None (not media) for a file, judged by its content.

    Raises InputNotFoundError (missing), UnsupportedInputError (a folder) and
    CorruptInputError (empty file).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnsupportedInputError(
            f"{path}: is a folder (use `restore batch` for folders)"
        ) from None
    except PermissionError:
        raise InputNotFoundError(f"{path}: permission denied") from None
    if not head:
        raise CorruptInputError(f"{path}: empty file")
    if sniff_image_format(head) is not None:
        return IMAGE
    video = video_module()
    try:
        if video is not None and video.is_video(path):
            return VIDEO
    except RestoreError:
        raise
    except Exception:  # a probe that chokes on a strange file means "not a video we read"
        pass
    container = sniff_video_container(head)
    if container is not None and video is not None:
        raise CorruptInputError(f"{path}: corrupt or truncated video ({container} container)")
    return None
