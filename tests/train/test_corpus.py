"""Corpus check against a sha256 manifest: missing, changed and unlisted photos."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from restorecli.errors import InputNotFoundError, UnsupportedInputError
from restorecli.train.corpus import verify_corpus

FILES = {"a/one.jpg": b"first photo", "a/two.png": b"second photo", "three.webp": b"third"}


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    """A corpus folder (with the files the real corpus keeps beside its photos) and a manifest."""
    root = tmp_path / "corpus"
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "contact_sheet.jpg").write_bytes(b"preview")
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["source", "file", "width", "sha256"])
        writer.writeheader()
        for name, data in FILES.items():
            digest = hashlib.sha256(data).hexdigest()
            writer.writerow({"source": "test", "file": name, "width": 1, "sha256": digest})
    return root, manifest


def test_a_matching_corpus_passes(corpus):
    report = verify_corpus(*corpus)
    assert report.ok
    assert report.checked == 3
    assert report.missing == report.mismatched == report.extra == []


def test_missing_changed_and_unlisted_photos_are_reported(corpus):
    root, manifest = corpus
    (root / "a/one.jpg").unlink()
    (root / "three.webp").write_bytes(b"third, re-encoded")
    (root / "a/four.jpg").write_bytes(b"not in the manifest")
    report = verify_corpus(root, manifest)
    assert not report.ok
    assert report.checked == 3
    assert report.missing == ["a/one.jpg"]
    assert report.mismatched == ["three.webp"]
    assert report.extra == ["a/four.jpg"]


def test_one_unlisted_photo_is_enough_to_fail(corpus):
    root, manifest = corpus
    (root / "extra.png").write_bytes(b"x")
    assert not verify_corpus(root, manifest).ok


def test_missing_folder_or_manifest_and_bad_manifests_are_clear_errors(corpus, tmp_path):
    root, manifest = corpus
    with pytest.raises(InputNotFoundError, match="does not exist"):
        verify_corpus(tmp_path / "nowhere", manifest)
    with pytest.raises(InputNotFoundError, match="manifest"):
        verify_corpus(root, tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,hash\na/one.jpg,00\n")
    with pytest.raises(UnsupportedInputError, match="sha256"):
        verify_corpus(root, bad)
