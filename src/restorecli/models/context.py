"""Frame context: one vector that summarises the whole degraded frame for the denoiser.

Some degradations are global. Haze has one airlight colour per photo and a density that is only
judged right from the whole picture; a network that sees a few hundred pixels at a time
guesses both, differently in every region. The frame is shrunk so that its longer side is
``size`` pixels, a small strided CNN reads it, and its features are averaged and max-pooled
over the frame into one vector that is added to the denoiser's step embedding.

Haze also varies over the frame with depth, which a crop cannot see either. With ``grid`` > 0
the branch also makes a coarse map (one cell per 16 pixels of the shrunk frame, each cell also
told the frame's mean features), read at the centre of every latent pixel and given to the
denoiser as extra input channels. Latent pixels are placed by their position in the whole
frame, so the map is computed once per frame and a tile takes its window of it, like the
sampling noise: tiling stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Context:
    """What the denoiser reads of the whole frame: ``vector`` (B x emb_dim), for a branch with a
    map ``grid`` (B x C x h x w, one value per latent pixel of the latents it goes with), and
    ``maps``, the outputs of the denoiser's optional map modules (e.g. the dark-channel
    estimate, ``models.dark_prior``), each B x c x h x w like the grid."""

    vector: torch.Tensor
    grid: torch.Tensor | None = None
    maps: tuple[torch.Tensor, ...] = ()

    def crop(self, y0: int, y1: int, x0: int, x1: int) -> Context:
        """The context of the latent window [y0:y1, x0:x1] (a tile)."""
        grid = None if self.grid is None else self.grid[..., y0:y1, x0:x1]
        return Context(self.vector, grid, tuple(m[..., y0:y1, x0:x1] for m in self.maps))

    def expand(self, batch: int) -> Context:
        """One frame's context repeated for ``batch`` latents of that frame."""
        grid = None if self.grid is None else self.grid.expand(batch, -1, -1, -1)
        maps = tuple(m.expand(batch, -1, -1, -1) for m in self.maps)
        return Context(self.vector.expand(batch, -1), grid, maps)


def cell_centres(
    frame_hw: tuple[int, int],
    latent_hw: tuple[int, int],
    stride: int,
    origin: torch.Tensor | None = None,
    batch: int = 1,
) -> torch.Tensor:
    """``grid_sample`` coordinates (B x h x w x 2) of the centres of an h x w block of latent
    pixels, each ``stride`` image pixels wide, whose top-left pixel sits at ``origin`` (B x 2,
    y and x in frame pixels; None = 0) of a frame of ``frame_hw`` pixels."""
    fh, fw = frame_hw
    h, w = latent_hw
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) * stride
    if origin is None:
        origin = torch.zeros(batch, 2)
    origin = origin.float().cpu()
    ys = ys[None] + origin[:, :1]  # B x h
    xs = xs[None] + origin[:, 1:]  # B x w
    # align_corners=False: -1 and 1 are the outer edges of the frame (and of the coarse map).
    gy = (2 * ys / fh - 1)[:, :, None].expand(-1, h, w)
    gx = (2 * xs / fw - 1)[:, None, :].expand(-1, h, w)
    return torch.stack([gx, gy], dim=-1)


def read_at_latents(
    maps: torch.Tensor,
    frame_hw: tuple[int, int],
    latent_hw: tuple[int, int],
    stride: int,
    origin: torch.Tensor | None = None,
) -> torch.Tensor:
    """A map of the whole frame (B x C x any size) read bilinearly at the centres of an h x w
    block of latent pixels placed as in :func:`cell_centres`: B x C x h x w."""
    where = cell_centres(frame_hw, latent_hw, stride, origin, batch=maps.shape[0])
    out = F.grid_sample(
        maps.float(),
        where.to(maps.device),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return out.to(maps.dtype)


class FrameContext(nn.Module):
    """Strided convolutions, then mean and max over the frame, then an MLP to ``emb_dim``;
    with ``grid`` > 0 also a coarse ``grid``-channel map of the frame."""

    def __init__(self, width: int, emb_dim: int, grid: int = 0) -> None:
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
        self.grid_head = (
            nn.Sequential(
                nn.Conv2d(4 * width, 2 * width, 3, padding=1, padding_mode="replicate"),
                nn.SiLU(),
                nn.Conv2d(2 * width, grid, 1),
            )
            if grid
            else None
        )

    def read(
        self,
        frames: torch.Tensor,
        size: int,
        latent_hw: tuple[int, int] | None,
        stride: int,
        origin: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
        """Whole frames (B x 3 x H x W in [-1, 1], any size), shrunk to ``size`` -> the vector,
        the map read at ``latent_hw`` latent pixels of ``stride`` image pixels placed at
        ``origin`` (None without a map), and ``latent_hw`` (default: the whole frame's)."""
        vector, coarse = self(context_frame(frames, size))
        h, w = frames.shape[-2:]
        latent_hw = latent_hw or (h // stride, w // stride)
        if coarse is None:
            return vector, None, latent_hw
        return vector, read_at_latents(coarse, (h, w), latent_hw, stride, origin), latent_hw

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """B x 3 x h x w frames in [-1, 1] (already shrunk) -> (B x emb_dim vector, coarse
        B x grid x h/16 x w/16 map or None)."""
        # Frames smaller than the stride of 16 would pool nothing: pad them up (edge pixels).
        h, w = frames.shape[-2:]
        ph, pw = max(0, 16 - h), max(0, 16 - w)
        if ph or pw:
            frames = F.pad(frames, (0, pw, 0, ph), mode="replicate")
        f = self.convs(frames)
        mean = f.mean(dim=(2, 3))
        vector = self.mlp(torch.cat([mean, f.amax(dim=(2, 3))], dim=1))
        if self.grid_head is None:
            return vector, None
        # Each cell also sees the frame's mean: a cell's density is judged against the whole.
        whole = mean[:, :, None, None].expand_as(f)
        return vector, self.grid_head(torch.cat([f, whole], dim=1))
