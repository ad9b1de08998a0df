"""Where an input's result goes: the output's name and checks, then one write per output.

Every output is written through ``_output_file``, the one place that makes its temporary file:
beside a path output, moved into place only when complete (``media/safe_write.py``); for
standard output or a device, a private file streamed out once complete (an MP4 needs a
seekable file: its index is written last). The image encoder and ``restore_video`` write only
to the file they are given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from restorecli.errors import OutputFormatError
from restorecli.jobs.inputs import MediaInput
from restorecli.jobs.options import FileOptions, Progress, VideoSettings
from restorecli.jobs.results import KEPT, RESTORED, FileResult
from restorecli.media import IMAGE, IMAGE_EXTENSIONS, has_media_extension
from restorecli.media.image import (
    FORMAT_EXTENSIONS,
    encode_image,
    format_for_path,
    sniff_image_format,
)
from restorecli.media.safe_write import atomic_output, check_output, check_writable
from restorecli.media.video.options import VideoOptions, VideoReport
from restorecli.paths import default_output_path
from restorecli.protocols import FrameRestorer


def default_destination(src: Path, task: str, *, suffix: str | None = None) -> Path:
    """``in.png`` -> ``in_TASK.png``; a name without a media extension gets one from the content
    (``photo`` holding a JPEG -> ``photo_TASK.jpg``), so the output format is never a guess."""
    dst = default_output_path(src, task, suffix=suffix)
    if has_media_extension(dst):
        return dst
    try:
        with open(src, "rb") as fh:
            fmt = sniff_image_format(fh.read(32))
    except OSError:
        fmt = None
    return dst.with_name(dst.name + FORMAT_EXTENSIONS[fmt]) if fmt else dst


def check_destination(
    dst: Path,
    kind: str,
    *,
    overwrite: bool = False,
    input_paths: Iterable[str | os.PathLike[str]] = (),
    create_parents: bool = False,
) -> None:
    """Everything about the output that can fail, checked before the expensive work."""
    if kind == IMAGE:
        format_for_path(dst)
    elif dst.suffix.lower() in IMAGE_EXTENSIONS or not dst.suffix:
        raise OutputFormatError(
            f"cannot write a video to {dst}: use a video extension such as .mp4 or .mkv"
        )
    check_output(dst, overwrite=overwrite, input_paths=input_paths)
    check_writable(dst, create_parents=create_parents)


def restore_media(
    restorer: FrameRestorer,
    media: MediaInput,
    dst: Path | BinaryIO,
    options: FileOptions,
    *,
    progress: Progress | None = None,
    create_parents: bool = False,
) -> FileResult:
    """Restore ``media`` into ``dst`` (a path, written atomically, or a binary stream)."""
    start = time.perf_counter()
    if media.kind == IMAGE:
        data = _restore_image(restorer, media, dst, options, progress)
        with _output_file(media, dst, options, create_parents) as out:
            out.write_bytes(data)
        return _result(media, dst, RESTORED, start)
    with _output_file(media, dst, options, create_parents) as out:
        report = _restore_video(restorer, media, out, options.video, progress)
    return _result(media, dst, RESTORED, start, frames=report.frames, notes=report.notes)


def keep_media(
    media: MediaInput,
    dst: Path | BinaryIO,
    options: FileOptions,
    *,
    create_parents: bool = False,
) -> FileResult:
    """Write ``media`` unchanged to ``dst``: its own bytes when ``dst`` is a stream or a file of
    the input's format, else its pixels (and metadata) in the format ``dst`` asks for."""
    start = time.perf_counter()
    src = media.source_path
    if isinstance(dst, Path):
        if media.kind == IMAGE:
            assert media.image is not None
            same = format_for_path(dst) == media.image.format
        else:
            same = src is not None and dst.suffix.lower() == src.suffix.lower()
        if not same:  # another format: decode-encode, the pixels as they were
            result = restore_media(_Unchanged(), media, dst, options, create_parents=create_parents)
            result.status = KEPT
            return result
    with _output_file(media, dst, options, create_parents) as out:
        if media.raw is not None:
            out.write_bytes(media.raw)
        else:
            assert src is not None
            shutil.copyfile(src, out)
    return _result(media, dst, KEPT, start)


@contextlib.contextmanager
def _output_file(
    media: MediaInput, dst: Path | BinaryIO, options: FileOptions, create_parents: bool
) -> Iterator[Path]:
    """The one file an output is written to (see the module's docstring)."""
    if isinstance(dst, Path):
        inputs = [media.path] if media.path is not None else []
        with atomic_output(
            dst, overwrite=options.overwrite, input_paths=inputs, create_parents=create_parents
        ) as tmp:
            yield tmp
        return
    # A video is encoded in the input's container (a stdin video: Matroska, which takes any
    # codec); an image's bytes are already in the input's format.
    suffix = media.path.suffix if media.path is not None else ".mkv"
    with tempfile.TemporaryDirectory(prefix="restore-") as folder:
        tmp = Path(folder) / f"out{suffix}"
        yield tmp
        with open(tmp, "rb") as fh:
            shutil.copyfileobj(fh, dst)
        dst.flush()


def _restore_image(
    restorer: FrameRestorer,
    media: MediaInput,
    dst: Path | BinaryIO,
    options: FileOptions,
    progress: Progress | None,
) -> bytes:
    """The restored image, encoded as ``dst`` names it (a stream: the input's format)."""
    image = media.image
    assert image is not None

    def on_event(event: dict[str, Any]) -> None:  # a large image: tile by tile
        if progress is not None and event.get("stage") == "tile":
            progress(event["tile"], event["tiles"])

    out = restorer.restore_array(image.rgb, callback=on_event)
    restored = image.with_rgb(np.asarray(out, dtype=np.float32))
    fmt = format_for_path(dst) if isinstance(dst, Path) else image.format
    return encode_image(restored, fmt, quality=options.quality)


def _restore_video(
    restorer: FrameRestorer,
    media: MediaInput,
    out: Path,
    settings: VideoSettings,
    progress: Progress | None,
) -> VideoReport:
    from restorecli.media.video import restore_video

    assert media.video is not None
    with restorer.sequence() as session:
        restore = functools.partial(restorer.restore_batch, session=session)
        return restore_video(
            media.video, out, restore, options=video_options(restorer, settings), progress=progress
        )


def video_options(restorer: FrameRestorer, settings: VideoSettings) -> VideoOptions:
    """The encoder settings given, over ``restore_video``'s defaults, and the model's batch size
    (shared with the split videos of ``jobs/video_split.py``, so both encode alike)."""
    values = {k: v for k, v in dataclasses.asdict(settings).items() if v is not None}
    batch_size = getattr(restorer.config, "batch_size", None)
    if isinstance(batch_size, int):
        values["batch_size"] = batch_size
    return VideoOptions(**values)


def _result(
    media: MediaInput,
    dst: Path | BinaryIO,
    status: str,
    start: float,
    *,
    frames: int | None = None,
    notes: Iterable[str] = (),
) -> FileResult:
    size = media.image if media.image is not None else media.info
    return FileResult(
        input=media.label,
        output=str(dst) if isinstance(dst, Path) else _stream_name(dst),
        status=status,
        kind=media.kind,
        seconds=round(time.perf_counter() - start, 3),
        width=size.width if size is not None else None,
        height=size.height if size is not None else None,
        frames=frames,
        notes=list(notes),
    )


def _stream_name(stream: BinaryIO) -> str:
    """How a binary output stream is named in reports: its path (``/dev/null``) or <stdout>."""
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) and not name.startswith("<") else "<stdout>"


class _Unchanged:
    """A FrameRestorer that returns its frames: re-encoding a kept file in another format."""

    config = None
    name = None
    task = None
    device = None

    def restore_array(self, image: np.ndarray, *, callback: Any = None) -> np.ndarray:
        return image

    def restore_batch(
        self, frames: np.ndarray, *, callback: Any = None, session: Any = None
    ) -> np.ndarray:
        return frames

    def check_config(self, given: Any = ()) -> None:
        return None

    def sequence(self) -> Any:
        return contextlib.nullcontext()
