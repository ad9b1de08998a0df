"""restorecli's cache folder: location, tagging, what `cache clear` may delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from restorecli.weights import Registry
from restorecli.weights import cache as cache_mod
from restorecli.weights.cache import (
    cache_info,
    chebyshev_cache_dir,
    clear_items,
    ensure_cache_dir,
    items_to_clear,
    restore_cache_dir,
)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(tmp_path / "c"))
    assert restore_cache_dir() == tmp_path / "c"
    assert chebyshev_cache_dir() == tmp_path / "c" / "chebyshev"
    assert not (tmp_path / "c").exists()  # looking does not create
    assert chebyshev_cache_dir(create=True).is_dir()
    assert (tmp_path / "c" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f59")


def test_default_cache_dir_is_the_platform_one(monkeypatch):
    import platformdirs

    monkeypatch.delenv("RESTORE_CACHE_DIR")
    expected = Path(platformdirs.user_cache_dir("restorecli", appauthor=False))
    assert restore_cache_dir() == expected


def test_tagged_cache_is_cleared_entirely(tmp_path):
    root = ensure_cache_dir()
    (chebyshev_cache_dir(create=True) / "table.npz").write_bytes(b"t" * 10)
    (root / "something-else").write_bytes(b"s" * 5)
    items = items_to_clear(Registry())
    assert sorted(i.path.name for i in items) == ["chebyshev", "something-else"]
    assert clear_items(items) == 15
    assert sorted(p.name for p in root.iterdir()) == ["CACHEDIR.TAG"]


def test_untagged_custom_cache_loses_only_our_entries(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    (shared / "chebyshev").mkdir(parents=True)
    (shared / "chebyshev" / "table.npz").write_bytes(b"t")
    (shared / "users-own-file.txt").write_text("keep me")
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(shared))
    clear_items(items_to_clear(Registry()))
    assert (shared / "users-own-file.txt").read_text() == "keep me"
    assert not (shared / "chebyshev").exists()


@pytest.mark.parametrize("present", [False, True])
def test_cache_info_sizes(present):
    if present:
        (chebyshev_cache_dir(create=True) / "table.npz").write_bytes(b"t" * 100)
    info = cache_info(Registry())
    assert info.chebyshev_size == (100 if present else 0)
    assert info.restore_size >= info.chebyshev_size
    assert info.hub_items == () and info.hub_size == 0
    assert info.as_dict()["chebyshev"]["path"] == str(cache_mod.chebyshev_cache_dir())
