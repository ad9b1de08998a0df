"""Tests for restorecli.media.video on tiny videos made here with PyAV."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import restorecli
from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    OutputExistsError,
    OutputFormatError,
    UnsupportedInputError,
)
from restorecli.media.video import (
    VideoOptions,
    is_video,
    probe_video,
    restore_video,
)

W, H, N, RATE = 32, 24, 20, 25


def invert(frames: np.ndarray) -> np.ndarray:
    return 1.0 - frames


def _pattern(i: int, w: int, h: int) -> np.ndarray:
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
        array = _pattern(i, w, h)
        frame = av.VideoFrame.from_ndarray(array, format="rgb24")
        if pix_fmt != "yuv420p":
            frame = frame.reformat(format=pix_fmt)
        frame.pts = stamp
        frame.time_base = time_base or Fraction(1, RATE)
        out.mux(video.encode(frame))
    if sound is not None:
        rate = sound.codec_context.sample_rate
        count = rate * len(stamps) // RATE
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(count) / rate)
        samples = tone.astype(np.float32)[None]
        step = 960 if "opus" in audio else 1024
        for start in range(0, count, step):
            chunk = np.ascontiguousarray(samples[:, start : start + step])
            if audio.startswith("pcm"):
                chunk, layout = (chunk * 20000).astype(np.int16), "s16"
            else:
                layout = "fltp" if audio == "aac" else "flt"
            frame = av.AudioFrame.from_ndarray(chunk, format=layout, layout="mono")
            frame.sample_rate, frame.pts = rate, start
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    if srt is not None:
        for packet in srt.demux(srt.streams.subtitles[0]):
            if packet.size:
                packet.stream = text
                out.mux(packet)
        srt.close()
    out.mux(video.encode(None))
    out.close()
    return path


def decode_rgb(path: Path | bytes) -> np.ndarray:
    source = io.BytesIO(path) if isinstance(path, bytes) else str(path)
    with av.open(source) as container:
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
    source = io.BytesIO(path) if isinstance(path, bytes) else str(path)
    with av.open(source) as container:
        stream = container.streams.audio[0]
        tb = stream.time_base
        return [
            (bytes(p), None if p.pts is None else p.pts * tb)
            for p in container.demux(stream)
            if p.size
        ]


def audio_vs_video(path: Path | bytes) -> list[tuple[bytes, Fraction | None]]:
    """Audio packets with times relative to the first video frame (what A/V sync needs)."""
    source = io.BytesIO(path) if isinstance(path, bytes) else str(path)
    with av.open(source) as container:
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


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    srt = folder / "text.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,300\nhello there\n\n")
    return {
        "mp4": make_video(folder / "clip.mp4"),
        "mkv": make_video(folder / "clip.mkv"),
        "rotated": make_video(folder / "rotated.mp4", rotation=90),
        "vfr": make_video(
            folder / "vfr.mkv", pts=[0, 1, 3, 4, 7, 8, 9, 12, 13, 14, 20], audio=None
        ),
        "odd": make_video(folder / "odd.mkv", size=(33, 25), pix_fmt="yuv444p", audio=None),
        "opus_srt": make_video(folder / "opus.mkv", frames=10, audio="libopus", subtitles=srt),
        "10bit": make_video(folder / "deep.mkv", frames=6, pix_fmt="yuv420p10le", audio=None),
    }


# --- timing, audio and frames --------------------------------------------------------------


def test_mp4_keeps_frames_timing_and_audio_packets(videos, tmp_path):
    src, dst = videos["mp4"], tmp_path / "out.mp4"
    seen: list[int] = []

    def process(frames: np.ndarray) -> np.ndarray:
        assert frames.dtype == np.float32 and frames.ndim == 4 and frames.shape[-1] == 3
        assert frames.min() >= 0.0 and frames.max() <= 1.0
        seen.append(len(frames))
        return 1.0 - frames

    report = restore_video(src, dst, process, options=VideoOptions(batch_size=3))
    assert max(seen) <= 3 and sum(seen) == N
    assert report.frames == N and report.codec == "libx264" and report.audio_copied == 1

    a, b = probe_video(src, count_frames=True), probe_video(dst, count_frames=True)
    assert b.frames == a.frames == N
    assert b.fps == a.fps == RATE
    assert (b.width, b.height) == (W, H)
    assert b.has_audio
    pts_in, tb_in, dur_in = video_timing(src)
    pts_out, tb_out, dur_out = video_timing(dst)
    assert tb_out == tb_in
    assert pts_out == pts_in
    assert abs(dur_out - dur_in) <= 1 / RATE
    assert audio_packets(dst) == audio_packets(src)  # copied byte for byte, same times
    assert_inverted(src, dst)


def test_variable_frame_rate_pts_carried(videos, tmp_path):
    src, dst = videos["vfr"], tmp_path / "out.mkv"
    restore_video(src, dst, invert)
    pts_in, _, dur_in = video_timing(src)
    pts_out, _, dur_out = video_timing(dst)
    assert pts_out == pts_in
    assert abs(dur_out - dur_in) <= 1 / RATE


def test_rotation_metadata_carried_and_frames_not_rotated(videos, tmp_path):
    src = videos["rotated"]
    assert probe_video(src).rotation == 90
    shapes: list[tuple[int, ...]] = []
    for name in ("out.mp4", "out.mkv"):
        dst = tmp_path / name
        report = restore_video(src, dst, lambda f: shapes.append(f.shape) or 1.0 - f)
        assert report.rotation == 90
        assert shapes[-1][1:3] == (H, W)  # stored orientation, not the displayed one
        info = probe_video(dst)
        assert info.rotation == 90 and (info.width, info.height) == (W, H)


def test_odd_dimensions_padded_for_yuv420(videos, tmp_path):
    src, dst = videos["odd"], tmp_path / "out.mp4"
    report = restore_video(src, dst, invert)
    assert report.padding == (1, 1) and (report.width, report.height) == (34, 26)
    assert any("padded" in note for note in report.notes)
    got = decode_rgb(dst)
    assert got.shape[1:3] == (26, 34)
    expected = 1.0 - decode_rgb(src)
    assert np.abs(got[:, :25, :33] - expected).mean() < 0.03
    # the padding repeats the edge instead of adding a black border
    assert np.abs(got[:, :25, 33] - got[:, :25, 32]).mean() < 0.05


def test_ten_bit_input_keeps_precision(videos, tmp_path):
    src, dst = videos["10bit"], tmp_path / "out.mkv"
    assert probe_video(src).bit_depth == 10
    batches: list[np.ndarray] = []
    report = restore_video(src, dst, lambda f: batches.append(f.copy()) or f)
    assert report.pix_fmt == "yuv420p10le"
    assert probe_video(dst).bit_depth == 10
    values = np.concatenate([b.ravel() for b in batches]) * 255
    assert np.abs(values - np.round(values)).max() > 0.01  # finer steps than 8-bit
    assert np.abs(decode_rgb(dst) - decode_rgb(src)).mean() < 0.03


def test_no_audio_drops_audio_and_subtitles(videos, tmp_path):
    dst = tmp_path / "out.mkv"
    report = restore_video(videos["opus_srt"], dst, invert, options=VideoOptions(audio=False))
    assert report.audio_copied == report.subtitles_copied == 0
    assert report.streams_dropped == 2
    with av.open(str(dst)) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_subtitles_copied_when_container_allows(videos, tmp_path):
    src, dst = videos["opus_srt"], tmp_path / "out.mkv"
    report = restore_video(src, dst, invert)
    assert report.audio_copied == 1 and report.subtitles_copied == 1
    assert audio_packets(dst) == audio_packets(src)
    with av.open(str(dst)) as container:
        text = [bytes(p) for p in container.demux(container.streams.subtitles[0]) if p.size]
    assert text == [b"hello there"]


def test_audio_reencoded_when_container_refuses_codec(videos, tmp_path):
    dst = tmp_path / "out.avi"  # AVI cannot hold Opus (nor SubRip)
    report = restore_video(videos["opus_srt"], dst, invert)
    assert report.audio_reencoded == 1 and report.audio_copied == 0
    assert any("re-encoded" in note for note in report.notes)
    assert any("subtitles: dropped" in note for note in report.notes)
    with av.open(str(dst)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        samples = sum(f.samples for f in container.decode(audio=0))
    assert abs(samples / 48000 - 10 / RATE) < 0.1
    assert_inverted(videos["opus_srt"], dst)


def test_progress_reports_done_and_total(videos, tmp_path):
    calls: list[tuple[int, int | None]] = []
    restore_video(
        videos["mp4"],
        tmp_path / "out.mp4",
        invert,
        options=VideoOptions(batch_size=4),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[0] == (0, N) and calls[-1] == (N, N)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_encoder_fallback_and_mpeg4(videos, tmp_path):
    report = restore_video(
        videos["mkv"], tmp_path / "a.mkv", invert, options=VideoOptions(codec="no-such-encoder")
    )
    assert report.codec == "libx264" and any("no-such-encoder" in n for n in report.notes)
    dst = tmp_path / "b.mp4"
    report = restore_video(videos["mkv"], dst, invert, options=VideoOptions(codec="mpeg4"))
    assert report.codec == "mpeg4" and probe_video(dst).codec == "mpeg4"
    assert np.abs(decode_rgb(dst) - (1.0 - decode_rgb(videos["mkv"]))).mean() < 0.06


# --- pipes ------------------------------------------------------------------------------------


class _OneWay(io.RawIOBase):
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


def test_non_seekable_streams_in_and_out(videos):
    src = videos["rotated"]
    reader = io.BufferedReader(_OneWay(src.read_bytes()))
    sink = _OneWay()
    report = restore_video(reader, sink, invert)
    assert report.frames == N
    data = bytes(sink.written)
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name.startswith("matroska")
    assert_inverted(src, data)
    # Matroska cannot start below zero, so the muxer may shift every stream by the AAC
    # priming delay; the packets and their timing against the video must not change.
    assert audio_vs_video(data) == audio_vs_video(src)


def test_stdin_to_stdout_with_dash(videos, tmp_path):
    src = videos["mkv"]
    code = (
        "import sys\n"
        "from restorecli.media.video import restore_video\n"
        "report = restore_video('-', '-', lambda f: 1.0 - f)\n"
        "print(report.frames, file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(restorecli.__file__).parents[1]))
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=src.read_bytes(),  # a pipe: not seekable
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode().strip().endswith(str(N))
    out = tmp_path / "piped.mkv"
    out.write_bytes(done.stdout)
    assert probe_video(out, count_frames=True).frames == N
    assert_inverted(src, out)


# --- errors leave nothing behind ------------------------------------------------------------


def test_truncated_video_raises_corrupt_and_leaves_no_output(videos, tmp_path):
    data = videos["mp4"].read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptInputError) as caught:
        restore_video(bad, tmp_path / "out.mp4", invert)
    assert "\n" not in str(caught.value)
    assert leftovers(tmp_path, {"bad.mp4"}) == []


def test_truncated_matroska_is_restored_with_a_note(videos, tmp_path):
    data = videos["mkv"].read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])  # Matroska needs no index: the start still plays
    report = restore_video(cut, tmp_path / "out.mkv", invert)
    assert 0 < report.frames < N
    assert any("truncated" in note for note in report.notes)


def test_empty_file_raises_corrupt(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(CorruptInputError, match="empty"):
        restore_video(empty, tmp_path / "out.mp4", invert)
    with pytest.raises(CorruptInputError, match="empty"):  # an empty pipe
        restore_video(io.BufferedReader(_OneWay()), tmp_path / "out.mp4", invert)
    assert leftovers(tmp_path, {"empty.mp4"}) == []


def test_not_a_video_and_unknown_codec_are_unsupported(videos, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some words\n" * 20)
    with pytest.raises(UnsupportedInputError):
        restore_video(text, tmp_path / "out.mp4", invert)
    data = videos["mkv"].read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    unknown = tmp_path / "unknown.mkv"
    unknown.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/QQQ"))
    with pytest.raises(UnsupportedInputError):
        restore_video(unknown, tmp_path / "out.mp4", invert)
    with pytest.raises(InputNotFoundError):
        restore_video(tmp_path / "missing.mp4", tmp_path / "out.mp4", invert)
    assert leftovers(tmp_path, {"notes.txt", "unknown.mkv"}) == []


@pytest.mark.parametrize("error", [RuntimeError("model exploded"), KeyboardInterrupt()])
def test_process_failure_leaves_no_output(videos, tmp_path, error):
    calls = 0

    def process(frames: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise error
        return frames

    with pytest.raises(type(error)):
        restore_video(videos["mp4"], tmp_path / "out.mp4", process)
    assert calls == 2
    assert leftovers(tmp_path, set()) == []
    assert no_worker_threads()


def test_existing_output_is_kept_unless_overwrite(videos, tmp_path):
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        restore_video(videos["mp4"], dst, invert)
    assert dst.read_bytes() == b"precious"
    restore_video(videos["mp4"], dst, invert, options=VideoOptions(overwrite=True))
    assert probe_video(dst).frames == N
    with pytest.raises(OutputExistsError):
        restore_video(dst, dst, invert, options=VideoOptions(overwrite=True))


def test_unknown_output_extension_is_a_format_error(videos, tmp_path):
    with pytest.raises(OutputFormatError):
        restore_video(videos["mkv"], tmp_path / "out.notavideo", invert)
    assert leftovers(tmp_path, set()) == []


# --- probing ----------------------------------------------------------------------------------


def test_probe_and_is_video(videos, tmp_path):
    info = probe_video(videos["mp4"])
    assert (info.width, info.height, info.frames, info.fps) == (W, H, N, RATE)
    assert info.codec == "h264" and info.has_audio and info.audio_codecs == ("aac",)
    assert abs(info.duration - N / RATE) < 1 / RATE
    assert probe_video(videos["vfr"]).has_audio is False

    assert is_video(videos["mkv"])
    png = tmp_path / "still.png"
    av.VideoFrame.from_ndarray(_pattern(0, W, H), format="rgb24").save(str(png))
    renamed = tmp_path / "still.mp4"  # content decides, not the extension
    renamed.write_bytes(png.read_bytes())
    text = tmp_path / "words.txt"
    text.write_text("hello\n")
    assert not is_video(png) and not is_video(renamed) and not is_video(text)
    assert not is_video(tmp_path / "missing.mkv")
