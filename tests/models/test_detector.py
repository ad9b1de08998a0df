"""The degradation detector network: shapes, config checks, a round trip through a file."""

from __future__ import annotations

import pytest
import torch

from restorecli.models import load_model, save_model
from restorecli.models.detector import DegradationDetector, DetectorConfig

TINY = DetectorConfig(width=4, crops=3, crop_size=16, global_size=24)


def test_one_logit_per_label_for_each_photo():
    model = DegradationDetector(TINY).eval()
    crops, frame = torch.rand(2, 3, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 24, 24) * 2 - 1
    logits = model(crops, frame)
    assert logits.shape == (2, len(TINY.labels))
    # Each photo is judged on its own views alone.
    assert torch.allclose(model(crops[:1], frame[:1]), logits[:1], atol=1e-5)


def test_every_crop_counts():
    torch.manual_seed(0)
    model = DegradationDetector(DetectorConfig(width=8, crops=3, crop_size=64)).eval()
    crops, frame = torch.rand(1, 3, 3, 64, 64), torch.rand(1, 3, 128, 128)
    streaked = crops.clone()
    streaked[0, 1, :, :, 30:32] = 1.0  # a streak in one crop only
    change = (model(crops, frame) - model(streaked, frame)).abs().max()
    assert change > 1e-4  # (torch.std over a 1x1 map, or a vanishing init, gives ~1e-8)


@pytest.mark.parametrize("change", [{"labels": ()}, {"width": 0}, {"crops": 0}, {"crop_size": -1}])
def test_bad_configs_are_refused(change):
    with pytest.raises(ValueError):
        DetectorConfig(**change)


def test_saved_and_loaded_as_a_restorecli_file(tmp_path):
    model = DegradationDetector(TINY).eval()
    path = save_model(model, tmp_path / "det.safetensors", dtype=torch.float16)
    loaded = load_model(path, kind="detector")
    assert isinstance(loaded, DegradationDetector)
    assert loaded.config == TINY
    x, f = torch.rand(1, 3, 3, 16, 16), torch.rand(1, 3, 24, 24)
    assert torch.allclose(loaded(x, f), model.half().float()(x, f), atol=1e-2)
