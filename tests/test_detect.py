"""restorecli.detect: the views a photo is judged by, the detector's answer, the auto order."""

from __future__ import annotations

import numpy as np
import pytest

from restorecli.config import AUTO_ORDER, TASKS
from restorecli.detect import (
    PHYSICAL_ORDER,
    Detection,
    analysis_image,
    analysis_views,
    auto_plan,
    load_detector,
)
from restorecli.errors import ModelNotAvailableError, WeightsError
from restorecli.models.detector import DetectorConfig

CFG = DetectorConfig(crops=4, crop_size=16, global_size=12, analysis_side=64)


def test_large_photos_are_judged_at_the_analysis_size():
    image = np.random.default_rng(0).random((200, 100, 3), dtype=np.float32)
    assert analysis_image(image, 64).shape == (64, 32, 3)
    small = image[:40, :30]
    assert analysis_image(small, 64) is small  # never enlarged


def test_views_are_full_resolution_crops_and_the_shrunk_frame():
    image = np.random.default_rng(1).random((48, 64, 3), dtype=np.float32)
    crops, frame = analysis_views(image, CFG)
    assert crops.shape == (4, 16, 16, 3) and frame.shape == (12, 12, 3)
    # Crops are the photo's own pixels (not resampled), the first at the top-left corner.
    np.testing.assert_array_equal(crops[0], image[:16, :16])
    again, _ = analysis_views(image, CFG)
    np.testing.assert_array_equal(crops, again)  # the inference grid is fixed
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    assert np.array_equal(
        analysis_views(image, CFG, rng_a)[0], analysis_views(image, CFG, rng_b)[0]
    )


def test_a_photo_smaller_than_a_crop_is_padded():
    crops, frame = analysis_views(np.full((5, 9, 3), 0.5, np.float32), CFG)
    assert crops.shape == (4, 16, 16, 3) and np.allclose(crops, 0.5) and np.allclose(frame, 0.5)


def test_auto_runs_tasks_in_the_reverse_of_how_photos_get_them():
    assert set(AUTO_ORDER) == set(TASKS)
    assert tuple(reversed(AUTO_ORDER)) == PHYSICAL_ORDER
    found = [Detection("dehaze", 0.9), Detection("denoise", 0.6), Detection("derain", 0.7)]
    assert auto_plan(found) == ["denoise", "derain", "dehaze"]
    assert auto_plan([]) == []


def test_detect_returns_the_tasks_over_the_threshold(detector_file):
    detector = load_detector(detector_file({"derain": 0.9, "dehaze": 0.6}), device="cpu")
    image = np.random.default_rng(2).random((40, 50, 3), dtype=np.float32)
    found = detector.detect(image)
    assert [d.task for d in found] == ["derain", "dehaze"]  # most confident first
    assert found[0].confidence == pytest.approx(0.9, abs=1e-3)
    assert [d.task for d in detector.detect(image, threshold=0.7)] == ["derain"]
    scores = detector.scores([image, image[::-1]])  # a video: the mean over its frames
    assert set(scores) == set(detector.labels) and scores["denoise"] < 0.05


def test_a_clean_answer_is_an_empty_list(detector_file):
    detector = load_detector(detector_file({}), device="cpu")
    assert detector.detect(np.zeros((20, 20, 3), np.float32)) == []


def test_loading_errors_are_clear(tmp_path, detector_file, monkeypatch):
    with pytest.raises(WeightsError, match="do not exist"):
        load_detector(tmp_path / "none.safetensors")
    with pytest.raises(ModelNotAvailableError, match="not a detector"):
        load_detector("derain-cheb")
