"""Quality against degradation severity (seed 001's question: does a latent model lose to the
plain input when the degradation is mild?).

Clean images are degraded with ``restorecli.degrade.degrade(task, image, seed, severity)`` at
each severity, and scored against the clean image:

- ``input``: the degraded image itself (what doing nothing scores),
- ``restored``: the full pipeline (the restorer's current config),
- ``paper``: the same with the paper's decoding (``fidelity`` 0, ``requantize`` hard): the
  re-quantized latent alone, whatever the restorer's config says,
- ``ae_zq``: the autoencoder alone, decoding the quantized latent of the degraded input
  (no diffusion),
- ``ae_chebyshev``: the autoencoder alone, decoding the Chebyshev-center state,
- ``ae_clean``: the autoencoder's reconstruction of the clean image (decode(z_q(clean))), the
  ceiling the VQ latent space sets on any restoration; it does not depend on the severity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from restorecli.evaluate.metrics import Metrics, image_metrics, mean_metrics, quantize
from restorecli.evaluate.robustness import decode_latents, encode_image, state_latent

if TYPE_CHECKING:
    from restorecli.pipeline import Restorer

__all__ = [
    "DEFAULT_SEVERITIES",
    "LEVEL_METHODS",
    "LevelRow",
    "autoencode",
    "level_sweep",
    "level_table",
]

DEFAULT_SEVERITIES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
LEVEL_METHODS = ("input", "restored", "paper", "ae_zq", "ae_chebyshev", "ae_clean")


@dataclass
class LevelRow:
    """Mean scores of one method at one severity."""

    severity: float
    method: str
    metrics: Metrics
    images: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "method": self.method,
            "images": self.images,
            **self.metrics.as_dict(),
        }


def autoencode(restorer: Restorer, image: np.ndarray, state: str = "zq") -> np.ndarray:
    """Decode an initial state of ``image`` directly, without diffusion (H x W x 3 in [0, 1])."""
    z_e, indices = encode_image(restorer, image)
    z = state_latent(restorer, z_e, indices, state)
    return decode_latents(restorer, z, (image.shape[0], image.shape[1]))[0]


def paper_restore(restorer: Restorer, image: np.ndarray) -> np.ndarray:
    """``restorer`` on ``image`` with the paper's decoding (fidelity 0, hard re-quantization);
    its config is put back after."""
    config = restorer.config
    try:
        restorer.config = replace(config, fidelity=0.0, requantize="hard")
        return restorer.restore_array(image)
    finally:
        restorer.config = config


def level_sweep(
    restorer: Restorer,
    images: Sequence[np.ndarray],
    task: str,
    *,
    severities: Sequence[float] = DEFAULT_SEVERITIES,
    seed: int = 0,
    methods: Sequence[str] = LEVEL_METHODS,
    crop_border: int = 0,
    degrade: Callable[..., np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[LevelRow]:
    """Mean metrics per (severity, method) over ``images`` (clean, H x W x 3 in [0, 1]).

    Image i is degraded with seed ``seed + i`` (the same degradation pattern at every severity,
    so only its strength changes). Outputs are rounded to 8 bits before scoring.
    """
    unknown = set(methods) - set(LEVEL_METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}: use {', '.join(LEVEL_METHODS)}")
    if degrade is None:
        from restorecli.degrade import degrade as degrade_fn

        degrade = degrade_fn
    scores: dict[tuple[float, str], list[Metrics]] = {}
    clean_ref = {}
    if "ae_clean" in methods:
        clean_ref = {
            i: image_metrics(quantize(autoencode(restorer, im, "zq")), im, crop_border=crop_border)
            for i, im in enumerate(images)
        }
    total, done = len(severities) * len(images), 0
    for s in severities:
        for i, clean in enumerate(images):
            bad = np.asarray(degrade(task, clean, seed=seed + i, severity=float(s)), np.float32)
            bad = quantize(bad).astype(np.float32)  # the degraded photo as a file would hold it
            outputs = {
                "input": lambda bad=bad: bad,
                "restored": lambda bad=bad: restorer.restore_array(bad),
                "paper": lambda bad=bad: paper_restore(restorer, bad),
                "ae_zq": lambda bad=bad: autoencode(restorer, bad, "zq"),
                "ae_chebyshev": lambda bad=bad: autoencode(restorer, bad, "chebyshev"),
            }
            for method in methods:
                if method == "ae_clean":
                    m = clean_ref[i]
                else:
                    out = quantize(outputs[method]())
                    m = image_metrics(out, clean, crop_border=crop_border)
                scores.setdefault((float(s), method), []).append(m)
            done += 1
            if progress is not None:
                progress(done, total)
    return [
        LevelRow(float(s), method, mean_metrics(scores[(float(s), method)]), len(images))
        for s in severities
        for method in methods
    ]


def level_table(rows: Sequence[LevelRow], metric: str = "psnr") -> tuple[list[str], list[list]]:
    """Wide table: one row per severity, one column per method (values of ``metric``)."""
    methods = list(dict.fromkeys(r.method for r in rows))
    by_level: dict[float, dict[str, float]] = {}
    for r in rows:
        by_level.setdefault(r.severity, {})[r.method] = getattr(r.metrics, metric)
    header = ["severity", *methods]
    body = [[s, *(by_level[s].get(m) for m in methods)] for s in sorted(by_level)]
    return header, body
