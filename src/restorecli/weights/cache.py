"""restorecli's own cache folder, and what ``restore cache info`` / ``clear`` show and remove.

The folder is ``$RESTORE_CACHE_DIR`` or the platform's user cache dir for ``restorecli``. It holds
the Chebyshev tables (``chebyshev/``) and the record of already verified weight files. Downloaded
weights live in the Hugging Face cache instead; clearing removes only the files our registry
names there, never other repositories.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from restorecli.weights.registry import Registry, WeightFile

CACHE_ENV = "RESTORE_CACHE_DIR"
CHEBYSHEV_SUBDIR = "chebyshev"
VERIFIED_FILE = "verified-weights.json"
# CACHEDIR.TAG (https://bford.info/cachedir/) tells backup tools to skip the folder, and tells
# `restore cache clear` that everything in the folder is ours to delete.
_TAG_NAME = "CACHEDIR.TAG"
_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by restorecli.\n"
)
_KNOWN_ENTRIES = (CHEBYSHEV_SUBDIR, VERIFIED_FILE)


def restore_cache_dir() -> Path:
    """Where restorecli keeps its own cache (not created here)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return _platform_cache_dir()


def _platform_cache_dir() -> Path:
    import platformdirs

    # appauthor=False: no extra "restorecli/restorecli" level on Windows.
    return Path(platformdirs.user_cache_dir("restorecli", appauthor=False))


def ensure_cache_dir(subdir: str | None = None) -> Path:
    """Create the cache folder (tagged as ours) and optionally a subfolder; return the latter."""
    root = restore_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    tag = root / _TAG_NAME
    if not tag.exists():
        # A missing tag only makes `cache clear` more cautious.
        with contextlib.suppress(OSError):
            tag.write_text(_TAG_TEXT, encoding="utf-8")
    if subdir is None:
        return root
    path = root / subdir
    path.mkdir(parents=True, exist_ok=True)
    return path


def chebyshev_cache_dir(*, create: bool = False) -> Path:
    """Folder for the Chebyshev-center tables (keyed by codebook hash by their owner)."""
    if create:
        return ensure_cache_dir(CHEBYSHEV_SUBDIR)
    return restore_cache_dir() / CHEBYSHEV_SUBDIR


@dataclass(frozen=True)
class CacheItem:
    """One thing ``cache clear`` would delete."""

    kind: str  # "restorecli" or "hub"
    path: Path
    size: int
    label: str
    weight_file: WeightFile | None = None


@dataclass(frozen=True)
class CacheInfo:
    """Where the caches are and how much of them is ours."""

    restore_dir: Path
    restore_size: int
    chebyshev_dir: Path
    chebyshev_size: int
    hub_dir: Path
    hub_items: tuple[CacheItem, ...]

    @property
    def hub_size(self) -> int:
        return sum(item.size for item in self.hub_items)

    def as_dict(self) -> dict[str, object]:
        return {
            "restorecli_cache": {"path": str(self.restore_dir), "size": self.restore_size},
            "chebyshev": {"path": str(self.chebyshev_dir), "size": self.chebyshev_size},
            "huggingface_cache": {
                "path": str(self.hub_dir),
                "size_of_our_files": self.hub_size,
                "files": [
                    {"label": i.label, "path": str(i.path), "size": i.size} for i in self.hub_items
                ],
            },
        }


def tree_size(path: Path) -> int:
    """Bytes under ``path`` (a file or folder; symlinks count as themselves); 0 if absent."""
    try:
        if path.is_symlink() or not path.is_dir():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def cache_info(registry: Registry) -> CacheInfo:
    """Sizes and locations; looks at the disk only (no network)."""
    from restorecli.weights import hub

    root = restore_cache_dir()
    return CacheInfo(
        restore_dir=root,
        restore_size=tree_size(root),
        chebyshev_dir=chebyshev_cache_dir(),
        chebyshev_size=tree_size(chebyshev_cache_dir()),
        hub_dir=hub.hub_cache_dir(),
        hub_items=tuple(_hub_items(registry)),
    )


def items_to_clear(registry: Registry) -> list[CacheItem]:
    """Everything ``clear_items`` would remove: our cache folder's content, our Hub files."""
    return _restore_items() + _hub_items(registry)


def clear_items(items: list[CacheItem]) -> int:
    """Delete ``items`` (from ``items_to_clear``); return the bytes freed."""
    from restorecli.weights import hub

    freed = 0
    for item in items:
        if item.kind == "hub":
            assert item.weight_file is not None
            freed += hub.remove_cached(item.weight_file)
        elif item.path.is_dir() and not item.path.is_symlink():
            shutil.rmtree(item.path, ignore_errors=True)
            freed += item.size
        else:
            try:
                item.path.unlink()
                freed += item.size
            except FileNotFoundError:
                pass
    return freed


def _restore_items() -> list[CacheItem]:
    root = restore_cache_dir()
    if not root.is_dir():
        return []
    # Everything goes only when the folder is provably ours: the platform default, or tagged by
    # ensure_cache_dir. A RESTORE_CACHE_DIR pointing at a shared folder loses only our entries.
    ours = (root / _TAG_NAME).is_file() or _same_path(root, _platform_cache_dir())
    names = sorted(p.name for p in root.iterdir()) if ours else list(_KNOWN_ENTRIES)
    items = []
    for name in names:
        path = root / name
        if name == _TAG_NAME or not (path.exists() or path.is_symlink()):
            continue
        items.append(CacheItem("restorecli", path, tree_size(path), f"restorecli cache: {name}"))
    return items


def _hub_items(registry: Registry) -> list[CacheItem]:
    from restorecli.weights import hub

    items = []
    seen: set[tuple[str | None, str | None, str]] = set()
    for entry in registry.models.values():
        for f in entry.files:
            key = (f.repo_id, f.revision, f.filename)
            if not f.on_hub or key in seen:
                continue
            seen.add(key)
            path = hub.cached_path(f)
            if path is not None:
                label = f"{entry.name} {f.role}: {f.describe()}"
                items.append(CacheItem("hub", path, tree_size(path.resolve()), label, f))
    return items


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
