"""Vector quantizer: exact nearest-code search, straight-through gradients, EMA codebook upkeep."""

from __future__ import annotations

import pytest
import torch

from restorecli.models import quantizer as quantizer_mod
from restorecli.models.quantizer import VectorQuantizer, nearest_code

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def brute_nearest(flat: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Nearest code by explicit float64 differences (no |a|^2 - 2ab + |b|^2 cancellation)."""
    diff = flat.double()[:, None, :] - codebook.double()[None, :, :]
    return diff.pow(2).sum(2).argmin(1)


def assert_nearest(idx: torch.Tensor, flat: torch.Tensor, codebook: torch.Tensor) -> None:
    """Every chosen code is at the minimum distance (up to float32 rounding on near-ties)."""
    dist = (flat.double()[:, None, :] - codebook.double()[None, :, :]).norm(dim=2)
    chosen = dist.gather(1, idx[:, None])[:, 0]
    assert torch.all(chosen <= dist.min(1).values + 1e-5)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def latents_from(flat: torch.Tensor, b: int, h: int, w: int) -> torch.Tensor:
    """N x D rows -> B x D x h x w, the inverse of the quantizer's flattening."""
    return flat.view(b, h, w, -1).permute(0, 3, 1, 2).contiguous()


# --- nearest-code search ---------------------------------------------------------------------


@pytest.mark.parametrize("dim", [1, 3, 8])
def test_nearest_code_kdtree_path_is_exact(dim: int) -> None:
    codebook, flat = randn(257, dim, seed=dim), randn(1000, dim, seed=100 + dim)
    idx = nearest_code(flat, codebook)
    assert idx.dtype == torch.int64 and idx.shape == (1000,)
    assert torch.equal(idx, brute_nearest(flat, codebook))


@pytest.mark.parametrize("dim", [3, 20])
def test_nearest_code_dense_path_is_exact(dim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # D = 3 calls the dense helper directly (the one accelerators use); D = 20 > 16 reaches it
    # through nearest_code. A small chunk size makes the row blocks, and their seams, matter.
    monkeypatch.setattr(quantizer_mod, "_CHUNK_ELEMENTS", 37 * 300)  # 37 rows a block
    codebook, flat = randn(300, dim, seed=1), randn(500, dim, seed=2)
    if dim <= 16:
        idx = quantizer_mod._nearest_dense(flat, codebook)
    else:
        idx = nearest_code(flat, codebook)
    assert idx.dtype == torch.int64 and idx.shape == (500,)
    assert_nearest(idx, flat, codebook)
    assert (idx == brute_nearest(flat, codebook)).float().mean() > 0.99


def test_nearest_code_follows_codebook_changes() -> None:
    # The k-d tree is cached; it must be rebuilt whenever the codes change, however they change.
    flat = randn(200, 3, seed=0)
    codebook = randn(64, 3, seed=1)
    assert torch.equal(nearest_code(flat, codebook), brute_nearest(flat, codebook))
    codebook.data.copy_(randn(64, 3, seed=2))  # `.data` writes do not bump the version counter
    assert torch.equal(nearest_code(flat, codebook), brute_nearest(flat, codebook))
    for seed in range(10):
        # A freed codebook's memory is soon reused by the next one, at the same version.
        del codebook
        codebook = torch.empty(64, 3).normal_(generator=torch.Generator().manual_seed(seed))
        assert torch.equal(nearest_code(flat, codebook), brute_nearest(flat, codebook))


def test_nearest_and_lookup_shapes() -> None:
    vq = VectorQuantizer(codebook_size=32, dim=3).eval()
    z = randn(2, 3, 5, 7, seed=3)
    idx = vq.nearest(z)
    assert idx.shape == (2, 5, 7) and idx.dtype == torch.int64
    assert int(idx.min()) >= 0 and int(idx.max()) < 32
    codes = vq.lookup(idx)
    assert codes.shape == (2, 3, 5, 7)
    # lookup returns codebook rows: pixel (b, i, j) holds code idx[b, i, j].
    assert torch.equal(codes[1, :, 4, 6], vq.codebook[idx[1, 4, 6]])
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    assert torch.equal(idx.reshape(-1), brute_nearest(flat, vq.codebook))


# --- forward pass ------------------------------------------------------------------------------


def test_forward_eval_quantizes_without_touching_the_codebook() -> None:
    vq = VectorQuantizer(codebook_size=16, dim=3).eval()
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    z = randn(2, 3, 4, 6, seed=4)
    out = vq(z)
    assert out.z_q.shape == z.shape and out.indices.shape == (2, 4, 6)
    # z_q = z + (c - z) in the forward pass (straight-through), so equal up to rounding.
    assert torch.allclose(out.z_q, vq.lookup(out.indices), atol=1e-6)
    assert torch.allclose(out.commit_loss, (z - out.z_q).pow(2).mean())
    for key, value in vq.state_dict().items():
        assert torch.equal(value, before[key]), key  # no EMA update, no initialisation


def test_straight_through_gradient_reaches_the_encoder() -> None:
    encoder = torch.nn.Conv2d(3, 3, 3, padding=1)
    vq = VectorQuantizer(codebook_size=16, dim=3).eval()
    z = encoder(randn(1, 3, 6, 6, seed=5))
    z.retain_grad()
    out = vq(z)
    out.z_q.pow(2).sum().backward()
    # The quantizer passes the gradient through unchanged: d/dz of sum(z_q^2) is 2 z_q.
    assert torch.allclose(z.grad, 2 * out.z_q.detach())
    assert encoder.weight.grad is not None and encoder.weight.grad.abs().sum() > 0


def test_perplexity_counts_used_codes() -> None:
    vq = VectorQuantizer(codebook_size=8, dim=2).eval()
    codes = vq.codebook[:4]
    # Four codes used equally often: perplexity 4. One code only: perplexity 1.
    spread = latents_from(codes.repeat(4, 1), 1, 4, 4)
    assert vq(spread).perplexity.item() == pytest.approx(4.0, rel=1e-4)
    single = latents_from(codes[:1].repeat(16, 1), 1, 4, 4)
    assert vq(single).perplexity.item() == pytest.approx(1.0, rel=1e-4)
    random = vq(randn(2, 2, 8, 8, seed=6)).perplexity.item()
    assert 1.0 <= random <= 8.0


# --- codebook upkeep in training -----------------------------------------------------------------


def test_first_training_batch_initialises_codes_from_data() -> None:
    torch.manual_seed(0)
    # decay = 1 freezes the EMA, so the codebook after one step is exactly the initialisation.
    vq = VectorQuantizer(codebook_size=16, dim=3, decay=1.0).train()
    z = 5.0 + randn(2, 3, 4, 4, seed=7)  # far from the random init around 0
    vq(z)
    assert bool(vq.initialized)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    gap = torch.cdist(vq.codebook, flat).min(1).values
    assert gap.max() < 1e-2  # every code sits on a data vector (plus 1e-3 jitter)
    # Later batches do not re-initialise.
    seeded = vq.codebook.clone()
    vq(-5.0 + randn(2, 3, 4, 4, seed=8))
    assert torch.allclose(vq.codebook, seeded)


def test_ema_moves_used_codes_towards_their_vectors() -> None:
    vq = VectorQuantizer(codebook_size=8, dim=2, decay=0.5).train()
    vq.initialized.fill_(True)
    old = vq.codebook.clone()
    z = randn(1, 2, 6, 6, seed=9)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    idx = brute_nearest(flat, old)
    vq(z)
    for k in idx.unique().tolist():
        assigned = flat[idx == k]
        # EMA with counts starting at 1: (0.5 c + 0.5 sum) / (0.5 + 0.5 n) = (c + sum) / (1 + n).
        expected = (old[k] + assigned.sum(0)) / (1 + len(assigned))
        assert torch.allclose(vq.codebook[k], expected, rtol=1e-3, atol=1e-4)
        mean = assigned.mean(0)
        assert (vq.codebook[k] - mean).norm() < (old[k] - mean).norm()
    unused = [k for k in range(8) if k not in idx.tolist()]
    assert unused, "the test needs an unused code"
    assert torch.allclose(vq.codebook[unused], old[unused], atol=1e-3)


def test_dead_codes_are_reseeded_from_data() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(codebook_size=4, dim=2, decay=0.5, dead_threshold=0.1).train()
    vq.initialized.fill_(True)
    far = torch.tensor([[0.0, 0.0], [0.3, 0.3], [100.0, 100.0], [-100.0, 100.0]])
    with torch.no_grad():
        vq.codebook.copy_(far)
        vq.ema_sum.copy_(far)  # ema_count is 1, so ema_sum / ema_count is the codebook
    z = 0.2 * randn(1, 2, 4, 4, seed=10)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    # Unused counts decay 1 -> 0.5 -> 0.25 -> 0.125: still above the threshold after 3 steps
    # (Laplace smoothing only nudges them) ...
    for _ in range(3):
        vq(z)
    assert torch.allclose(vq.codebook[2:], far[2:], rtol=1e-3)
    # ... and 0.0625 < 0.1 at step 4: both far codes restart on data vectors, count reset to 1.
    vq(z)
    gap = torch.cdist(vq.codebook[2:], flat).min(1).values
    assert gap.max() < 1e-2
    assert torch.equal(vq.ema_count[2:], torch.ones(2))


def test_init_from_samples_places_every_code_on_the_data() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(codebook_size=32, dim=2)
    # Four tight clusters: k-means must put codes in each, and none far from the data.
    centers = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    samples = (centers[torch.randint(0, 4, (4000,))] + 0.1 * torch.randn(4000, 2)).float()
    vq.init_from_samples(samples, iters=10)
    assert bool(vq.initialized)
    nearest_cluster = torch.cdist(vq.codebook, centers).min(1).values
    assert nearest_cluster.max() < 0.5
    used = vq.nearest(samples.T[None, :, :, None]).unique()
    assert used.numel() == 32
    assert torch.equal(vq.ema_sum, vq.codebook)


@pytest.mark.parametrize("dim", [3, 24])  # the k-d tree path, then the dense path
def test_nearest_codes_lists_the_k_nearest_in_order(dim: int) -> None:
    from restorecli.models.quantizer import nearest_codes

    codebook, flat = randn(200, dim, seed=0), randn(50, dim, seed=1)
    idx = nearest_codes(flat, codebook, 5)
    dist = (flat.double()[:, None] - codebook.double()[None]).norm(dim=2)
    want = dist.argsort(dim=1)[:, :5]
    assert idx.shape == (50, 5)
    assert torch.equal(idx, want)
    assert torch.equal(idx[:, 0], nearest_code(flat, codebook))
