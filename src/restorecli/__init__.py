"""restorecli: restore photos and videos with a vector-quantized latent diffusion model.

The heavy modules (torch) load on first use, so ``restore --help`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["RestoreConfig", "Restorer", "__version__"]

if TYPE_CHECKING:
    from restorecli.pipeline import RestoreConfig, Restorer


def __getattr__(name: str) -> Any:
    if name in ("Restorer", "RestoreConfig"):
        return getattr(import_module("restorecli.pipeline"), name)
    raise AttributeError(f"module 'restorecli' has no attribute {name!r}")
