"""Turning PyAV/FFmpeg exceptions into one-line messages and restorecli errors."""

from __future__ import annotations

import errno

import av

from restorecli.errors import DiskFullError, OutputNotWritableError, RestoreError


def ffmpeg_message(exc: BaseException) -> str:
    """The exception's reason on one line."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def not_writable(what: str, exc: BaseException) -> OutputNotWritableError:
    """OutputNotWritableError saying ``what`` failed, with FFmpeg's reason in brackets."""
    return OutputNotWritableError(f"{what} ({ffmpeg_message(exc)})")


def write_failure(exc: av.FFmpegError, where: str) -> RestoreError | None:
    """The restorecli error for an FFmpeg failure while writing ``where``; None: not ours.

    Only OS-level errors are mapped: input errors were already turned into CorruptInputError
    where the input is read, so anything else is a bug worth its traceback.
    """
    if not isinstance(exc, OSError):
        return None
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"no space left while writing {where}")
    return not_writable(f"{where}: write failed", exc)
