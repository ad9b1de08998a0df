"""Restore one file or a whole folder: the work behind ``restore TASK`` and ``restore batch``.

The command line only parses options and reports; everything here is importable::

    restorer = load_restorer(None, task="derain")
    with open_input("rainy.jpg") as media:
        restore_media(restorer, media, Path("clear.jpg"), FileOptions())

    items = plan_batch("photos", "photos_derain", recursive=True)
    report = run_batch(restorer, items, FileOptions())

Single files are checked before the model is loaded (decodable, below the pixel limit, output
writable); a batch loads the model once and reports a bad file instead of stopping on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from restorecli.auto import AutoRestorer, restore_auto
from restorecli.errors import (
    EXIT_INTERNAL,
    CorruptInputError,
    InputNotFoundError,
    OutputExistsError,
    OutputFormatError,
    RestoreError,
    UnsupportedInputError,
)
from restorecli.media import (
    IMAGE,
    IMAGE_EXTENSIONS,
    VIDEO,
    detect_kind,
    has_media_extension,
    sniff_video_container,
    video_module,
)
from restorecli.media.image import (
    DEFAULT_QUALITY,
    FORMAT_EXTENSIONS,
    ImageData,
    check_memory,
    check_pixel_limit,
    encode_image,
    format_for_path,
    read_image,
    resolve_max_pixels,
    sniff_image_format,
)
from restorecli.media.safe_write import atomic_output, check_output, check_writable, is_temp_file
from restorecli.paths import default_batch_dir, default_output_path, is_within, mirror_path
from restorecli.protocols import FrameRestorer

# What happened to one file.
RESTORED = "restored"
SKIPPED = "skipped"  # output already there and --skip-existing
IGNORED = "ignored"  # not media (a batch's stray text file)
FAILED = "failed"
KEPT = "kept"  # judged clean by `restore auto`: the output is the input as it was

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


@dataclasses.dataclass
class FileResult:
    """The outcome for one input, as shown in the summary table and the JSON report."""

    input: str
    output: str | None
    status: str
    kind: str | None = None
    message: str = ""
    exit_code: int = 0
    seconds: float = 0.0
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)  # e.g. encoder fallbacks
    # `restore auto`: the tasks run (in order, [] when kept) and every task's confidence.
    tasks: list[str] | None = None
    scores: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.tasks is None:  # the task commands' reports stay as they were
            del out["tasks"], out["scores"]
        return out


# --- the model ---------------------------------------------------------------------------------


def load_restorer(
    weights: str | os.PathLike[str] | None,
    *,
    task: str | None,
    overrides: Mapping[str, Any] | None = None,
    device: str = "auto",
    precision: str = "fp32",
    offline: bool | None = None,
    threads: int | None = None,
) -> FrameRestorer:
    """Load a ``Restorer``; ``overrides`` replace fields of the model's own default config;
    ``threads`` sets torch's CPU threads (None: torch's default).

    Only the options the user gave are in ``overrides``, so a model's default ``init`` and
    ``steps`` (from its registry entry or file metadata) stay in force otherwise.
    """
    from restorecli.pipeline import Restorer

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    restorer = Restorer.from_pretrained(
        None if weights is None else str(weights),
        task=task,
        device=device,
        precision=precision,
        offline=offline,
    )
    if overrides:
        restorer.config = dataclasses.replace(restorer.config, **dict(overrides))
    restorer.check_config(overrides or {})  # an option this model lacks fails before any file
    return restorer


def check_overrides(overrides: Mapping[str, Any]) -> None:
    """Raise ValueError if ``overrides`` make no valid sampling config (e.g. ``tile=32``).

    Meant for before ``load_restorer``, so inconsistent options fail without loading a model.
    """
    from restorecli.config import RestoreConfig

    RestoreConfig(**overrides)


def describe_restorer(restorer: FrameRestorer) -> dict[str, Any]:
    """The model's name, device and sampling config, for JSON reports (None where unknown)."""
    config = restorer.config
    return {
        "model": restorer.name,
        "device": str(restorer.device) if restorer.device is not None else None,
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else None,
    }


# --- one input ---------------------------------------------------------------------------------


@dataclasses.dataclass
class MediaInput:
    """An input that passed its checks: a decoded image, or a probed video file."""

    kind: str
    label: str
    path: Path | None  # None: the data came from stdin and lives only in memory / temp file
    image: ImageData | None = None
    info: Any = None  # the video probe's result
    raw: bytes | None = None  # an image read from stdin, as it came
    _temp: Path | None = None  # spooled stdin video

    @property
    def source_path(self) -> Path | None:
        """A file holding the input (the spooled copy for stdin video)."""
        return self.path or self._temp

    def close(self) -> None:
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None

    def __enter__(self) -> MediaInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_input(
    source: str | os.PathLike[str] | bytes, *, max_pixels: int | None = None
) -> MediaInput:
    """Check and open one input: a path, or the bytes of stdin.

    Images are decoded here (so a corrupt file fails before the model loads); videos are
    probed. Raises InputNotFoundError, UnsupportedInputError, CorruptInputError and
    InputTooLargeError.
    """
    limit = resolve_max_pixels(max_pixels)
    kind = input_kind(source)
    if isinstance(source, bytes | bytearray):
        if kind == IMAGE:
            image = read_image(bytes(source), max_pixels=limit or 0)
            return MediaInput(IMAGE, "<stdin>", None, image=image, raw=bytes(source))
        return _open_stdin_video(bytes(source), limit)
    path = Path(source)
    if kind == IMAGE:
        return MediaInput(IMAGE, str(path), path, image=read_image(path, max_pixels=limit or 0))
    return MediaInput(VIDEO, str(path), path, info=_probe_video(path, limit))


def input_kind(source: str | os.PathLike[str] | bytes) -> str | None:
    """IMAGE or VIDEO, judged by content without decoding: the cheap check before the rest.

    A path that is neither raises UnsupportedInputError (or ``detect_kind``'s errors). Bytes
    (stdin) are IMAGE when they start like one, or are empty (to fail as an empty image), and
    None otherwise: possibly a video, known only once spooled to a file and probed.
    """
    if isinstance(source, bytes | bytearray):
        return IMAGE if not source or sniff_image_format(bytes(source[:32])) else None
    path = Path(source)
    kind = detect_kind(path)
    if kind is None:
        raise UnsupportedInputError(f"{path}: not an image or video we can read")
    return kind


def _open_stdin_video(data: bytes, limit: int | None) -> MediaInput:
    video = video_module()
    if video is None:
        raise UnsupportedInputError(
            "<stdin>: not an image we can read (PNG, JPEG, WebP, TIFF, BMP)"
        )
    fd, name = tempfile.mkstemp(prefix="restore-stdin-", suffix=".video")
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if not video.is_video(temp):
            container = sniff_video_container(data[:32])
            if container is not None:
                raise CorruptInputError(
                    f"<stdin>: corrupt or truncated video ({container} container)"
                )
            raise UnsupportedInputError("<stdin>: not an image or video we can read")
        info = _probe_video(temp, limit, label="<stdin>")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return MediaInput(VIDEO, "<stdin>", None, info=info, _temp=temp)


# Frames of a video held at once: a batch being restored, one being read, one being written.
VIDEO_FRAMES_HELD = 8


def _probe_video(path: Path, limit: int | None, label: str | None = None) -> Any:
    video = video_module()
    if video is None:
        raise UnsupportedInputError(f"{path}: video support is not installed")
    info = video.probe_video(path)
    width, height = getattr(info, "width", None), getattr(info, "height", None)
    if isinstance(width, int) and isinstance(height, int):
        check_pixel_limit(width, height, limit, label or str(path))
        check_memory(width, height, label or str(path), frames=VIDEO_FRAMES_HELD)
    return info


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
    to_path = isinstance(dst, Path)
    inputs = [media.path] if media.path is not None else []
    if media.kind == IMAGE:
        assert media.image is not None
        image = media.image

        def on_event(event: dict[str, Any]) -> None:  # a large image: tile by tile
            if progress is not None and event.get("stage") == "tile":
                progress(event["tile"], event["tiles"])

        out = restorer.restore_array(image.rgb, callback=on_event)
        restored = image.with_rgb(np.asarray(out, dtype=np.float32))
        if to_path:
            with atomic_output(
                dst, overwrite=options.overwrite, input_paths=inputs, create_parents=create_parents
            ) as tmp:
                data = encode_image(restored, format_for_path(dst), quality=options.quality)
                tmp.write_bytes(data)
        else:
            dst.write(encode_image(restored, image.format, quality=options.quality))
            dst.flush()
        width, height, frames = image.width, image.height, None
        notes: list[str] = []
    else:
        report = _restore_video(
            restorer, media, dst, options, progress=progress, create_parents=create_parents
        )
        frames = getattr(report, "frames", None)
        width = getattr(media.info, "width", None)
        height = getattr(media.info, "height", None)
        notes = list(getattr(report, "notes", []) or [])
    return FileResult(
        input=media.label,
        output=str(dst) if to_path else _stream_name(dst),
        status=RESTORED,
        kind=media.kind,
        seconds=round(time.perf_counter() - start, 3),
        width=width,
        height=height,
        frames=frames,
        notes=notes,
    )


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
        inputs = [media.path] if media.path is not None else []
        with atomic_output(
            dst, overwrite=options.overwrite, input_paths=inputs, create_parents=create_parents
        ) as tmp:
            _copy_source(media, tmp)
        output = str(dst)
    else:
        _copy_source(media, dst)
        dst.flush()
        output = _stream_name(dst)
    image = media.image
    return FileResult(
        input=media.label,
        output=output,
        status=KEPT,
        kind=media.kind,
        seconds=round(time.perf_counter() - start, 3),
        width=image.width if image is not None else getattr(media.info, "width", None),
        height=image.height if image is not None else getattr(media.info, "height", None),
    )


def _copy_source(media: MediaInput, dst: Path | BinaryIO) -> None:
    if media.raw is not None:
        if isinstance(dst, Path):
            dst.write_bytes(media.raw)
        else:
            dst.write(media.raw)
        return
    assert media.source_path is not None
    if isinstance(dst, Path):
        shutil.copyfile(media.source_path, dst)
    else:
        with open(media.source_path, "rb") as fh:
            shutil.copyfileobj(fh, dst)


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


def _stream_name(stream: BinaryIO) -> str:
    """How a binary output stream is named in reports: its path (``/dev/null``) or <stdout>."""
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) and not name.startswith("<") else "<stdout>"


def _restore_video(
    restorer: FrameRestorer,
    media: MediaInput,
    dst: Path | BinaryIO,
    options: FileOptions,
    *,
    progress: Progress | None,
    create_parents: bool,
) -> Any:
    video = video_module()
    if video is None:
        raise UnsupportedInputError(f"{media.label}: video support is not installed")
    src = media.source_path
    assert src is not None
    # The one temporary file of this output: the video module writes where it is told.
    video_options = _video_options(video, options.video, restorer)
    if isinstance(dst, Path):
        inputs = [media.path] if media.path is not None else []
        with (
            atomic_output(
                dst, overwrite=options.overwrite, input_paths=inputs, create_parents=create_parents
            ) as tmp,
            restorer.sequence() as session,
        ):
            restore = functools.partial(restorer.restore_batch, session=session)
            return video.restore_video(src, tmp, restore, options=video_options, progress=progress)
    # Standard output: encode in the input's container (MP4 needs a seekable file, its index
    # is written last), then stream the finished file out.
    suffix = media.path.suffix if media.path is not None else ".mkv"
    with tempfile.TemporaryDirectory(prefix="restore-") as folder:
        tmp = Path(folder) / f"out{suffix}"
        with restorer.sequence() as session:
            restore = functools.partial(restorer.restore_batch, session=session)
            report = video.restore_video(
                src, tmp, restore, options=video_options, progress=progress
            )
        with open(tmp, "rb") as fh:
            shutil.copyfileobj(fh, dst)
        dst.flush()
    return report


def _video_options(video: Any, settings: VideoSettings, restorer: FrameRestorer) -> Any:
    """The video module's VideoOptions from our settings; unset values keep its defaults."""
    values: dict[str, Any] = dataclasses.asdict(settings)
    batch_size = getattr(restorer.config, "batch_size", None)
    if isinstance(batch_size, int):
        values["batch_size"] = batch_size
    names = {f.name for f in dataclasses.fields(video.VideoOptions)}
    return video.VideoOptions(**{k: v for k, v in values.items() if k in names and v is not None})


# --- a folder ----------------------------------------------------------------------------------

RESTORE = "restore"


@dataclasses.dataclass
class BatchItem:
    """One file found under the batch folder and what will be done with it."""

    src: Path
    dst: Path
    action: str  # RESTORE, SKIPPED, IGNORED or FAILED (known bad before starting)
    kind: str | None = None
    note: str = ""
    exit_code: int = 0


@dataclasses.dataclass
class BatchReport:
    results: list[FileResult]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": {s: self.count(s) for s in (RESTORED, KEPT, SKIPPED, IGNORED, FAILED)},
            "files": [r.to_dict() for r in self.results],
        }


def batch_output_dir(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None,
    task: str,
    *,
    suffix: str = "",
) -> Path:
    """Where a batch writes: ``output_dir``, else the sibling folder ``DIR_TASK``.

    Raises OutputExistsError when that is the input folder itself and no ``suffix`` sets the
    outputs' names apart from the inputs'.
    """
    folder = Path(input_dir)
    out_root = Path(output_dir) if output_dir is not None else default_batch_dir(folder, task)
    if folder.exists() and out_root.resolve() == folder.resolve() and not suffix:
        raise OutputExistsError(
            f"refusing to write into the input folder {folder}: name another one with -o"
        )
    return out_root


def walk_files(
    root: str | os.PathLike[str], *, recursive: bool = False, exclude: Iterable[Path] = ()
) -> Iterator[Path]:
    """Files under ``root`` in a stable (sorted) order.

    Hidden files and folders (name starting with ``.``, which includes the temporary files of
    an interrupted run) are left out, as are the ``exclude`` folders (an output folder inside
    the input one).
    """
    root = Path(root)
    excluded = [Path(e).resolve() for e in exclude]
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if recursive and not d.startswith(".") and (here / d).resolve() not in excluded
        )
        for name in sorted(filenames):
            if not name.startswith(".") and not is_temp_file(name):
                yield here / name


def plan_batch(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    recursive: bool = False,
    skip_existing: bool = False,
    overwrite: bool = False,
    suffix: str = "",
) -> list[BatchItem]:
    """Decide, for every file under ``input_dir``, its mirrored output and what to do.

    Non-media files are IGNORED, unless their name promises media (``.png`` holding text, an
    empty ``.jpg``): those are FAILED, so they show in the summary. Existing outputs are
    SKIPPED with ``skip_existing``, FAILED without it or ``overwrite``.
    """
    root = Path(input_dir)
    if not root.exists():
        raise InputNotFoundError(f"{root}: no such folder")
    if not root.is_dir():
        raise UnsupportedInputError(f"{root}: not a folder (restore a single file without `batch`)")
    out_root = Path(output_dir)
    exclude = [out_root] if is_within(out_root, root) else []
    items: list[BatchItem] = []
    for src in walk_files(root, recursive=recursive, exclude=exclude):
        dst = mirror_path(src, root, out_root, suffix=suffix)
        try:
            kind = detect_kind(src)
            problem: RestoreError | None = None
        except RestoreError as exc:
            kind, problem = None, exc
        if kind is None:
            if has_media_extension(src) or (problem is not None and not _is_empty(src)):
                error = problem or UnsupportedInputError(
                    f"{src}: not an image or video we can read"
                )
                items.append(BatchItem(src, dst, FAILED, None, str(error), error.exit_code))
            else:
                items.append(BatchItem(src, dst, IGNORED, None, "not an image or video"))
        elif os.path.lexists(dst) and skip_existing:
            items.append(BatchItem(src, dst, SKIPPED, kind, "output exists"))
        elif os.path.lexists(dst) and not overwrite:
            items.append(
                BatchItem(
                    src,
                    dst,
                    FAILED,
                    kind,
                    f"{dst} already exists "
                    "(pass --overwrite to replace it or --skip-existing to keep it)",
                    OutputExistsError.exit_code,
                )
            )
        else:
            items.append(BatchItem(src, dst, RESTORE, kind))
    return items


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def run_batch(
    restorer: FrameRestorer | AutoRestorer,
    items: Iterable[BatchItem],
    options: FileOptions,
    *,
    on_start: Callable[[BatchItem], None] | None = None,
    on_done: Callable[[FileResult], None] | None = None,
    progress: Progress | None = None,
    raise_unexpected: bool = False,
) -> BatchReport:
    """Restore every RESTORE item; a file that fails is reported, and the batch goes on.

    With an ``AutoRestorer`` (``restore batch --task auto``), each file gets its own decision.
    ``raise_unexpected`` lets errors other than RestoreError through (for --debug).
    KeyboardInterrupt always stops the batch (the file being written is discarded).
    """
    results: list[FileResult] = []
    for item in items:
        if on_start is not None:
            on_start(item)
        if item.action == RESTORE:
            result = _restore_item(restorer, item, options, progress, raise_unexpected)
        else:
            result = FileResult(
                input=str(item.src),
                output=str(item.dst) if item.action == SKIPPED else None,
                status=item.action,
                kind=item.kind,
                message=item.note,
                exit_code=item.exit_code,
            )
        results.append(result)
        if on_done is not None:
            on_done(result)
    return BatchReport(results)


def _restore_item(
    restorer: FrameRestorer | AutoRestorer,
    item: BatchItem,
    options: FileOptions,
    progress: Progress | None,
    raise_unexpected: bool,
) -> FileResult:
    try:
        with open_input(item.src, max_pixels=options.max_pixels) as media:
            check_destination(
                item.dst,
                media.kind,
                overwrite=options.overwrite,
                input_paths=[item.src],
                create_parents=True,
            )
            if isinstance(restorer, AutoRestorer):
                return restore_auto(
                    restorer, media, item.dst, options, progress=progress, create_parents=True
                )
            return restore_media(
                restorer, media, item.dst, options, progress=progress, create_parents=True
            )
    except RestoreError as exc:
        message, code = str(exc), exc.exit_code
    except Exception as exc:
        if raise_unexpected:
            raise
        message, code = f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL
    return FileResult(
        input=str(item.src),
        output=None,
        status=FAILED,
        kind=item.kind,
        message=message,
        exit_code=code,
    )
