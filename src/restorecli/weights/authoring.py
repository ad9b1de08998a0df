"""Write registry entries from real files, so no checksum or size is ever typed by hand.

``register_bundled`` adds (or replaces) one model whose files live in the package next to the
registry: it hashes and measures each file, renders the whole registry again (the comment block
at the top is kept) and checks that the result parses before it replaces the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from restorecli.weights.registry import (
    ALL_ROLES,
    DETECT_TASK,
    DETECTOR_ROLE,
    MODEL_KEYS,
    OPTIONAL_ROLES,
    ROLES,
    SETTING_KEYS,
    _parse_file,
    tomllib,
)
from restorecli.weights.verify import sha256_file

_MODEL_ORDER = tuple(k for k in MODEL_KEYS if k != "files")
_FILE_ORDER = ("role", "filename", "sha256", "size", "bundled", "repo_id", "revision")


def register_bundled(
    registry: str | os.PathLike[str],
    name: str,
    *,
    task: str,
    files: Mapping[str, str | os.PathLike[str]],
    default_init: str | None = None,
    default_steps: int | None = None,
    licence: str = "Apache-2.0",
    description: str = "",
    default: bool = False,
    settings: Mapping[str, Any] | None = None,
    validated_steps: Sequence[int] = (),
) -> dict[str, Any]:
    """Add model ``name`` to ``registry`` with ``files`` (role -> path inside its folder: an
    autoencoder and a denoiser, optionally a fidelity and a requantizer file; for the task
    "detect", the one detector file and no init or steps).

    ``settings``: other options the model sets, by registry key (``guide_radius``,
    ``fidelity``...; ``restorecli.config``). With ``default`` the model becomes what ``restore
    TASK`` uses. Returns the model's table.
    """
    registry = Path(registry).resolve()  # the top-level weights.toml is a symlink
    root = registry.parent
    text = registry.read_text(encoding="utf-8") if registry.exists() else ""
    data = tomllib.loads(text)
    models: dict[str, Any] = dict(data.get("models", {}))
    defaults: dict[str, str] = dict(data.get("defaults", {}))
    if task == DETECT_TASK:
        if set(files) != {DETECTOR_ROLE} or default_init or default_steps or settings:
            raise ValueError(f"a {DETECT_TASK} model has one {DETECTOR_ROLE} file and no settings")
    elif default_init is None or default_steps is None:
        raise ValueError("a restore model needs its default init and steps")
    elif not set(ROLES) <= set(files) <= set(ALL_ROLES) - {DETECTOR_ROLE}:
        raise ValueError(
            f"give one file per role ({', '.join(ROLES)}; optionally "
            f"{', '.join(OPTIONAL_ROLES)}), got {', '.join(files)}"
        )
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(SETTING_KEYS))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}: use {', '.join(SETTING_KEYS)}")
    entries = []
    for role in (r for r in ALL_ROLES if r in files):
        path = Path(files[role]).resolve()
        try:
            rel = path.relative_to(root)
        except ValueError:
            raise ValueError(f"{path} is not inside {root}: bundled files live there") from None
        entries.append(
            {
                "role": role,
                "filename": path.name,
                "sha256": sha256_file(path),
                "size": path.stat().st_size,
                "bundled": rel.as_posix(),
            }
        )
    table = {
        "task": task,
        "description": description,
        "default_init": default_init,
        "default_steps": default_steps,
        "licence": licence,
        "files": entries,
    }
    table = {k: v for k, v in table.items() if v is not None}
    if validated_steps:
        table["validated_steps"] = list(validated_steps)
    table.update(settings)
    models[name] = table
    if default:
        defaults[task] = name
    out = _header(text) + render(models, defaults)
    _write_checked(registry, out)
    return table


def render(models: Mapping[str, Any], defaults: Mapping[str, str]) -> str:
    """The ``[models]`` and ``[defaults]`` part of a registry file."""
    lines = ["[models]", ""]
    for name in sorted(models):
        raw = models[name]
        lines.append(f"[models.{name}]")
        lines += [f"{k} = {_value(raw[k])}" for k in _MODEL_ORDER if k in raw]
        for entry in raw.get("files", []):
            lines += ["", f"[[models.{name}.files]]"]
            lines += [f"{k} = {_value(entry[k])}" for k in _FILE_ORDER if k in entry]
        lines.append("")
    lines += ["[defaults]"]
    lines += [f"{task} = {_value(defaults[task])}" for task in sorted(defaults)]
    return "\n".join(lines) + "\n"


def _header(text: str) -> str:
    """The leading comment block of a registry file (everything before its first table)."""
    kept = []
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            break
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + "\n\n" if kept else ""


def _value(value: Any) -> str:
    if isinstance(value, list):  # validated_steps
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"registry values are strings, numbers or lists, got {value!r}")
    if isinstance(value, float):
        return repr(value)  # Python's float repr (1e-05, 0.0001) is a TOML float
    return str(value) if isinstance(value, int) else json.dumps(value)  # JSON strings are TOML


def _write_checked(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        _parse_file(Path(tmp))  # refuse to write a registry the loader would reject
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
