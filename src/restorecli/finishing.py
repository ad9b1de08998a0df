"""Finishing steps: plain functions of (input, restored) applied after the chain, in order.

The chain (encode, initial state, sampling, re-quantization, decoding, ``--ensemble``
averaging) gives a restored frame; each step here then takes the input frame and the result so
far and returns a new result. :func:`finishing_steps` lists the ones a config turns on, and
``Restorer.restore_tensor`` runs them in a visible loop. A video's state between frames lives
in a :class:`VideoSession` that ``Restorer.sequence()`` yields and the caller passes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from restorecli.config import RestoreConfig
from restorecli.guided import TemporalSmoother, transfer_detail


@dataclass
class VideoSession:
    """What one video carries from frame to frame: the guided filter's running tones."""

    smoother: TemporalSmoother | None = None


# (input frames, restored frames, the video's session or None) -> restored frames; B x 3 x H x W
# in [0, 1], the input on any device, the result float32.
Step = Callable[[torch.Tensor, torch.Tensor, VideoSession | None], torch.Tensor]


def guided(radius: int, eps: float, device: torch.device) -> Step:
    """The guided filter by the input: the restoration's tones on the input's own detail
    (``restorecli.guided``); in a video session its coefficients carry over between frames."""

    def step(x: torch.Tensor, out: torch.Tensor, session: VideoSession | None) -> torch.Tensor:
        smoother = session.smoother if session is not None else None
        return transfer_detail(x, out, radius, eps, device=device, smoother=smoother)

    return step


def partial_change(strength: float) -> Step:
    """Only ``strength`` of the change: ``input + strength * (restored - input)``."""

    def step(x: torch.Tensor, out: torch.Tensor, session: VideoSession | None) -> torch.Tensor:
        xf = x.to(out.device, torch.float32)
        return out.sub_(xf).mul_(strength).add_(xf)

    return step


def finishing_steps(config: RestoreConfig, device: torch.device) -> list[tuple[str, Step]]:
    """The steps ``config`` turns on, named (the names are stages of ``Restorer.stage_seconds``
    where they are timed), in the order they run."""
    steps: list[tuple[str, Step]] = []
    if config.guide_radius:
        steps.append(("guide", guided(config.guide_radius, config.guide_eps, device)))
    if config.strength < 1:
        steps.append(("strength", partial_change(config.strength)))
    return steps


def video_session(config: RestoreConfig) -> VideoSession:
    """A new video's session: a smoother when the guided filter runs and ``temporal`` > 0."""
    on = config.guide_radius > 0 and config.temporal > 0
    return VideoSession(TemporalSmoother(config.temporal) if on else None)
