"""Tiles: grid placement, blending weights, and tiled restoration against untiled restoration."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from restorecli.models import LatentUNet
from restorecli.pipeline import RestoreConfig, Restorer
from restorecli.tiling import Tile, even_layout, tile_starts, tile_weight, tiles, weight_profiles

CPU = torch.device("cpu")

# (length, tile, overlap, align) with length and tile multiples of align, as the pipeline pads.
GRID_CASES = [
    (length, tile, overlap, align)
    for length, tile, overlap, align in itertools.product(
        range(8, 180, 12), (16, 24, 32, 64), (0, 4, 8, 12, 16), (1, 4, 8)
    )
    if length % align == 0 and tile % align == 0 and tile - overlap >= align
]


def weight_sum(height: int, width: int, tile: int, overlap: int, align: int) -> torch.Tensor:
    grid = list(tiles(height, width, tile, overlap, align))
    total = torch.zeros(height, width)
    for t in grid:
        total[t.y0 : t.y1, t.x0 : t.x1] += tile_weight(t, grid, CPU)
    return total


# --- grid ----------------------------------------------------------------------------------------


def test_tile_starts_cover_with_the_overlap_on_the_alignment_grid() -> None:
    assert len(GRID_CASES) > 100
    for length, tile, overlap, align in GRID_CASES:
        case = (length, tile, overlap, align)
        starts = tile_starts(length, tile, overlap, align)
        assert starts == sorted(set(starts)), case
        assert starts[0] == 0, case
        assert min(starts[-1] + tile, length) == length, case  # the last tile reaches the end
        assert all(s % align == 0 for s in starts), case
        assert all(s >= 0 and s + min(tile, length) <= length for s in starts), case
        for a, b in itertools.pairwise(starts):
            assert a + tile - b >= overlap, case  # neighbours overlap by at least `overlap`
            assert b > a, case


def test_one_tile_when_the_frame_fits() -> None:
    assert tile_starts(64, 64, 16) == [0]
    assert tile_starts(10, 64, 16, align=8) == [0]
    assert list(tiles(10, 20, 64, 16)) == [Tile(0, 10, 0, 20)]


@pytest.mark.parametrize(
    ("tile", "overlap", "align"),
    [(0, 0, 1), (32, -1, 1), (32, 0, 0), (32, 30, 4), (32, 32, 1), (32, 40, 1)],
)
def test_impossible_grids_are_rejected(tile: int, overlap: int, align: int) -> None:
    # A negative overlap would leave gaps; tile - overlap < align cannot keep the overlap.
    with pytest.raises(ValueError, match="tile"):
        tile_starts(100, tile, overlap, align)


def test_tiles_cover_every_pixel() -> None:
    count = torch.zeros(100, 140, dtype=torch.int32)
    grid = list(tiles(100, 140, 48, 16, align=4))
    for t in grid:
        assert 0 <= t.y0 < t.y1 <= 100 and 0 <= t.x0 < t.x1 <= 140
        assert (t.y1 - t.y0, t.x1 - t.x0) == (grid[0].y1, grid[0].x1)  # one size per axis
        count[t.y0 : t.y1, t.x0 : t.x1] += 1
    assert count.min() >= 1
    assert len(grid) == len(tile_starts(100, 48, 16, 4)) * len(tile_starts(140, 48, 16, 4))


def test_the_even_layout_keeps_the_count_and_overlap_with_less_work() -> None:
    for length, tile, overlap, align in GRID_CASES:
        case = (length, tile, overlap, align)
        size, starts = even_layout(length, tile, overlap, align)
        assert len(starts) == len(tile_starts(length, tile, overlap, align)), case
        assert (size <= tile and size % align == 0) or size == length, case
        assert starts[0] == 0 and min(starts[-1] + size, length) == length, case
        assert all(s % align == 0 for s in starts), case
        for a, b in itertools.pairwise(starts):
            assert 0 < b - a <= size - overlap, case


def test_a_1080p_frame_takes_a_sixth_less_work_in_even_tiles() -> None:
    # 1080 rows padded to 1088 (multiple of 16): 3 x 5 tiles either way.
    assert even_layout(1088, 512, 128, 16) == (448, [0, 320, 640])
    assert even_layout(1920, 512, 128, 16) == (496, [0, 352, 704, 1072, 1424])
    work = sum((t.y1 - t.y0) * (t.x1 - t.x0) for t in tiles(1088, 1920, 512, 128, 16))
    assert work == 3 * 448 * 5 * 496 < 0.85 * 3 * 512 * 5 * 512


# --- blending weights ----------------------------------------------------------------------------


def test_weights_are_positive_everywhere() -> None:
    for length, tile, overlap, align in GRID_CASES[1::4]:
        total = weight_sum(length, 4, tile, overlap, align)
        assert total.min() > 0.5, (length, tile, overlap, align)


def test_weights_sum_to_one_when_overlap_is_at_most_half_a_tile() -> None:
    # The pipeline's range (--tile-overlap <= --tile / 2): a partition of unity (to 3e-5 when
    # the edge-aligned last tile makes three tiles meet), so normalising changes almost nothing.
    for case in GRID_CASES[::4]:
        length, tile, overlap, align = case
        if 2 * overlap <= tile:
            total = weight_sum(length, 4, tile, overlap, align)
            assert torch.allclose(total, torch.ones_like(total), atol=1e-4), case


def test_the_summed_weight_is_the_product_of_its_two_profiles() -> None:
    # The pipeline divides by two 1-D profiles instead of keeping a frame-sized weight map.
    for length, tile, overlap, align in GRID_CASES[::3]:
        width = max(align, (length // 2) // align * align)
        along_h, along_w = weight_profiles(list(tiles(length, width, tile, overlap, align)),
                                           length, width, CPU)  # fmt: skip
        total = weight_sum(length, width, tile, overlap, align)
        assert torch.allclose(along_h[:, None] * along_w[None, :], total, atol=1e-6)


def test_weights_ignore_the_outer_quarter_of_each_overlap() -> None:
    # Pixels within overlap / 4 of an edge shared with a neighbour see zero padding instead of
    # their true context: they must not contribute. Frame edges are not faded.
    grid = list(tiles(100, 100, 48, 16, align=4))
    for t in grid:
        w = tile_weight(t, grid, CPU)
        assert w.shape == (t.y1 - t.y0, t.x1 - t.x0)
        assert w.min() >= 0 and w.max() <= 1
        if t.x0 > 0:
            assert w[:, :4].max() == 0
        else:
            assert w[:, 0].max() > 0
        if t.x1 < 100:
            assert w[:, -4:].max() == 0
        if t.y0 > 0:
            assert w[:4].max() == 0
        if t.y1 < 100:
            assert w[-4:].max() == 0
    first = tile_weight(grid[0], grid, CPU)
    assert first[0, 0] == 1  # the frame's corner is a corner of one tile only


# --- tiled restoration ---------------------------------------------------------------------------


def smooth_image(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width] / 100.0
    return np.stack(
        [0.5 + 0.3 * np.sin(1.3 * xx + 0.4 * yy), 0.5 + 0.3 * np.cos(1.1 * yy), 0.4 + 0.1 * xx],
        axis=-1,
    ).astype(np.float32)


def receptive_radius(ae, unet, size: int = 160) -> int:
    """Largest distance (pixels, max-norm) at which a one-pixel change alters the output.

    Measured on the chain's continuous part (encode -> denoiser -> decode, one step): the
    quantization steps between them act per latent pixel, so they do not widen it.
    """
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    t = torch.full((1,), 0.5)

    def chain(img: torch.Tensor) -> torch.Tensor:
        z = ae.encode(img)
        return ae.decode(unet(z, z, t))

    with torch.no_grad():
        base = chain(x)
        radius = 0
        for c in range(size // 2, size // 2 + 4):  # every phase of the stride-4 grid
            y = x.clone()
            y[..., c, c] += 1.0
            changed = ((chain(y) - base).abs().amax(1)[0] > 0).nonzero()
            radius = max(radius, int((changed - c).abs().max()))
    assert radius < size // 2 - 4, "measurement image too small for this receptive field"
    return radius


@pytest.mark.usefixtures("torch_one_thread")
def test_tiled_equals_untiled_when_overlap_covers_the_receptive_field(make_tiny_models) -> None:
    ae, unet = make_tiny_models(levels=1)
    radius = receptive_radius(ae, unet)  # 51 px for tiny_models(levels=1)
    multiple = ae.stride * unet.size_multiple
    # Precondition of the blending rule: receptive-field radius <= overlap / 4.
    overlap = -(-4 * radius // multiple) * multiple
    tile = 2 * overlap
    assert radius <= overlap / 4
    image = np.random.default_rng(0).random((tile + 24, tile + 40, 3), dtype=np.float32)
    cfg = RestoreConfig(init="ze", steps=1, tile=tile, tile_overlap=overlap)
    events = []
    tiled = Restorer(ae, unet, config=cfg, device="cpu").restore_array(
        image, callback=events.append
    )
    assert [e["tiles"] for e in events if e.get("stage") == "tile"] == [4] * 4
    cfg_untiled = RestoreConfig(init="ze", steps=1, tile=0)
    untiled = Restorer(ae, unet, config=cfg_untiled, device="cpu").restore_array(image)
    # Measured max difference: 1.2e-7 (float rounding; the blend itself is exact).
    assert np.abs(tiled - untiled).max() < 1e-3


def box_blur(
    self: Restorer, xp: torch.Tensor, noise: torch.Tensor, callback=None, context=None, head=None
):
    """A smooth local 'network' (radius 4) whose zero padding darkens every tile's border."""
    return F.avg_pool2d(xp, 9, stride=1, padding=4, count_include_pad=True)


def border_gradient_ratio(out: np.ndarray, grid: list[Tile], band: int) -> float:
    """Largest gradient within ``band`` pixels of an interior tile border / largest elsewhere."""
    h, w = out.shape[:2]
    dx = np.abs(np.diff(out, axis=1)).max(axis=(0, 2))  # between columns c and c + 1
    dy = np.abs(np.diff(out, axis=0)).max(axis=(1, 2))
    ratios = []
    for grad, length, edges in (
        (dx, w, {t.x0 for t in grid} | {t.x1 for t in grid}),
        (dy, h, {t.y0 for t in grid} | {t.y1 for t in grid}),
    ):
        near = np.zeros(length - 1, dtype=bool)
        for e in edges - {0, length}:
            near[max(0, e - band) : e + band] = True
        near_frame = np.zeros_like(near)  # the blur's own border effect at the frame edges
        near_frame[:8] = near_frame[-8:] = True
        ratios.append(grad[near].max() / grad[~near & ~near_frame].max())
    return max(ratios)


@pytest.mark.usefixtures("torch_one_thread")
def test_no_seams_on_a_smooth_image(make_tiny_models, monkeypatch: pytest.MonkeyPatch) -> None:
    # The tiny random models turn any image into texture, so a smooth stand-in network shows
    # the blending. Overlap 8 is below 4 x its radius: tiles disagree near their borders, and
    # the blend must still leave no step there.
    monkeypatch.setattr(Restorer, "_restore_padded", box_blur)
    ae, unet = make_tiny_models(levels=1)
    image = smooth_image(136, 200)
    cfg = RestoreConfig(init="ze", steps=1, tile=64, tile_overlap=8)
    grid = list(tiles(136, 200, 64, 8, align=4))
    assert len(grid) > 4
    out = Restorer(ae, unet, config=cfg, device="cpu").restore_array(image)
    # Measured: 2.3 with the raised-cosine weights, 17 with uniform weights (hard seams).
    assert border_gradient_ratio(out, grid, band=8) < 3.0

    # The check itself sees a seam: blending with uniform weights leaves steps at the borders.
    def flat(t, g, d):
        return torch.ones(t.y1 - t.y0), torch.ones(t.x1 - t.x0)

    monkeypatch.setattr("restorecli.tiling.tile_ramps", flat)
    seamed = Restorer(ae, unet, config=cfg, device="cpu").restore_array(image)
    assert border_gradient_ratio(seamed, grid, band=8) > 10.0


@pytest.mark.usefixtures("torch_one_thread")
@pytest.mark.parametrize(("grid", "prior"), [(0, False), (2, False), (0, True)])
def test_a_frame_context_is_computed_once_per_frame_so_tiles_still_match(
    make_tiny_models, grid, prior
):
    # The context branch reads the whole frame; every tile gets that same vector and its
    # window of the same map, so the tiled result still equals the untiled one (a per-tile
    # context would not).
    ae, small = make_tiny_models(levels=1)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # every block live, so the context reaches the output
        for p in small.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    unet = LatentUNet(
        replace(small.config, context=4, context_size=32, context_grid=grid, dark_prior=prior)
    )
    state = small.state_dict()
    if grid or prior:  # the map's (prior's) input channels are new; they keep their random init
        inp = unet.inp.weight.detach().clone()
        inp[:, : state["inp.weight"].shape[1]] = state["inp.weight"]
        state["inp.weight"] = inp
    unet.load_state_dict(state, strict=False)
    with torch.no_grad():
        for p in unet.frame_context.parameters():
            p.normal_(0, 0.5, generator=g)
    unet.eval()
    radius = receptive_radius(ae, small, size=320)  # the branch adds no reach
    multiple = ae.stride * unet.size_multiple
    overlap = -(-4 * radius // multiple) * multiple
    image = np.random.default_rng(1).random((2 * overlap + 24, 2 * overlap + 40, 3), np.float32)
    seen = []
    original = unet.encode_context
    unet.encode_context = lambda frames, *a, **k: (
        seen.append(frames.shape) or original(frames, *a, **k)
    )
    cfg = RestoreConfig(init="ze", steps=1, tile=2 * overlap, tile_overlap=overlap)
    tiled = Restorer(ae, unet, config=cfg, device="cpu").restore_array(image)
    assert seen == [(1, 3, *image.shape[:2])]  # once, on the whole (unpadded) frame
    untiled = Restorer(
        ae, unet, config=RestoreConfig(init="ze", steps=1, tile=0), device="cpu"
    ).restore_array(image)
    assert np.abs(tiled - untiled).max() < 1e-3
    without = Restorer(
        ae, small, config=RestoreConfig(init="ze", steps=1, tile=0), device="cpu"
    ).restore_array(image)
    assert np.abs(untiled - without).max() > 1e-2  # the context does change the result
