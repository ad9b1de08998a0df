"""Opening the input and picking its video stream, with a restorecli error for each failure."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from av.stream import Disposition

from restorecli.errors import CorruptInputError, InputNotFoundError, UnsupportedInputError
from restorecli.media import VIDEO_EXTENSIONS
from restorecli.media.video.endpoints import Source, label
from restorecli.media.video.ffmpeg_errors import ffmpeg_message

# Demuxers that open still images (or text): not videos even though they expose a video stream.
IMAGE_DEMUXERS = frozenset({"image2", "tty", "gif", "apng", "webp", "bmp", "ico", "lavfi"})
IMAGE_BRANDS = frozenset({"heic", "heix", "mif1", "avif"})  # HEIF/AVIF stills in an ISO box


@dataclass
class InputVideo:
    """An open input container, its video stream and the name used in messages."""

    container: Any  # None once it must not be closed (a reader thread still blocks on it)
    video: Any
    name: str


def looks_like_video_container(head: bytes) -> bool:
    """True when the first bytes carry the signature of a common video container."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return True
    if head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"OggS", b"\x00\x00\x01\xba")):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return True
    return len(head) > 188 and head[0] == 0x47 and head[188] == 0x47  # MPEG-TS sync bytes


def read_head(src: Any) -> bytes | None:
    """First bytes of the input without consuming them; None when they cannot be seen."""
    try:
        if isinstance(src, str | os.PathLike):
            with open(src, "rb") as f:
                return f.read(512)
        peek = getattr(src, "peek", None)
        return peek(512)[:512] if peek else None
    except (OSError, ValueError):
        return None


def open_video(src: Source) -> InputVideo:
    """Open ``src`` and pick its video stream, turning failures into restorecli errors."""
    name = label(src)
    file: Any = src
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        if not path.exists():
            raise InputNotFoundError(f"{name}: no such file")
        if path.is_dir():
            raise UnsupportedInputError(f"{name}: is a folder, not a video")
        if path.stat().st_size == 0:
            raise CorruptInputError(f"{name}: empty file")
        file = os.fspath(path)
    head = read_head(file)
    if head == b"":
        raise CorruptInputError(f"{name}: empty input")
    try:
        container = av.open(file, "r")
    except PermissionError as exc:
        raise InputNotFoundError(f"{name}: cannot read ({exc.strerror})") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = ffmpeg_message(exc)
        if head is None:  # an unpeekable stream: no way to tell damage from a wrong type
            raise CorruptInputError(f"{name}: unreadable video stream ({reason})") from None
        if looks_like_video_container(head) or Path(name).suffix.lower() in VIDEO_EXTENSIONS:
            raise CorruptInputError(f"{name}: damaged or truncated video ({reason})") from None
        raise UnsupportedInputError(f"{name}: not a video this FFmpeg build can read") from None
    try:
        return InputVideo(container, pick_video_stream(container, name), name)
    except BaseException:
        container.close()
        raise


def pick_video_stream(container: Any, name: str) -> Any:
    """The first decodable video stream that is not cover art; still images are refused."""
    formats = set(container.format.name.split(","))
    if (
        formats & IMAGE_DEMUXERS
        or any(f.endswith("_pipe") for f in formats)
        or container.metadata.get("major_brand", "").strip() in IMAGE_BRANDS
    ):
        kind = "text" if "tty" in formats else "a still image"
        raise UnsupportedInputError(f"{name}: {kind}, not a video")
    candidates = [
        s for s in container.streams.video if not s.disposition & Disposition.attached_pic
    ]
    if not candidates:
        raise UnsupportedInputError(f"{name}: has no video stream")
    for stream in candidates:
        if stream.codec_context is not None:
            stream.thread_type = "AUTO"  # frame + slice threads: decoding keeps up with encoding
            return stream
    raise UnsupportedInputError(f"{name}: its video codec has no decoder in this FFmpeg build")
