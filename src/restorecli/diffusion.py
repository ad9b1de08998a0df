"""Residual-shift (ResShift) diffusion over latents: the schedule and the sampler.

The chain runs between the clean latent ``x0`` and the latent initial state ``y0`` (see
``init_state``), with a noise level ``eta`` that grows from ~0 to ~1::

    forward    q(x_t | x0, y0)        = N(x0 + eta_t (y0 - x0), kappa^2 eta_t I)
    posterior  q(x_{t-1} | x_t, x0)   = N((eta_{t-1}/eta_t) x_t + (alpha_t/eta_t) x0,
                                          kappa^2 (eta_{t-1}/eta_t) alpha_t I)
    prior      x_T                    = y0 + kappa sqrt(eta_T) eps,   alpha_t = eta_t - eta_{t-1}

The schedule is written in continuous time, ``eta(u)`` for ``u`` in [0, 1]::

    eta(u) = eta_min * (eta_max / eta_min) ** (u ** p)

which at ``u_t = (t - 1) / (T - 1)`` is exactly ResShift's discrete schedule
``sqrt(eta_t) = sqrt(eta_1) * b0 ** beta_t`` with ``beta_t = u_t ** p * (T - 1)`` and
``b0 = exp(ln(eta_T / eta_1) / (2 (T - 1)))``. The network is trained on ``eta(u)`` with ``u``
uniform in [0, 1] and conditioned on ``eta`` itself, so one trained network serves any step
count; ``T = 1`` uses ``u = 1`` only.

Defaults. ``eta_min = 0.04 ** 2``: the noise scale at the last noisy level is
``kappa sqrt(eta_1) = 0.04 kappa``, small against latent codes of unit scale. ResShift's code
uses the same 0.04 (its ``min_noise_level``) but caps ``sqrt(eta_1)`` at
``min(0.04 / kappa, sqrt(0.001))``; set ``eta_min`` to that to reproduce it. ``eta_max = 0.99`` is
eta_T itself, as in DESIGN.md (ResShift's ``etas_end = 0.99`` is ``sqrt(eta_T)``); either way
the forward mean at T, ``y0 - (1 - eta_T) (y0 - x0)``, is a hair away from the prior's ``y0``.

The sampler is a plain function (k-diffusion style): it knows the schedule and calls the model,
nothing else; progress bars attach to its ``callback``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["ResShiftSchedule", "randn_like", "sample"]

Model = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ResShiftSchedule:
    """Noise schedule of the residual-shift chain (see the module docstring).

    ``steps`` is the number of sampling steps T; ``kappa`` scales the noise; ``p`` bends the
    schedule (smaller p spends more steps at high noise); ``eta_min``/``eta_max`` are eta_1 and
    eta_T.
    """

    steps: int = 4
    kappa: float = 1.0
    p: float = 0.3
    eta_min: float = 0.04**2
    eta_max: float = 0.99

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not self.kappa > 0:
            raise ValueError(f"kappa must be > 0, got {self.kappa}")
        if not self.p > 0:
            raise ValueError(f"p must be > 0, got {self.p}")
        if not 0 < self.eta_min < self.eta_max <= 1:
            raise ValueError(
                f"need 0 < eta_min < eta_max <= 1, got eta_min={self.eta_min}, "
                f"eta_max={self.eta_max}"
            )

    # --- the schedule ---------------------------------------------------------------------

    def eta(self, u: float | torch.Tensor) -> float | torch.Tensor:
        """Continuous noise level for u in [0, 1] (clamped): eta(0) = eta_min, eta(1) = eta_max.

        A tensor u gives a float32 tensor, a float gives a float (double precision).
        """
        ratio = self.eta_max / self.eta_min
        if isinstance(u, torch.Tensor):
            u32 = u.float().clamp(0.0, 1.0)
            return self.eta_min * torch.pow(ratio, u32.pow(self.p))
        u = min(max(float(u), 0.0), 1.0)
        return self.eta_min * ratio ** (u**self.p)

    def eta_list(self) -> list[float]:
        """eta_1 .. eta_T as Python floats (computed in double precision)."""
        t_count = self.steps
        if t_count == 1:
            return [self.eta_max]
        return [float(self.eta(i / (t_count - 1))) for i in range(t_count)]

    @property
    def etas(self) -> torch.Tensor:
        """eta_1 .. eta_T, a float32 CPU tensor of length T, strictly increasing."""
        return torch.tensor(self.eta_list(), dtype=torch.float32)

    @property
    def alphas(self) -> torch.Tensor:
        """alpha_t = eta_t - eta_{t-1} with eta_0 = 0 (differences taken in double precision)."""
        etas = [0.0, *self.eta_list()]
        return torch.tensor([b - a for a, b in itertools.pairwise(etas)], dtype=torch.float32)

    # --- forward process and posterior ------------------------------------------------------

    def q_sample(
        self, x0: torch.Tensor, y0: torch.Tensor, eta: float | torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """Draw x_t ~ q(x_t | x0, y0) = x0 + eta (y0 - x0) + kappa sqrt(eta) noise.

        ``eta`` is a float or a tensor of shape (B,) (one noise level per batch element).
        """
        eta_b = _per_batch(eta, x0)
        return x0 + eta_b * (y0 - x0) + self.kappa * eta_b.sqrt() * noise

    def posterior_mean_var(
        self, x_t: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor, t: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(x_{t-1} | x_t, x0, y0) for the integer step t in 1..T.

        Given x0, the residual-shift posterior does not depend on y0 (it enters through x_t); the
        argument is kept so call sites read like the math. At t = 1 the mean is x0 and the
        variance 0. The variance is returned as a tensor broadcastable against x_t.
        """
        del y0
        if not 1 <= t <= self.steps:
            raise ValueError(f"step t must be in 1..{self.steps}, got {t}")
        etas = [0.0, *self.eta_list()]
        eta_t, eta_prev = etas[t], etas[t - 1]
        alpha = eta_t - eta_prev
        mean = (eta_prev / eta_t) * x_t + (alpha / eta_t) * x0
        var = torch.full((1,) * x_t.dim(), self.kappa**2 * eta_prev / eta_t * alpha)
        return mean, var.to(device=x_t.device, dtype=x_t.dtype)

    def prior_sample(
        self,
        y0: torch.Tensor,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x_T = y0 + kappa sqrt(eta_T) noise (noise drawn in float32 unless given)."""
        if noise is None:
            noise = randn_like(y0, generator)
        return y0 + self.kappa * math.sqrt(self.eta_max) * noise.to(y0.dtype)

    def sample_training_eta(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Noise levels for training: eta(u) with u ~ U[0, 1], float32 of shape (batch,).

        Uniform u is the continuous limit of drawing the step t uniformly, for every T at once.
        The device defaults to the generator's.
        """
        if device is None:
            device = generator.device if generator is not None else "cpu"
        u = torch.rand(batch, generator=generator, device=device, dtype=torch.float32)
        return self.eta(u)


# --- sampler ------------------------------------------------------------------------------


@torch.no_grad()
def sample(
    model: Model,
    y0: torch.Tensor,
    schedule: ResShiftSchedule,
    *,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    x0_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run the residual-shift chain from y0 and return the predicted clean latent.

    ``model(x_t, y0, t)`` predicts x0; ``t`` is a float32 tensor of shape (B,) holding eta_t.
    It starts at x_T = y0 + kappa sqrt(eta_T) eps and, for t = T..1, predicts x0 (passed through
    ``x0_transform`` if given, e.g. a clamp) and draws x_{t-1} from the posterior; the last step
    returns the prediction itself (the posterior at t = 1 has no noise).

    Noise: T draws are used (the prior, then one per step but the last). They come from
    ``generator`` (on y0's device), drawn in float32 and then cast, so runs in fp16 see the
    same noise as in fp32. ``noise`` may supply them instead: shape (T, *y0.shape) for all of
    them, or y0.shape for the prior draw only (later draws then come from ``generator``);
    drawing one full-frame tensor and cropping it per tile keeps overlapping tiles consistent.

    The chain state is kept in float32 (or y0's dtype if wider); the model sees it in y0's
    dtype. ``callback(dict(step=i, total=T, t=eta_t, x=x_t, x0=x0_hat))`` runs after each step
    i = 0..T-1, with the model's input ``x_t`` and its (transformed) prediction ``x0_hat``.
    """
    if y0.dim() < 2:
        raise ValueError(f"y0 must be batched (B x ...), got shape {tuple(y0.shape)}")
    t_count = schedule.steps
    if noise is not None and tuple(noise.shape) not in (tuple(y0.shape), (t_count, *y0.shape)):
        raise ValueError(
            f"noise must have shape {tuple(y0.shape)} or {(t_count, *y0.shape)}, "
            f"got {tuple(noise.shape)}"
        )
    work = _work_dtype(y0.dtype)
    y0_work = y0.to(work)
    etas = [0.0, *schedule.eta_list()]

    def draw(i: int) -> torch.Tensor:
        if noise is not None and noise.dim() == y0.dim() + 1:
            return noise[i].to(device=y0.device, dtype=work)
        if noise is not None and i == 0:
            return noise.to(device=y0.device, dtype=work)
        return _randn(y0, generator).to(work)

    x = schedule.prior_sample(y0_work, noise=draw(0))
    x0_hat = x
    for i, t in enumerate(range(t_count, 0, -1)):
        eta_t = etas[t]
        t_in = torch.full((y0.shape[0],), eta_t, dtype=torch.float32, device=y0.device)
        x_in = x.to(y0.dtype)
        x0_hat = model(x_in, y0, t_in)
        if x0_transform is not None:
            x0_hat = x0_transform(x0_hat)
        if callback is not None:
            callback({"step": i, "total": t_count, "t": eta_t, "x": x_in, "x0": x0_hat})
        if t > 1:
            mean, var = schedule.posterior_mean_var(x, x0_hat.to(work), y0_work, t)
            x = mean + var.sqrt() * draw(i + 1)
    return x0_hat.to(y0.dtype)


# --- helpers ------------------------------------------------------------------------------


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise shaped like x, on x's device, drawn in float32 then cast.

    Drawing in float32 makes the values independent of x's dtype (fp16 runs reproduce fp32 runs'
    noise), and avoids sampling directly in half precision.
    """
    return _randn(x, generator).to(x.dtype)


def _randn(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(
            f"the generator is on {generator.device} but the tensor is on {x.device}: "
            "create the generator on the same device"
        )
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    # Half-precision chains accumulate rounding over steps; latents are small, so keep fp32.
    return torch.float64 if dtype == torch.float64 else torch.float32


def _per_batch(value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A scalar or (B,) tensor as a tensor broadcastable against ``like`` (B x ...)."""
    v = torch.as_tensor(value, device=like.device).to(like.dtype)
    if v.dim() == 0:
        return v.reshape((1,) * like.dim())
    if v.shape != (like.shape[0],):
        raise ValueError(f"expected a scalar or shape ({like.shape[0]},), got {tuple(v.shape)}")
    return v.reshape(-1, *([1] * (like.dim() - 1)))
