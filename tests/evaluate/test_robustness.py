"""Robustness (Figure 3): shapes, ranges, determinism, and agreement with the pipeline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from restorecli.evaluate.robustness import (
    decode_latents,
    latent_chain,
    robustness,
    robustness_stats,
)
from restorecli.init_state import INIT_MODES

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def image(h: int = 20, w: int = 27, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def test_shapes_and_ranges(restorer) -> None:
    chain = latent_chain(restorer, image(), seeds=[0, 1, 2], init="lerp")
    d = restorer.autoencoder.config.latent_dim
    h, w = 24 // 4, 32 // 4  # padded to the model's multiple (8), then / 4
    assert chain.z_e.shape == (1, d, h, w) and chain.init_indices.shape == (1, h, w)
    assert chain.z0.shape == chain.final.shape == (3, d, h, w)
    assert chain.final_indices.shape == (3, h, w)
    # The re-quantized latents are code vectors.
    codes = restorer.autoencoder.codebook[chain.final_indices].permute(0, 3, 1, 2)
    torch.testing.assert_close(chain.final, codes.float())
    stats = robustness_stats([chain])
    assert stats["std"] >= 0 and stats["z0_std"] >= 0
    assert 0.0 <= stats["flip_share"] <= 1.0
    assert stats["std"] > 0  # random tiny models do move between cells


def test_deterministic_for_fixed_seeds(restorer) -> None:
    a = latent_chain(restorer, image(), seeds=[3, 4], init="chebyshev")
    b = latent_chain(restorer, image(), seeds=[3, 4], init="chebyshev")
    torch.testing.assert_close(a.z0, b.z0)
    assert torch.equal(a.final_indices, b.final_indices)
    c = latent_chain(restorer, image(), seeds=[5, 4], init="chebyshev")
    assert not torch.equal(a.z0[0], c.z0[0]) and torch.equal(a.z0[1], c.z0[1])
    one = latent_chain(restorer, image(), seeds=[7])
    assert robustness_stats([one])["std"] == 0.0  # one seed has no spread


@pytest.mark.parametrize("init", ["zq", "chebyshev", "auto"])
def test_reproduces_restore_array(restorer, init: str) -> None:
    """Decoding a seed's latents gives exactly what the pipeline returns for that seed."""
    img = image(18, 22, seed=1)
    chain = latent_chain(restorer, img, seeds=[0, 5], init=init)
    restorer.config = dataclasses.replace(restorer.config, init=init, seed=5)
    expected = restorer.restore_array(img)
    got = decode_latents(restorer, chain.final[1:2], img.shape[:2])[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert restorer.config.init == init  # latent_chain left the config alone


def test_robustness_rows(restorer) -> None:
    rows = robustness(restorer, [image(), image(seed=2)], seeds=[0, 1], inits=INIT_MODES)
    assert [r.init for r in rows] == list(INIT_MODES)
    for r in rows:
        assert r.images == 2 and r.seeds == 2
        assert 0 <= r.flip_share <= 1 and r.std >= 0
    assert set(rows[0].as_dict()) == {"init", "std", "flip_share", "z0_std", "images", "seeds"}
    with pytest.raises(ValueError, match="seed"):
        latent_chain(restorer, image(), seeds=[])
    with pytest.raises(ValueError, match="unknown"):
        latent_chain(restorer, image(), seeds=[0], init="nope")


def test_reproduces_restore_array_with_a_frame_context(make_tiny_models) -> None:
    from restorecli.models import LatentUNet
    from restorecli.pipeline import RestoreConfig, Restorer

    ae, small = make_tiny_models()
    torch.manual_seed(0)
    unet = LatentUNet(dataclasses.replace(small.config, context=4, context_size=32)).eval()
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(0.1 * torch.randn_like(p))  # every block live, the context reaches the output
    restorer = Restorer(ae, unet, config=RestoreConfig(tile=0, steps=2, seed=3), device="cpu")
    img = image(18, 22, seed=2)
    chain = latent_chain(restorer, img, seeds=[3, 4])
    got = decode_latents(restorer, chain.final[:1], img.shape[:2])[0]
    np.testing.assert_allclose(got, restorer.restore_array(img), atol=1e-5)
