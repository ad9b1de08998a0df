"""Synthetic degradations for on-the-fly training data, deterministic under a seed.

Every degradation is a pure function ``f(image, rng, severity, config) -> Degraded``: ``image``
is float32 HxWx3 in [0, 1], ``rng`` a ``numpy.random.Generator`` and ``severity`` in [0, 1]
(lightest to heaviest end of the ranges in the config dataclass). ``TASKS`` maps the restore
task names to them; :func:`degrade` is the one-call entry point::

    from restorecli.degrade import degrade
    rainy = degrade("derain", clean, seed=0, severity=0.8)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from restorecli.degrade.base import Degraded, Span, as_image, check_severity
from restorecli.degrade.blur import BlurConfig, blur
from restorecli.degrade.haze import HazeConfig, haze
from restorecli.degrade.jpeg import JpegConfig, jpeg
from restorecli.degrade.noise import NoiseConfig, noise
from restorecli.degrade.rain import RainConfig, rain
from restorecli.degrade.raindrop import RaindropConfig, raindrop
from restorecli.degrade.snow import SnowConfig, snow

__all__ = [
    "TASKS",
    "BlurConfig",
    "Degraded",
    "HazeConfig",
    "JpegConfig",
    "NoiseConfig",
    "RainConfig",
    "RaindropConfig",
    "SnowConfig",
    "Span",
    "Task",
    "config_with",
    "degrade",
    "degrade_full",
    "make_rng",
]


@dataclass(frozen=True)
class Task:
    """A restore task and the degradation that makes its training inputs."""

    name: str
    description: str
    fn: Callable[..., Degraded]
    config_type: type


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("derain", "rain streaks in 1-4 layers, often with a haze veil", rain, RainConfig),
        Task("dehaze", "haze over a smooth synthetic depth", haze, HazeConfig),
        Task("desnow", "snowflakes of several sizes, optional veil", snow, SnowConfig),
        Task("deraindrop", "raindrops on glass in front of the lens", raindrop, RaindropConfig),
        Task("denoise", "Gaussian, Poisson-Gaussian or camera-pipeline noise", noise, NoiseConfig),
        Task("deblur", "camera-shake motion, defocus or Gaussian blur", blur, BlurConfig),
        Task("jpeg", "JPEG compression artefacts", jpeg, JpegConfig),
    )
}


def config_with(task: str, settings: dict[str, str]) -> Any:
    """The task's default config with some fields fixed from text (``restore degrade --set``):
    a range field (``Span``) given one number stays at it whatever the severity (``sigma=25/255``
    is the Gaussian std of 25 grey levels), a number or a name replaces the field's value.

    Raises ValueError naming the fields the task has when one is unknown or cannot be read.
    """
    import dataclasses
    from fractions import Fraction

    if task not in TASKS:
        raise ValueError(f"unknown degradation task {task!r}; choose from {', '.join(TASKS)}")
    config = TASKS[task].config_type()
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {}
    for key, text in settings.items():
        if key not in fields:
            raise ValueError(f"{task} has no setting {key!r}; it has {', '.join(fields)}")
        current = fields[key]
        try:
            if isinstance(current, Span):
                number = float(Fraction(text))
                changes[key] = Span(number, number, jitter=0.0)
            elif isinstance(current, float):
                changes[key] = float(Fraction(text))
            elif isinstance(current, int) and not isinstance(current, bool):
                changes[key] = int(text)
            elif isinstance(current, str) or current is None:  # a name, e.g. kind=gaussian
                changes[key] = text
            else:
                raise ValueError("only numbers and names can be set")
        except (ValueError, ZeroDivisionError) as exc:
            raise ValueError(f"{task} setting {key}={text!r}: {exc}") from None
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{task} settings: {exc}") from None


def make_rng(
    seed: int | None = None, rng: np.random.Generator | None = None
) -> np.random.Generator:
    """The generator to use: ``rng`` if given, else one seeded with ``seed`` (None = fresh)."""
    if rng is not None and seed is not None:
        raise ValueError("pass either seed or rng, not both")
    return rng if rng is not None else np.random.default_rng(seed)


def degrade_full(
    task: str,
    image: np.ndarray,
    *,
    seed: int | None = None,
    severity: float | None = None,
    rng: np.random.Generator | None = None,
    config: Any = None,
) -> Degraded:
    """Degrade ``image`` for ``task`` and return the image with its aux maps and parameters.

    ``severity`` None draws one uniformly in [0, 1] from the generator (training use).
    ``config`` overrides the task's default config dataclass.
    """
    if task not in TASKS:
        raise KeyError(f"unknown degradation task {task!r}; choose from {', '.join(TASKS)}")
    spec = TASKS[task]
    img = as_image(image)
    gen = make_rng(seed, rng)
    s = float(gen.uniform(0.0, 1.0)) if severity is None else check_severity(severity)
    if config is None:
        config = spec.config_type()
    elif not isinstance(config, spec.config_type):
        raise TypeError(f"task {task!r} takes a {spec.config_type.__name__}, got {type(config)}")
    result = spec.fn(img, gen, s, config)
    result.params.update(task=task, severity=s)
    return result


def degrade(
    task: str,
    image: np.ndarray,
    *,
    seed: int | None = None,
    severity: float | None = None,
    rng: np.random.Generator | None = None,
    config: Any = None,
) -> np.ndarray:
    """Degrade ``image`` (float32 HxWx3 in [0, 1]) for ``task``; returns the same kind of array.

    Deterministic for a given ``seed`` (or generator state) and ``severity``.
    """
    return degrade_full(task, image, seed=seed, severity=severity, rng=rng, config=config).image
