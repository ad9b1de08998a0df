"""Conditional UNet over latents: predicts the clean latent x0 from (x_t, y0, t).

``t`` is the continuous noise level eta_t of the residual-shift chain, so one network serves any
number of sampling steps. Fully convolutional and local (see ``layers``), so it runs on any latent
size that is a multiple of ``size_multiple`` and can be tiled. With ``context`` > 0 it also reads
a summary of the whole degraded frame (``models.context``), which the caller computes once per
frame and passes to every tile; with ``context_grid`` > 0 also a coarse map of it, and with
``dark_prior`` the frame's dark-channel transmission estimate (``models.dark_prior``, an
optional map module: ``map_modules`` lists them), all read as extra input channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from restorecli.models.context import Context, FrameContext
from restorecli.models.dark_prior import DarkChannelMap
from restorecli.models.layers import ChannelNorm, ResBlock


@dataclass
class UNetConfig:
    latent_dim: int = 3
    channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 2)
    blocks_per_level: int = 2
    emb_dim: int = 128
    context: int = 0  # width of the frame-context branch (0: none)
    context_size: int = 256  # longer side, in pixels, of the frame the context branch reads
    context_grid: int = 0  # channels of the branch's coarse map of the frame (0: vector only)
    dark_prior: bool = False  # also read the dark-channel transmission estimate (dehaze)

    def __post_init__(self) -> None:
        self.channel_mults = tuple(self.channel_mults)  # lists come back from JSON metadata
        if self.context < 0 or self.context_size < 16 or self.context_grid < 0:
            raise ValueError("context and context_grid must be >= 0 and context_size >= 16")
        if self.context_grid and not self.context:
            raise ValueError("context_grid needs a frame-context branch (context > 0)")
        if self.dark_prior and not self.context:
            raise ValueError("dark_prior needs a frame-context branch (context > 0)")

    @property
    def size_multiple(self) -> int:
        return 2 ** (len(self.channel_mults) - 1)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of log(eta): noise levels span orders of magnitude."""
    x = torch.log(t.float().clamp_min(1e-8))[:, None]
    freqs = torch.exp(torch.linspace(0, math.log(100.0), dim // 2, device=t.device))[None]
    return torch.cat([torch.sin(x * freqs), torch.cos(x * freqs)], dim=1)


class LatentUNet(nn.Module):
    kind = "denoiser"

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or UNetConfig()
        widths = [cfg.channels * m for m in cfg.channel_mults]
        self.time_mlp = nn.Sequential(
            nn.Linear(cfg.emb_dim, cfg.emb_dim), nn.SiLU(), nn.Linear(cfg.emb_dim, cfg.emb_dim)
        )
        # Optional per-latent maps of the frame, each its own module; forward reads them all.
        self.map_modules = nn.ModuleList([DarkChannelMap()] if cfg.dark_prior else [])
        extra = cfg.context_grid + sum(m.channels for m in self.map_modules)
        self.inp = nn.Conv2d(2 * cfg.latent_dim + extra, widths[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, w in enumerate(widths):
            w_in = widths[i - 1] if i else widths[0]
            blocks = [ResBlock(w_in, cfg.emb_dim, w)]
            blocks += [ResBlock(w, cfg.emb_dim) for _ in range(cfg.blocks_per_level - 1)]
            self.down_blocks.append(nn.ModuleList(blocks))
            if i < len(widths) - 1:
                self.downsamples.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
        self.mid = ResBlock(widths[-1], cfg.emb_dim)
        self.up_blocks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for i in reversed(range(len(widths))):
            w = widths[i]
            w_out = widths[i - 1] if i else widths[0]
            blocks = [ResBlock(2 * w, cfg.emb_dim, w)]
            blocks += [ResBlock(w, cfg.emb_dim) for _ in range(cfg.blocks_per_level - 2)]
            blocks += [ResBlock(w, cfg.emb_dim, w_out)]
            self.up_blocks.append(nn.ModuleList(blocks))
            if i > 0:
                self.upsamples.append(nn.Conv2d(w_out, w_out, 3, padding=1))
        self.out_norm = ChannelNorm(widths[0])
        self.out = nn.Conv2d(widths[0], cfg.latent_dim, 3, padding=1)
        # Start as x0_hat = y0: the degraded latent is the best guess before any training.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.frame_context = (
            FrameContext(cfg.context, cfg.emb_dim, cfg.context_grid) if cfg.context else None
        )

    @property
    def size_multiple(self) -> int:
        return self.config.size_multiple

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
        """Whole degraded frames (B x 3 x H x W in [-1, 1], any size) -> their :class:`Context`.

        A branch with a map reads it for ``latent_hw`` latent pixels of ``stride`` image pixels
        (default: the whole frame) whose top-left pixel is at ``origin`` (B x 2, y and x; a
        training crop's place in its view; default 0)."""
        if self.frame_context is None:
            raise ValueError("this denoiser has no frame-context branch")
        vector, grid, latent_hw = self.frame_context.read(
            frames, self.config.context_size, latent_hw, stride, origin
        )
        maps = tuple(
            m(frames, latent_hw, stride, origin).to(vector.dtype) for m in self.map_modules
        )
        return Context(vector, grid, maps)

    def forward(
        self,
        x_t: torch.Tensor,
        y0: torch.Tensor,
        t: torch.Tensor,
        context: Context | torch.Tensor | None = None,
        origin: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict x0. ``context``: the frame's :class:`Context` from :meth:`encode_context`
        (its map the size of ``x_t``), or the whole frames themselves (B x 3 x H x W, with
        ``origin``, the latents' top-left pixel in them), which training passes so that the
        branch runs inside this call."""
        if t.dim() == 0:
            t = t.expand(x_t.shape[0])
        emb = self.time_mlp(timestep_embedding(t, self.config.emb_dim).to(x_t.dtype))
        inputs = [x_t, y0]
        if self.frame_context is not None:
            if context is None:
                raise ValueError("this denoiser needs the frame context (encode_context)")
            if isinstance(context, torch.Tensor):
                context = self.encode_context(context, x_t.shape[-2:], origin=origin)
            emb = emb + context.vector.to(emb.dtype)
            if self.config.context_grid:
                if context.grid is None or context.grid.shape[-2:] != x_t.shape[-2:]:
                    raise ValueError("the context's map does not match the latents' size")
                inputs.append(context.grid.to(x_t.dtype))
            if len(context.maps) != len(self.map_modules) or any(
                m.shape[-2:] != x_t.shape[-2:] for m in context.maps
            ):
                raise ValueError("the context's maps do not match this denoiser or the latents")
            inputs += [m.to(x_t.dtype) for m in context.maps]
        h = self.inp(torch.cat(inputs, dim=1))
        skips = []
        for i, blocks in enumerate(self.down_blocks):
            for block in blocks:
                h = block(h, emb)
            skips.append(h)
            if i < len(self.downsamples):
                h = self.downsamples[i](h)
        h = self.mid(h, emb)
        for i, blocks in enumerate(self.up_blocks):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in blocks:
                h = block(h, emb)
            if i < len(self.upsamples):
                h = self.upsamples[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return y0 + self.out(F.silu(self.out_norm(h)))
