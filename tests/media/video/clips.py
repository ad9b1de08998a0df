"""Tiny videos made here with PyAV, and helpers to compare a restored video with its source."""

from __future__ import annotations

import io
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from jobs.fakes import mux_subtitles, mux_tone
from restorecli.media.video import probe_video

W, H, N, RATE = 32, 24, 20, 25


def invert(frames: np.ndarray) -> np.ndarray:
    return 1.0 - frames


def pattern(i: int, w: int, h: int) -> np.ndarray:
    """Smooth moving colour gradients: survive H.264 at small sizes with little loss."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 40 + 150 * x / max(w - 1, 1)
    g = 40 + 150 * y / max(h - 1, 1)
    b = np.full_like(x, 60 + 6 * i)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def make_video(
    path: Path,
    *,
    frames: int = N,
    size: tuple[int, int] = (W, H),
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio: str | None = "aac",
    rotation: int | None = None,
    pix_fmt: str = "yuv420p",
    subtitles: Path | None = None,
    fmt: str | None = None,
) -> Path:
    """Write a tiny H.264 video (plus a sine-tone audio track unless ``audio`` is None)."""
    w, h = size
    out = av.open(str(path), "w", format=fmt)
    video = out.add_stream("libx264", rate=RATE, options={"preset": "ultrafast", "crf": "12"})
    video.width, video.height, video.pix_fmt = w, h, pix_fmt
    if time_base is not None:
        video.time_base = time_base
        video.codec_context.time_base = time_base
    if rotation is not None:
        video.set_display_rotation(rotation)
    sound = None
    if audio:
        sound = out.add_stream(audio, rate=48000 if "opus" in audio else 16000)
        sound.layout = "mono"
    srt = None
    if subtitles is not None:
        srt = av.open(str(subtitles))
        text = out.add_stream_from_template(srt.streams.subtitles[0])
    stamps = pts if pts is not None else list(range(frames))
    for i, stamp in enumerate(stamps):
        array = pattern(i, w, h)
        frame = av.VideoFrame.from_ndarray(array, format="rgb24")
        if pix_fmt != "yuv420p":
            frame = frame.reformat(format=pix_fmt)
        frame.pts = stamp
        frame.time_base = time_base or Fraction(1, RATE)
        out.mux(video.encode(frame))
    if sound is not None:
        count = sound.codec_context.sample_rate * len(stamps) // RATE
        fmt = "s16" if audio.startswith("pcm") else "fltp" if audio == "aac" else "flt"
        mux_tone(out, sound, count, step=960 if "opus" in audio else 1024, fmt=fmt)
    if srt is not None:
        mux_subtitles(out, srt, text)
    out.mux(video.encode(None))
    out.close()
    return path


def open_media(path: Path | bytes) -> av.container.InputContainer:
    """Open a video file, or a video held in memory as bytes."""
    return av.open(io.BytesIO(path) if isinstance(path, bytes) else str(path))


def decode_rgb(path: Path | bytes) -> np.ndarray:
    with open_media(path) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames).astype(np.float32) / 255.0


def video_timing(path: Path) -> tuple[list[Fraction], Fraction, float]:
    """(pts in seconds, time base, video duration in seconds) read from the container."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        stamps = sorted(p.pts * tb for p in container.demux(stream) if p.size)
    info = probe_video(path)
    return stamps, tb, info.duration


def audio_packets(path: Path | bytes) -> list[tuple[bytes, Fraction | None]]:
    with open_media(path) as container:
        stream = container.streams.audio[0]
        tb = stream.time_base
        return [
            (bytes(p), None if p.pts is None else p.pts * tb)
            for p in container.demux(stream)
            if p.size
        ]


def audio_vs_video(path: Path | bytes) -> list[tuple[bytes, Fraction | None]]:
    """Audio packets with times relative to the first video frame (what A/V sync needs)."""
    with open_media(path) as container:
        video = container.streams.video[0]
        start = min(p.pts for p in container.demux(video) if p.size) * video.time_base
    return [(data, None if t is None else t - start) for data, t in audio_packets(path)]


def assert_inverted(src: Path, out: Path | bytes) -> None:
    expected = 1.0 - decode_rgb(src)
    got = decode_rgb(out)
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 0.03


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def no_worker_threads() -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not any(t.name.startswith("restorecli-video") for t in threading.enumerate()):
            return True
        time.sleep(0.05)
    return False


class OneWay(io.RawIOBase):
    """A non-seekable byte stream (like a pipe): any seek attempt fails the test."""

    def __init__(self, data: bytes = b"") -> None:
        self._data = io.BytesIO(data)
        self.written = bytearray()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def write(self, data) -> int:
        self.written += bytes(data)
        return len(data)
