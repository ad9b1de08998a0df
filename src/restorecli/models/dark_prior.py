"""A physical hint for dehazing: the dark-channel estimate of the haze's transmission.

In a haze-free outdoor photo nearly every patch holds some pixel that is dark in one of its
colours; haze lifts that minimum towards the veil's colour A. So ``1 - omega * dark(I / A)``,
with ``dark`` the local minimum over a patch of the RGB minimum, estimates the transmission
``t`` of ``I = J t + A (1 - t)`` (He, Sun and Tang, CVPR 2009). A denoiser alone must judge
how dense the veil is from appearance, and under a squared loss settles between a pale scene
and a hazy one; this map tells it, pixel by pixel, and the denoiser corrects it where the prior
fails (skies, white walls, light haze).

The map is computed once per frame on the frame shrunk to ``size`` pixels (so the patch covers
the same share of any photo, as in training) and read at the centre of every latent pixel by
its place in the whole frame, like the frame context's map: tiles take their window and tiling
stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from restorecli.models.context import context_frame, read_at_latents


@dataclass(frozen=True)
class DarkPrior:
    """The estimate's settings (the published defaults at about 500 pixels)."""

    size: int = 512  # longer side, in pixels, of the frame the estimate is made on
    patch: int = 15  # side of the local minimum, in pixels of that frame
    omega: float = 0.95  # keep a trace of haze, as the published method does
    top_share: float = 0.001  # airlight: mean colour of the brightest 0.1 % of the dark channel


def _window_min(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Minimum over a centred window of odd ``size`` along ``dim`` (edges: the window's part
    inside). Windows double by taking the minimum with a shifted copy, so a window of n costs
    about log2(n) passes instead of n."""
    m = F.pad(x, _pad_spec(x.dim(), dim, size // 2), value=float("inf"))
    covered = 1
    while covered < size:
        step = min(covered, size - covered)
        n = m.shape[dim] - step
        m = torch.minimum(m.narrow(dim, 0, n), m.narrow(dim, step, n))
        covered += step
    return m


def _pad_spec(ndim: int, dim: int, half: int) -> list[int]:
    """``F.pad`` amounts that pad ``dim`` by ``half`` on both sides (last dimension first)."""
    spec = [0] * (2 * ndim)
    spec[2 * (ndim - 1 - dim)] = spec[2 * (ndim - 1 - dim) + 1] = half
    return spec


def dark_channel(images: torch.Tensor, patch: int) -> torch.Tensor:
    """B x 3 x H x W in [0, 1] -> B x 1 x H x W: the patch minimum of the RGB minimum."""
    if patch < 1 or patch % 2 == 0:
        raise ValueError(f"the patch must be an odd number of pixels, got {patch}")
    low = images.amin(dim=1, keepdim=True)
    # A square's minimum is a column minimum of row minima.
    return _window_min(_window_min(low, patch, 2), patch, 3)


def airlight(images: torch.Tensor, dark: torch.Tensor, top_share: float) -> torch.Tensor:
    """B x 3: mean colour of the pixels whose dark channel is among the brightest."""
    b = images.shape[0]
    k = max(1, int(dark[0].numel() * top_share))
    idx = dark.reshape(b, -1).topk(k, dim=1).indices  # B x k
    pixels = images.reshape(b, 3, -1).gather(2, idx[:, None, :].expand(-1, 3, -1))
    return pixels.mean(dim=2)


def transmission(frames: torch.Tensor, prior: DarkPrior = DarkPrior()) -> torch.Tensor:
    """Whole frames (B x 3 x H x W in [-1, 1]) -> the estimated transmission, B x 1 x h x w
    in [1 - omega, 1], on the frame shrunk to ``prior.size`` pixels."""
    images = ((context_frame(frames, prior.size).float() + 1) / 2).clamp(0, 1)
    a = airlight(images, dark_channel(images, prior.patch), prior.top_share)
    scaled = images / a.clamp_min(0.05)[:, :, None, None]
    return 1 - prior.omega * dark_channel(scaled, prior.patch).clamp(0, 1)


def transmission_at_latents(
    frames: torch.Tensor,
    latent_hw: tuple[int, int],
    stride: int,
    origin: torch.Tensor | None = None,
    prior: DarkPrior = DarkPrior(),
) -> torch.Tensor:
    """B x 1 x h x w: the estimate read at the centres of an h x w block of latent pixels
    (``stride`` image pixels each) whose top-left pixel is at ``origin`` (B x 2) of the frame."""
    return read_at_latents(
        transmission(frames, prior), frames.shape[-2:], latent_hw, stride, origin
    )


class DarkChannelMap(nn.Module):
    """The estimate as an optional map module of a denoiser: one extra input channel per latent
    pixel, computed once per frame (no weights, so files with and without it differ only in
    their config)."""

    channels = 1

    def __init__(self, prior: DarkPrior = DarkPrior()) -> None:
        super().__init__()
        self.prior = prior

    def forward(
        self,
        frames: torch.Tensor,
        latent_hw: tuple[int, int],
        stride: int,
        origin: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return transmission_at_latents(frames, latent_hw, stride, origin, self.prior)
