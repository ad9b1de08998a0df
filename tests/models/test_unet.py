"""Latent UNet: shapes, x0_hat = y0 at init, timestep conditioning, locality."""

from __future__ import annotations

import pytest
import torch

from restorecli.models import LatentUNet, UNetConfig
from restorecli.models.unet import timestep_embedding

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny_unet(levels: int = 3) -> LatentUNet:
    torch.manual_seed(0)
    mults = (1, 2, 2)[:levels]
    return LatentUNet(UNetConfig(channels=8, channel_mults=mults, blocks_per_level=2, emb_dim=16))


def trained_like(model: LatentUNet, seed: int = 0) -> LatentUNet:
    """Perturb every parameter: zero-initialised heads and block outputs become non-zero, so the
    timestep embedding and every block actually reach the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model.eval()


def inputs(b: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, h, w, generator=g), torch.randn(b, 3, h, w, generator=g)


def test_config_size_multiple_and_json_lists() -> None:
    assert UNetConfig().size_multiple == 4
    assert UNetConfig(channel_mults=(1,)).size_multiple == 1
    # Configs read back from JSON metadata carry lists.
    assert UNetConfig(channel_mults=[1, 2]).channel_mults == (1, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize(("b", "h", "w"), [(1, 4, 4), (2, 8, 12), (3, 20, 4)])
def test_output_shape_equals_latent_shape(b: int, h: int, w: int) -> None:
    model = trained_like(tiny_unet())
    assert model.size_multiple == 4
    x_t, y0 = inputs(b, h, w)
    out = model(x_t, y0, torch.full((b,), 0.3))
    assert out.shape == (b, 3, h, w)
    assert torch.isfinite(out).all()


def test_scalar_timestep_is_broadcast_over_the_batch() -> None:
    model = trained_like(tiny_unet())
    x_t, y0 = inputs(2, 8, 8)
    assert torch.equal(model(x_t, y0, torch.tensor(0.3)), model(x_t, y0, torch.full((2,), 0.3)))


def test_output_is_y0_at_init() -> None:
    model = tiny_unet().eval()
    x_t, y0 = inputs(2, 8, 8)
    assert torch.equal(model(x_t, y0, torch.full((2,), 0.5)), y0)


def test_timestep_changes_the_output_once_trained() -> None:
    model = trained_like(tiny_unet())
    x_t, y0 = inputs(2, 8, 8)
    low = model(x_t, y0, torch.full((2,), 0.01))
    high = model(x_t, y0, torch.full((2,), 0.9))
    assert (low - high).abs().max() > 1e-3
    # Per-element timesteps: element 1 sees 0.9 while element 0 sees 0.01.
    mixed = model(x_t, y0, torch.tensor([0.01, 0.9]))
    assert torch.allclose(mixed[0], low[0], atol=1e-5)
    assert torch.allclose(mixed[1], high[1], atol=1e-5)


def test_timestep_embedding_is_finite_at_zero() -> None:
    emb = timestep_embedding(torch.tensor([0.0, 1e-4, 0.99]), 16)
    assert emb.shape == (3, 16) and torch.isfinite(emb).all()


def test_output_is_local() -> None:
    # No global pooling, attention or normalisation over space: a change at one pixel reaches a
    # bounded neighbourhood (the two-level tiny UNet's receptive field: 33 pixels, measured) and
    # leaves the rest of a 64 x 64 latent bit-identical.
    model = trained_like(tiny_unet(levels=2))
    x_t, y0 = inputs(1, 64, 64)
    t = torch.full((1,), 0.5)
    base = model(x_t, y0, t)
    for name in ("x_t", "y0"):
        x2, y2 = x_t.clone(), y0.clone()
        (x2 if name == "x_t" else y2)[..., 2, 2] += 5.0
        diff = (model(x2, y2, t) - base).abs().amax(1)[0]
        assert diff[2, 2] > 1e-3, name  # the change is seen where it happens ...
        changed = (diff > 0).nonzero()
        assert int(changed.max()) - 2 <= 40, name  # ... and nowhere far away
        assert diff[48:, 48:].max() == 0, name
