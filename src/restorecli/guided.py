"""Guided filtering: the restored frame's tones with the input frame's own fine detail.

The latent chain gets a frame's colours and contrast right before its fine structure: detail
passes through the autoencoder's codebook, which leaves faint blotches in flat skies and loses
texture. Haze is, per pixel, an affine map of the clean value (I = t J + A (1 - t)) whose
coefficients vary slowly over the frame, so the clean frame is locally an affine function of the
hazy one. The guided filter (He, Sun and Tang, 2010) fits such a map from the input to the
restoration in every window of a given radius and applies it to the input: the tones come from
the restoration, the edges and texture from the input. For degradations that add structure (rain
streaks, snow) this would put the structure back, so models enable it per task in the registry.

Window means come from cumulative sums, so the cost per pixel does not depend on the radius.
They are float32 sums of values centred on zero (the frames minus 0.5), which keeps them within
1e-5 of float64 at 8K widths, at half float64's cost and on every device. Large frames are filtered
in horizontal strips; a strip carries 2 r extra rows on each side, which makes it exact.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# Pixels per strip (all frames of a batch together): bounds the float32 buffers on large frames.
STRIP_PIXELS = 2_000_000


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of every (2 r + 1)^2 window of a B x C x H x W tensor, windows clipped to the frame."""
    for dim in (-2, -1):
        n = x.shape[dim]
        r = min(radius, n)  # a wider window covers the same pixels; keeps the padding small
        cums = torch.cumsum(x, dim)
        # ext[j] = sum of the first j - r values, clamped to [0, n] values: a window's sum is
        # then the difference of two shifted slices (slices, not index_select: far faster).
        shape = list(x.shape)
        shape[dim] = r + 1
        zeros = x.new_zeros(shape)
        shape[dim] = r
        total = cums.narrow(dim, n - 1, 1).expand(shape)
        ext = torch.cat([zeros, cums, total], dim)
        sums = ext.narrow(dim, 2 * r + 1, n) - ext.narrow(dim, 0, n)
        idx = torch.arange(n, device=x.device)
        count = (idx + r + 1).clamp(max=n) - (idx - r).clamp(min=0)
        inv = count.to(x.dtype).reciprocal()
        x = sums.mul_(inv.view(-1, 1) if dim == -2 else inv)
    return x


def coefficients(
    guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The guided filter's window-averaged slope and offset, each B x C x H x W.

    In each window ``src`` is fitted as ``a * guide + b`` (least squares, ``eps`` damping ``a``
    where the guide is flat); the filter's output is ``mean_a * guide + mean_b``.
    """
    # One quantity at a time: a few frame-sized buffers alive at once, not a dozen.
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    a = box_mean(guide * src, radius).sub_(mean_i * mean_p)
    a.div_(box_mean(guide * guide, radius).sub_(mean_i * mean_i).add_(eps))
    b = mean_p.sub_(a * mean_i)
    del mean_i
    return box_mean(a, radius), box_mean(b, radius)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Per-channel guided filter of ``src`` by ``guide`` (both B x C x H x W), whole frame."""
    mean_a, mean_b = coefficients(guide, src, radius, eps)
    return mean_a * guide + mean_b


class TemporalSmoother:
    """Carries the filter's coefficients from frame to frame of one video.

    The coefficients hold what the restoration changed (for haze: how thick it is and its
    colour), which in a video changes slowly; the network judges it afresh on every frame, and
    its small disagreements show as the tones pumping. Each frame's coefficients are blended
    with the running ones (``weight`` of the past; 0.8 halves a change in about 3 frames), so the
    tones settle while the detail still comes from each frame itself. A frame far from the one
    before it (a cut: mean absolute difference of 32 x 32 thumbnails above ``cut``) starts afresh.
    """

    def __init__(self, weight: float = 0.8, cut: float = 0.08) -> None:
        if not 0 <= weight < 1:
            raise ValueError(f"temporal weight must be in [0, 1), got {weight}")
        self.weight, self.cut = weight, cut
        self._a: torch.Tensor | None = None  # C x H x W running coefficients
        self._b: torch.Tensor | None = None
        self._thumb: torch.Tensor | None = None  # the last frame's thumbnail

    def begin(self, frames: torch.Tensor, device: torch.device) -> list[bool]:
        """Per frame of a B x C x H x W batch, in order: does it start a new shot?"""
        shape = tuple(frames.shape[1:])
        if self._a is None or tuple(self._a.shape) != shape or self._a.device != device:
            self._a = torch.zeros(shape, device=device)
            self._b = torch.zeros(shape, device=device)
            self._thumb = None
        starts = []
        for thumb in F.adaptive_avg_pool2d(frames.float(), 32):
            last = self._thumb
            starts.append(last is None or (thumb - last).abs().mean().item() > self.cut)
            self._thumb = thumb
        return starts

    def smooth(
        self, mean_a: torch.Tensor, mean_b: torch.Tensor, rows: slice, starts: list[bool]
    ) -> None:
        """Blend in place, frame by frame, the coefficients of ``rows`` of the batch."""
        assert self._a is not None and self._b is not None, "begin() first"
        for k, start in enumerate(starts):
            if not start:
                mean_a[k].lerp_(self._a[:, rows], self.weight)
                mean_b[k].lerp_(self._b[:, rows], self.weight)
            self._a[:, rows] = mean_a[k]
            self._b[:, rows] = mean_b[k]


def transfer_detail(
    guide: torch.Tensor,
    src: torch.Tensor,
    radius: int,
    eps: float,
    *,
    device: torch.device | None = None,
    strip_pixels: int = STRIP_PIXELS,
    smoother: TemporalSmoother | None = None,
) -> torch.Tensor:
    """``src`` (restored, B x 3 x H x W in [0, 1]) re-lit onto ``guide`` (the input frame).

    Computed on ``device`` (default: ``src``'s) strip by strip; returns float32 in [0, 1] on
    ``src``'s device. With ``smoother`` the batch is consecutive frames of a video, whose
    coefficients it carries on from the frames before.
    """
    if guide.shape != src.shape:
        raise ValueError(f"guide {tuple(guide.shape)} and image {tuple(src.shape)} differ")
    device = device or src.device
    b, _, h, w = src.shape
    rows = max(1, strip_pixels // max(w * b, 1))  # pixels of every frame of the batch count
    halo = 2 * radius  # an output row depends on the inputs within 2 r rows of it
    starts = smoother.begin(guide, device) if smoother is not None else []
    out = torch.empty(src.shape, dtype=torch.float32, device=src.device)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        a0, a1 = max(0, y0 - halo), min(h, y1 + halo)
        g = guide[..., a0:a1, :].to(device, torch.float32) - 0.5
        s = src[..., a0:a1, :].to(device, torch.float32) - 0.5
        mean_a, mean_b = (t[..., y0 - a0 : y1 - a0, :] for t in coefficients(g, s, radius, eps))
        if smoother is not None:
            smoother.smooth(mean_a, mean_b, slice(y0, y1), starts)
        q = mean_a * g[..., y0 - a0 : y1 - a0, :] + mean_b
        out[..., y0:y1, :] = q.add_(0.5).clamp_(0, 1).to(src.device)
    return out
