"""The guided filter: window means, the local affine fit, strips, and what it does to haze."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restorecli.guided import (
    TemporalSmoother,
    box_mean,
    coefficients,
    guided_filter,
    transfer_detail,
)


def _naive_box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    out = torch.empty_like(x)
    h, w = x.shape[-2:]
    for i in range(h):
        for j in range(w):
            win = x[..., max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1]
            out[..., i, j] = win.mean((-2, -1))
    return out


@pytest.mark.parametrize("radius", [0, 1, 4, 30])
def test_box_mean_is_the_mean_of_the_window_clipped_to_the_frame(radius: int) -> None:
    x = torch.rand(2, 3, 17, 23, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(box_mean(x, radius), _naive_box_mean(x, radius))


def test_a_radius_wider_than_the_frame_is_the_frame_mean() -> None:
    x = torch.rand(1, 2, 9, 14, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    whole = x.mean((-2, -1), keepdim=True).expand_as(x)
    torch.testing.assert_close(box_mean(x, 10**9), whole)
    torch.testing.assert_close(box_mean(x, 13), whole)


def test_a_locally_affine_image_passes_through_unchanged() -> None:
    # src = a * guide + b with constant a, b is its own best fit in every window.
    guide = torch.rand(
        1, 3, 40, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    a = torch.tensor([1.8, 0.6, 1.2], dtype=torch.float64).view(1, 3, 1, 1)
    b = torch.tensor([-0.3, 0.2, 0.05], dtype=torch.float64).view(1, 3, 1, 1)
    src = a * guide + b
    torch.testing.assert_close(guided_filter(guide, src, 6, 1e-12), src)


def test_it_keeps_the_restored_tones_and_drops_blotches_the_input_does_not_have() -> None:
    gen = torch.Generator().manual_seed(2)
    clean = torch.rand(1, 3, 96, 128, generator=gen)
    t, airlight = 0.5, 0.9
    hazy = clean * t + airlight * (1 - t)
    # Right tones, plus 4 x 4-pixel blotches the input has no trace of (as a codebook leaves).
    blotches = torch.randn(1, 3, 24, 32, generator=gen).repeat_interleave(4, -2)
    restored = clean + 0.1 * blotches.repeat_interleave(4, -1)
    out = transfer_detail(hazy, restored.clamp(0, 1), radius=16, eps=1e-6)
    error = (out - clean).pow(2).mean().item()
    assert error < 0.1 * (restored.clamp(0, 1) - clean).pow(2).mean().item()


def test_strips_give_the_whole_frame_result() -> None:
    gen = torch.Generator().manual_seed(3)
    guide = torch.rand(2, 3, 70, 45, generator=gen)
    src = (0.7 * guide + 0.2 * torch.rand(2, 3, 70, 45, generator=gen)).clamp(0, 1)
    whole = transfer_detail(guide, src, 5, 1e-3, strip_pixels=10**9)
    for strip_pixels in (45, 45 * 7, 45 * 33):  # strips of 1, 7 and 33 rows
        strips = transfer_detail(guide, src, 5, 1e-3, strip_pixels=strip_pixels)
        torch.testing.assert_close(strips, whole, rtol=0, atol=1e-6)


def test_float32_result_matches_float64_on_a_wide_frame() -> None:
    gen = torch.Generator().manual_seed(4)
    guide = torch.rand(1, 3, 40, 4000, generator=gen)
    src = (0.8 * guide + 0.1 + 0.05 * torch.rand(1, 3, 40, 4000, generator=gen)).clamp(0, 1)
    exact = guided_filter(guide.double(), src.double(), 64, 1e-4).clamp(0, 1).float()
    out = transfer_detail(guide, src, 64, 1e-4)
    assert out.dtype == torch.float32 and out.device == src.device
    assert (out - exact).abs().max().item() < 1e-5


def test_output_is_clipped_and_shapes_must_match() -> None:
    guide = torch.zeros(1, 3, 8, 8)
    guide[..., 4:, :] = 1
    src = guide * 1.5 - 0.25  # fits to values outside [0, 1]
    out = transfer_detail(guide, src, 2, 1e-6)
    assert out.min().item() >= 0 and out.max().item() <= 1
    with pytest.raises(ValueError, match="differ"):
        transfer_detail(guide, src[..., :7], 2, 1e-4)


def test_numpy_reference_of_the_fit() -> None:
    # One window, written out: the slope and offset are the least-squares line of src on guide.
    rng = np.random.default_rng(5)
    g = rng.random((5, 5))
    p = 0.3 * g + rng.random((5, 5)) * 0.1
    eps = 1e-3
    slope = np.cov(g.ravel(), p.ravel(), bias=True)[0, 1] / (g.var() + eps)
    offset = p.mean() - slope * g.mean()
    # radius 4 on a 5 x 5 frame: every window is the whole frame, so one (slope, offset) applies.
    out = guided_filter(torch.from_numpy(g)[None, None], torch.from_numpy(p)[None, None], 4, eps)
    np.testing.assert_allclose(out[0, 0].numpy(), slope * g + offset, rtol=0, atol=1e-12)


# --- temporal smoothing --------------------------------------------------------------------------


def _clip(n: int = 4, seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, 24, 40, generator=gen)
    frames = base.repeat(n, 1, 1, 1) + 0.01 * torch.rand(n, 3, 24, 40, generator=gen)
    restored = (frames * torch.linspace(0.6, 1.2, n).view(n, 1, 1, 1)).clamp(0, 1)  # tones pump
    return frames.clamp(0, 1), restored


def test_weight_zero_is_each_frame_alone() -> None:
    frames, restored = _clip()
    alone = transfer_detail(frames, restored, 4, 1e-3)
    smoothed = transfer_detail(frames, restored, 4, 1e-3, smoother=TemporalSmoother(0.0))
    torch.testing.assert_close(smoothed, alone)


def test_coefficients_are_a_running_blend_over_frames_and_batches() -> None:
    frames, restored = _clip()
    weight = 0.75
    out = torch.cat(
        [
            transfer_detail(
                frames[:2], restored[:2], 4, 1e-3, smoother=(sm := TemporalSmoother(weight))
            ),
            transfer_detail(frames[2:], restored[2:], 4, 1e-3, smoother=sm),
        ]
    )
    g, s = frames - 0.5, restored - 0.5
    mean_a, mean_b = coefficients(g, s, 4, 1e-3)
    run_a, run_b = mean_a[0].clone(), mean_b[0].clone()
    expected = [((run_a * g[0] + run_b) + 0.5).clamp(0, 1)]
    for k in range(1, 4):
        run_a = weight * run_a + (1 - weight) * mean_a[k]
        run_b = weight * run_b + (1 - weight) * mean_b[k]
        expected.append(((run_a * g[k] + run_b) + 0.5).clamp(0, 1))
    torch.testing.assert_close(out, torch.stack(expected), rtol=0, atol=1e-5)
    # The tones pump less than frame by frame.
    alone = transfer_detail(frames, restored, 4, 1e-3)
    assert out.mean((1, 2, 3)).diff().abs().sum() < 0.6 * alone.mean((1, 2, 3)).diff().abs().sum()


def test_strips_with_smoothing_give_the_whole_frame_result() -> None:
    frames, restored = _clip()
    whole = transfer_detail(frames, restored, 3, 1e-3, smoother=TemporalSmoother(0.8))
    strips = transfer_detail(
        frames, restored, 3, 1e-3, smoother=TemporalSmoother(0.8), strip_pixels=40 * 5
    )
    torch.testing.assert_close(strips, whole, rtol=0, atol=1e-6)


def test_a_cut_or_a_new_frame_size_starts_afresh() -> None:
    frames, restored = _clip()
    other = torch.rand(1, 3, 24, 40, generator=torch.Generator().manual_seed(9))
    sm = TemporalSmoother(0.8)
    transfer_detail(frames[:2], restored[:2], 4, 1e-3, smoother=sm)
    after_cut = transfer_detail(other, other * 0.9, 4, 1e-3, smoother=sm)
    torch.testing.assert_close(after_cut, transfer_detail(other, other * 0.9, 4, 1e-3))
    small = other[..., :16, :20]
    resized = transfer_detail(small, small * 0.9, 4, 1e-3, smoother=sm)
    torch.testing.assert_close(resized, transfer_detail(small, small * 0.9, 4, 1e-3))
    assert sm.begin(frames[:1], torch.device("cpu")) == [True]  # the size changed back
    with pytest.raises(ValueError):
        TemporalSmoother(1.0)
