"""On-disk cache of Chebyshev tables: build once per codebook, then load in milliseconds.

A table is stored as ``<key>.safetensors`` (float64 ``centers`` and ``radii``, no pickles) where
``key`` is the sha256 of the codebook's raw bytes, its dtype and shape, the algorithm version and
the box margin. Files go to ``cache_dir`` if given, else ``$RESTORE_CACHE_DIR/chebyshev``, else
``<user cache dir>/restorecli/chebyshev`` (platformdirs).

Writers use a temporary file in the same folder and ``os.replace``, so a reader never sees half a
file; two processes building the same table at once write equal tables and the last rename
wins. A file that is truncated, corrupt or describes another table is rebuilt and replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save as save_safetensors

from restorecli.geometry.chebyshev import (
    ALGORITHM_VERSION,
    DEFAULT_BOX_MARGIN,
    ChebyshevStats,
    _chebyshev_float64,
    _to_float64,
)

__all__ = ["CACHE_ENV", "cache_path", "default_cache_dir", "load_or_build", "table_key"]

CACHE_ENV = "RESTORE_CACHE_DIR"
_FORMAT = "restorecli-chebyshev"
_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$RESTORE_CACHE_DIR/chebyshev`` if the variable is set, else the user cache folder."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs  # only needed when no folder is given

        root = platformdirs.user_cache_dir("restorecli")
    return Path(root) / "chebyshev"


def table_key(codebook: Any, *, box_margin: float = DEFAULT_BOX_MARGIN) -> str:
    """sha256 naming the table of ``codebook`` (numpy array or torch tensor) and its parameters."""
    raw, dtype_name, shape = _raw_bytes(codebook)
    head = {
        "format": _FORMAT,
        "algorithm_version": ALGORITHM_VERSION,
        "box_margin": float(box_margin),
        "dtype": dtype_name,
        "shape": list(shape),
    }
    digest = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    digest.update(raw)
    return digest.hexdigest()


def cache_path(
    codebook: Any,
    *,
    cache_dir: str | os.PathLike | None = None,
    box_margin: float = DEFAULT_BOX_MARGIN,
) -> Path:
    """Where the table of ``codebook`` is (or would be) cached."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"{table_key(codebook, box_margin=box_margin)}.safetensors"


def load_or_build(
    codebook: Any,
    *,
    cache_dir: str | os.PathLike | None = None,
    box_margin: float = DEFAULT_BOX_MARGIN,
) -> tuple[Any, Any]:
    """Chebyshev ``(centers, radii)`` of ``codebook``, from the disk cache or built and cached.

    Same results and return kinds as ``chebyshev_centers`` (torch in, torch out on the codebook's
    device). If the cache folder cannot be written, the table is still returned (with a warning
    in the log), just not cached.
    """
    path = cache_path(codebook, cache_dir=cache_dir, box_margin=box_margin)
    codes, restore = _to_float64(codebook)
    key = path.stem
    table = _read(path, key, codes.shape)
    if table is None:
        table = _chebyshev_float64(codes, box_margin, ChebyshevStats())
        _write(path, key, box_margin, *table)
    centers, radii = table
    return restore(centers), restore(radii)


# --------------------------------------------------------------------------- helpers


def _raw_bytes(codebook: Any) -> tuple[bytes, str, tuple[int, ...]]:
    """The codebook's bytes as stored (C order), a dtype name, and its shape."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(codebook, torch.Tensor):
        t = codebook.detach().to("cpu").contiguous()
        if t.dtype == torch.bfloat16:  # no numpy equivalent: hash the raw 16-bit words
            return t.view(torch.int16).numpy().tobytes(), "bfloat16", tuple(t.shape)
        codebook = t.numpy()
    arr = np.ascontiguousarray(codebook)
    return arr.tobytes(), arr.dtype.str, arr.shape


def _checksum(centers: np.ndarray, radii: np.ndarray) -> str:
    return hashlib.sha256(centers.tobytes() + radii.tobytes()).hexdigest()


def _read(path: Path, key: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached table, or ``None`` if absent or not exactly what it should be."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            centers, radii = f.get_tensor("centers"), f.get_tensor("radii")
        ok = (
            meta.get("format") == _FORMAT
            and meta.get("key") == key
            and centers.dtype == np.float64
            and radii.dtype == np.float64
            and centers.shape == tuple(shape)
            and radii.shape == tuple(shape[:1])
            and meta.get("sha256") == _checksum(centers, radii)
        )
    except Exception as exc:  # truncated or garbage file: any parse error means "rebuild"
        _log.warning("unreadable Chebyshev cache %s (%s); rebuilding", path, exc)
        return None
    if not ok:
        _log.warning("Chebyshev cache %s does not match its codebook; rebuilding", path)
        return None
    return centers, radii


def _write(path: Path, key: str, box_margin: float, centers: np.ndarray, radii: np.ndarray) -> None:
    """Atomically store the table at ``path`` (temp file in the same folder, then rename)."""
    centers, radii = np.ascontiguousarray(centers), np.ascontiguousarray(radii)
    meta = {
        "format": _FORMAT,
        "key": key,
        "algorithm_version": str(ALGORITHM_VERSION),
        "box_margin": repr(float(box_margin)),
        "sha256": _checksum(centers, radii),
    }
    payload = save_safetensors({"centers": centers, "radii": radii}, metadata=meta)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:  # read-only or full disk: the table is still usable, just not cached
        _log.warning("could not write Chebyshev cache %s: %s", path, exc)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
