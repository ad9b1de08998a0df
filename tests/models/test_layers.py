"""Building blocks: per-pixel channel norm, identity-at-init residual blocks, local support."""

from __future__ import annotations

import pytest
import torch

from restorecli.models.layers import ChannelNorm, ResBlock

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter random values (a stand-in for a trained block)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return module


def test_channel_norm_normalises_each_pixel_over_channels() -> None:
    norm = ChannelNorm(5)
    with torch.no_grad():
        norm.weight.copy_(torch.arange(1.0, 6.0))
        norm.bias.fill_(0.5)
    x = 3 + 2 * torch.randn(2, 5, 4, 6)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + norm.eps) * norm.weight[:, None, None] + 0.5
    out = norm(x)
    assert out.shape == x.shape
    assert torch.allclose(out, expected, atol=1e-5)


def test_channel_norm_is_per_pixel() -> None:
    norm = ChannelNorm(4)
    x = torch.randn(1, 4, 6, 6)
    y = x.clone()
    y[..., 2, 3] += 10
    changed = (norm(x) - norm(y)).abs().amax(1)[0] > 0
    assert changed[2, 3] and int(changed.sum()) == 1


def test_resblock_is_the_identity_at_init() -> None:
    block = ResBlock(6, emb_dim=4)
    x = torch.randn(2, 6, 5, 7)
    assert torch.equal(block(x, torch.randn(2, 4)), x)
    assert torch.equal(block(x), x)


def test_resblock_changing_width_starts_as_its_skip_projection() -> None:
    block = ResBlock(4, out_channels=8)
    x = torch.randn(1, 4, 5, 5)
    out = block(x)
    assert out.shape == (1, 8, 5, 5)
    assert torch.allclose(out, block.skip(x))


def test_resblock_embedding_modulates_a_trained_block() -> None:
    block = randomize(ResBlock(6, emb_dim=4))
    x = torch.randn(2, 6, 5, 5)
    a = block(x, torch.zeros(2, 4))
    b = block(x, torch.ones(2, 4))
    assert (a - b).abs().max() > 1e-3
    # Each batch element gets its own embedding.
    mixed = block(x, torch.stack([torch.zeros(4), torch.ones(4)]))
    assert torch.allclose(mixed[0], a[0], atol=1e-6) and torch.allclose(mixed[1], b[1], atol=1e-6)


def test_resblock_support_is_two_pixels() -> None:
    # Two 3x3 convolutions: a change reaches at most 2 pixels away. (One channel changes: the
    # channel norm would cancel a shift of all channels.)
    block = randomize(ResBlock(3))
    x = torch.randn(1, 3, 11, 11)
    y = x.clone()
    y[0, 1, 5, 5] += 1
    changed = ((block(x) - block(y)).abs().amax(1)[0] > 0).nonzero()
    assert (changed - 5).abs().max() == 2
