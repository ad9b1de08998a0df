"""Frame context: one vector that summarises the whole degraded frame for the denoiser.

Some degradations are global. Haze has one airlight colour per photo and a density that is only
judged right from the whole picture; a network that sees a few hundred pixels at a time
guesses both, differently in every region. The frame is shrunk so that its longer side is
``size`` pixels, a small strided CNN reads it, and its features are averaged and max-pooled
over the frame into one vector that is added to the denoiser's step embedding. Computed once
per frame, the same vector conditions every tile, so tiling stays exact.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def context_frame(frames: torch.Tensor, size: int) -> torch.Tensor:
    """B x 3 x H x W frames -> the same frames with their longer side ``size`` pixels."""
    h, w = frames.shape[-2:]
    scale = size / max(h, w)
    out = (max(1, round(h * scale)), max(1, round(w * scale)))
    if out == (h, w):
        return frames
    # Antialiased: a shrunk frame must keep its mean colour and local extremes honest.
    return F.interpolate(frames.float(), size=out, mode="bilinear", antialias=True).to(frames.dtype)


class FrameContext(nn.Module):
    """Strided convolutions, then mean and max over the frame, then an MLP to ``emb_dim``."""

    def __init__(self, width: int, emb_dim: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, width, 4, stride=4),  # 1/4, like the autoencoder's latents
            nn.SiLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.SiLU(),
        )
        self.mlp = nn.Sequential(
            nn.Linear(4 * width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """B x 3 x h x w frames in [-1, 1] (already shrunk) -> B x emb_dim."""
        # Frames smaller than the stride of 16 would pool nothing: pad them up (edge pixels).
        h, w = frames.shape[-2:]
        ph, pw = max(0, 16 - h), max(0, 16 - w)
        if ph or pw:
            frames = F.pad(frames, (0, pw, 0, ph), mode="replicate")
        f = self.convs(frames)
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        return self.mlp(pooled)
