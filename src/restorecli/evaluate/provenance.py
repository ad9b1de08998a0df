"""Where a number comes from: the weights (name and SHA-256 of every file) and the command."""

from __future__ import annotations

import functools
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "canonical_command",
    "command_line",
    "short_digests",
    "weights_info",
    "weights_info_or_error",
]


def weights_info(weights: str | None, task: str | None = None) -> dict[str, Any]:
    """Name and per-role SHA-256 of the weights ``restore`` would load for these arguments.

    Raises what ``restorecli.weights.resolve`` raises (ModelNotAvailableError, WeightsError).
    """
    from restorecli.weights import default_model_for_task, resolve

    name = weights
    if name is None:
        if task is None:
            raise ValueError("give weights or a task")
        name = default_model_for_task(task)
    resolved = resolve(name)
    files = {
        role: {"file": Path(path).name, "sha256": _sha256(str(Path(path).resolve()))}
        for role, path in sorted(resolved.files.items())
    }
    return {"weights": name, "model": resolved.name, "files": files}


def weights_info_or_error(weights: str | None, task: str | None = None) -> dict[str, Any]:
    """``weights_info``, or ``{"weights": weights, "error": message}`` if it raises.

    For reports written after the work is done: provenance must not lose a finished run.
    """
    try:
        return weights_info(weights, task)
    except Exception as exc:
        return {"weights": weights, "error": str(exc)}


def short_digests(info: dict[str, Any], length: int = 12) -> str:
    """``autoencoder 1a2b3c4d5e6f, denoiser ...`` for table captions."""
    return ", ".join(f"{role} {f['sha256'][:length]}" for role, f in info["files"].items())


def command_line(argv: list[str] | None = None) -> str:
    """The command that is running, quoted for a shell (program name shortened)."""
    args = list(sys.argv if argv is None else argv)
    if args:
        args[0] = Path(args[0]).name
    return shlex.join(args)


def canonical_command(words: Sequence[str], options: Iterable[tuple[str, Any, Any]]) -> str:
    """``words`` then ``flag value`` for each ``(flag, value, default)`` that was set, quoted.

    An option is left out when its value is None, False or its default; a True value stands as
    the bare flag. A value of 0 is kept unless it is the default (``--tile 0`` means no tiles).
    """
    args = list(words)
    for flag, value, default in options:
        if value is None or value is False or value == default:
            continue
        args += [flag] if value is True else [flag, str(value)]
    return shlex.join(args)


@functools.lru_cache(maxsize=32)
def _sha256(path: str) -> str:
    from restorecli.weights import sha256_file

    return sha256_file(path)
