import math

import numpy as np
import pytest
import torch

from restorecli.diffusion import ResShiftSchedule, randn_like, sample

# Monte Carlo checks use this many standard errors as tolerance: a correct implementation fails
# with probability ~1e-6 per check, a wrong mean/variance (off by more than a few %) fails surely.
Z = 5.0


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _latents(shape=(2, 3, 4, 5), seed=0):
    g = _gen(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def _mix_model(x_t, y0, t):
    # A toy x0-predictor that depends on its input, so the noise reaches the output.
    return 0.8 * x_t + 0.2 * y0 - 0.1 * t.view(-1, *([1] * (x_t.dim() - 1)))


# --- schedule -----------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [2, 4, 15])
@pytest.mark.parametrize("p", [0.3, 1.0])
def test_continuous_schedule_equals_resshift_discrete(steps, p):
    s = ResShiftSchedule(steps=steps, p=p, eta_min=0.001, eta_max=0.99)
    # ResShift: sqrt(eta_t) = sqrt(eta_1) * b0 ** beta_t, beta_t = ((t-1)/(T-1))**p * (T-1).
    b0 = math.exp(math.log(s.eta_max / s.eta_min) / (2 * (steps - 1)))
    t = np.arange(1, steps + 1)
    beta = ((t - 1) / (steps - 1)) ** p * (steps - 1)
    expected = (math.sqrt(s.eta_min) * b0**beta) ** 2
    np.testing.assert_allclose(s.eta_list(), expected, rtol=1e-12)
    np.testing.assert_allclose(s.etas.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("steps", [1, 2, 4, 15])
def test_etas_increasing_with_endpoints(steps):
    s = ResShiftSchedule(steps=steps)
    etas = s.etas
    assert etas.shape == (steps,)
    assert etas[-1].item() == pytest.approx(s.eta_max, rel=1e-6)
    if steps == 1:
        return
    assert etas[0].item() == pytest.approx(s.eta_min, rel=1e-6)
    assert bool((etas[1:] > etas[:-1]).all())
    alphas = s.alphas
    assert bool((alphas > 0).all())
    assert alphas[0].item() == pytest.approx(s.eta_min, rel=1e-6)
    assert alphas.double().sum().item() == pytest.approx(s.eta_max, rel=1e-6)


def test_eta_function_float_and_tensor_agree():
    s = ResShiftSchedule()
    u = torch.tensor([0.0, 0.1, 0.5, 1.0])
    got = s.eta(u)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), [s.eta(float(v)) for v in u], rtol=1e-5)
    assert s.eta(0.0) == pytest.approx(s.eta_min)
    assert s.eta(1.0) == pytest.approx(s.eta_max)
    assert s.eta(2.0) == pytest.approx(s.eta_max)  # clamped


@pytest.mark.parametrize(
    "kwargs",
    [{"steps": 0}, {"kappa": 0.0}, {"p": -1.0}, {"eta_min": 0.0}, {"eta_min": 0.5, "eta_max": 0.4}],
)
def test_invalid_schedule_rejected(kwargs):
    with pytest.raises(ValueError):
        ResShiftSchedule(**kwargs)


def test_training_eta_distribution():
    s = ResShiftSchedule()
    eta = s.sample_training_eta(20000, _gen(0))
    assert eta.shape == (20000,) and eta.dtype == torch.float32
    assert float(eta.min()) >= s.eta_min * (1 - 1e-6)
    assert float(eta.max()) <= s.eta_max * (1 + 1e-6)
    # u is uniform, so eta(u) is below eta(0.5) half the time (binomial standard error).
    frac = (eta <= s.eta(0.5)).float().mean().item()
    assert abs(frac - 0.5) < Z * math.sqrt(0.25 / eta.numel())
    assert torch.equal(eta, s.sample_training_eta(20000, _gen(0)))


# --- forward process and posterior ---------------------------------------------------------


def _assert_moments(samples, mean, var):
    """samples: N x ...; check per-element mean and variance against the standard errors."""
    n = samples.shape[0]
    emp_mean = samples.mean(0)
    emp_var = samples.var(0)
    assert bool(((emp_mean - mean).abs() <= Z * (var / n).sqrt()).all())
    assert bool(((emp_var - var).abs() <= Z * var * math.sqrt(2 / (n - 1))).all())


def test_q_sample_moments_with_per_batch_eta():
    s = ResShiftSchedule(kappa=1.7)
    n = 40000
    x0 = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)
    y0 = torch.tensor([-0.3, 0.4, 0.0]).view(1, 3, 1, 1)
    eta = torch.tensor([0.1, 0.7]).repeat_interleave(n // 2)
    noise = torch.randn((n, 3, 1, 1), generator=_gen(1), dtype=torch.float64)
    xt = s.q_sample(x0.double().expand(n, -1, -1, -1), y0.double(), eta.double(), noise)
    for half, e in ((xt[: n // 2], 0.1), (xt[n // 2 :], 0.7)):
        mean = (x0 + e * (y0 - x0)).double()
        _assert_moments(half, mean, torch.full_like(mean, s.kappa**2 * e))


def test_posterior_matches_formula():
    s = ResShiftSchedule(steps=5, kappa=1.3)
    x_t, x0 = _latents()
    etas = [0.0, *s.eta_list()]
    for t in range(1, 6):
        mean, var = s.posterior_mean_var(x_t, x0, None, t)
        alpha = etas[t] - etas[t - 1]
        expected = etas[t - 1] / etas[t] * x_t + alpha / etas[t] * x0
        torch.testing.assert_close(mean, expected)
        assert var.numel() == 1
        assert var.item() == pytest.approx(s.kappa**2 * etas[t - 1] / etas[t] * alpha, rel=1e-6)
    mean, var = s.posterior_mean_var(x_t, x0, None, 1)
    torch.testing.assert_close(mean, x0)
    assert var.item() == 0.0
    with pytest.raises(ValueError):
        s.posterior_mean_var(x_t, x0, None, 0)


@pytest.mark.parametrize("t", [2, 3, 4])
def test_posterior_consistent_with_forward_marginal(t):
    # x_t ~ q(x_t | x0, y0), then x_{t-1} ~ posterior, must be distributed as q(x_{t-1} | x0, y0).
    s = ResShiftSchedule(steps=4, kappa=1.5)
    n = 40000
    g = _gen(2)
    x0 = torch.tensor([1.0, -0.5]).view(1, 2, 1, 1).double()
    y0 = torch.tensor([-1.0, 0.8]).view(1, 2, 1, 1).double()
    etas = [0.0, *s.eta_list()]
    shape = (n, 2, 1, 1)
    x_t = s.q_sample(x0, y0, etas[t], torch.randn(shape, generator=g, dtype=torch.float64))
    mean, var = s.posterior_mean_var(x_t, x0, y0, t)
    x_prev = mean + var.sqrt() * torch.randn(shape, generator=g, dtype=torch.float64)
    e = etas[t - 1]
    target_mean = (x0 + e * (y0 - x0)).expand(1, 2, 1, 1)
    _assert_moments(x_prev, target_mean, torch.full_like(target_mean, s.kappa**2 * e))


def test_prior_sample():
    s = ResShiftSchedule(kappa=2.0)
    y0 = torch.randn(2, 3, 4, 4)
    noise = torch.randn_like(y0)
    torch.testing.assert_close(
        s.prior_sample(y0, noise=noise), y0 + 2.0 * math.sqrt(s.eta_max) * noise
    )
    assert torch.equal(s.prior_sample(y0, _gen(3)), s.prior_sample(y0, _gen(3)))


# --- sampler ---------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 2, 4, 15])
def test_oracle_model_returns_x0_exactly(steps):
    x0, y0 = _latents()
    out = sample(lambda x, y, t: x0, y0, ResShiftSchedule(steps=steps), generator=_gen(0))
    assert torch.equal(out, x0)


def test_seed_reproducibility():
    _, y0 = _latents()
    s = ResShiftSchedule()
    a = sample(_mix_model, y0, s, generator=_gen(7))
    b = sample(_mix_model, y0, s, generator=_gen(7))
    c = sample(_mix_model, y0, s, generator=_gen(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_explicit_noise_reproduces_the_chain_by_hand():
    steps = 3
    s = ResShiftSchedule(steps=steps, kappa=1.2)
    _, y0 = _latents(seed=4)
    noise = torch.randn((steps, *y0.shape), generator=_gen(5))
    out = sample(_mix_model, y0, s, noise=noise)

    etas = [0.0, *s.eta_list()]
    x = y0 + s.kappa * math.sqrt(etas[steps]) * noise[0]
    for i, t in enumerate(range(steps, 0, -1)):
        x0_hat = _mix_model(x, y0, torch.full((y0.shape[0],), etas[t]))
        if t > 1:
            alpha = etas[t] - etas[t - 1]
            mean = etas[t - 1] / etas[t] * x + alpha / etas[t] * x0_hat
            x = mean + s.kappa * math.sqrt(etas[t - 1] / etas[t] * alpha) * noise[i + 1]
    torch.testing.assert_close(out, x0_hat)
    # Prior noise only: later draws come from the generator, so the output depends on it.
    a = sample(_mix_model, y0, s, noise=noise[0], generator=_gen(1))
    b = sample(_mix_model, y0, s, noise=noise[0], generator=_gen(2))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="noise must have shape"):
        sample(_mix_model, y0, s, noise=noise[:2])


@pytest.mark.parametrize("steps", [1, 4])
def test_callback_called_every_step(steps):
    s = ResShiftSchedule(steps=steps)
    _, y0 = _latents()
    seen = []
    sample(_mix_model, y0, s, generator=_gen(0), callback=seen.append)
    assert [d["step"] for d in seen] == list(range(steps))
    assert all(d["total"] == steps for d in seen)
    np.testing.assert_allclose([d["t"] for d in seen], s.eta_list()[::-1])
    assert all(d["x"].shape == y0.shape and d["x0"].shape == y0.shape for d in seen)


def test_model_inputs_and_x0_transform():
    s = ResShiftSchedule(steps=4)
    _, y0 = _latents()
    calls = []

    def model(x_t, y, t):
        calls.append((x_t.dtype, tuple(x_t.shape), t.dtype, tuple(t.shape), t[0].item()))
        return 5.0 * torch.ones_like(x_t)

    seen = []
    out = sample(
        model,
        y0,
        s,
        generator=_gen(0),
        x0_transform=lambda z: z.clamp(-1, 1),
        callback=seen.append,
    )
    assert torch.equal(out, torch.ones_like(y0))
    assert all(torch.equal(d["x0"], torch.ones_like(y0)) for d in seen)
    assert calls[0][:4] == (torch.float32, tuple(y0.shape), torch.float32, (y0.shape[0],))
    np.testing.assert_allclose([c[4] for c in calls], s.eta_list()[::-1], rtol=1e-6)


def test_batch_elements_are_independent():
    s = ResShiftSchedule(steps=4)
    y_one = torch.randn(1, 3, 6, 5, generator=_gen(9))
    y0 = y_one.repeat(4, 1, 1, 1)
    noise = torch.randn((4, *y0.shape), generator=_gen(10))
    out = sample(_mix_model, y0, s, noise=noise)
    # Each element equals the run of that element alone with its own noise...
    for i in range(4):
        alone = sample(_mix_model, y0[i : i + 1], s, noise=noise[:, i : i + 1])
        torch.testing.assert_close(out[i : i + 1], alone)
    # ...and generator noise differs between elements of a batch with identical inputs.
    out = sample(_mix_model, y0, s, generator=_gen(11))
    for i in range(1, 4):
        assert not torch.allclose(out[0], out[i])


def test_fp16_uses_the_same_noise_as_fp32():
    s = ResShiftSchedule(steps=4)
    _, y0 = _latents()
    full = sample(_mix_model, y0, s, generator=_gen(12))
    half = sample(_mix_model, y0.half(), s, generator=_gen(12))
    assert half.dtype == torch.float16
    assert bool(torch.isfinite(half).all())
    torch.testing.assert_close(half.float(), full, atol=2e-2, rtol=1e-2)


def test_runs_under_inference_mode():
    _, y0 = _latents()
    with torch.inference_mode():
        out = sample(_mix_model, y0, ResShiftSchedule(), generator=_gen(0))
    assert out.shape == y0.shape and out.dtype == y0.dtype


def test_randn_like_dtype_and_values():
    x = torch.zeros(3, 4, dtype=torch.float16)
    a = randn_like(x, _gen(0))
    b = randn_like(x.float(), _gen(0))
    assert a.dtype == torch.float16
    torch.testing.assert_close(a.float(), b, atol=1e-3, rtol=1e-3)
