"""A fake restorer (1 - x), tiny inputs, and a counter of the containers FFmpeg opens."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image


@dataclasses.dataclass
class FakeConfig:
    init: str = "chebyshev"
    steps: int = 4
    seed: int | None = 0
    batch_size: int = 2


class FakeRestorer:
    """Stands in for restorecli.pipeline.Restorer: inverts the image."""

    task: str | None = None  # as the real one: None when the model's task is unknown
    name: str | None = None

    device = "cpu"

    def sequence(self):
        return contextlib.nullcontext()

    def check_config(self, given=()) -> None:
        """The real one refuses options the model lacks parts for; the fake has them all."""

    def __init__(self) -> None:
        self.config = FakeConfig()
        self.calls = 0

    def restore_array(self, image: np.ndarray, *, callback=None) -> np.ndarray:
        self.calls += 1
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
        return 1.0 - image

    def restore_batch(self, frames: np.ndarray, *, callback=None, session=None) -> np.ndarray:
        self.calls += 1
        assert frames.dtype == np.float32 and frames.ndim == 4
        return 1.0 - frames


def write_png(path: Path, seed: int = 0, size: tuple[int, int] = (8, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(int)


def make_video(path: Path, frames: int = 5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for i in range(frames):
            img = np.full((24, 32, 3), 20 * i, dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return path


def count_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files FFmpeg opens for reading from now on (``av.open`` in mode "r"), in order."""
    opened: list[str] = []
    real_open = av.open

    def spy(file, mode=None, *args, **kwargs):
        if mode in (None, "r"):
            opened.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(av, "open", spy)
    return opened
