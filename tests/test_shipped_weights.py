"""The weights bundled in the package: present, verified, and doing their job on a test scene.

Marked ``weights``; skipped where the package ships none. The scene is drawn here (smooth
gradients and hard-edged shapes, no photo files needed) and degraded with restorecli.degrade.
"""

from __future__ import annotations

import numpy as np
import pytest

from restorecli.degrade import degrade
from restorecli.evaluate.metrics import psnr
from restorecli.weights import load_registry
from restorecli.weights.registry import DETECT_TASK

pytestmark = [pytest.mark.weights, pytest.mark.usefixtures("torch_one_thread")]

REGISTRY = load_registry(include_builtin=True)
BUNDLED = {  # the restoration models: the detector is no restorer (restore detect loads it)
    name: entry
    for name, entry in REGISTRY.models.items()
    if entry.task != DETECT_TASK
    and all(f.bundled is not None and f.bundled.is_file() for f in entry.files)
}
if not BUNDLED:
    pytest.skip("no weights are bundled in this package", allow_module_level=True)


def scene(size: int = 128, seed: int = 0) -> np.ndarray:
    """Gradients with a few flat-coloured discs and boxes: edges and smooth areas."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.7 - 0.4 * xx * yy], axis=-1)
    for _ in range(6):
        colour = rng.uniform(0.05, 0.95, 3).astype(np.float32)
        cx, cy, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.05, 0.2)
        if rng.random() < 0.5:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        else:
            mask = (abs(xx - cx) < r) & (abs(yy - cy) < r * 0.6)
        img[mask] = colour
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def restorers():
    from restorecli.jobs.restorer import load_restorer

    return {name: load_restorer(name, task=e.task, device="cpu") for name, e in BUNDLED.items()}


def test_every_task_command_has_a_bundled_default():
    for task in ("derain", "dehaze"):
        assert REGISTRY.default_for(task) in BUNDLED


def test_the_autoencoder_reconstructs_the_scene(restorers):
    from restorecli.evaluate.levels import autoencode

    image = scene()
    for restorer in restorers.values():
        assert psnr(autoencode(restorer, image, "zq"), image) > 25


@pytest.mark.parametrize("task", ["derain", "dehaze"])
def test_the_default_model_restores_what_the_task_names(restorers, task):
    from restorecli.evaluate.metrics import ssim

    image = scene(seed=1)
    degraded = degrade(task, image, seed=3, severity=0.7)
    restored = restorers[REGISTRY.default_for(task)].restore_array(degraded)
    assert restored.shape == image.shape
    # A drawn scene is far from the training photos: ask for a clear gain, not the benchmark's.
    assert psnr(restored, image) > psnr(degraded, image) + 1
    assert ssim(restored, image) > ssim(degraded, image)


def test_the_readme_python_example_runs():
    """The README's Python API block, run as written (it uses the shipped dehaze model)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    hazy, clear, raw = namespace["hazy"], namespace["clear"], namespace["raw"]
    assert clear.shape == raw.shape == hazy.shape and clear.dtype == np.float32
    assert namespace["restorer"].config.guide_radius == 64
    assert not np.allclose(clear, raw)  # the guided filter did run in the first call only
