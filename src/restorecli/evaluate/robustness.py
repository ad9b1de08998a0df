"""Robustness of the re-quantized latents to sampling noise (the paper's Figure 3).

The same image is restored with several sampling seeds. Per initial state we report:

- ``std``: the standard deviation over seeds of the re-quantized latent (the code vector the
  decoder receives), averaged over latent pixels and channels. 0 means every seed lands in the
  same Voronoi cell everywhere.
- ``flip_share``: the share of latent pixels (over seeds, pixels and images) whose final code
  differs from the code of the initial state, i.e. ``nearest(z0) != nearest(z_e)`` where ``z_e``
  is the encoding of the degraded input: how often sampling moves a pixel to another cell.
- ``z0_std``: the same standard deviation before re-quantization (the sampler's own spread).

The chain is run here from the Restorer's public parts (autoencoder, quantizer, denoiser,
schedule, Chebyshev tables), the same steps as ``Restorer._restore_padded`` without tiling, and
with the noise drawn exactly as the pipeline draws it for a seed, so ``decode_latents`` of a seed's
latents reproduces ``restore_array`` with that seed (untiled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from restorecli.init_state import INIT_MODES

if TYPE_CHECKING:
    from restorecli.pipeline import Restorer

__all__ = [
    "LatentChain",
    "RobustnessRow",
    "decode_latents",
    "encode_image",
    "latent_chain",
    "robustness",
    "robustness_stats",
    "state_latent",
]


@dataclass
class LatentChain:
    """Latents of one image restored with several seeds (S seeds, latent h x w, D channels)."""

    init: str
    seeds: list[int]
    size: tuple[int, int]  # the image's H, W (before padding)
    z_e: torch.Tensor  # 1 x D x h x w, encoder output of the degraded input
    init_indices: torch.Tensor  # 1 x h x w, its code indices
    y0: torch.Tensor  # 1 x D x h x w, the initial state
    z0: torch.Tensor  # S x D x h x w, the sampler's predictions (before re-quantization)
    final_indices: torch.Tensor  # S x h x w, the re-quantized codes
    final: torch.Tensor  # S x D x h x w, the re-quantized latents (code vectors)


@dataclass
class RobustnessRow:
    """Figure-3 statistics of one initial state, over images and seeds."""

    init: str
    std: float
    flip_share: float
    z0_std: float
    images: int
    seeds: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _frame(restorer: Restorer, image: np.ndarray) -> torch.Tensor:
    """H x W x 3 image in [0, 1] -> 1 x 3 x H x W in [-1, 1] on the restorer's device."""
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]
    return x.to(restorer.device) * 2 - 1


@torch.inference_mode()
def encode_image(restorer: Restorer, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """H x W x 3 image in [0, 1] -> (z_e, code indices), padded as the pipeline pads."""
    return restorer.encode(restorer.pad(_frame(restorer, image)))


@torch.inference_mode()
def state_latent(
    restorer: Restorer,
    z_e: torch.Tensor,
    indices: torch.Tensor,
    init: str,
    *,
    lam: float | None = None,
) -> torch.Tensor:
    """The initial state ``init`` for an encoding (in the restorer's dtype)."""
    return restorer.initial_state(z_e, indices, init, lam=lam)


@torch.inference_mode()
def decode_latents(restorer: Restorer, z: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Latents B x D x h x w -> images B x H x W x 3 in [0, 1] (cropped to ``size``, clamped)."""
    h, w = size
    out = restorer.decode(z.to(restorer.dtype))[..., :h, :w]
    return out.clamp(-1, 1).add(1).div(2).permute(0, 2, 3, 1).cpu().numpy()


@torch.inference_mode()
def latent_chain(
    restorer: Restorer,
    image: np.ndarray,
    *,
    seeds: Sequence[int],
    init: str | None = None,
) -> LatentChain:
    """Run encode -> initial state -> sampling -> re-quantization once per seed.

    ``init`` defaults to the restorer's configured one; steps, lam and kappa come from its config.
    Seeds run in batches of ``config.batch_size`` (the denoiser treats batch items independently).
    """
    cfg = restorer.config
    mode = init or cfg.init
    if mode not in INIT_MODES:
        raise ValueError(f"unknown initial state {mode!r}: use one of {', '.join(INIT_MODES)}")
    if not seeds:
        raise ValueError("give at least one seed")
    z_e, indices = encode_image(restorer, image)
    y0 = state_latent(restorer, z_e, indices, mode)
    # A denoiser with a frame-context branch reads the whole frame, as the pipeline gives it.
    context = restorer.frame_context(_frame(restorer, image), tuple(y0.shape[-2:]))
    stride = restorer.autoencoder.stride
    hp, wp = y0.shape[-2] * stride, y0.shape[-1] * stride
    z0_all, idx_all = [], []
    bs = max(1, int(cfg.batch_size))
    for start in range(0, len(seeds), bs):
        chunk = list(seeds[start : start + bs])
        noise = torch.cat([restorer.frame_noise(1, hp, wp, seed=s) for s in chunk], dim=1)
        ctx = None if context is None else context.expand(len(chunk))
        z0 = restorer.sample(y0.expand(len(chunk), -1, -1, -1), noise, context=ctx)
        z0_all.append(z0.float())
        idx_all.append(restorer.requantize(z0)[1])
    z0 = torch.cat(z0_all)
    final_indices = torch.cat(idx_all)
    final = restorer.autoencoder.quantizer.lookup(final_indices).float()
    return LatentChain(
        mode,
        list(seeds),
        (int(image.shape[0]), int(image.shape[1])),
        z_e.float(),
        indices,
        y0.float(),
        z0,
        final_indices,
        final,
    )


def robustness_stats(chains: Iterable[LatentChain]) -> dict[str, float]:
    """``std``, ``flip_share`` and ``z0_std`` (see the module docstring) over the chains."""
    stds, z0_stds, flips, weights = [], [], [], []
    for chain in chains:
        n = chain.final[0].numel()
        # Population std over seeds (a single seed has spread 0), then the mean.
        stds.append(chain.final.std(dim=0, unbiased=False).mean().item())
        z0_stds.append(chain.z0.std(dim=0, unbiased=False).mean().item())
        flips.append((chain.final_indices != chain.init_indices).float().mean().item())
        weights.append(n)
    if not weights:
        raise ValueError("no chains to summarise")
    w = np.asarray(weights, np.float64) / sum(weights)
    return {
        "std": float(np.dot(w, stds)),
        "flip_share": float(np.dot(w, flips)),
        "z0_std": float(np.dot(w, z0_stds)),
    }


def robustness(
    restorer: Restorer,
    images: Sequence[np.ndarray],
    *,
    seeds: Sequence[int] = tuple(range(8)),
    inits: Sequence[str] = INIT_MODES,
) -> list[RobustnessRow]:
    """Figure-3 statistics per initial state, pooled over ``images`` (weighted by their size)."""
    rows = []
    for mode in inits:
        chains = [latent_chain(restorer, im, seeds=seeds, init=mode) for im in images]
        stats = robustness_stats(chains)
        rows.append(RobustnessRow(mode, images=len(images), seeds=len(seeds), **stats))
    return rows
