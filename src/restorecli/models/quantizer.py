"""Vector quantizer with an EMA-updated codebook and dead-code restarts.

The codebook is a buffer, not a parameter: it moves by exponential moving averages of the
encoder outputs assigned to each code (more stable than gradient updates for large K), and
codes that stop being used are re-seeded from current encoder outputs so all K stay alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

# Distances per block of the dense search (32 MB of float32), whatever K is.
_CHUNK_ELEMENTS = 1 << 23


@dataclass
class QuantizeResult:
    z_q: torch.Tensor  # B x D x h x w, straight-through in training
    indices: torch.Tensor  # B x h x w, int64
    commit_loss: torch.Tensor  # scalar: |z_e - sg(z_q)|^2
    perplexity: torch.Tensor  # scalar: exp(entropy of code usage in this batch)


# One k-d tree for the last codebook seen, with a copy of the codes it was built from. Keyed by
# content, not by storage: a freed codebook's address is soon reused by a new one, and writes
# through ``.data`` or numpy views do not bump a tensor's version counter. Comparing 8192 x 3
# floats costs microseconds, far less than the query.
_tree_cache: list[tuple[torch.Tensor, cKDTree]] = []


def _code_tree(codebook: torch.Tensor) -> cKDTree:
    from scipy.spatial import cKDTree

    codes = codebook.detach()
    if _tree_cache:
        cached, tree = _tree_cache[0]
        if cached.dtype == codes.dtype and torch.equal(cached, codes):  # False on shape mismatch
            return tree
    tree = cKDTree(codes.double().numpy())
    _tree_cache[:] = [(codes.clone(), tree)]
    return tree


def nearest_code(flat: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest code for each row of ``flat`` (N x D).

    On the CPU a k-d tree answers in O(N log K), about 70x faster than the dense distance matrix
    for K = 8192, D = 3; on accelerators the dense matrix, in row chunks, is the faster route.
    """
    if flat.device.type == "cpu" and codebook.shape[1] <= 16:
        _, idx = _code_tree(codebook).query(flat.detach().double().numpy(), workers=-1)
        return torch.from_numpy(np.asarray(idx, dtype=np.int64))
    return _nearest_dense(flat, codebook)


def nearest_codes(flat: torch.Tensor, codebook: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (N x k, nearest first) of the ``k`` nearest codes to each row of ``flat``."""
    if flat.device.type == "cpu" and codebook.shape[1] <= 16:
        _, idx = _code_tree(codebook).query(flat.detach().double().numpy(), k=k, workers=-1)
        return torch.from_numpy(np.asarray(idx, dtype=np.int64).reshape(-1, k))
    c_sq = codebook.pow(2).sum(1)
    out = torch.empty(flat.shape[0], k, dtype=torch.long, device=flat.device)
    rows = max(1, _CHUNK_ELEMENTS // codebook.shape[0])
    for start in range(0, flat.shape[0], rows):
        block = flat[start : start + rows]
        dist = torch.addmm(c_sq, block, codebook.t(), alpha=-2.0)
        out[start : start + rows] = dist.topk(k, dim=1, largest=False).indices
    return out


def _nearest_dense(flat: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """``nearest_code`` by a dense distance matrix, in row blocks of at most ``_CHUNK_ELEMENTS``
    distances (any device)."""
    c_sq = codebook.pow(2).sum(1)
    out = torch.empty(flat.shape[0], dtype=torch.long, device=flat.device)
    rows = max(1, _CHUNK_ELEMENTS // codebook.shape[0])
    for start in range(0, flat.shape[0], rows):
        block = flat[start : start + rows]
        # |z|^2 is constant per row, so it does not change the argmin.
        dist = torch.addmm(c_sq, block, codebook.t(), alpha=-2.0)
        out[start : start + rows] = dist.argmin(1)
    return out


class VectorQuantizer(nn.Module):
    def __init__(
        self,
        codebook_size: int = 8192,
        dim: int = 3,
        decay: float = 0.99,
        eps: float = 1e-5,
        dead_threshold: float = 0.03,
    ) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.dim = dim
        self.decay = decay
        self.eps = eps
        self.dead_threshold = dead_threshold
        self.register_buffer("codebook", torch.randn(codebook_size, dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes for a B x h x w index map, as B x D x h x w."""
        return F.embedding(indices, self.codebook).permute(0, 3, 1, 2)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index map (B x h x w) of the nearest code to each latent pixel of z (B x D x h x w)."""
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d).to(self.codebook.dtype)
        return nearest_code(flat, self.codebook).view(b, h, w)

    def forward(self, z: torch.Tensor) -> QuantizeResult:
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        if self.training:
            self._maybe_initialize(flat.detach())
        idx = nearest_code(flat.detach().to(self.codebook.dtype), self.codebook)
        if self.training:
            self._ema_update(flat.detach().float(), idx)
        z_q = F.embedding(idx, self.codebook).view(b, h, w, d).permute(0, 3, 1, 2)
        commit = F.mse_loss(z, z_q.detach())
        counts = torch.bincount(idx, minlength=self.codebook_size).float()
        probs = counts / counts.sum()
        perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
        z_q = z + (z_q - z).detach()  # straight-through estimator
        return QuantizeResult(z_q, idx.view(b, h, w), commit, perplexity)

    # --- training-time codebook maintenance -------------------------------------------------

    @torch.no_grad()
    def _maybe_initialize(self, flat: torch.Tensor) -> None:
        if bool(self.initialized):
            return
        # Seed every code from real encoder outputs so none start far from the data.
        pick = torch.randint(0, flat.shape[0], (self.codebook_size,), device=flat.device)
        init = flat[pick] + 1e-3 * torch.randn_like(flat[pick])
        self._start_codebook(init)

    @torch.no_grad()
    def init_from_samples(self, samples: torch.Tensor, iters: int = 20, seed: int = 0) -> None:
        """Place the codes by k-means (Lloyd's algorithm) on N x D encoder outputs.

        Used when quantization starts after a continuous warm-up: codes seeded this way cover
        the latent distribution, so all K are used from the first quantized step. Assignment
        uses a k-d tree (scipy's kmeans2 does a dense N x K search: minutes for K = 8192).
        """
        data = samples.detach().double().cpu().numpy()
        rng = np.random.default_rng(seed)
        replace = len(data) < self.codebook_size
        centers = data[rng.choice(len(data), self.codebook_size, replace=replace)]
        for _ in range(iters):
            from scipy.spatial import cKDTree

            _, assign = cKDTree(centers).query(data, workers=-1)
            counts = np.bincount(assign, minlength=self.codebook_size)
            sums = np.zeros_like(centers)
            np.add.at(sums, assign, data)
            empty = counts == 0
            centers[~empty] = sums[~empty] / counts[~empty, None]
            # Empty clusters restart at random samples, as dead codes do during training.
            centers[empty] = data[rng.choice(len(data), int(empty.sum()))]
        init = torch.from_numpy(centers).to(self.codebook)
        self._start_codebook(init)

    @torch.no_grad()
    def _start_codebook(self, init: torch.Tensor) -> None:
        """Adopt ``init`` (rank 0's under DDP) as the codebook with fresh EMA statistics."""
        self._sync(init)
        self.codebook.copy_(init)
        self.ema_sum.copy_(init)
        self.ema_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, idx: torch.Tensor) -> None:
        counts = torch.bincount(idx, minlength=self.codebook_size).float()
        sums = torch.zeros_like(self.ema_sum).index_add_(0, idx, flat)
        self._sync_sum(counts)
        self._sync_sum(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum()
        # Laplace smoothing keeps rarely used codes from dividing by ~0.
        count = (self.ema_count + self.eps) / (n + self.codebook_size * self.eps) * n
        self.codebook.copy_(self.ema_sum / count[:, None])
        dead = self.ema_count < self.dead_threshold
        n_dead = int(dead.sum())
        if n_dead:
            pick = torch.randint(0, flat.shape[0], (n_dead,), device=flat.device)
            fresh = flat[pick] + 1e-3 * torch.randn(n_dead, self.dim, device=flat.device)
            new_codebook = self.codebook.clone()
            new_codebook[dead] = fresh
            self._sync(new_codebook)
            self.codebook.copy_(new_codebook)
            self.ema_sum[dead] = self.codebook[dead]
            self.ema_count[dead] = 1.0

    @staticmethod
    def _sync(t: torch.Tensor) -> None:
        # Under DDP every rank must hold the same codebook: take rank 0's choice.
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(t, src=0)

    @staticmethod
    def _sync_sum(t: torch.Tensor) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(t)
