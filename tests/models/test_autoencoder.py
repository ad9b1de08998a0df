"""VQ autoencoder: the VQ-LDM-4 configuration, shapes through the stride-4 bottleneck, training."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from restorecli.models import AutoencoderConfig, VQAutoencoder

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny_config() -> AutoencoderConfig:
    return AutoencoderConfig(codebook_size=64, channels=16, num_blocks=1, half_channels=8)


def smooth_batch(n: int, size: int, seed: int) -> torch.Tensor:
    """n low-frequency colour images in [-0.8, 0.8]: learnable through a 3-channel bottleneck."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    phase = torch.rand(n, 3, 1, 1, generator=g) * 6
    return 0.8 * torch.sin(3 * xx + 2 * yy + phase)


def test_default_config_is_vq_ldm_4() -> None:
    cfg = AutoencoderConfig()
    assert (cfg.latent_dim, cfg.codebook_size, cfg.stride) == (3, 8192, 4)
    model = VQAutoencoder()
    assert model.stride == 4 and model.kind == "autoencoder"
    assert model.codebook.shape == (8192, 3)


@pytest.mark.parametrize(("batch", "height", "width"), [(1, 4, 4), (2, 32, 48), (1, 20, 8)])
def test_shapes_through_the_bottleneck(batch: int, height: int, width: int) -> None:
    torch.manual_seed(0)
    model = VQAutoencoder(tiny_config()).eval()
    x = torch.rand(batch, 3, height, width) * 2 - 1
    z = model.encode(x)
    assert z.shape == (batch, 3, height // 4, width // 4)
    assert model.decode(z).shape == x.shape
    out = model(x)
    assert out.recon.shape == x.shape
    assert out.z_e.shape == z.shape
    assert out.quant.indices.shape == (batch, height // 4, width // 4)


def test_quantize_returns_the_nearest_codebook_rows() -> None:
    torch.manual_seed(0)
    model = VQAutoencoder(tiny_config()).eval()
    z = model.encode(torch.rand(2, 3, 16, 24) * 2 - 1)
    z_q, idx = model.quantize(z)
    assert z_q.shape == z.shape and z_q.dtype == z.dtype
    assert idx.shape == (2, 4, 6)
    flat_q = z_q.permute(0, 2, 3, 1).reshape(-1, 3)
    assert torch.equal(flat_q, model.codebook[idx.reshape(-1)])
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    dist = torch.cdist(flat.double(), model.codebook.double())
    chosen = dist.gather(1, idx.reshape(-1, 1))[:, 0]
    assert torch.allclose(chosen, dist.min(1).values)


def test_training_reduces_reconstruction_loss() -> None:
    torch.manual_seed(0)
    model = VQAutoencoder(tiny_config()).train()
    x = smooth_batch(4, 16, seed=0)
    params = list(model.parameters())
    losses = []
    for _ in range(20):
        out = model(x)
        recon = F.mse_loss(out.recon, x)
        grads = torch.autograd.grad(recon + 0.25 * out.quant.commit_loss, params)
        # Plain gradient descent: torch.optim's first use imports torch._dynamo (3-7 s here).
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= 0.05 * g
        losses.append(recon.item())
    assert bool(model.quantizer.initialized)
    # Measured: 0.38 -> 0.21 over the 20 steps, decreasing at almost every step.
    assert losses[-1] < 0.75 * losses[0]


def test_forward_without_quantization_decodes_z_e(make_tiny_models) -> None:
    ae, _ = make_tiny_models()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        out = ae(x, quantize=False)
        assert out.quant is None
        torch.testing.assert_close(out.recon, ae.decode(ae.encode(x)))
