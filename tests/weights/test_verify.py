"""SHA-256 checks and the record that spares rehashing unchanged files."""

from __future__ import annotations

import hashlib
import os

from restorecli.weights.verify import CHUNK_SIZE, check_file, sha256_file


def test_sha256_file_reads_in_chunks(tmp_path):
    data = os.urandom(CHUNK_SIZE + 12345)  # more than one chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_good_file_is_remembered_until_it_changes(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"original bytes")
    sha = hashlib.sha256(b"original bytes").hexdigest()

    first = check_file(path, sha, 14)
    assert first.ok and not first.from_record
    second = check_file(path, sha, 14)
    assert second.ok and second.from_record

    # Same size, new content; move mtime explicitly as filesystem clocks can be coarse.
    path.write_bytes(b"tampered bytes")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = check_file(path, sha, 14)
    assert not third.ok and not third.from_record
    assert third.actual_sha256 == hashlib.sha256(b"tampered bytes").hexdigest()
    assert "sha256" in third.problem()


def test_without_record_the_file_is_always_rehashed(tmp_path):
    path = tmp_path / "w"
    path.write_bytes(b"abc")
    sha = hashlib.sha256(b"abc").hexdigest()
    assert check_file(path, sha, 3).ok
    again = check_file(path, sha, 3, use_record=False)
    assert again.ok and not again.from_record


def test_size_mismatch_fails_without_hashing(tmp_path):
    path = tmp_path / "w"
    path.write_bytes(b"abcd")
    check = check_file(path, "0" * 64, 3)
    assert not check.ok
    assert check.actual_sha256 is None
    assert check.problem() == "size 4 bytes, expected 3"


def test_record_is_not_shared_between_expected_hashes(tmp_path):
    path = tmp_path / "w"
    path.write_bytes(b"abc")
    good = hashlib.sha256(b"abc").hexdigest()
    assert check_file(path, good, 3).ok
    assert not check_file(path, "f" * 64, 3).ok
