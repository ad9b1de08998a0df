"""The task registry and the ``degrade`` entry point: contract shared by every degradation."""

from __future__ import annotations

import numpy as np
import pytest

from restorecli.degrade import TASKS, NoiseConfig, RainConfig, degrade, degrade_full

ALL_TASKS = sorted(TASKS)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b) ** 2))


def test_registry_has_every_task():
    assert set(TASKS) == {"derain", "dehaze", "desnow", "deraindrop", "denoise", "deblur", "jpeg"}


@pytest.mark.parametrize("task", ALL_TASKS)
def test_runs_on_64px_with_valid_output(task, image64):
    out = degrade(task, image64, seed=0, severity=0.6)
    assert out.shape == image64.shape
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert mse(out, image64) > 0  # it did something


@pytest.mark.parametrize("task", ALL_TASKS)
def test_same_seed_same_output(task, image64):
    a = degrade(task, image64, seed=7, severity=0.5)
    b = degrade(task, image64, seed=7, severity=0.5)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("task", ALL_TASKS)
def test_different_seeds_differ(task, image64):
    a = degrade(task, image64, seed=1, severity=0.7)
    b = degrade(task, image64, seed=2, severity=0.7)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("task", ALL_TASKS)
def test_random_severity_is_deterministic_under_seed(task, image64):
    a = degrade_full(task, image64, seed=3)
    b = degrade_full(task, image64, seed=3)
    np.testing.assert_array_equal(a.image, b.image)
    assert 0.0 <= a.params["severity"] <= 1.0
    assert a.params["task"] == task


@pytest.mark.parametrize("task", ALL_TASKS)
def test_higher_severity_degrades_more(task, image96):
    # Mean squared error against the clean image, averaged over seeds, must grow with severity.
    errors = [
        np.mean([mse(degrade(task, image96, seed=s, severity=sev), image96) for s in range(5)])
        for sev in (0.05, 0.5, 0.95)
    ]
    assert errors[0] < errors[1] < errors[2], errors


def test_seed_and_rng_are_equivalent(image64):
    a = degrade("derain", image64, seed=11, severity=0.4)
    b = degrade("derain", image64, rng=np.random.default_rng(11), severity=0.4)
    np.testing.assert_array_equal(a, b)


def test_does_not_modify_input(image64):
    before = image64.copy()
    for task in ALL_TASKS:
        degrade(task, image64, seed=0, severity=1.0)
    np.testing.assert_array_equal(image64, before)


def test_uint8_input_is_accepted(image64):
    u8 = (image64 * 255).round().astype(np.uint8)
    out = degrade("dehaze", u8, seed=0, severity=0.5)
    assert out.dtype == np.float32 and out.shape == u8.shape


def test_config_override_is_used(image64):
    out = degrade_full("denoise", image64, seed=0, severity=0.5, config=NoiseConfig(kind="camera"))
    assert out.params["kind"] == "camera"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"task": "defog"}, KeyError),
        ({"severity": 1.5}, ValueError),
        ({"severity": -0.1}, ValueError),
        ({"seed": 1, "rng": np.random.default_rng(1)}, ValueError),
        ({"config": RainConfig(), "task": "dehaze"}, TypeError),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, image64):
    kwargs = {"task": "derain", **kwargs}
    with pytest.raises(error):
        degrade(kwargs.pop("task"), image64, **kwargs)


@pytest.mark.parametrize(
    "bad", [np.zeros((8, 8), np.float32), np.zeros((8, 8, 4), np.float32), np.zeros((0, 4, 3))]
)
def test_bad_shapes_are_refused(bad):
    with pytest.raises(ValueError):
        degrade("jpeg", bad, seed=0, severity=0.5)


def test_settings_fix_a_degradation_for_a_benchmark():
    from restorecli.degrade import config_with

    cfg = config_with("denoise", {"kind": "gaussian", "sigma": "25/255", "grey_prob": "0"})
    assert cfg.kind == "gaussian" and cfg.grey_prob == 0.0
    assert cfg.sigma.at(0.0) == cfg.sigma.at(1.0) == pytest.approx(25 / 255)
    clean = np.full((64, 64, 3), 0.5, np.float32)
    for severity in (0.0, 1.0):  # the severity no longer matters
        noisy = degrade("denoise", clean, seed=1, severity=severity, config=cfg)
        assert (noisy - clean).std() == pytest.approx(25 / 255, rel=0.05)
    assert config_with("deblur", {"motion_steps": "8"}).motion_steps == 8
    with pytest.raises(ValueError, match="has no setting 'nope'; it has kind_weights"):
        config_with("denoise", {"nope": "1"})
    with pytest.raises(ValueError, match="sigma='x'"):
        config_with("denoise", {"sigma": "x"})
    with pytest.raises(ValueError, match="only numbers and names"):
        config_with("denoise", {"kind_weights": "1"})


def test_the_command_line_lists_every_degradation() -> None:
    from restorecli.config import DEGRADATIONS

    assert tuple(TASKS) == DEGRADATIONS
