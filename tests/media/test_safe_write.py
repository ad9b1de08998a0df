"""atomic_output: complete files or nothing, never over an input or an unasked-for file."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from restorecli.errors import DiskFullError, OutputExistsError, OutputNotWritableError
from restorecli.media.safe_write import (
    TEMP_MARKER,
    atomic_output,
    check_output,
    check_writable,
    is_temp_file,
    same_file,
)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_success_publishes_the_file_and_removes_the_temp(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    with atomic_output(out) as tmp:
        assert tmp.parent == tmp_path
        assert not out.exists()  # nothing under the final name while writing
        tmp.write_bytes(b"done")
    assert out.read_bytes() == b"done"
    assert leftovers(tmp_path) == ["out.png"]
    # mkstemp's 0600 is widened to what a plain open() would give
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_temp_name_is_hidden_recognisable_and_keeps_the_extension(tmp_path: Path) -> None:
    with atomic_output(tmp_path / "clip.final.mp4") as tmp:
        assert tmp.name.startswith(".clip.final" + TEMP_MARKER)
        assert tmp.suffix == ".mp4"
        assert is_temp_file(tmp)
        tmp.write_bytes(b"x")
    assert not is_temp_file(tmp_path / "clip.final.mp4")


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_any_failure_leaves_nothing(tmp_path: Path, exc: BaseException) -> None:
    out = tmp_path / "out.jpg"
    with pytest.raises(type(exc)), atomic_output(out) as tmp:
        tmp.write_bytes(b"half a file")
        raise exc
    assert leftovers(tmp_path) == []


def test_refuses_existing_output_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="--overwrite"), atomic_output(out) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"precious"
    assert leftovers(tmp_path) == ["out.png"]
    with atomic_output(out, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"


def test_output_created_meanwhile_is_not_clobbered(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    with pytest.raises(OutputExistsError), atomic_output(out) as tmp:
        tmp.write_bytes(b"ours")
        out.write_bytes(b"someone else's")
    assert out.read_bytes() == b"someone else's"
    assert leftovers(tmp_path) == ["out.png"]


def test_refuses_to_write_over_an_input_even_with_overwrite(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(b"input")
    link = tmp_path / "link.png"
    link.symlink_to(src)
    hard = tmp_path / "hard.png"
    os.link(src, hard)
    for target in (src, link, hard, tmp_path / "." / "in.png"):
        with pytest.raises(OutputExistsError, match="input"):
            check_output(target, overwrite=True, input_paths=[src])
    assert src.read_bytes() == b"input"
    assert same_file(link, src)
    assert not same_file(tmp_path / "other.png", src)


def test_unwritable_destinations_fail_before_any_work(tmp_path: Path) -> None:
    a_file = tmp_path / "regular.txt"
    a_file.write_text("not a folder")
    # Tests run as root, where permission bits do not stop writes: use places no one can write.
    for dst in (a_file / "out.png", Path("/proc/restorecli-test/out.png"), Path("/proc/out.png")):
        with pytest.raises(OutputNotWritableError):
            check_writable(dst)
        with pytest.raises(OutputNotWritableError), atomic_output(dst):
            pytest.fail("the body must not run")
    with pytest.raises(OutputNotWritableError, match="does not exist"):
        check_writable(tmp_path / "missing" / "out.png")
    with pytest.raises(OutputNotWritableError, match="folder"):
        check_writable(tmp_path)
    with pytest.raises(OutputNotWritableError):
        check_writable(a_file / "sub" / "out.png", create_parents=True)


def test_create_parents_makes_the_folders(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out.png"
    with atomic_output(out, create_parents=True) as tmp:
        tmp.write_bytes(b"x")
    assert out.read_bytes() == b"x"


def test_disk_full_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    with pytest.raises(DiskFullError, match="no space"), atomic_output(out) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert leftovers(tmp_path) == []


def test_other_os_errors_pass_through_unchanged(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="truncated"), atomic_output(tmp_path / "o.png"):
        raise OSError("image file is truncated")
    assert leftovers(tmp_path) == []


def test_a_later_write_removes_temporaries_of_dead_writers_only(tmp_path, monkeypatch) -> None:
    import subprocess
    import sys

    from restorecli.media import safe_write

    monkeypatch.setattr(safe_write, "_swept", set())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    host = safe_write._HOST
    stale = tmp_path / f".a{safe_write.TEMP_MARKER}{host}-{gone}-x1y2.png"
    live = tmp_path / f".b{safe_write.TEMP_MARKER}{host}-{os.getppid()}-x1y2.png"
    other_host = tmp_path / f".c{safe_write.TEMP_MARKER}elsewhere-{gone}-x1y2.png"
    user_file = tmp_path / "notes.restore-tmp-.txt"
    for p in (stale, live, other_host, user_file):
        p.write_bytes(b"")
    with safe_write.atomic_output(tmp_path / "out.png") as tmp:
        assert f"{host}-{os.getpid()}-" in tmp.name  # the writer's own marks
        tmp.write_bytes(b"data")
    assert not stale.exists()
    assert live.exists() and other_host.exists() and user_file.exists()
