"""The weights registry: which model names exist, what files they need and where those live.

The registry is a TOML file. The one shipped with the package is ``restorecli/data/weights.toml``
(the repository's top-level ``weights.toml`` is a symlink to it). A user registry named by
``--registry PATH`` or ``RESTORE_WEIGHTS_TOML`` is read on top of it: its models are added, and a
model with the same name replaces the shipped one. Schema, per model name::

    [models.derain-cheb-v1]
    task = "derain"
    description = "..."
    default_init = "chebyshev"        # chebyshev | zq | ze | lerp | auto
    default_steps = 4
    validated_steps = [1, 4]          # optional: `restore` refuses other --steps (and says why)
    guide_radius = 0                  # optional: any option a model sets (restorecli.config:
    guide_eps = 1e-4                  #   guide_radius, guide_eps, fidelity, requantize)
    licence = "Apache-2.0"

    [[models.derain-cheb-v1.files]]
    role = "autoencoder"              # autoencoder and denoiser exactly once; fidelity and
                                      # requantizer at most once
    filename = "autoencoder.safetensors"
    sha256 = "<64 hex digits>"
    size = 1234                        # bytes
    bundled = "weights/derain-cheb-v1-autoencoder.safetensors"  # and/or the Hub fields:
    repo_id = "owner/name"
    revision = "<full 40-hex commit>"

    [defaults]
    derain = "derain-cheb-v1"         # task -> model name

``bundled`` is relative to the folder holding the registry file (for the shipped registry that is
``restorecli/data/``). ``filename`` is the file's name inside the Hub repository when ``repo_id``
is given. A file may have both a bundled path and Hub fields: the bundled copy wins when present.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from restorecli.config import check_value, registry_options
from restorecli.errors import ModelNotAvailableError, WeightsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

REGISTRY_ENV = "RESTORE_WEIGHTS_TOML"
ROLES = ("autoencoder", "denoiser")  # every model has these
OPTIONAL_ROLES = ("fidelity", "requantizer")  # the fidelity path and the VR head
# A model of the task "detect" is the degradation detector: one file, no sampling settings.
DETECT_TASK = "detect"
DETECTOR_ROLE = "detector"
ALL_ROLES = ROLES + OPTIONAL_ROLES + (DETECTOR_ROLE,)

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_REPO_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")

# The options a model may set beside the two it must (restorecli.config declares them all).
SETTING_KEYS = tuple(k for k in registry_options() if k not in ("default_init", "default_steps"))
# A model table's keys, in the order registry files write them.
MODEL_KEYS = (
    "task",
    "description",
    "default_init",
    "default_steps",
    "validated_steps",
    *SETTING_KEYS,
    "licence",
    "files",
)
_FILE_KEYS = {"role", "filename", "sha256", "size", "bundled", "repo_id", "revision"}


def builtin_registry_path() -> Path:
    """The registry shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "weights.toml"


@dataclass(frozen=True)
class WeightFile:
    """One file of a model: where it can come from and what it must hash to."""

    role: str
    filename: str
    sha256: str
    size: int
    bundled: Path | None = None  # absolute path, resolved against the registry's folder
    repo_id: str | None = None
    revision: str | None = None

    @property
    def on_hub(self) -> bool:
        return self.repo_id is not None

    def describe(self) -> str:
        """Short human description of the file's origin, for messages."""
        if self.on_hub:
            return f"{self.repo_id}@{self.revision[:12]}/{self.filename}"  # type: ignore[index]
        return str(self.bundled)


@dataclass(frozen=True)
class ModelEntry:
    """A named bundle of weights for one task."""

    name: str
    task: str
    description: str
    default_init: str | None  # None for the detector
    default_steps: int | None
    licence: str
    files: tuple[WeightFile, ...]
    source: Path  # the registry file that defined it
    # The other options the model sets (RestoreConfig field -> value), e.g. its guided filter.
    settings: Mapping[str, Any] = field(default_factory=dict)
    # Step counts the model was validated at; `restore` refuses others (empty: any).
    validated_steps: tuple[int, ...] = ()

    def file(self, role: str) -> WeightFile:
        for f in self.files:
            if f.role == role:
                return f
        raise KeyError(role)


@dataclass(frozen=True)
class Registry:
    """Models by name plus the default model of each task."""

    models: Mapping[str, ModelEntry] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()

    def get(self, name: str) -> ModelEntry:
        """The entry called ``name``; ModelNotAvailableError naming the known ones otherwise."""
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none yet"
            raise ModelNotAvailableError(
                f"unknown model {name!r} (registered models: {known}; see `restore models list`)"
            ) from None

    def tasks(self) -> list[str]:
        """Tasks that have at least one registered model, sorted."""
        return sorted({m.task for m in self.models.values()})

    def default_for(self, task: str) -> str:
        """The model name used for ``task``: its ``[defaults]`` entry, else the first registered."""
        if task in self.defaults:
            return self.defaults[task]
        for entry in self.models.values():
            if entry.task == task:
                return entry.name
        tasks = ", ".join(self.tasks())
        have = f"tasks with weights: {tasks}" if tasks else "no task has weights yet"
        raise ModelNotAvailableError(
            f"no weights are registered for task {task!r} ({have}); pass --weights PATH, or "
            f"point {REGISTRY_ENV} at a registry of your own"
        )


def load_registry(
    path: str | os.PathLike[str] | None = None, *, include_builtin: bool = True
) -> Registry:
    """Read the shipped registry and, on top of it, ``path`` (or ``$RESTORE_WEIGHTS_TOML``)."""
    if path is None:
        path = os.environ.get(REGISTRY_ENV) or None
    paths: list[Path] = []
    if include_builtin:
        paths.append(builtin_registry_path())
    if path is not None:
        user = Path(path).expanduser()
        if not user.is_file():
            raise WeightsError(f"registry file {user} does not exist")
        if not paths or user.resolve() != paths[0]:
            paths.append(user)
    models: dict[str, ModelEntry] = {}
    defaults: dict[str, str] = {}
    for p in paths:
        file_models, file_defaults = _parse_file(p)
        models.update(file_models)
        defaults.update(file_defaults)
    for task, name in defaults.items():
        if name not in models:
            raise WeightsError(f"registry: [defaults] {task} = {name!r} is not a registered model")
        if models[name].task != task:
            raise WeightsError(
                f"registry: [defaults] {task} = {name!r} but that model's task is "
                f"{models[name].task!r}"
            )
    return Registry(models=models, defaults=defaults, sources=tuple(p.resolve() for p in paths))


def _parse_file(path: Path) -> tuple[dict[str, ModelEntry], dict[str, str]]:
    # Resolve first: the top-level weights.toml is a symlink and bundled paths are relative to
    # the real file's folder.
    path = path.resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WeightsError(f"cannot read registry {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"registry {path} is not valid TOML: {exc}") from exc
    where = str(path)
    _check_keys(data, {"models", "defaults"}, where)
    raw_models = _table(data.get("models", {}), f"{where}: [models]")
    raw_defaults = _table(data.get("defaults", {}), f"{where}: [defaults]")
    models = {
        name: _parse_model(name, _table(raw, f"{where}: models.{name}"), path)
        for name, raw in raw_models.items()
    }
    defaults = {}
    for task, name in raw_defaults.items():
        defaults[task] = _str(name, f"{where}: defaults.{task}")
    return models, defaults


def _parse_model(name: str, raw: dict[str, Any], path: Path) -> ModelEntry:
    where = f"{path}: models.{name}"
    if not _NAME_RE.fullmatch(name):
        raise WeightsError(f"{where}: model names use letters, digits, '.', '_' and '-' only")
    _check_keys(raw, set(MODEL_KEYS), where)
    detector = raw.get("task") == DETECT_TASK
    if not detector:
        _required(raw, "default_init", where)
        _required(raw, "default_steps", where)
    values = {}
    for key, (option, spec, _) in registry_options().items():
        if key not in raw:
            continue
        value = raw[key]
        if spec.kind is int and not isinstance(value, int):  # TOML: 2.0 is no step count
            raise WeightsError(f"{where}.{key}: must be an integer, got {value!r}")
        try:
            check_value(option, value, spec)
        except ValueError as exc:
            raise WeightsError(f"{where}.{key}: {str(exc).split(' ', 1)[1]}") from None
        values[option] = float(value) if spec.kind is float else value
    validated = raw.get("validated_steps", [])
    if not isinstance(validated, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in validated
    ):
        raise WeightsError(f"{where}.validated_steps: must be a list of step counts >= 1")
    raw_files = _required(raw, "files", where)
    if not isinstance(raw_files, list):
        raise WeightsError(f"{where}.files: must be an array of tables ([[...files]])")
    files = tuple(
        _parse_file_entry(_table(item, f"{where}.files[{i}]"), f"{where}.files[{i}]", path.parent)
        for i, item in enumerate(raw_files)
    )
    roles = sorted(f.role for f in files)
    required = sorted(r for r in roles if r in ROLES)
    if detector:
        if roles != [DETECTOR_ROLE] or values:
            raise WeightsError(
                f"{where}: a {DETECT_TASK} model has one file, of role {DETECTOR_ROLE!r}, and no "
                f"sampling settings; got roles {', '.join(roles) or 'none'}"
                + (f" and settings {', '.join(sorted(values))}" if values else "")
            )
    elif DETECTOR_ROLE in roles:
        raise WeightsError(f"{where}: only a model of task {DETECT_TASK!r} has a detector file")
    elif required != sorted(ROLES) or len(set(roles)) != len(roles):
        raise WeightsError(
            f"{where}.files: needs exactly one file per role ({', '.join(ROLES)}; at most one "
            f"{' and one '.join(OPTIONAL_ROLES)}), got {', '.join(roles) or 'none'}"
        )
    return ModelEntry(
        name=name,
        task=_str(_required(raw, "task", where), f"{where}.task"),
        description=_optional_str(raw, "description", where),
        default_init=values.pop("init", None),
        default_steps=values.pop("steps", None),
        licence=_str(_required(raw, "licence", where), f"{where}.licence"),
        files=files,
        source=path,
        settings=MappingProxyType(values),
        validated_steps=tuple(validated),
    )


def _parse_file_entry(raw: dict[str, Any], where: str, root: Path) -> WeightFile:
    _check_keys(raw, _FILE_KEYS, where)
    role = _str(_required(raw, "role", where), f"{where}.role")
    if role not in ALL_ROLES:
        raise WeightsError(f"{where}.role: {role!r} is not one of {', '.join(ALL_ROLES)}")
    sha = _str(_required(raw, "sha256", where), f"{where}.sha256")
    if not _SHA256_RE.fullmatch(sha):
        raise WeightsError(f"{where}.sha256: must be 64 lowercase hex digits")
    size = _required(raw, "size", where)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise WeightsError(f"{where}.size: must be a byte count, got {size!r}")
    filename = _str(_required(raw, "filename", where), f"{where}.filename")
    bundled = None
    if "bundled" in raw:
        rel = PurePosixPath(_str(raw["bundled"], f"{where}.bundled"))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise WeightsError(f"{where}.bundled: must be a relative path inside {root}")
        bundled = root.joinpath(*rel.parts)
    repo_id = revision = None
    if "repo_id" in raw or "revision" in raw:
        repo_id = _str(_required(raw, "repo_id", where), f"{where}.repo_id")
        revision = _str(_required(raw, "revision", where), f"{where}.revision")
        if not _REPO_ID_RE.fullmatch(repo_id) or "--" in repo_id:
            raise WeightsError(f"{where}.repo_id: {repo_id!r} is not an 'owner/name' repo id")
        if not _COMMIT_RE.fullmatch(revision):
            raise WeightsError(
                f"{where}.revision: must be a full 40-hex commit (branches and tags move)"
            )
    if bundled is None and repo_id is None:
        raise WeightsError(f"{where}: needs 'bundled' or 'repo_id' + 'revision'")
    return WeightFile(
        role=role,
        filename=filename,
        sha256=sha,
        size=size,
        bundled=bundled,
        repo_id=repo_id,
        revision=revision,
    )


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise WeightsError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )


def _required(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw:
        raise WeightsError(f"{where}: missing {key!r}")
    return raw[key]


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WeightsError(f"{where}: must be a table")
    return value


def _optional_str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise WeightsError(f"{where}.{key}: must be a string")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise WeightsError(f"{where}: must be a non-empty string")
    return value
