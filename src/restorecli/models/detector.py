"""The degradation detector: which restore tasks a photo needs (several may apply at once).

It reads two kinds of view of a photo (``restorecli.detect.analysis_views`` makes them): a few
crops at full resolution, where noise, streaks and lost sharpness show, and the whole frame
shrunk to a small square, where haze, veils and drops show. A shared-shape trunk per kind pools
each view to a vector; crop vectors are averaged and max-pooled (a streak in one crop counts),
and a small head gives one logit per task. Clean is no class of its own here: it is every
sigmoid below the threshold, so "nothing to do" and "rain and haze" are both answers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DetectorConfig:
    labels: tuple[str, ...] = ("derain", "dehaze", "desnow", "deraindrop", "denoise", "deblur")
    width: int = 16  # channels of the first layers; 4x at the end of the trunk
    crops: int = 8  # full-resolution crops per photo
    crop_size: int = 64
    global_size: int = 128  # the whole frame, shrunk to this square
    analysis_side: int = 768  # photos larger than this are shrunk first (INTER_AREA)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        if not self.labels:
            raise ValueError("a detector needs at least one label")
        for name in ("width", "crops", "crop_size", "global_size", "analysis_side"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive")


def _trunk(width: int) -> tuple[nn.Sequential, int]:
    """Conv stack: one full-resolution layer (noise lives in single pixels), then four
    stride-2 stages; returns the stack and its output channels."""
    chans = [width, width, 2 * width, 3 * width, 4 * width]  # width=16: about 115k weights each
    layers: list[nn.Module] = [nn.Conv2d(3, chans[0], 3, padding=1), nn.GELU()]
    for cin, cout in itertools.pairwise(chans):
        layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GELU()]
        layers += [nn.Conv2d(cout, cout, 3, padding=1), nn.GELU()]
    return nn.Sequential(*layers), chans[-1]


class DegradationDetector(nn.Module):
    """``forward(crops, frame)`` -> logits (N, labels).

    ``crops``: (N, C, 3, s, s) in [-1, 1]; ``frame``: (N, 3, g, g) in [-1, 1].
    """

    kind = "detector"

    def __init__(self, config: DetectorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DetectorConfig()
        self.local, width = _trunk(self.config.width)
        self.glob, _ = _trunk(self.config.width)
        # Per view: mean and std over space (std sees texture energy, e.g. noise or blur);
        # crops: their mean (2 width) and the strongest crop's means (width); frame: 2 width.
        self.head = nn.Sequential(
            nn.Linear(5 * width, 2 * width),
            nn.GELU(),
            nn.Linear(2 * width, len(self.config.labels)),
        )
        # He init: with torch's default the activations shrink about 2x per layer, and after
        # nine layers every photo looks alike to the head at the start of training.
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    @staticmethod
    def _pool(features: torch.Tensor) -> torch.Tensor:
        flat = features.flatten(2)
        correction = 1 if flat.shape[2] > 1 else 0  # a 1x1 map (tiny views) has no spread
        return torch.cat([flat.mean(2), flat.std(2, correction=correction)], dim=1)

    def forward(self, crops: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        n, c = crops.shape[:2]
        local = self._pool(self.local(crops.flatten(0, 1))).unflatten(0, (n, c))
        whole = self._pool(self.glob(frame))
        crop_mean = local.mean(1)
        crop_max = local.amax(1)[:, : local.shape[2] // 2]  # the strongest crop's mean features
        return self.head(torch.cat([crop_mean, crop_max, whole], dim=1))
