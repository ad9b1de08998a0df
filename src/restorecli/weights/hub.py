"""The Hugging Face Hub side: cache look-ups, pinned downloads, removal of our cached files.

``huggingface_hub`` is imported on first use only (it costs about 0.3 s), so commands that never
touch the Hub stay fast. It reads ``HF_ENDPOINT``, ``HF_HOME``/``HF_HUB_CACHE`` and
``HF_HUB_OFFLINE`` when it is imported; we read the cache folder from it, so both agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from restorecli.errors import WeightsError
from restorecli.weights.registry import WeightFile

_TRUE = {"1", "on", "yes", "true"}


def hub_cache_dir() -> Path:
    """The Hugging Face Hub cache folder in use (``HF_HUB_CACHE``, default ``$HF_HOME/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def offline_from_env() -> bool:
    """``HF_HUB_OFFLINE=1`` now, or when huggingface_hub was imported (it keeps that value)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _repo_folder(f: WeightFile) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return hub_cache_dir() / repo_folder_name(repo_id=f.repo_id, repo_type="model")


def pointer_path(f: WeightFile) -> Path:
    """Where the Hub cache keeps ``f`` at its pinned revision (may not exist)."""
    return _repo_folder(f) / "snapshots" / str(f.revision) / Path(*f.filename.split("/"))


def cached_path(f: WeightFile) -> Path | None:
    """The cached copy of ``f`` at its pinned revision, or None. Never uses the network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        repo_id=str(f.repo_id), filename=f.filename, cache_dir=hub_cache_dir(), revision=f.revision
    )
    return Path(found) if isinstance(found, str) else None


def download(f: WeightFile, *, force: bool = False) -> Path:
    """Fetch ``f`` at its pinned revision into the Hub cache (resumes interrupted transfers)."""
    from huggingface_hub import hf_hub_download

    import restorecli

    try:
        path = hf_hub_download(
            repo_id=str(f.repo_id),
            filename=f.filename,
            revision=f.revision,
            cache_dir=hub_cache_dir(),
            force_download=force,
            library_name="restorecli",
            library_version=restorecli.__version__,
        )
    except Exception as exc:  # huggingface_hub raises many types; all end up as one message
        raise WeightsError(_download_error(f, exc)) from exc
    return Path(path)


def _download_error(f: WeightFile, exc: Exception) -> str:
    # huggingface_hub.utils re-exports the error classes in old and new releases alike.
    from huggingface_hub import utils as errors

    what = f"cannot download {f.describe()} from {hub_endpoint()}"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, errors.OfflineModeIsEnabled) or offline_from_env():
        return f"{what}: offline mode is on (HF_HUB_OFFLINE) and the file is not cached"
    if isinstance(exc, errors.LocalEntryNotFoundError):
        return f"{what}: the Hub cannot be reached and the file is not cached; check the connection"
    if isinstance(exc, (errors.RepositoryNotFoundError, errors.GatedRepoError)):
        return (
            f"{what}: repository not found or access denied (private or gated repos need "
            "`hf auth login` or HF_TOKEN)"
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return f"{what}: revision {f.revision} does not exist in {f.repo_id}"
    if isinstance(exc, errors.EntryNotFoundError):
        return f"{what}: no file {f.filename!r} at revision {f.revision}"
    if isinstance(exc, errors.HfHubHTTPError):
        return f"{what}: {first_line}"
    return f"{what}: {type(exc).__name__}: {first_line} (run the command again to resume)"


def remove_cached(f: WeightFile) -> int:
    """Delete ``f`` from the Hub cache (its snapshot entry, and its blob if nothing else uses it).

    Only this file is touched: other files and revisions of the same repository stay. Returns the
    bytes freed.
    """
    pointer = pointer_path(f)
    if not (pointer.exists() or pointer.is_symlink()):
        return 0
    freed = 0
    blob = Path(os.path.realpath(pointer)) if pointer.is_symlink() else None
    if blob is None:  # no-symlink cache (e.g. Windows): the snapshot entry is the file itself
        freed += pointer.stat().st_size
    pointer.unlink()
    if blob is not None and blob.exists() and not _blob_in_use(blob, _repo_folder(f)):
        freed += blob.stat().st_size
        blob.unlink()
    _prune_empty_dirs(pointer.parent, stop=_repo_folder(f) / "snapshots")
    return freed


def _blob_in_use(blob: Path, repo_folder: Path) -> bool:
    for dirpath, _dirs, files in os.walk(repo_folder / "snapshots"):
        for name in files:
            link = Path(dirpath, name)
            if link.is_symlink() and Path(os.path.realpath(link)) == blob:
                return True
    return False


def _prune_empty_dirs(folder: Path, *, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
