"""Check a clean-photo corpus against its manifest, so a training run names exactly its data.

The manifest (``corpus/manifest.csv`` in the repository) lists every photo with its sha256; a
rebuilt corpus must match it file for file before its numbers can be compared with ours. Images
the manifest does not list count as differences too: training would pick them up.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from restorecli.errors import InputNotFoundError, UnsupportedInputError
from restorecli.train.data import list_images
from restorecli.weights import sha256_file


@dataclass
class CorpusReport:
    """Outcome of ``verify_corpus``: counts and the relative paths that differ."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # images under root the manifest lacks

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched and not self.extra


def verify_corpus(root: str | Path, manifest: str | Path) -> CorpusReport:
    """Hash every file the manifest lists under ``root`` and compare with its sha256 column.

    Raises ``InputNotFoundError`` if ``root`` or ``manifest`` does not exist and
    ``UnsupportedInputError`` if the manifest lacks the ``file`` and ``sha256`` columns.
    """
    root, manifest = Path(root), Path(manifest)
    if not root.is_dir():
        raise InputNotFoundError(f"corpus folder {root} does not exist")
    if not manifest.is_file():
        raise InputNotFoundError(f"manifest {manifest} does not exist")
    report = CorpusReport()
    listed = set()
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        if not {"file", "sha256"} <= set(reader.fieldnames or ()):
            raise UnsupportedInputError(f"{manifest} is not a corpus manifest (needs file, sha256)")
        for row in reader:
            listed.add(row["file"])
            path = root / row["file"]
            report.checked += 1
            if not path.is_file():
                report.missing.append(row["file"])
            elif sha256_file(path) != row["sha256"]:
                report.mismatched.append(row["file"])
    report.extra = [
        rel for p in list_images(root) if (rel := p.relative_to(root).as_posix()) not in listed
    ]
    return report
