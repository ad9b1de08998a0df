"""A fake restorer (1 - x), tiny inputs, and a counter of the containers FFmpeg opens.

Shared beyond tests/jobs: tests/cli and tests/media/video import it as ``jobs.fakes``."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import time
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


def pixels(data: Path | bytes) -> np.ndarray:
    """The pixels of an image file, or of an image held in memory as bytes."""
    return np.asarray(Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)).astype(int)


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


def make_clip(
    path: Path, frames: int = 36, *, gop: int = 6, audio: bool = True, subtitles: bool = False
) -> Path:
    """A 32x24 H.264 video with a keyframe every ``gop`` frames (B-frames between), a sine-tone
    AAC track and, in Matroska, a subtitle: something ``video_split`` can cut."""
    from fractions import Fraction

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "crf": "12"}
        video = out.add_stream("libx264", rate=25, options=options)
        video.width, video.height, video.pix_fmt = 32, 24, "yuv420p"
        sound = out.add_stream("aac", rate=16000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        text, srt = None, None
        if subtitles:  # a subtitle stream is added from one FFmpeg read
            path.with_suffix(".srt").write_text("1\n00:00:00,000 --> 00:00:00,300\nhello\n\n")
            srt = av.open(str(path.with_suffix(".srt")))
            text = out.add_stream_from_template(srt.streams.subtitles[0])
        for i in range(frames):
            y, x = np.mgrid[0:24, 0:32]
            rgb = np.stack([40 + 4 * x, 40 + 6 * y, np.full_like(x, 60 + 4 * i)], axis=-1)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            mux_tone(out, sound, 16000 * frames // 25)
        if srt is not None:
            mux_subtitles(out, srt, text)
    return path


def mux_tone(
    out: av.container.OutputContainer, sound, count: int, *, step: int = 1024, fmt: str = "fltp"
) -> None:
    """``count`` samples of a 440 Hz sine tone into the mono audio stream ``sound`` of ``out``,
    ``step`` samples a frame in sample format ``fmt`` ("s16": scaled to 16 bits), then the
    encoder's last packets."""
    rate = sound.codec_context.sample_rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(count) / rate)).astype(np.float32)[None]
    for start in range(0, count, step):
        chunk = np.ascontiguousarray(tone[:, start : start + step])
        if fmt == "s16":
            chunk = (chunk * 20000).astype(np.int16)
        samples = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
        samples.sample_rate, samples.pts = rate, start
        out.mux(sound.encode(samples))
    out.mux(sound.encode(None))


def mux_subtitles(out: av.container.OutputContainer, srt: av.container.InputContainer, stream):
    """Copy the subtitle packets of ``srt`` into ``stream`` of ``out`` (added from its template),
    then close ``srt``."""
    for packet in srt.demux(srt.streams.subtitles[0]):
        if packet.size:
            packet.stream = stream
            out.mux(packet)
    srt.close()


class CrashOnce(FakeRestorer):
    """Kills its own process on the first video batch it sees, once across processes (the
    ``marker`` file remembers): a Ray worker dying mid-file."""

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def restore_batch(self, frames: np.ndarray, *, callback=None, session=None) -> np.ndarray:
        if not self.marker.exists():
            self.marker.touch()
            os._exit(1)
        return super().restore_batch(frames, callback=callback, session=session)


class CrashThenRestartSlowly(CrashOnce):
    """:class:`CrashOnce` whose restarted process takes ``delay`` seconds to come back (a
    model loading on a busy machine)."""

    def __init__(self, marker: Path, delay: float = 3.0) -> None:
        if marker.exists():
            time.sleep(delay)
        super().__init__(marker)
