"""Finishing steps: which a config turns on, in which order, and what each does."""

from __future__ import annotations

import torch

from restorecli.config import RestoreConfig
from restorecli.finishing import finishing_steps, partial_change, video_session
from restorecli.guided import transfer_detail

CPU = torch.device("cpu")


def test_the_config_decides_which_steps_run_and_in_what_order() -> None:
    assert finishing_steps(RestoreConfig(), CPU) == []
    names = [n for n, _ in finishing_steps(RestoreConfig(guide_radius=4, strength=0.5), CPU)]
    assert names == ["guide", "strength"]
    assert [n for n, _ in finishing_steps(RestoreConfig(strength=0.5), CPU)] == ["strength"]


def test_each_step_is_a_function_of_input_and_result() -> None:
    g = torch.Generator().manual_seed(0)
    x, out = torch.rand(1, 3, 20, 24, generator=g), torch.rand(1, 3, 20, 24, generator=g)
    (_, guide), (_, half) = finishing_steps(RestoreConfig(guide_radius=3, strength=0.5), CPU)
    torch.testing.assert_close(guide(x, out.clone(), None), transfer_detail(x, out, 3, 1e-4))
    torch.testing.assert_close(half(x, out.clone(), None), (x + out) / 2)
    torch.testing.assert_close(partial_change(1.0)(x, out.clone(), None), out)


def test_a_video_session_carries_a_smoother_only_when_the_filter_runs() -> None:
    assert video_session(RestoreConfig()).smoother is None
    assert video_session(RestoreConfig(guide_radius=8, temporal=0.0)).smoother is None
    smoother = video_session(RestoreConfig(guide_radius=8, temporal=0.5)).smoother
    assert smoother is not None and smoother.weight == 0.5
