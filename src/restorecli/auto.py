"""``restore auto`` and ``restore batch --task auto``: detect what a file needs, then do it.

The detector (``restorecli.detect``) names the tasks; their models run one after the other on
every frame in ``config.AUTO_ORDER`` (``ChainRestorer``); a file judged clean is kept as it is,
byte for byte when the output has the input's format (``jobs.outputs.keep_media``). Models
are loaded once, on first need, and reused for every later file.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from restorecli.protocols import Callback, FrameRestorer

# Frames of a video the detector judges it by.
VIDEO_SAMPLES = 3


@dataclasses.dataclass
class ChainRestorer:
    """Several restorers applied in turn to each frame; one FrameRestorer to the file code."""

    restorers: Sequence[FrameRestorer]

    def __post_init__(self) -> None:
        if not self.restorers:
            raise ValueError("a chain needs at least one restorer")

    @property
    def name(self) -> str:
        return "+".join(str(r.name) for r in self.restorers)

    @property
    def task(self) -> str:
        return "+".join(str(r.task) for r in self.restorers)

    @property
    def config(self) -> Any:  # batch size and tiling: the first model's
        return self.restorers[0].config

    @property
    def device(self) -> Any:
        return self.restorers[0].device

    def restore_array(self, image: np.ndarray, *, callback: Callback | None = None) -> np.ndarray:
        for restorer in self.restorers:
            image = restorer.restore_array(image, callback=callback)
        return image

    def restore_batch(
        self, frames: np.ndarray, *, callback: Callback | None = None, session: Any = None
    ) -> np.ndarray:
        sessions = session if session is not None else [None] * len(self.restorers)
        for restorer, own in zip(self.restorers, sessions, strict=True):
            frames = restorer.restore_batch(frames, callback=callback, session=own)
        return frames

    def check_config(self, given: Collection[str] = ()) -> None:
        for restorer in self.restorers:
            restorer.check_config(given)

    @contextlib.contextmanager
    def sequence(self) -> Iterator[list[Any]]:
        """One session per model: each keeps its own state across the video's frames."""
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(r.sequence()) for r in self.restorers]


@dataclasses.dataclass
class Decision:
    """What the detector said of one file, and what will be done."""

    tasks: list[str]  # in the order they run; [] = keep the file as it is
    scores: dict[str, float]  # every task's confidence
    skipped: list[str] = dataclasses.field(default_factory=list)  # detected, but no model

    def describe(self) -> str:
        missing = ""
        if self.skipped:
            found = ", ".join(f"{t} {self.scores[t]:.2f}" for t in self.skipped)
            missing = f"detected {found} but no model is registered for it: skipped; "
        if self.tasks:
            found = ", ".join(f"{t} {self.scores[t]:.2f}" for t in self.tasks)
            return f"{missing}detected {found}; running {' then '.join(self.tasks)}"
        if missing:
            return f"{missing}kept unchanged"
        task, top = max(self.scores.items(), key=lambda kv: kv[1])
        return f"judged clean (highest: {task} {top:.2f}); kept unchanged"


class AutoRestorer:
    """Per file: detect, then restore with the detected tasks' models, or keep the file.

    ``load(task)`` returns the restorer of a task (called once per task); ``detector`` is a
    ``restorecli.detect.Detector``; ``available``: the tasks that have a model (None: all), a
    detected task without one is skipped with a note rather than failing the file.
    """

    def __init__(
        self,
        detector: Any,
        load: Callable[[str], FrameRestorer],
        threshold: float,
        available: Collection[str] | None = None,
    ) -> None:
        self.detector = detector
        self.threshold = threshold
        self.available = None if available is None else set(available)
        self._load = load
        self._loaded: dict[str, FrameRestorer] = {}

    def decide(self, frames: Sequence[np.ndarray]) -> Decision:
        from restorecli.detect import auto_plan, detected

        scores = self.detector.scores(frames)
        planned = auto_plan(detected(scores, self.threshold))
        if self.available is None:
            return Decision(planned, scores)
        runnable = [t for t in planned if t in self.available]
        return Decision(runnable, scores, [t for t in planned if t not in self.available])

    def restorer_for(self, tasks: Sequence[str]) -> FrameRestorer:
        for task in tasks:
            if task not in self._loaded:
                self._loaded[task] = self._load(task)
        chain = [self._loaded[t] for t in tasks]
        return chain[0] if len(chain) == 1 else ChainRestorer(chain)


def detection_frames(media: Any) -> list[np.ndarray]:
    """The frames a file is judged by: the image, or a few frames spread over the video."""
    if media.image is not None:
        return [media.image.rgb]
    from restorecli.media.video.sample import sample_frames

    return sample_frames(media.source_path, VIDEO_SAMPLES)


def restore_auto(
    auto: AutoRestorer,
    media: Any,
    dst: Path | BinaryIO,
    options: Any,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    create_parents: bool = False,
) -> Any:
    """Decide for ``media`` and restore it into ``dst`` (or keep it); returns a FileResult
    whose ``tasks`` are what ran and whose first note says why."""
    from restorecli.jobs.outputs import keep_media, restore_media

    decision = auto.decide(detection_frames(media))
    if decision.tasks:
        restorer = auto.restorer_for(decision.tasks)
        result = restore_media(
            restorer, media, dst, options, progress=progress, create_parents=create_parents
        )
    else:
        result = keep_media(media, dst, options, create_parents=create_parents)
    result.tasks = list(decision.tasks)
    result.scores = {t: round(p, 4) for t, p in decision.scores.items()}
    result.notes.insert(0, decision.describe())
    return result
