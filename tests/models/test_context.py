"""Frame context: shrinking the frame, the summary vector, and how the UNet takes it."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from restorecli.models import LatentUNet, UNetConfig
from restorecli.models.context import Context, FrameContext, cell_centres, context_frame

pytestmark = pytest.mark.usefixtures("torch_one_thread")

CONFIG = UNetConfig(channels=8, channel_mults=(1, 2), blocks_per_level=1, emb_dim=16, context=4)


def _randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model.eval()


@pytest.mark.parametrize(
    ("h", "w", "size", "expected"),
    [
        (512, 768, 256, (171, 256)),
        (100, 40, 50, (50, 20)),
        (20, 30, 60, (40, 60)),
        (3, 400, 64, (1, 64)),
    ],
)
def test_the_longer_side_becomes_the_context_size(h, w, size, expected) -> None:
    assert context_frame(torch.zeros(2, 3, h, w), size).shape == (2, 3, *expected)


def test_shrinking_keeps_the_mean_colour() -> None:
    frames = torch.rand(1, 3, 300, 500, generator=torch.Generator().manual_seed(0))
    small = context_frame(frames, 64)
    assert torch.allclose(small.mean(dim=(2, 3)), frames.mean(dim=(2, 3)), atol=2e-3)


@pytest.mark.parametrize(("h", "w"), [(1, 1), (5, 200), (64, 64)])
def test_any_frame_size_gives_one_vector(h: int, w: int) -> None:
    branch = _randomised(FrameContext(4, 16))
    out, grid = branch(torch.rand(2, 3, h, w))
    assert out.shape == (2, 16) and torch.isfinite(out).all() and grid is None


def test_the_vector_depends_on_the_whole_frame() -> None:
    branch = _randomised(FrameContext(4, 16))
    frames = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    far = frames.clone()
    far[..., 60:, 60:] = 1.0  # a change in one corner moves the summary
    assert (branch(far)[0] - branch(frames)[0]).abs().max() > 1e-4


def test_unet_takes_the_vector_or_the_frames_alike() -> None:
    torch.manual_seed(0)
    net = _randomised(LatentUNet(CONFIG))
    g = torch.Generator().manual_seed(2)
    x_t, y0 = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 8, 8, generator=g)
    t = torch.tensor([0.3, 0.9])
    frames = torch.rand(2, 3, 90, 70, generator=g) * 2 - 1
    with torch.no_grad():
        by_frames = net(x_t, y0, t, frames)
        by_vector = net(x_t, y0, t, net.encode_context(frames, (8, 8)))
        other = net(x_t, y0, t, torch.flip(frames, dims=(0,)))
    assert torch.allclose(by_frames, by_vector)
    assert not torch.allclose(by_frames, other)  # each frame conditions its own latent


def test_a_context_model_refuses_to_run_without_it() -> None:
    net = LatentUNet(CONFIG)
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="frame context"):
        net(x, x, torch.tensor([0.5]))


def test_a_model_without_the_branch_has_no_context_to_encode() -> None:
    net = LatentUNet(replace(CONFIG, context=0))
    assert not net.uses_context
    with pytest.raises(ValueError, match="no frame-context branch"):
        net.encode_context(torch.zeros(1, 3, 16, 16))


@pytest.mark.parametrize("bad", [{"context": -1}, {"context_size": 8}])
def test_config_rejects_bad_context_options(bad: dict) -> None:
    with pytest.raises(ValueError, match="context"):
        replace(CONFIG, **bad)


GRID = replace(CONFIG, context_grid=3)


def test_cell_centres_place_latent_pixels_in_the_frame() -> None:
    # 2 x 3 latent pixels of 4 image pixels, the block starting at (y 8, x 4) of a 16 x 32 frame.
    where = cell_centres((16, 32), (2, 3), 4, torch.tensor([[8, 4]]))
    assert where.shape == (1, 2, 3, 2)
    expected_x = torch.tensor([6.0, 10.0, 14.0]) / 32 * 2 - 1
    expected_y = torch.tensor([10.0, 14.0]) / 16 * 2 - 1
    assert torch.allclose(where[0, 0, :, 0], expected_x)
    assert torch.allclose(where[0, :, 0, 1], expected_y)


@pytest.mark.parametrize(("h", "w"), [(1, 1), (5, 200), (64, 96)])
def test_the_map_covers_any_frame(h: int, w: int) -> None:
    net = _randomised(LatentUNet(GRID))
    with torch.no_grad():
        ctx = net.encode_context(torch.rand(2, 3, h, w) * 2 - 1, (4, 6))
    assert ctx.grid is not None and ctx.grid.shape == (2, 3, 4, 6)
    assert torch.isfinite(ctx.grid).all()


def test_a_crop_reads_the_map_where_it_sits_in_the_frame() -> None:
    # Training reads the map for a crop at its origin; the pipeline reads it for the whole
    # frame and cuts the tile's window: the two must agree exactly.
    net = _randomised(LatentUNet(GRID))
    frames = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        whole = net.encode_context(frames, (16, 24))
        crop = net.encode_context(frames, (8, 8), origin=torch.tensor([[16, 32], [0, 64]]))
    assert torch.allclose(crop.grid[0], whole.grid[0, :, 4:12, 8:16], atol=1e-6)
    assert torch.allclose(crop.grid[1], whole.grid[1, :, 0:8, 16:24], atol=1e-6)
    assert torch.equal(crop.vector, whole.vector)


def _frame_and_latents(seed: int) -> tuple[torch.Tensor, ...]:
    """A 64-px frame, latents x_t and y0 of its size, and a noise level."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    x_t, y0 = torch.randn(1, 3, 16, 16, generator=g), torch.randn(1, 3, 16, 16, generator=g)
    return frames, x_t, y0, torch.tensor([0.5])


def test_the_map_varies_over_the_frame_and_changes_the_prediction() -> None:
    net = _randomised(LatentUNet(GRID))
    frames, x_t, y0, t = _frame_and_latents(4)
    with torch.no_grad():
        ctx = net.encode_context(frames, (16, 16))
        flat = Context(ctx.vector, ctx.grid.mean(dim=(2, 3), keepdim=True).expand_as(ctx.grid))
        moved = (net(x_t, y0, t, ctx) - net(x_t, y0, t, flat)).abs().max()
    assert ctx.grid.std(dim=(2, 3)).min() > 1e-4
    assert moved > 1e-4


def test_a_map_of_the_wrong_size_is_refused() -> None:
    net = LatentUNet(GRID)
    x = torch.zeros(1, 3, 8, 8)
    ctx = net.encode_context(torch.zeros(1, 3, 32, 32), (4, 4))
    with pytest.raises(ValueError, match="map does not match"):
        net(x, x, torch.tensor([0.5]), ctx)


def test_a_map_needs_the_branch() -> None:
    with pytest.raises(ValueError, match="context_grid needs"):
        UNetConfig(context_grid=2)


PRIOR = replace(CONFIG, dark_prior=True)


def test_the_dark_prior_is_an_input_channel_read_from_the_frame() -> None:
    net = _randomised(LatentUNet(PRIOR))
    assert net.inp.in_channels == 2 * PRIOR.latent_dim + 1
    assert [type(m).__name__ for m in net.map_modules] == ["DarkChannelMap"]
    assert not list(net.map_modules.parameters())  # no weights: files differ only in config
    frames, x_t, y0, t = _frame_and_latents(5)
    with torch.no_grad():
        ctx = net.encode_context(frames, (16, 16))
        (prior,) = ctx.maps
        assert prior.shape == (1, 1, 16, 16)
        assert ctx.crop(2, 6, 4, 12).maps[0].shape == (1, 1, 4, 8)
        assert ctx.expand(3).maps[0].shape == (3, 1, 16, 16)
        other = Context(ctx.vector, maps=(torch.ones_like(prior),))
        moved = (net(x_t, y0, t, ctx) - net(x_t, y0, t, other)).abs().max()
        assert moved > 1e-4  # the network reads it
        with pytest.raises(ValueError, match="maps do not match"):
            net(x_t, y0, t, Context(ctx.vector, maps=(prior[..., :8, :8],)))
        with pytest.raises(ValueError, match="maps do not match"):
            net(x_t, y0, t, Context(ctx.vector))  # a map missing
    plain = _randomised(LatentUNet(CONFIG))
    assert len(plain.map_modules) == 0 and not plain.encode_context(frames, (16, 16)).maps


def test_the_dark_prior_needs_the_branch() -> None:
    with pytest.raises(ValueError, match="dark_prior needs"):
        UNetConfig(dark_prior=True)
