"""Vector Regression re-quantization: a weighted sum of each latent pixel's nearest codes."""

from __future__ import annotations

import pytest
import torch

from restorecli.models.quantizer import nearest_code
from restorecli.models.vector_regression import VectorRegression, VRConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _codebook() -> torch.Tensor:
    return torch.randn(256, 3, generator=torch.Generator().manual_seed(0))


def test_output_lies_in_the_hull_of_the_nearest_codes() -> None:
    codebook = _codebook()
    vr = VectorRegression(VRConfig(neighbours=4, channels=8, blocks=1)).eval()
    z0 = torch.randn(2, 3, 5, 6)
    with torch.no_grad():
        out = vr(z0, codebook)
    assert out.shape == z0.shape
    # Each output is a convex combination: inside the box of the 4 nearest codes.
    from restorecli.models.quantizer import nearest_codes

    flat = z0.permute(0, 2, 3, 1).reshape(-1, 3)
    cand = codebook[nearest_codes(flat, codebook, 4)]  # N x 4 x 3
    got = out.permute(0, 2, 3, 1).reshape(-1, 3)
    assert torch.all(got >= cand.min(1).values - 1e-5)
    assert torch.all(got <= cand.max(1).values + 1e-5)


def test_a_sharp_prior_is_the_hard_snap() -> None:
    codebook = _codebook()
    vr = VectorRegression(VRConfig(neighbours=4, channels=8, blocks=1)).eval()
    with torch.no_grad():
        vr.log_sharpness.fill_(8.0)  # e^8 times the normalised distance: one code wins
        # Near a code (not at a tie between two), so the nearest one is unambiguous.
        picks = codebook[torch.randperm(256, generator=torch.Generator().manual_seed(1))[:16]]
        z0 = (picks + 0.01 * torch.randn(16, 3)).T.reshape(1, 3, 4, 4)
        out = vr(z0, codebook)
    flat = z0.permute(0, 2, 3, 1).reshape(-1, 3)
    snap = codebook[nearest_code(flat, codebook)].view(1, 4, 4, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(out, snap, atol=1e-4, rtol=0)


def test_training_pulls_the_output_towards_a_target_between_codes() -> None:
    torch.manual_seed(0)
    codebook = _codebook()
    vr = VectorRegression(VRConfig(neighbours=6, channels=8, blocks=1))
    from restorecli.models.quantizer import nearest_codes

    z0 = torch.randn(4, 3, 6, 6)
    # A continuous target between codes: the midpoint of each pixel's two nearest.
    two = codebook[nearest_codes(z0.permute(0, 2, 3, 1).reshape(-1, 3), codebook, 2)]
    target = two.mean(1).view(4, 6, 6, 3).permute(0, 3, 1, 2)
    opt = torch.optim.Adam(vr.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = (vr(z0, codebook) - target).pow(2).mean()
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
