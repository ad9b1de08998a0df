"""A folder: plan every file (its mirrored output, what to do), then restore them one by one.

The plan judges each file by content (``inputs.detect_kind`` opens a video and closes it);
running an item opens it once more, for the restore.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from restorecli.auto import AutoRestorer, restore_auto
from restorecli.errors import (
    EXIT_INTERNAL,
    InputNotFoundError,
    OutputExistsError,
    RestoreError,
    UnsupportedInputError,
)
from restorecli.jobs.inputs import detect_kind, open_input
from restorecli.jobs.options import FileOptions, Progress
from restorecli.jobs.outputs import check_destination, restore_media
from restorecli.jobs.results import FAILED, IGNORED, KEPT, RESTORED, SKIPPED, FileResult
from restorecli.media import has_media_extension
from restorecli.media.safe_write import is_temp_file
from restorecli.paths import default_batch_dir, is_within, mirror_path
from restorecli.protocols import FrameRestorer

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
            result = restore_item(restorer, item, options, progress, raise_unexpected)
        else:
            result = planned_result(item)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return BatchReport(results)


def planned_result(item: BatchItem) -> FileResult:
    """The result of an item the plan settled (SKIPPED, IGNORED, FAILED): nothing to run."""
    return FileResult(
        input=str(item.src),
        output=str(item.dst) if item.action == SKIPPED else None,
        status=item.action,
        kind=item.kind,
        message=item.note,
        exit_code=item.exit_code,
    )


def restore_item(
    restorer: FrameRestorer | AutoRestorer,
    item: BatchItem,
    options: FileOptions,
    progress: Progress | None = None,
    raise_unexpected: bool = False,
) -> FileResult:
    """Restore one RESTORE item; a RestoreError (and, unless ``raise_unexpected``, any other
    error) becomes a FAILED result. The local engine and each Ray worker run files through it."""
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
