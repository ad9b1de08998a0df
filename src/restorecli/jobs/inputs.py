"""One input, checked and opened before the model loads: an image decoded, a video opened once.

A file's first bytes say whether it is an image (a PNG must never be taken for a one-frame
video); anything else is opened as a video, and that open container is the one the restore
reads: ``describe_video`` takes it to its first frame, so a damaged stream fails here, before
the model loads. Standard input is an image when it starts like one; otherwise it is spooled
to a temporary file (FFmpeg needs to seek in most containers) and opened as a video.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from restorecli.errors import CorruptInputError, InputNotFoundError, UnsupportedInputError
from restorecli.media import IMAGE, VIDEO
from restorecli.media.image import (
    ImageData,
    check_memory,
    check_pixel_limit,
    read_image,
    resolve_max_pixels,
    sniff_image_format,
)

if TYPE_CHECKING:  # PyAV loads with the first video, not with every photo
    from restorecli.media.video import InputVideo, VideoInfo

# Frames of a video held at once: a batch being restored, one being read, one being written.
VIDEO_FRAMES_HELD = 8


@dataclasses.dataclass
class MediaInput:
    """An input that passed its checks: a decoded image, or a video open at its first frame."""

    kind: str
    label: str
    path: Path | None  # None: the data came from stdin and lives only in memory / temp file
    image: ImageData | None = None
    video: InputVideo | None = None  # restore_video consumes it
    info: VideoInfo | None = None
    raw: bytes | None = None  # an image read from stdin, as it came
    _temp: Path | None = None  # spooled stdin video

    @property
    def source_path(self) -> Path | None:
        """A file holding the input (the spooled copy for stdin video)."""
        return self.path or self._temp

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None

    def __enter__(self) -> MediaInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_input(
    source: str | os.PathLike[str] | bytes,
    *,
    max_pixels: int | None = None,
    check_kind: Callable[[str], None] | None = None,
) -> MediaInput:
    """Check and open one input: a path, or the bytes of stdin.

    ``check_kind(kind)`` runs as soon as the kind is known, before an image is decoded or a
    video's first frame (``restore TASK`` checks its output there). Raises
    InputNotFoundError, UnsupportedInputError, CorruptInputError and InputTooLargeError.
    """
    limit = resolve_max_pixels(max_pixels)
    check = check_kind or (lambda kind: None)
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        if data and sniff_image_format(data[:32]) is None:
            return _open_stdin_video(data, limit, check)
        check(IMAGE)  # empty: fails as an empty image
        image = read_image(data, max_pixels=limit or 0)
        return MediaInput(IMAGE, "<stdin>", None, image=image, raw=data)
    path = Path(source)
    if sniff_image_format(_read_head(path)) is not None:
        check(IMAGE)
        return MediaInput(IMAGE, str(path), path, image=read_image(path, max_pixels=limit or 0))
    return _open_video(path, str(path), limit, check)


def detect_kind(path: str | os.PathLike[str]) -> str | None:
    """IMAGE, VIDEO or None (not media) for a file, judged by its content (a folder's plan).

    Raises InputNotFoundError (missing), UnsupportedInputError (a folder) and
    CorruptInputError (empty file, damaged video).
    """
    path = Path(path)
    if sniff_image_format(_read_head(path)) is not None:
        return IMAGE
    from restorecli.media.video import open_video

    try:
        open_video(path).close()
    except UnsupportedInputError:
        return None
    return VIDEO


def _read_head(path: Path) -> bytes:
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
    return head


def _open_stdin_video(data: bytes, limit: int | None, check: Callable[[str], None]) -> MediaInput:
    fd, name = tempfile.mkstemp(prefix="restore-stdin-", suffix=".video")
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return _open_video(temp, "<stdin>", limit, check, spooled=True)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _open_video(
    file: Path, label: str, limit: int | None, check: Callable[[str], None], spooled: bool = False
) -> MediaInput:
    from restorecli.media.video import describe_video, open_video

    try:
        video = open_video(file, name=label)
    except UnsupportedInputError:  # opens as something else, or not at all: not media
        raise UnsupportedInputError(f"{label}: not an image or video we can read") from None
    try:
        check(VIDEO)
        info = describe_video(video)  # up to the first frame, kept for the restore
        check_pixel_limit(info.width, info.height, limit, label)
        check_memory(info.width, info.height, label, frames=VIDEO_FRAMES_HELD)
    except BaseException:
        video.close()
        raise
    if spooled:
        return MediaInput(VIDEO, label, None, video=video, info=info, _temp=file)
    return MediaInput(VIDEO, label, file, video=video, info=info)
