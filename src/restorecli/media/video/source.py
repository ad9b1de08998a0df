"""Opening the input and picking its video stream, with a restorecli error for each failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import av
from av.stream import Disposition

from restorecli.errors import CorruptInputError, InputNotFoundError, UnsupportedInputError
from restorecli.media.video.ffmpeg_errors import ffmpeg_message

Source = str | os.PathLike | BinaryIO
"""A path or an open binary file object (read or written without seeking)."""

# Demuxers that open still images (or text): not videos even though they expose a video stream.
IMAGE_DEMUXERS = frozenset({"image2", "tty", "gif", "apng", "webp", "bmp", "ico", "lavfi"})
IMAGE_BRANDS = frozenset({"heic", "heix", "mif1", "avif"})  # HEIF/AVIF stills in an ISO box


@dataclass
class InputVideo:
    """An open input container, its video stream and the name used in messages.

    One demux over every stream (``packets``) serves the whole read: ``first_frame`` takes it
    up to the first video frame, keeping what it read in ``head``, and the restore's reader
    replays ``head`` then goes on with the same demux, so the file is opened and read once.
    """

    container: Any  # None once closed, or once it must not be (a reader still blocks on it)
    video: Any
    name: str
    head: list[Any] = field(default_factory=list)  # side-stream packets, then decoded frames
    packets: Iterator[Any] | None = None
    first: Any = None  # the first decoded video frame, once read
    video_packets: int = 0  # video packets read on the way (``probe_video`` counts on)

    def first_frame(self) -> Any:
        """The first decoded video frame (raises CorruptInputError when there is none)."""
        if self.first is not None:
            return self.first
        self.packets = self.container.demux()
        try:
            for packet in self.packets:
                if packet.stream.index != self.video.index:
                    self.head.append(packet)
                    continue
                self.video_packets += bool(packet.size)
                frames = self.video.decode(packet)
                self.head.extend(frames)
                if frames:
                    self.first = frames[0]
                    return self.first
        except av.FFmpegError as exc:
            raise CorruptInputError(
                f"{self.name}: cannot decode video ({ffmpeg_message(exc)})"
            ) from None
        raise CorruptInputError(f"{self.name}: no decodable video frames")

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None


def video_container(head: bytes) -> str | None:
    """The container a file's first bytes announce, or None.

    Tells a damaged video (the signature is there, FFmpeg cannot open it) from a file that was
    never one.
    """
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "MP4/MOV"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "Matroska/WebM"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI"
    for signature, name in ((b"FLV", "FLV"), (b"OggS", "Ogg"), (b"\x00\x00\x01\xba", "MPEG-PS")):
        if head.startswith(signature):
            return name
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:  # MPEG-TS sync bytes
        return "MPEG-TS"
    return None


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


def label(src: Source) -> str:
    """How ``src`` is named in messages."""
    if isinstance(src, str | os.PathLike):
        return os.fspath(src)
    return getattr(src, "name", None) or "<stream>"


def open_video(src: Source, *, name: str | None = None) -> InputVideo:
    """Open ``src`` and pick its video stream, turning failures into restorecli errors.

    ``name`` replaces the source's own in messages (a spooled copy of standard input).
    """
    name = name or label(src)
    file: Any = src
    if isinstance(src, str | os.PathLike):
        path = Path(src)
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
        if head is None:  # an unpeekable stream: no way to tell damage from a wrong type
            raise CorruptInputError(
                f"{name}: unreadable video stream ({ffmpeg_message(exc)})"
            ) from None
        if (kind := video_container(head)) is not None:
            raise CorruptInputError(
                f"{name}: corrupt or truncated video ({kind} container)"
            ) from None
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
