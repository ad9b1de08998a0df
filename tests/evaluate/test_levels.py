"""Severity sweep on one tiny image: rows, references, the wide table."""

from __future__ import annotations

import numpy as np
import pytest

from restorecli.evaluate.levels import LEVEL_METHODS, autoencode, level_sweep, level_table

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def clean() -> np.ndarray:
    yy, xx = np.mgrid[0:24, 0:28].astype(np.float32)
    img = np.stack([xx / 28, yy / 24, 0.5 + 0.3 * np.sin(xx / 3)], axis=-1)
    return img.astype(np.float32)


def test_level_sweep_one_image(restorer) -> None:
    calls = []
    rows = level_sweep(
        restorer, [clean()], "denoise", severities=[0.0, 1.0], progress=lambda d, t: calls.append(d)
    )
    assert len(rows) == 2 * len(LEVEL_METHODS) and calls == [1, 2]
    by = {(r.severity, r.method): r.metrics for r in rows}
    # Heavier noise scores worse for the input itself; the clean reference does not move.
    assert by[(1.0, "input")].psnr < by[(0.0, "input")].psnr
    assert by[(1.0, "ae_clean")] == by[(0.0, "ae_clean")]
    assert all(r.images == 1 for r in rows)
    header, body = level_table(rows, "psnr")
    assert header == ["severity", *LEVEL_METHODS]
    assert [b[0] for b in body] == [0.0, 1.0]
    assert body[1][1] == by[(1.0, "input")].psnr


def test_level_sweep_uses_the_given_degradation(restorer) -> None:
    seen = []

    def fake(task, image, *, seed, severity):
        seen.append((task, seed, severity))
        return np.clip(image + 0.1 * severity, 0, 1)

    rows = level_sweep(
        restorer,
        [clean(), clean()],
        "derain",
        severities=[0.5],
        seed=3,
        methods=["input"],
        degrade=fake,
    )
    assert seen == [("derain", 3, 0.5), ("derain", 4, 0.5)]
    assert [r.method for r in rows] == ["input"]
    with pytest.raises(ValueError, match="unknown methods"):
        level_sweep(restorer, [clean()], "derain", methods=["magic"])


def test_autoencode_shape(restorer) -> None:
    for state in ("zq", "chebyshev"):
        out = autoencode(restorer, clean(), state)
        assert out.shape == (24, 28, 3) and out.min() >= 0 and out.max() <= 1


def test_the_papers_decoding_is_measured_beside_the_restorer_config(restorer) -> None:
    from dataclasses import replace

    from restorecli.evaluate.levels import paper_restore

    config = restorer.config
    restorer.config = replace(config, fidelity=0.0, requantize="hard")
    want = restorer.restore_array(clean())
    restorer.config = replace(config, requantize="none")
    np.testing.assert_array_equal(paper_restore(restorer, clean()), want)
    assert restorer.config.requantize == "none"  # put back
    restorer.config = config
