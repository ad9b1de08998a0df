"""The fidelity path: the decoder also reads the degraded frame, past the VQ bottleneck.

Decoding only the restored, re-quantized latent caps every output at the autoencoder's own
reconstruction (about 27.6 dB on Kodak24) and smears what the degradation never touched. This
module adds gated skips from the encoder's features of the *degraded* frame into the frozen
decoder, in the manner of StableSR's controllable feature wrapping:

- at 1/4 resolution the decoder's features get ``w * gate * conv([features, encoder features])``;
- at the output, a small head at 1/2 resolution sees the decoder's features, the encoder's, the
  degraded pixels and the decoded pixels, and predicts a per-pixel mask ``m`` and a correction
  ``d``: ``out = y + w * (m * (x - y) + d)``. Where the input is intact the head learns m = 1
  (the input's own pixels, exactly); where it is degraded, m = 0 (the restored latent's).

``w`` is the user's ``--fidelity`` in [0, 1]; 0 is the plain decoder, bit for bit. Every layer is
local, so tiling stays exact once the overlap covers the receptive field.

Whether a pixel is degraded is not always a local question: a clean photo and a hazy one can
differ from their restorations alike, pixel by pixel. With ``context`` > 0 the head also reads
a summary of the whole degraded frame (``models.context.FrameContext``: a vector added to its
features and a coarse map read at every latent pixel), computed once per frame like the
denoiser's and cropped per tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from restorecli.models.autoencoder import Decoder, EncoderFeatures
from restorecli.models.context import Context, FrameContext
from restorecli.models.layers import ChannelNorm, ResBlock


@dataclass
class FidelityConfig:
    channels: int = 64  # the autoencoder's width at 1/4 resolution
    half_channels: int = 32  # its width at 1/2 resolution
    head_channels: int = 32  # width of the output head (1/2 resolution)
    head_blocks: int = 1
    context: int = 0  # width of the frame-context branch (0: none)
    context_grid: int = 4  # channels of its coarse map
    context_size: int = 256  # longer side, in pixels, of the frame it reads
    # Kernel sizes of the gated convolution at 1/4 and of the head's first convolution: 1 makes
    # them 9x cheaper (the two cost a third of the path), the residual blocks still see around.
    quarter_kernel: int = 3
    head_in_kernel: int = 3

    def __post_init__(self) -> None:
        for name in ("quarter_kernel", "head_in_kernel"):
            if getattr(self, name) not in (1, 3):
                raise ValueError(f"{name} must be 1 or 3, got {getattr(self, name)}")


class FidelityNet(nn.Module):
    """Gated skips from the degraded frame's encoder features into a frozen decoder."""

    kind = "fidelity"

    def __init__(self, config: FidelityConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or FidelityConfig()
        c, hc, w = cfg.channels, cfg.half_channels, cfg.head_channels
        qk, hk = cfg.quarter_kernel, cfg.head_in_kernel
        self.quarter_value = nn.Conv2d(2 * c, c, qk, padding=qk // 2)
        self.quarter_gate = nn.Conv2d(2 * c, c, 1)
        # Start as the plain decoder at 1/4: the value branch is zero until it learns.
        nn.init.zeros_(self.quarter_value.weight)
        nn.init.zeros_(self.quarter_value.bias)
        # Decoder and encoder features at 1/2, degraded and decoded pixels (12 channels each).
        grid = cfg.context_grid if cfg.context else 0
        self.head_in = nn.Conv2d(2 * hc + 24 + grid, w, hk, padding=hk // 2)
        self.frame_context = FrameContext(cfg.context, w, grid) if cfg.context else None
        if self.frame_context is not None:  # silent until trained: a grown net starts as before
            last_map = self.frame_context.grid_head[-1]  # type: ignore[index]
            for layer in (self.frame_context.mlp[-1], last_map):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.head_blocks = nn.ModuleList(ResBlock(w) for _ in range(cfg.head_blocks))
        self.head_norm = ChannelNorm(w)
        self.head_out = nn.Conv2d(w, 24, 3, padding=1)  # mask logits and correction, 12 each
        nn.init.zeros_(self.head_out.weight)
        nn.init.zeros_(self.head_out.bias)

    @property
    def uses_context(self) -> bool:
        return self.frame_context is not None

    def encode_context(
        self,
        frames: torch.Tensor,
        latent_hw: tuple[int, int] | None = None,
        *,
        stride: int = 4,
        origin: torch.Tensor | None = None,
    ) -> Context:
        """Whole degraded frames (B x 3 x H x W in [-1, 1]) -> the head's :class:`Context`:
        a vector and a map read at ``latent_hw`` latent pixels placed at ``origin`` (B x 2;
        a training crop's place in its view), as ``LatentUNet.encode_context``."""
        if self.frame_context is None:
            raise ValueError("this fidelity net has no frame-context branch")
        vector, grid, _ = self.frame_context.read(
            frames, self.config.context_size, latent_hw, stride, origin
        )
        return Context(vector, grid)

    def decode(
        self,
        decoder: Decoder,
        z: torch.Tensor,
        degraded: EncoderFeatures,
        x: torch.Tensor,
        weight: float = 1.0,
        context: Context | None = None,
    ) -> torch.Tensor:
        """Latent ``z`` -> image, with ``weight`` of the skips from the degraded frame ``x``
        (B x 3 x H x W in [-1, 1]) and its encoder features; 0 = ``decoder(z)`` itself.
        ``context``: :meth:`encode_context` of the whole frames, for a net with the branch."""
        if weight == 0:
            return decoder(z)
        if self.frame_context is not None and context is None:
            raise ValueError("this fidelity net needs the frame context (encode_context)")
        h = decoder.trunk(z)
        both = torch.cat([h, degraded.quarter.to(h.dtype)], dim=1)
        h = h + weight * self.quarter_value(both) * torch.sigmoid(self.quarter_gate(both))
        half = decoder.to_half(h)
        y = decoder.to_pixels(half)
        xu = F.pixel_unshuffle(x.to(y.dtype), 2)
        inputs = [half, degraded.half.to(y.dtype), xu, y]
        if context is not None and self.frame_context is not None:
            assert context.grid is not None
            # One map value per latent pixel, repeated over its 2 x 2 pixels at 1/2 resolution.
            inputs.append(F.interpolate(context.grid.to(y.dtype), scale_factor=2.0))
        g = self.head_in(torch.cat(inputs, dim=1))
        if context is not None and self.frame_context is not None:
            g = g + context.vector.to(g.dtype)[:, :, None, None]
        for block in self.head_blocks:
            g = block(g)
        mask, delta = self.head_out(F.silu(self.head_norm(g))).chunk(2, dim=1)
        y = y + weight * (torch.sigmoid(mask) * (xu - y) + delta)
        return F.pixel_shuffle(y, 2)
