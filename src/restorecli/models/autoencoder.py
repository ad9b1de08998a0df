"""VQ autoencoder with downsampling factor 4 (the paper's VQ-LDM-4 configuration).

Encoder: pixel-unshuffle stems (cheap on a CPU, unlike full-resolution 3x3 convs) then residual
blocks at 1/4 resolution down to D latent channels. Decoder: the mirror image, with one light
stage at 1/2 resolution so 4x4 blocks do not show. Images are in [-1, 1]; H and W must be
multiples of 4 (the pipeline pads).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from restorecli.models.layers import ChannelNorm, ResBlock
from restorecli.models.quantizer import QuantizeResult, VectorQuantizer


@dataclass
class AutoencoderConfig:
    latent_dim: int = 3
    codebook_size: int = 8192
    channels: int = 64
    num_blocks: int = 4
    half_channels: int = 32  # width of the 1/2-resolution stage
    ema_decay: float = 0.99

    @property
    def stride(self) -> int:
        return 4


@dataclass
class EncoderFeatures:
    """What the encoder computes from a frame: the fidelity decoder (``models.fidelity``) reads
    the two feature maps of the degraded frame, the quantizer reads ``z_e``."""

    half: torch.Tensor  # B x half_channels x H/2 x W/2
    quarter: torch.Tensor  # B x channels x H/4 x W/4
    z_e: torch.Tensor  # B x D x H/4 x W/4


class Encoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        c, hc = cfg.channels, cfg.half_channels
        self.stem = nn.Conv2d(3 * 4, hc, 3, padding=1)  # at 1/2 resolution
        self.half_block = ResBlock(hc)
        self.down = nn.Conv2d(hc * 4, c, 3, padding=1)  # at 1/4 resolution
        self.blocks = nn.ModuleList(ResBlock(c) for _ in range(cfg.num_blocks))
        self.norm = ChannelNorm(c)
        self.out = nn.Conv2d(c, cfg.latent_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).z_e

    def features(self, x: torch.Tensor) -> EncoderFeatures:
        """z_e and the features it was computed from, at 1/2 and 1/4 resolution."""
        half = self.half_block(self.stem(F.pixel_unshuffle(x, 2)))
        h = self.down(F.pixel_unshuffle(half, 2))
        for block in self.blocks:
            h = block(h)
        return EncoderFeatures(half, h, self.out(F.silu(self.norm(h))))


class Decoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        c, hc = cfg.channels, cfg.half_channels
        self.inp = nn.Conv2d(cfg.latent_dim, c, 3, padding=1)
        self.blocks = nn.ModuleList(ResBlock(c) for _ in range(cfg.num_blocks))
        self.norm = ChannelNorm(c)
        self.up = nn.Conv2d(c, hc * 4, 3, padding=1)
        self.half_block = ResBlock(hc)
        self.half_norm = ChannelNorm(hc)
        self.out = nn.Conv2d(hc, 3 * 4, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.to_pixels(self.to_half(self.trunk(z))), 2)

    # The stages, named so the fidelity decoder can enter between them.
    def trunk(self, z: torch.Tensor) -> torch.Tensor:
        """Latent -> features at 1/4 resolution."""
        h = self.inp(z)
        for block in self.blocks:
            h = block(h)
        return h

    def to_half(self, h: torch.Tensor) -> torch.Tensor:
        """1/4-resolution features -> 1/2-resolution features."""
        return self.half_block(F.pixel_shuffle(self.up(F.silu(self.norm(h))), 2))

    def to_pixels(self, h: torch.Tensor) -> torch.Tensor:
        """1/2-resolution features -> the image's 2x2 pixel blocks (12 channels at 1/2)."""
        return self.out(F.silu(self.half_norm(h)))


@dataclass
class AutoencoderOutput:
    recon: torch.Tensor
    z_e: torch.Tensor
    quant: QuantizeResult | None  # None when quantization was skipped


class VQAutoencoder(nn.Module):
    """Encoder -> vector quantizer -> decoder."""

    kind = "autoencoder"

    def __init__(self, config: AutoencoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or AutoencoderConfig()
        self.encoder = Encoder(self.config)
        self.quantizer = VectorQuantizer(
            self.config.codebook_size, self.config.latent_dim, decay=self.config.ema_decay
        )
        self.decoder = Decoder(self.config)

    @property
    def stride(self) -> int:
        return self.config.stride

    @property
    def codebook(self) -> torch.Tensor:
        return self.quantizer.codebook

    def features(self, x: torch.Tensor) -> EncoderFeatures:
        """Image -> z_e with the encoder's 1/2- and 1/4-resolution features."""
        return self.encoder.features(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image B x 3 x H x W in [-1, 1] -> pre-quantization latent z_e (B x D x H/4 x W/4)."""
        return self.encoder(x)

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent -> (z_q, indices) with the nearest code at every latent pixel."""
        idx = self.quantizer.nearest(z)
        return self.quantizer.lookup(idx).to(z.dtype), idx

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent B x D x h x w -> image B x 3 x 4h x 4w (roughly in [-1, 1]; not clamped)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor, quantize: bool = True) -> AutoencoderOutput:
        """Reconstruct x; ``quantize=False`` decodes z_e directly (continuous warm-up)."""
        z_e = self.encode(x)
        if not quantize:
            return AutoencoderOutput(self.decode(z_e), z_e, None)
        quant = self.quantizer(z_e)
        return AutoencoderOutput(self.decode(quant.z_q), z_e, quant)
