"""Clean-photo crops for training: random crops, flips and rescales, with a held-out split.

Photos are decoded once into memory (the corpus is a few hundred files) so crops cost only an
index and a resize. The validation split is chosen by a hash of each file's relative path, so it
does not change when files are added or the order of a directory listing changes. A folder too
small for the hash to pick any photo (a handful of files) holds out the one photo whose hash is
lowest instead, so small folders can still be trained on and validated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from restorecli.errors import InputNotFoundError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def list_images(root: str | Path) -> list[Path]:
    """Every image file under ``root``, sorted (the corpus's contact sheet excluded)."""
    root = Path(root)
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and p.name != "contact_sheet.jpg"
    )


def _hash_score(rel_path: str) -> float:
    """A uniform number in [0, 1) fixed by the relative path."""
    digest = hashlib.sha256(rel_path.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def is_validation(rel_path: str, fraction: float) -> bool:
    """Whether the photo at ``rel_path`` belongs to the held-out split (by its path's hash)."""
    return _hash_score(rel_path) < fraction


def split_images(root: str | Path, val_fraction: float) -> tuple[list[Path], list[Path]]:
    """``(train, val)`` image paths under ``root``, disjoint and each sorted.

    Raises ``InputNotFoundError`` when ``root`` holds no image. With one image, ``val`` is empty.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputNotFoundError(f"training data folder {root} does not exist")
    paths = list_images(root)
    if not paths:
        raise InputNotFoundError(f"no images under {root} ({', '.join(sorted(IMAGE_SUFFIXES))})")
    scores = {p: _hash_score(p.relative_to(root).as_posix()) for p in paths}
    val = [p for p in paths if scores[p] < val_fraction]
    if not val and len(paths) > 1 and val_fraction > 0:
        val = [min(paths, key=scores.__getitem__)]
    if len(val) == len(paths):  # a fraction near 1 must still leave something to train on
        val = val[:-1]
    held = set(val)
    return [p for p in paths if p not in held], val


def load_rgb(path: Path, max_side: int = 0) -> np.ndarray:
    """Decode to uint8 H x W x 3 RGB with EXIF orientation applied, optionally downscaled."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        if max_side and max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return np.asarray(im, dtype=np.uint8).copy()


@dataclass
class CropConfig:
    """How training crops are cut, and which share of the photos is held out."""

    size: int = 128
    min_scale: float = 0.5  # crops are taken at a random scale in [min_scale, 1]
    max_side: int = 2048  # photos larger than this are downscaled once when loaded
    val_fraction: float = 0.05


class PhotoCrops:
    """Random training crops from one split of a clean-photo folder."""

    def __init__(self, root: str | Path, split: str, cfg: CropConfig | None = None) -> None:
        self.cfg = cfg or CropConfig()
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        train, val = split_images(root, self.cfg.val_fraction)
        paths = val if split == "val" else train
        if not paths:
            raise InputNotFoundError(
                f"{root} holds a single image: training needs at least 2 (one is held out)"
            )
        self.paths = paths
        self.images = [load_rgb(p, self.cfg.max_side) for p in paths]
        # Sample photos by area so large photos give proportionally more crops.
        areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()

    def crop(self, rng: np.random.Generator, size: int = 0) -> np.ndarray:
        """One float32 size x size x 3 crop in [0, 1] (``size`` 0: the configured size)."""
        size = size or self.cfg.size
        im = self.images[rng.choice(len(self.images), p=self.weights)]
        h, w = im.shape[:2]
        scale = rng.uniform(self.cfg.min_scale, 1.0)
        side = min(round(size / scale), h, w)
        y = rng.integers(0, h - side + 1)
        x = rng.integers(0, w - side + 1)
        patch = _resize(im[y : y + side, x : x + side], size)
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        return np.ascontiguousarray(patch, dtype=np.float32) / 255.0

    def batch(self, n: int, rng: np.random.Generator, size: int = 0) -> np.ndarray:
        """``n`` random crops stacked as float32 n x size x size x 3."""
        return np.stack([self.crop(rng, size) for _ in range(n)])

    def fixed_crops(self, n: int, size: int, seed: int = 0) -> np.ndarray:
        """``n`` validation crops (n x size x size x 3), cycling over the photos.

        Positions come from ``seed``, so every call returns the same crops. Photos smaller than
        ``size`` give their largest square, enlarged.
        """
        rng = np.random.default_rng(seed)
        out = []
        for i in range(n):
            im = self.images[i % len(self.images)]
            h, w = im.shape[:2]
            s = min(size, h, w)
            y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
            patch = _resize(im[y : y + s, x : x + s], size)
            out.append(patch.astype(np.float32) / 255.0)
        return np.stack(out)


def _resize(patch: np.ndarray, size: int) -> np.ndarray:
    """Square patch -> size x size: area averaging to shrink, bicubic for (rare) small photos."""
    if patch.shape[0] == size:
        return patch
    interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(patch, (size, size), interpolation=interp)
