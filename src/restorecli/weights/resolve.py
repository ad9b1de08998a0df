"""Turn a model name (or a path) into verified local weight files.

Order, per file: an explicit path given by the user; the copy bundled in the package; the
Hugging Face cache at the pinned revision; a download of that pinned revision. Every registry
file is checked against its size and SHA-256 before it is handed out.

An explicit path is either one ``.safetensors`` file holding both parts (both roles then map to
that file, ``ResolvedModel.combined`` is True) or a folder holding ``autoencoder.safetensors`` and
``denoiser.safetensors``. Its checksum is unknown, so it is only checked to exist and to start
like a safetensors file.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from restorecli.config import TASKS
from restorecli.errors import ModelNotAvailableError, WeightsError
from restorecli.weights import hub
from restorecli.weights.registry import (
    DETECT_TASK,
    DETECTOR_ROLE,
    OPTIONAL_ROLES,
    ROLES,
    ModelEntry,
    Registry,
    WeightFile,
    builtin_registry_path,
    load_registry,
)
from restorecli.weights.verify import FileCheck, check_file

log = logging.getLogger(__name__)

RegistryLike = Registry | str | os.PathLike[str] | None

# Where a file was found (ResolvedModel.sources) or is (FileLocation.state).
PATH, BUNDLED, CACHED, DOWNLOADED = "path", "bundled", "cached", "downloaded"
NOT_DOWNLOADED, MISSING = "not downloaded", "missing"


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: role -> local, verified file."""

    name: str
    task: str | None  # None for an explicit path (unknown)
    default_init: str | None
    default_steps: int | None
    files: Mapping[str, Path]
    sources: Mapping[str, str]  # role -> path | bundled | cached | downloaded
    # Options the registry sets for the model beyond init and steps (RestoreConfig fields).
    settings: Mapping[str, Any] = field(default_factory=dict)
    validated_steps: tuple[int, ...] = ()  # empty: any step count

    @property
    def combined(self) -> bool:
        """True when one file holds every role (an explicit single-file path)."""
        return len(set(self.files.values())) == 1


@dataclass(frozen=True)
class FileLocation:
    """Where a registry file is on this machine right now (no network involved)."""

    state: str  # bundled | cached | not downloaded | missing
    path: Path | None


def get_registry(registry: RegistryLike = None) -> Registry:
    """``registry`` itself, or the registry loaded from that path (None: shipped + env var)."""
    return registry if isinstance(registry, Registry) else load_registry(registry)


def list_models(*, registry: RegistryLike = None) -> list[ModelEntry]:
    """Every registered model, in registry order."""
    return list(get_registry(registry).models.values())


def default_model_for_task(task: str, *, registry: RegistryLike = None) -> str:
    """Name of the model for ``task``; ModelNotAvailableError names the tasks that have one."""
    return get_registry(registry).default_for(task)


def model_entry(name_or_task: str, *, registry: RegistryLike = None) -> ModelEntry:
    """The entry called ``name_or_task``, or else the default model of that task."""
    reg = get_registry(registry)
    if name_or_task in reg.models:
        return reg.models[name_or_task]
    if name_or_task in reg.tasks() or name_or_task in TASKS:
        return reg.models[reg.default_for(name_or_task)]  # a task without weights says so
    return reg.get(name_or_task)  # raises, naming the known models


def resolve(
    name_or_path: str | os.PathLike[str],
    *,
    offline: bool | None = None,
    registry: RegistryLike = None,
) -> ResolvedModel:
    """Local verified files for a registered model name, or for an explicit weights path.

    ``offline=None`` follows ``HF_HUB_OFFLINE``. Raises ``ModelNotAvailableError`` for an unknown
    name and ``WeightsError`` when a file is missing, cannot be fetched or fails its checksum.
    """
    if _looks_like_path(name_or_path):
        return resolve_path(Path(name_or_path))
    name = str(name_or_path)
    reg = get_registry(registry)
    if name not in reg.models and Path(name).exists():
        return resolve_path(Path(name))
    return _resolve_entry(reg.get(name), offline=offline, force=False)


def resolve_detector(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    offline: bool | None = None,
    registry: RegistryLike = None,
) -> tuple[Path, str]:
    """(verified local file, name) of the degradation detector: the registry's default for
    the task "detect", a registered detector's name, or a file path."""
    if name_or_path is not None and _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise WeightsError(f"detector weights {path} do not exist")
        _check_safetensors_header(path)
        return path, path.stem
    reg = get_registry(registry)
    name = reg.default_for(DETECT_TASK) if name_or_path is None else str(name_or_path)
    entry = reg.get(name)
    if entry.task != DETECT_TASK:
        raise ModelNotAvailableError(f"{name} is a {entry.task} model, not a detector")
    resolved = _resolve_entry(entry, offline=offline, force=False)
    return resolved.files[DETECTOR_ROLE], entry.name


def download(
    name_or_task: str, *, force: bool = False, registry: RegistryLike = None
) -> ResolvedModel:
    """Make every file of a model local and verified; ``force`` fetches Hub files again."""
    entry = model_entry(name_or_task, registry=registry)
    return _resolve_entry(entry, offline=None, force=force)


def locate(f: WeightFile) -> FileLocation:
    """Bundled, cached or absent: looks at the disk only."""
    if f.bundled is not None and f.bundled.is_file():
        return FileLocation(BUNDLED, f.bundled)
    if f.on_hub:
        cached = hub.cached_path(f)
        return FileLocation(CACHED, cached) if cached else FileLocation(NOT_DOWNLOADED, None)
    return FileLocation(MISSING, None)


def verify_entry(entry: ModelEntry) -> list[tuple[WeightFile, FileLocation, FileCheck | None]]:
    """Rehash every present file of ``entry`` (no remembered results); absent files get None."""
    results = []
    for f in entry.files:
        loc = locate(f)
        check = None
        if loc.path is not None:
            try:
                check = check_file(loc.path, f.sha256, f.size, use_record=False)
            except OSError as exc:
                raise WeightsError(f"cannot read {loc.path}: {exc.strerror or exc}") from exc
        results.append((f, loc, check))
    return results


def resolve_path(path: Path) -> ResolvedModel:
    """Weights given by path: one combined file, or a folder with one file per role."""
    path = path.expanduser()
    if path.is_dir():
        files = {role: path / f"{role}.safetensors" for role in ROLES}
        missing = [p.name for p in files.values() if not p.is_file()]
        if missing:
            raise WeightsError(
                f"weights folder {path} lacks {', '.join(missing)} (a weights folder holds "
                f"{' and '.join(f'{r}.safetensors' for r in ROLES)}, and may hold "
                f"{' and '.join(f'{r}.safetensors' for r in OPTIONAL_ROLES)})"
            )
        for role in OPTIONAL_ROLES:
            if (path / f"{role}.safetensors").is_file():
                files[role] = path / f"{role}.safetensors"
    elif path.is_file():
        files = dict.fromkeys(ROLES, path)
    else:
        raise WeightsError(f"weights path {path} does not exist")
    for p in set(files.values()):
        _check_safetensors_header(p)
    return ResolvedModel(
        name=path.stem if path.is_file() else path.name,
        task=None,
        default_init=None,
        default_steps=None,
        files=MappingProxyType(files),
        sources=MappingProxyType(dict.fromkeys(files, PATH)),
    )


def _looks_like_path(value: str | os.PathLike[str]) -> bool:
    if isinstance(value, os.PathLike):
        return True
    seps = [s for s in ("/", os.sep, os.altsep) if s]
    return (
        value.endswith(".safetensors")
        or any(s in value for s in seps)
        or value.startswith("~")
        or value in (".", "..")
    )


def _check_safetensors_header(path: Path) -> None:
    # A safetensors file starts with a little-endian u64 header length, then a JSON object.
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc.strerror or exc}") from exc
    if len(head) < 9:
        raise WeightsError(f"{path} is not a safetensors file (too short)")
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len == 0 or 8 + header_len > size or head[8:9] != b"{":
        raise WeightsError(f"{path} is not a safetensors file")


def _resolve_entry(entry: ModelEntry, *, offline: bool | None, force: bool) -> ResolvedModel:
    files: dict[str, Path] = {}
    sources: dict[str, str] = {}
    for f in entry.files:
        path, source = _obtain(entry, f, offline=offline, force=force)
        _verify(entry, f, path, source)
        files[f.role], sources[f.role] = path, source
    return ResolvedModel(
        name=entry.name,
        task=entry.task,
        default_init=entry.default_init,
        default_steps=entry.default_steps,
        files=MappingProxyType(files),
        sources=MappingProxyType(sources),
        settings=entry.settings,
        validated_steps=entry.validated_steps,
    )


def _obtain(
    entry: ModelEntry, f: WeightFile, *, offline: bool | None, force: bool
) -> tuple[Path, str]:
    if f.bundled is not None and f.bundled.is_file():
        return f.bundled, BUNDLED
    if not f.on_hub:
        raise WeightsError(
            f"{entry.name}: the bundled {f.role} file {f.bundled} is missing{_fix(entry)}"
        )
    if not force:
        cached = hub.cached_path(f)
        if cached is not None:
            return cached, CACHED
    if offline if offline is not None else hub.offline_from_env():
        raise WeightsError(
            f"{entry.name}: the {f.role} file {f.describe()} is not in the Hugging Face cache "
            f"({hub.hub_cache_dir()}) and offline mode is on; run `restore models download "
            f"{entry.name}` while online, or pass --weights PATH"
        )
    log.info("downloading %s (%d bytes)", f.describe(), f.size)
    return hub.download(f, force=force), DOWNLOADED


def _verify(entry: ModelEntry, f: WeightFile, path: Path, source: str) -> None:
    try:
        check = check_file(path, f.sha256, f.size)
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc.strerror or exc}") from exc
    if check.ok:
        return
    what = f"{entry.name}: the {f.role} file {path} does not match {entry.source.name}"
    if source == DOWNLOADED:
        # Never leave a bad download where the next run would pick it up as cached.
        hub.remove_cached(f)
        raise WeightsError(
            f"{what} ({check.problem()}) right after downloading {f.describe()}; the download "
            f"was deleted. The registry entry ({entry.source}) or the Hub file is wrong"
        )
    if source == CACHED:
        raise WeightsError(
            f"{what} ({check.problem()}); it is corrupt or was modified: run `restore models "
            f"download {entry.name} --force` to fetch it again, or delete it"
        )
    raise WeightsError(f"{what} ({check.problem()}){_fix(entry)}")


def _fix(entry: ModelEntry) -> str:
    """How to repair a bundled file: the package's own, or the user registry's."""
    if entry.source == builtin_registry_path().resolve():
        return "; reinstall restorecli"
    return f"; put the right file there or correct its entry in {entry.source}"
