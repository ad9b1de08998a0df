"""Resumable training checkpoints in safetensors (model, EMA model, optimizer, progress).

No pickles: optimizer state is flattened into named tensors and its hyper-parameters go to the
JSON metadata, so a checkpoint is as safe to open as a shipped weights file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from restorecli.errors import WeightsError


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    sd = opt.state_dict()
    tensors = {}
    for pid, state in sd["state"].items():
        for name, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim.{pid}.{name}"] = t.detach().cpu().contiguous()
    return tensors, json.dumps(sd["param_groups"])


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: str) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": json.loads(groups)}


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module,
    ema: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
    info: dict[str, Any],
) -> None:
    """Write everything needed to resume; atomic, so a kill mid-write keeps the old one.

    Without ``optimizer`` the file is a snapshot of the weights (resumable, AdamW restarts)."""
    path = Path(path)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update(
            {f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}
        )
    meta = {"info": json.dumps(info)}
    if optimizer is not None:
        opt_tensors, meta["param_groups"] = _flatten_optimizer(optimizer)
        tensors.update(opt_tensors)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        # On disk before the rename: after a power cut the name holds the old or the new file.
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module,
    ema: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
) -> dict[str, Any]:
    """Restore states in place; returns the ``info`` dict saved with the checkpoint.

    Raises ``WeightsError`` when the file is not a checkpoint or holds another model's shapes
    (e.g. a run resumed with different model options).
    """
    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "ema": {}, "optim": {}}
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                prefix, _, rest = key.partition(".")
                if prefix not in groups:
                    raise ValueError(f"unexpected tensor {key!r}")
                groups[prefix][rest if prefix != "optim" else key] = f.get_tensor(key)
        info = json.loads(meta["info"])
    except Exception as exc:  # safetensors raises several types for bad files
        raise WeightsError(f"{path}: not a restorecli training checkpoint ({exc})") from exc
    if not groups["model"] and groups["ema"]:  # a compact snapshot: the run goes on from its EMA
        groups["model"] = groups["ema"]
    try:
        model.load_state_dict(groups["model"])
        if ema is not None and groups["ema"]:
            ema.load_state_dict(groups["ema"])
        if optimizer is not None and groups["optim"]:
            optimizer.load_state_dict(_unflatten_optimizer(groups["optim"], meta["param_groups"]))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise WeightsError(
            f"{path} was written for a different model configuration; "
            "train into a new folder or pass the run's original options"
        ) from exc
    return info


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """Exponential moving average of parameters; buffers (e.g. the codebook) are copied."""
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach(), 1 - decay)
    for e, b in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(b)


def compact_checkpoint(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy a checkpoint as its EMA weights in fp16 (about a quarter of a slim one).

    The smallest file a finished run can be resumed from (``load_checkpoint`` starts both the
    model and its EMA from these weights, AdamW afresh): what version control keeps of the runs
    behind the shipped models.
    """

    def half(t: torch.Tensor) -> torch.Tensor:
        return t.half() if t.is_floating_point() else t

    return _copy_checkpoint(src, dest, lambda key: key.startswith("ema."), half)


def slim_checkpoint(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy a checkpoint without its optimizer state (about a third of the size).

    Meant for keeping a run's progress in version control: resuming from it restarts AdamW's
    moment estimates, which settle within a few hundred steps, but keeps weights, EMA and step.
    """
    return _copy_checkpoint(src, dest, lambda key: not key.startswith("optim."), lambda t: t)


def _copy_checkpoint(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    keep: Callable[[str], bool],
    convert: Callable[[torch.Tensor], torch.Tensor],
) -> Path:
    """Write ``dest`` (atomically) with the tensors of ``src`` that ``keep`` names, converted,
    and its progress info."""
    dest = Path(dest)
    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: convert(f.get_tensor(k)) for k in f.keys() if keep(k)}  # noqa: SIM118
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={"info": meta.get("info", "{}")})
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
