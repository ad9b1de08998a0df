"""Weights: the registry of model names, and their resolution to verified local files.

``resolve(name_or_path)`` is the entry point: it returns a ``ResolvedModel`` whose ``files`` map
each role (``autoencoder``, ``denoiser``) to a local file that passed its SHA-256 check. See
``registry`` for the ``weights.toml`` schema and ``resolve`` for the search order.
"""

from __future__ import annotations

from restorecli.weights.cache import chebyshev_cache_dir, ensure_cache_dir, restore_cache_dir
from restorecli.weights.registry import (
    ROLES,
    ModelEntry,
    Registry,
    WeightFile,
    builtin_registry_path,
    load_registry,
)
from restorecli.weights.resolve import (
    FileLocation,
    ResolvedModel,
    default_model_for_task,
    download,
    list_models,
    locate,
    model_entry,
    resolve,
    resolve_detector,
    resolve_path,
    verify_entry,
)
from restorecli.weights.verify import FileCheck, check_file, sha256_file

__all__ = [
    "ROLES",
    "FileCheck",
    "FileLocation",
    "ModelEntry",
    "Registry",
    "ResolvedModel",
    "WeightFile",
    "builtin_registry_path",
    "chebyshev_cache_dir",
    "check_file",
    "default_model_for_task",
    "download",
    "ensure_cache_dir",
    "list_models",
    "load_registry",
    "locate",
    "model_entry",
    "resolve",
    "resolve_detector",
    "resolve_path",
    "restore_cache_dir",
    "sha256_file",
    "verify_entry",
]
