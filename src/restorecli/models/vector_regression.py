"""Vector Regression re-quantization: real-valued weights over nearby codes, not one hard snap.

The diffusion output ``z0`` is a continuous latent; the paper's pipeline snaps it to the nearest
code, which loses whatever the chain got right between codes. Following Vector Regression (Zheng
et al., "Rethinking the Role of Vector Quantization for Blind Image Restoration"), a light head
reads ``z0``'s neighbourhood and gives each latent pixel weights over its ``k`` nearest codes;
the result is their weighted sum, supervised by the *clean* image's encoder output z_e (not its
quantized code). Its prior is the soft nearest code, so an untrained head is close to the snap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from restorecli.models.layers import ResBlock
from restorecli.models.quantizer import nearest_codes


@dataclass
class VRConfig:
    latent_dim: int = 3
    neighbours: int = 8  # codes weighed at each latent pixel
    channels: int = 32
    blocks: int = 2


class VectorRegression(nn.Module):
    """z0 (B x D x h x w) and the codebook -> a weighted sum of each pixel's nearest codes."""

    kind = "requantizer"

    def __init__(self, config: VRConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or VRConfig()
        c, d = cfg.channels, cfg.latent_dim
        self.inp = nn.Conv2d(d, c, 3, padding=1)
        self.blocks = nn.ModuleList(ResBlock(c) for _ in range(cfg.blocks))
        # Scores each candidate from the pixel's features, its offset and its squared distance.
        self.score = nn.Sequential(nn.Conv2d(c + d + 1, c, 1), nn.SiLU(), nn.Conv2d(c, 1, 1))
        nn.init.zeros_(self.score[2].weight)
        nn.init.zeros_(self.score[2].bias)
        # Sharpness of the soft-nearest prior, in units of the pixel's mean candidate distance.
        self.log_sharpness = nn.Parameter(torch.tensor(1.5))

    def forward(self, z0: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
        b, d, h, w = z0.shape
        k = self.config.neighbours
        flat = z0.permute(0, 2, 3, 1).reshape(-1, d)
        idx = nearest_codes(flat.float(), codebook.float(), k).to(z0.device)  # (B h w) x k
        cand = F.embedding(idx, codebook).to(z0.dtype)  # (B h w) x k x D
        cand = cand.view(b, h, w, k, d).permute(0, 3, 4, 1, 2)  # B x k x D x h x w
        offset = cand - z0[:, None]
        dist2 = offset.pow(2).sum(2, keepdim=True)  # B x k x 1 x h x w
        scale = dist2.mean(1, keepdim=True).clamp_min(1e-12)
        feats = z0
        feats = self.inp(feats)
        for block in self.blocks:
            feats = block(feats)
        per = torch.cat(
            [feats[:, None].expand(-1, k, -1, -1, -1), offset, dist2 / scale], dim=2
        )  # B x k x (C + D + 1) x h x w
        logits = self.score(per.flatten(0, 1)).view(b, k, h, w)
        logits = logits - self.log_sharpness.exp() * (dist2 / scale)[:, :, 0]
        weights = torch.softmax(logits.float(), dim=1).to(z0.dtype)
        return (weights[:, :, None] * cand).sum(1)
