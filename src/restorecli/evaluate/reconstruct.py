"""The autoencoder alone: how faithfully the latent space can hold a clean image.

``restore eval --autoencoder-only`` scores encode -> initial state -> decode on clean images,
with no diffusion. With the default ``zq`` state this is the plain VQ reconstruction, the
ceiling the latent space puts on every restoration made through it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from restorecli.errors import InputNotFoundError
from restorecli.evaluate.levels import autoencode
from restorecli.evaluate.paired import Pair, _images, natural_key

if TYPE_CHECKING:
    from restorecli.pipeline import Restorer


class AutoencoderOnly:
    """Wraps a ``Restorer`` so ``restore_array`` decodes the initial state without diffusion.

    The state is the restorer's configured ``init`` (sweeps set it through ``config``).
    """

    def __init__(self, restorer: Restorer) -> None:
        self.restorer = restorer

    @property
    def config(self) -> Any:
        return self.restorer.config

    @config.setter
    def config(self, value: Any) -> None:
        self.restorer.config = value

    def __getattr__(self, name: str) -> Any:  # name, device, schedule, ... of the restorer
        return getattr(self.restorer, name)

    def restore_array(self, image: np.ndarray) -> np.ndarray:
        return autoencode(self.restorer, image, self.restorer.config.init)


def clean_image_pairs(root: str | os.PathLike[str], *, limit: int | None = None) -> list[Pair]:
    """Every image of ``root/target/`` (a paired folder) or else of ``root``, paired with itself."""
    root = Path(root)
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: no such folder")
    folder = root / "target" if (root / "target").is_dir() else root
    images = sorted(_images(folder), key=lambda p: natural_key(p.name))
    if not images:
        raise InputNotFoundError(f"{folder}: no images found")
    pairs = [Pair(p.name, p, p) for p in images]
    return pairs[:limit] if limit is not None else pairs
