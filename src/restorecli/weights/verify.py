"""SHA-256 checks of weight files, remembered so big files are not rehashed on every run.

A successful check is recorded in ``<cache>/verified-weights.json`` keyed by the file's real path
with its size, mtime, ctime and inode. Any change to those (rewriting the file, replacing it,
touching it) forces a new hash. ``restore models verify`` always rehashes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from restorecli.weights.cache import VERIFIED_FILE, ensure_cache_dir, restore_cache_dir

CHUNK_SIZE = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileCheck:
    """Outcome of comparing a file with its registry entry."""

    path: Path
    expected_sha256: str
    expected_size: int
    actual_size: int
    actual_sha256: str | None  # None when the size already differed (not hashed)
    from_record: bool = False  # True when a previous check was reused

    @property
    def ok(self) -> bool:
        return self.actual_size == self.expected_size and self.actual_sha256 == self.expected_sha256

    def problem(self) -> str:
        """One-line reason for a failed check."""
        if self.actual_size != self.expected_size:
            return f"size {self.actual_size} bytes, expected {self.expected_size}"
        return f"sha256 {self.actual_sha256}, expected {self.expected_sha256}"


def check_file(path: Path, sha256: str, size: int, *, use_record: bool = True) -> FileCheck:
    """Compare ``path`` with the expected size and hash (OSError if it cannot be read)."""
    real = Path(os.path.realpath(path))
    st = real.stat()
    if st.st_size != size:
        _forget(real)
        return FileCheck(path, sha256, size, st.st_size, None)
    key = _fingerprint(st, sha256)
    records = _load_records()
    if use_record and records.get(str(real)) == key:
        return FileCheck(path, sha256, size, st.st_size, sha256, from_record=True)
    actual = sha256_file(real)
    if actual == sha256:
        records[str(real)] = key
    else:
        records.pop(str(real), None)
    _save_records(records)
    return FileCheck(path, sha256, size, st.st_size, actual)


def _fingerprint(st: os.stat_result, sha256: str) -> list[object]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, sha256]


def _records_path() -> Path:
    return restore_cache_dir() / VERIFIED_FILE


def _load_records() -> dict[str, object]:
    try:
        data = json.loads(_records_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_records(records: dict[str, object]) -> None:
    # Best effort: a read-only cache only costs a rehash next time.
    try:
        folder = ensure_cache_dir()
        # Drop records of files that are gone, so the record does not grow forever.
        kept = {p: v for p, v in records.items() if os.path.exists(p)}
        tmp = folder / f".{VERIFIED_FILE}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(kept, indent=0), encoding="utf-8")
            os.replace(tmp, folder / VERIFIED_FILE)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass


def _forget(real: Path) -> None:
    records = _load_records()
    if records.pop(str(real), None) is not None:
        _save_records(records)
