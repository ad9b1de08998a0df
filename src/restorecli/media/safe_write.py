"""Write outputs so that a user never finds a half-written file under its final name.

Every writer works on a hidden temporary file in the destination folder
(``.NAME.restore-tmp-XXXXXXXX.EXT``: the real extension stays last, because some writers pick the
format from it). Only a complete, fsync'ed file is moved to its final name, with one atomic
``link``/``rename``. Any exception, Ctrl-C included, removes the temporary file; a ``kill -9``
leaves at worst that hidden temporary file, never a truncated output. The temporary name
carries the writer's host and process id (``.NAME.restore-tmp-HOST-PID-XXXXXXXX.EXT``), so the
next write into that folder removes those whose writer is provably gone (same host, no such
process).

The checks that are cheap (output exists, output is an input, folder not writable) run before
the expensive work, so a long restoration never ends in "cannot write".
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from restorecli.errors import DiskFullError, OutputExistsError, OutputNotWritableError

TEMP_MARKER = ".restore-tmp-"
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"
_swept: set[Path] = set()  # folders already cleared of stale temporaries by this process
_MAX_STEM = 150  # keeps the temporary name under the usual 255-byte file-name limit

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR}

PathLike = str | os.PathLike[str]


def is_temp_file(path: PathLike) -> bool:
    """True for a temporary file left by an interrupted write (safe to delete)."""
    name = Path(path).name
    return name.startswith(".") and TEMP_MARKER in name


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (symlinks and hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the resolved names
        return Path(a).resolve() == Path(b).resolve()


def check_output(path: PathLike, *, overwrite: bool = False, input_paths: Iterable[PathLike] = ()):
    """Refuse to replace an input (always) or an existing file (unless ``overwrite``)."""
    path = Path(path)
    for source in input_paths:
        if same_file(path, source):
            raise OutputExistsError(
                f"refusing to write over the input {source}: choose another output name"
            )
    if os.path.lexists(path):
        if path.is_dir():
            raise OutputNotWritableError(f"cannot write {path}: it is a folder")
        if not overwrite:
            raise OutputExistsError(f"{path} already exists (pass --overwrite to replace it)")


def check_writable(path: PathLike, *, create_parents: bool = False) -> None:
    """Fail early, with a clear message, if a file cannot be created at ``path``.

    Permission bits do not stop root, so the test is real: create and delete a probe file in
    the destination folder. ``create_parents`` makes missing folders (batch output trees).
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputNotWritableError(f"cannot write {path}: it is a folder")
    if not parent.exists() and create_parents:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _translate(exc, path) from exc
    if not parent.exists():
        raise OutputNotWritableError(f"cannot write {path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputNotWritableError(f"cannot write {path}: {parent} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix="." + TEMP_MARKER.lstrip("."), dir=parent)
    except OSError as exc:
        raise _translate(exc, path) from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


@contextlib.contextmanager
def atomic_output(
    path: PathLike,
    *,
    overwrite: bool = False,
    input_paths: Iterable[PathLike] = (),
    create_parents: bool = False,
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; publish it as ``path`` only on success.

    Raises OutputExistsError (exists without ``overwrite``, or is one of ``input_paths``),
    OutputNotWritableError (folder missing or read-only) and DiskFullError (ENOSPC while
    writing). The temporary file is removed on every failure, KeyboardInterrupt included.
    """
    path = Path(path)
    input_paths = tuple(input_paths)
    check_output(path, overwrite=overwrite, input_paths=input_paths)
    check_writable(path, create_parents=create_parents)
    _sweep_stale(path.parent)
    tmp = _make_temp(path)
    try:
        yield tmp
        _fsync(tmp)
        _set_mode(tmp, path)
        _publish(tmp, path, overwrite=overwrite)
        _fsync_dir(path.parent)
    except OSError as exc:
        _remove(tmp)
        if exc.errno in _DISK_FULL:  # other OS errors may come from reading: keep them as is
            raise _translate(exc, path) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise


def _make_temp(path: Path) -> Path:
    stem = path.stem[:_MAX_STEM]
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{stem}{TEMP_MARKER}{_HOST}-{os.getpid()}-",
            suffix=path.suffix,
            dir=path.parent,
        )
    except OSError as exc:
        raise _translate(exc, path) from exc
    os.close(fd)
    return Path(name)


def _sweep_stale(folder: Path) -> None:
    """Delete temporaries in ``folder`` left by killed writers of this host (once per folder
    per process): a name with our host and the id of a process that no longer exists."""
    folder = folder if str(folder) else Path(".")
    key = folder.resolve()
    if key in _swept:
        return
    _swept.add(key)
    pattern = re.compile(rf"^\..*{re.escape(TEMP_MARKER)}{_HOST}-(\d+)-")
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = pattern.match(entry.name)
            if match and not _alive(int(match.group(1))):
                _remove(Path(entry.path))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


def _publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    # link() fails if the name appeared meanwhile, so a file created by someone else while we
    # worked is never clobbered; fall back to rename where hard links are not supported.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(f"{path} already exists (pass --overwrite to replace it)") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(path):
            raise OutputExistsError(
                f"{path} already exists (pass --overwrite to replace it)"
            ) from None
        os.replace(tmp, path)
        return
    _remove(tmp)


def _translate(exc: OSError, path: Path) -> BaseException:
    """Turn disk-full and permission errors into the user-facing error classes."""
    reason = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL:
        return DiskFullError(f"no space left while writing {path}: nothing was written")
    if exc.errno in _NOT_WRITABLE or isinstance(exc, (FileExistsError, NotADirectoryError)):
        return OutputNotWritableError(f"cannot write {path}: {reason}")
    return exc


def _set_mode(tmp: Path, path: Path) -> None:
    """mkstemp makes 0600 files; give the output the mode a plain ``open`` would."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # replacing: keep the old file's mode
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename durable; not every platform/file system allows opening a folder.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
