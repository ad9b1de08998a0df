"""restorecli.auto: the decision per file, the chain of models, keeping a clean file."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.auto import AutoRestorer, ChainRestorer, Decision, restore_auto
from restorecli.jobs.inputs import open_input
from restorecli.jobs.options import FileOptions
from restorecli.jobs.results import KEPT, RESTORED


class Step:
    """A restorer that adds ``delta`` and records the sessions it was given."""

    config = None
    device = "cpu"

    def __init__(self, task: str, delta: float) -> None:
        self.task, self.name, self.delta = task, f"{task}-model", delta
        self.sessions: list[object] = []

    def restore_array(self, image, *, callback=None):
        return image + self.delta

    def restore_batch(self, frames, *, callback=None, session=None):
        self.sessions.append(session)
        return frames * 2 + self.delta

    def check_config(self, given=()):
        pass

    @contextlib.contextmanager
    def sequence(self):
        yield f"{self.task}-session"


class Scores:
    """A detector stand-in with fixed confidences."""

    def __init__(self, **scores: float) -> None:
        self.values = {t: 0.0 for t in ("derain", "dehaze", "denoise")} | scores

    def scores(self, frames):
        return dict(self.values)


def test_chain_applies_its_models_in_order_with_a_session_each():
    a, b = Step("denoise", 1.0), Step("derain", 10.0)
    chain = ChainRestorer([a, b])
    assert chain.restore_array(np.zeros(3)).tolist() == [11.0] * 3
    with chain.sequence() as sessions:
        out = chain.restore_batch(np.ones((1, 2)), session=sessions)
    assert out.tolist() == [[(1 * 2 + 1) * 2 + 10] * 2]
    assert a.sessions == ["denoise-session"] and b.sessions == ["derain-session"]
    assert chain.name == "denoise-model+derain-model" and chain.task == "denoise+derain"
    with pytest.raises(ValueError):
        ChainRestorer([])


def test_decision_orders_the_tasks_and_says_why():
    loads: list[str] = []

    def load(task):
        loads.append(task)
        return Step(task, 0.0)

    auto = AutoRestorer(Scores(dehaze=0.8, denoise=0.55, derain=0.3), load, threshold=0.5)
    decision = auto.decide([np.zeros((4, 4, 3))])
    assert decision.tasks == ["denoise", "dehaze"]
    assert "denoise 0.55" in decision.describe() and "denoise then dehaze" in decision.describe()
    auto.restorer_for(decision.tasks)
    auto.restorer_for(["dehaze"])
    assert loads == ["denoise", "dehaze"]  # each model loaded once
    clean = Decision([], {"derain": 0.2, "dehaze": 0.1})
    assert clean.describe() == "judged clean (highest: derain 0.20); kept unchanged"


def _jpeg(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(path, quality=80)
    return path


def test_a_clean_photo_is_kept_byte_for_byte(tmp_path):
    src = _jpeg(tmp_path / "in.jpg")
    auto = AutoRestorer(Scores(), lambda t: pytest.fail("no model should load"), threshold=0.5)
    with open_input(src) as media:
        result = restore_auto(auto, media, tmp_path / "out.jpg", FileOptions())
    assert result.status == KEPT and result.tasks == []
    assert result.notes[0].startswith("judged clean")
    assert (tmp_path / "out.jpg").read_bytes() == src.read_bytes()
    # Another format: the same pixels, written as that format asks.
    with open_input(src) as media:
        result = restore_auto(auto, media, tmp_path / "out.png", FileOptions())
    assert result.status == KEPT
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "out.png")), np.asarray(Image.open(src))
    )
    # To a stream: the input's bytes.
    stream = io.BytesIO()
    with open_input(src) as media:
        restore_auto(auto, media, stream, FileOptions())
    assert stream.getvalue() == src.read_bytes()


def test_a_stdin_photo_judged_clean_comes_back_as_it_came(tmp_path):
    data = _jpeg(tmp_path / "in.jpg").read_bytes()
    auto = AutoRestorer(Scores(), lambda t: pytest.fail("no model should load"), threshold=0.5)
    stream = io.BytesIO()
    with open_input(data) as media:
        restore_auto(auto, media, stream, FileOptions())
    assert stream.getvalue() == data


def test_detected_tasks_restore_the_photo(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(src)
    auto = AutoRestorer(Scores(derain=0.9), lambda t: Step(t, 0.2), threshold=0.5)
    with open_input(src) as media:
        result = restore_auto(auto, media, tmp_path / "out.png", FileOptions())
    assert result.status == RESTORED and result.tasks == ["derain"]
    assert result.scores["derain"] == 0.9
    out = np.asarray(Image.open(tmp_path / "out.png")).astype(int)
    assert np.all(out == 100 + 51)  # + 0.2 of 255


def test_a_detected_task_without_a_model_is_skipped_with_a_note():
    auto = AutoRestorer(
        Scores(denoise=0.8, derain=0.9), lambda t: Step(t, 0.0), 0.5, available={"derain"}
    )
    decision = auto.decide([np.zeros((4, 4, 3))])
    assert decision.tasks == ["derain"] and decision.skipped == ["denoise"]
    assert decision.describe().startswith("detected denoise 0.80 but no model is registered")
    only = AutoRestorer(Scores(denoise=0.8), lambda t: Step(t, 0.0), 0.5, available=set())
    decision = only.decide([np.zeros((4, 4, 3))])
    assert decision.tasks == [] and decision.describe().endswith("skipped; kept unchanged")
