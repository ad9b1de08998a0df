"""Check a clean-photo corpus against its manifest, so a training run names exactly its data.

The manifest (``corpus/manifest.csv`` in the repository) lists every photo with its sha256; a
rebuilt corpus must match it file for file before its numbers can be compared with ours.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CorpusReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.mismatched


def verify_corpus(root: str | Path, manifest: str | Path) -> CorpusReport:
    """Hash every file the manifest lists under ``root`` and compare with its sha256 column."""
    root = Path(root)
    report = CorpusReport()
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            path = root / row["file"]
            report.checked += 1
            if not path.is_file():
                report.missing.append(row["file"])
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != row["sha256"]:
                report.mismatched.append(row["file"])
    return report
