"""Which restore tasks a photo needs: the detector behind ``restore detect`` and ``restore auto``.

::

    from restorecli.detect import load_detector
    detector = load_detector()
    detector.detect(image)          # [Detection(task='derain', confidence=0.93)], [] when clean

A photo is judged at most ``analysis_side`` pixels on its long side (larger ones are shrunk, as
a viewer would see them), from full-resolution crops on a fixed grid plus the whole frame shrunk
to a square (``analysis_views``); training draws the crops at random instead.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from restorecli.config import AUTO_ORDER, DETECT_THRESHOLD
from restorecli.models.detector import DetectorConfig

# The order training data gets its degradations in (``restore auto`` undoes them backwards).
PHYSICAL_ORDER = tuple(reversed(AUTO_ORDER))


@dataclasses.dataclass(frozen=True)
class Detection:
    task: str
    confidence: float  # the detector's sigmoid output, 0-1


def analysis_image(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` (HxWx3 float in [0, 1]) shrunk so its long side is at most ``side``."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _grid_corners(h: int, w: int, size: int, count: int) -> list[tuple[int, int]]:
    """``count`` crop corners spread evenly over the frame (rows x columns by its aspect)."""
    rows = max(1, round(np.sqrt(count * h / max(w, 1))))
    cols = -(-count // rows)
    ys = np.linspace(0, max(h - size, 0), rows).round().astype(int)
    xs = np.linspace(0, max(w - size, 0), cols).round().astype(int)
    return [(int(y), int(x)) for y in ys for x in xs][:count]


def analysis_views(
    image: np.ndarray, config: DetectorConfig, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(crops (C, s, s, 3), frame (g, g, 3)), float32 in [0, 1], from an HxWx3 image.

    Crops are on a fixed grid, or at random places with ``rng`` (training). A photo smaller
    than a crop is padded by reflection.
    """
    img = analysis_image(np.asarray(image, dtype=np.float32), config.analysis_side)
    s = config.crop_size
    h, w = img.shape[:2]
    if h < s or w < s:
        img = cv2.copyMakeBorder(img, 0, max(s - h, 0), 0, max(s - w, 0), cv2.BORDER_REFLECT_101)
        h, w = img.shape[:2]
    if rng is None:
        corners = _grid_corners(h, w, s, config.crops)
        corners += corners[: config.crops - len(corners)]  # a frame too small for the grid
    else:
        ys = rng.integers(0, h - s + 1, config.crops)
        xs = rng.integers(0, w - s + 1, config.crops)
        corners = list(zip(ys.tolist(), xs.tolist(), strict=True))
    crops = np.stack([img[y : y + s, x : x + s] for y, x in corners])
    g = config.global_size
    frame = cv2.resize(img, (g, g), interpolation=cv2.INTER_AREA)
    return crops, frame


class Detector:
    """A loaded detector network with its labels; thread-unsafe like any torch module."""

    def __init__(self, model: Any, *, name: str | None = None, device: Any = "cpu") -> None:
        self.model = model.eval()
        self.config: DetectorConfig = model.config
        self.name = name
        self.device = device

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    def scores(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        """Each task's confidence for one photo, or for a video from a few of its frames (the
        mean over frames: one frame's glitch does not decide)."""
        import torch

        views = [analysis_views(f, self.config) for f in frames]
        crops = torch.from_numpy(np.stack([c for c, _ in views])).permute(0, 1, 4, 2, 3)
        frame = torch.from_numpy(np.stack([g for _, g in views])).permute(0, 3, 1, 2)
        with torch.inference_mode():
            logits = self.model(crops.to(self.device) * 2 - 1, frame.to(self.device) * 2 - 1)
            probs = torch.sigmoid(logits.float()).mean(0).cpu().tolist()
        return dict(zip(self.labels, probs, strict=True))

    def detect(
        self, frames: np.ndarray | Sequence[np.ndarray], threshold: float = DETECT_THRESHOLD
    ) -> list[Detection]:
        """The tasks at or above ``threshold``, most confident first ([] = clean)."""
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            frames = [frames]
        return sorted(detected(self.scores(frames), threshold), key=lambda d: -d.confidence)


def detected(scores: Mapping[str, float], threshold: float) -> list[Detection]:
    """The tasks whose confidence is at ``threshold`` or above."""
    return [Detection(t, p) for t, p in scores.items() if p >= threshold]


def auto_plan(detections: Sequence[Detection]) -> list[str]:
    """The tasks to run, in ``AUTO_ORDER``."""
    wanted = {d.task for d in detections}
    return [t for t in AUTO_ORDER if t in wanted]


def load_detector(
    weights: str | os.PathLike[str] | None = None,
    *,
    device: str = "auto",
    offline: bool | None = None,
) -> Detector:
    """The registry's detector (``[defaults] detect``), a registered name, or a file."""
    from restorecli.device import select_device
    from restorecli.models.serialization import load_model
    from restorecli.weights import resolve_detector

    path, name = resolve_detector(None if weights is None else str(weights), offline=offline)
    dev = select_device(device)
    return Detector(load_model(path, device=dev, kind="detector"), name=name, device=dev)
