"""Streaming video restoration with PyAV.

Frames are decoded, batched, passed through a ``process`` callable and re-encoded one batch at
a time, so memory does not grow with the length of the video. A reader thread (demux + decode)
and a writer thread (encode + mux) run beside the caller's thread, linked by small bounded
queues; the model therefore only waits for I/O when it is faster than the codecs.

What is kept from the input: frame count, every frame's pts (so variable frame rate survives),
the video time base where the container allows it, frame rate, sample aspect ratio, colour
tags, the display matrix (rotation), stream/container metadata and chapters. Audio and subtitle
streams are copied packet for packet without re-encoding; audio the output container cannot
hold is re-encoded (AAC where possible) and subtitles it cannot hold are dropped, each with a
note in the returned :class:`VideoReport`.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
from av.sidedata.sidedata import Type as _SideDataType
from av.stream import Disposition
from av.video.reformatter import Colorspace, VideoReformatter

from restorecli.errors import (
    CorruptInputError,
    DiskFullError,
    InputNotFoundError,
    OutputFormatError,
    OutputNotWritableError,
    UnsupportedInputError,
)
from restorecli.media import VIDEO_EXTENSIONS
from restorecli.media.safe_write import atomic_output

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "VideoOptions",
    "VideoReport",
    "is_video",
    "probe_video",
    "restore_video",
]

ProcessFn = Callable[[np.ndarray], np.ndarray]
"""Maps a float32 batch N x H x W x 3 in [0, 1] (RGB) to an array of the same shape."""

ProgressFn = Callable[[int, "int | None"], None]
"""Called as ``progress(frames_done, frames_total)``; the total is None when unknown."""

Source = str | os.PathLike | BinaryIO
"""A path, ``"-"`` for stdin/stdout, or an open binary file object."""

# Output container chosen from the destination's extension (others: FFmpeg guesses from the name).
_FORMAT_BY_EXTENSION = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
}
_STREAM_FORMAT = "matroska"  # for stdout / file objects: needs no seeking and holds any codec

# Encoders tried in order when the requested one is missing or the container refuses it.
_FALLBACK_ENCODERS = ("libx264", "libopenh264", "libx265", "libvpx-vp9", "mpeg4")

# Demuxers that open still images (or text): not videos even though they expose a video stream.
_IMAGE_DEMUXERS = frozenset({"image2", "tty", "gif", "apng", "webp", "bmp", "ico", "lavfi"})
_IMAGE_BRANDS = frozenset({"heic", "heix", "mif1", "avif"})  # HEIF/AVIF stills in an ISO box

# Metadata the muxer writes itself; copying the input's values would leave them stale.
_MUXER_OWNED_TAGS = frozenset(
    {"duration", "encoder", "rotate", "major_brand", "minor_version", "compatible_brands"}
    | {"number_of_frames", "number_of_bytes", "bps", "_statistics_tags", "_statistics_writing_app"}
    | {"_statistics_writing_date_utc"}
)

# FFmpeg AVColorSpace value -> swscale matrix used to convert RGB back to YUV on output.
_SWS_COLORSPACE = {
    1: Colorspace.ITU709,
    4: Colorspace.FCC,
    5: Colorspace.ITU601,
    6: Colorspace.SMPTE170M,
    7: Colorspace.SMPTE240M,
    9: Colorspace.BT2020,
    10: Colorspace.BT2020,
}
_RANGE_MPEG, _RANGE_JPEG = 1, 2  # AVColorRange

_SIDE_FLUSH_LIMIT = 256  # forward pending audio packets once this many pile up with no video
_POLL_SECONDS = 0.1


@dataclass
class VideoOptions:
    """How ``restore_video`` encodes its output.

    ``codec`` falls back to the first available encoder the output container accepts (see the
    report's ``codec``). ``crf``/``preset`` apply to the x264/x265/VP9 encoders; other encoders
    get a comparable fixed quantiser. ``pix_fmt=None`` picks yuv420p, or yuv420p10le for inputs
    with more than 8 bits when the encoder supports it.
    """

    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str | None = None
    batch_size: int = 4
    audio: bool = True  # copy audio and subtitle streams; False drops them
    overwrite: bool = False
    format: str | None = None  # output container (FFmpeg muxer name); None = from extension
    queue_size: int = 2  # batches buffered between the decode, process and encode stages

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if not 0 <= self.crf <= 63:
            raise ValueError("crf must be between 0 and 63")


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` learns from a video's headers (and its first frame)."""

    path: str
    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    bit_depth: int
    fps: Fraction | None
    time_base: Fraction | None
    frames: int | None  # header count, counted packets, or duration x fps (see frames_exact)
    frames_exact: bool
    duration: float | None  # seconds
    rotation: int  # counter-clockwise degrees from the display matrix, as players apply it
    has_audio: bool
    audio_codecs: tuple[str, ...] = ()
    subtitle_codecs: tuple[str, ...] = ()


@dataclass
class VideoReport:
    """What ``restore_video`` did."""

    frames: int
    frames_expected: int | None
    codec: str
    pix_fmt: str
    width: int
    height: int
    padding: tuple[int, int]  # (right, bottom) pixels added so the encoder gets even sizes
    fps: Fraction | None
    rotation: int
    audio_copied: int = 0
    audio_reencoded: int = 0
    subtitles_copied: int = 0
    streams_dropped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Opening the input


@dataclass
class _Input:
    container: Any
    video: Any
    name: str


def _label(src: Source) -> str:
    if isinstance(src, str) and src == "-":
        return "<stdin>"
    if isinstance(src, str | os.PathLike):
        return os.fspath(src)
    return getattr(src, "name", None) or "<stream>"


def _looks_like_video_container(head: bytes) -> bool:
    """True when the first bytes carry the signature of a common video container."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return True
    if head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"OggS", b"\x00\x00\x01\xba")):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return True
    return len(head) > 188 and head[0] == 0x47 and head[188] == 0x47  # MPEG-TS sync bytes


def _read_head(src: Any) -> bytes | None:
    """First bytes of the input without consuming them; None when they cannot be seen."""
    try:
        if isinstance(src, str | os.PathLike):
            with open(src, "rb") as f:
                return f.read(512)
        peek = getattr(src, "peek", None)
        return peek(512)[:512] if peek else None
    except (OSError, ValueError):
        return None


def _open_input(src: Source) -> _Input:
    """Open ``src`` and pick its video stream, turning failures into restorecli errors."""
    name = _label(src)
    file: Any = sys.stdin.buffer if isinstance(src, str) and src == "-" else src
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        if not path.exists():
            raise InputNotFoundError(f"{name}: no such file")
        if path.is_dir():
            raise UnsupportedInputError(f"{name}: is a folder, not a video")
        if path.stat().st_size == 0:
            raise CorruptInputError(f"{name}: empty file")
        file = os.fspath(path)
    head = _read_head(file)
    if head == b"":
        raise CorruptInputError(f"{name}: empty input")
    try:
        container = av.open(file, "r")
    except PermissionError as exc:
        raise InputNotFoundError(f"{name}: cannot read ({exc.strerror})") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = _ffmpeg_message(exc)
        if head is None:  # an unpeekable stream: no way to tell damage from a wrong type
            raise CorruptInputError(f"{name}: unreadable video stream ({reason})") from None
        if _looks_like_video_container(head) or Path(name).suffix.lower() in VIDEO_EXTENSIONS:
            raise CorruptInputError(f"{name}: damaged or truncated video ({reason})") from None
        raise UnsupportedInputError(f"{name}: not a video this FFmpeg build can read") from None
    try:
        return _Input(container, _pick_video_stream(container, name), name)
    except BaseException:
        container.close()
        raise


def _pick_video_stream(container: Any, name: str) -> Any:
    formats = set(container.format.name.split(","))
    if (
        formats & _IMAGE_DEMUXERS
        or any(f.endswith("_pipe") for f in formats)
        or container.metadata.get("major_brand", "").strip() in _IMAGE_BRANDS
    ):
        kind = "text" if "tty" in formats else "a still image"
        raise UnsupportedInputError(f"{name}: {kind}, not a video")
    candidates = [
        s for s in container.streams.video if not s.disposition & Disposition.attached_pic
    ]
    if not candidates:
        raise UnsupportedInputError(f"{name}: has no video stream")
    for stream in candidates:
        if stream.codec_context is not None:
            stream.thread_type = "AUTO"  # frame + slice threads: decoding keeps up with encoding
            return stream
    raise UnsupportedInputError(f"{name}: its video codec has no decoder in this FFmpeg build")


def _ffmpeg_message(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())  # one line


# --------------------------------------------------------------------------------------------
# Stream facts


def _rate(stream: Any) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return None


def _duration_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION")  # Matroska keeps per-stream durations as tags
    if tag:
        with contextlib.suppress(ValueError):
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if container.duration:
        return container.duration / av.time_base
    return None


def _expected_frames(container: Any, stream: Any) -> tuple[int | None, bool]:
    if stream.frames:
        return int(stream.frames), True
    duration, rate = _duration_seconds(container, stream), _rate(stream)
    if duration and rate:
        return round(duration * rate), False
    return None, False


def _bit_depth(stream: Any) -> int:
    fmt = stream.codec_context.format if stream.codec_context is not None else None
    if fmt is None or not fmt.components:
        return 8
    return max(c.bits for c in fmt.components)


def _display_matrix(frame: Any) -> tuple[int, ...] | None:
    """The frame's 3x3 display matrix (9 int32, FFmpeg layout) or None."""
    for side in frame.side_data:
        if side.type == _SideDataType.DISPLAYMATRIX:
            values = np.frombuffer(bytes(side), dtype=np.int32)
            if values.size == 9:
                return tuple(int(v) for v in values)
    return None


def _rotate_tag(stream: Any) -> int | None:
    """Legacy clockwise ``rotate`` tag, as a counter-clockwise angle."""
    try:
        return -int(float(stream.metadata["rotate"]))
    except (KeyError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Public helpers


def is_video(path: Source) -> bool:
    """True when the file at ``path`` holds a decodable video stream (judged by content).

    Still images (even renamed to .mp4), text, audio-only files and missing files are not
    videos. Reads from streams such as ``"-"`` would consume them: pass files only.
    """
    try:
        source = _open_input(path)
    except Exception:
        return False
    source.container.close()
    return True


def probe_video(src: Source, *, count_frames: bool = False) -> VideoInfo:
    """Describe a video; ``count_frames`` demuxes every video packet for an exact frame count.

    Raises the restorecli input errors (not found, unsupported, corrupt) like ``restore_video``.
    """
    source = _open_input(src)
    container, stream = source.container, source.video
    try:
        frames, exact = _expected_frames(container, stream)
        rotation: int | None = None
        packets = 0
        try:  # one pass, no seeking (pipes): decode until the first frame, count if asked
            for packet in container.demux(stream):
                packets += bool(packet.size)
                if rotation is None:
                    for frame in stream.decode(packet):
                        rotation = int(frame.rotation)
                        if _display_matrix(frame) is None:
                            rotation = _rotate_tag(stream) or 0
                        break
                if rotation is not None and not count_frames:
                    break
        except av.FFmpegError as exc:
            raise CorruptInputError(
                f"{source.name}: cannot decode video ({_ffmpeg_message(exc)})"
            ) from None
        if rotation is None:
            raise CorruptInputError(f"{source.name}: no decodable video frames")
        if count_frames:
            frames, exact = packets, True  # one packet per frame for the codecs we write
        streams = container.streams
        return VideoInfo(
            path=source.name,
            container=container.format.name,
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            pix_fmt=stream.codec_context.pix_fmt,
            bit_depth=_bit_depth(stream),
            fps=_rate(stream),
            time_base=stream.time_base,
            frames=frames,
            frames_exact=exact,
            duration=_duration_seconds(container, stream),
            rotation=rotation,
            has_audio=bool(streams.audio),
            audio_codecs=tuple(s.codec.name for s in streams.audio if s.codec),
            subtitle_codecs=tuple(s.codec.name for s in streams.subtitles if s.codec),
        )
    finally:
        container.close()


# --------------------------------------------------------------------------------------------
# Output target (atomic for paths)


@contextlib.contextmanager
def _output_target(dst: Source, src: Source, *, overwrite: bool) -> Iterator[tuple[Any, bool]]:
    """Yield ``(target, seekable)``: a temp path published on success, or an open stream."""
    if isinstance(dst, str) and dst == "-":
        yield sys.stdout.buffer, False
        sys.stdout.buffer.flush()
        return
    if not isinstance(dst, str | os.PathLike):
        seekable = getattr(dst, "seekable", None)
        yield dst, bool(seekable and seekable())
        return
    inputs = [src] if isinstance(src, str | os.PathLike) and src != "-" else []
    with atomic_output(dst, overwrite=overwrite, input_paths=inputs) as tmp:
        yield tmp, True


def _output_format(dst: Source, options: VideoOptions) -> str | None:
    if options.format:
        return options.format
    if isinstance(dst, str | os.PathLike) and not (isinstance(dst, str) and dst == "-"):
        return _FORMAT_BY_EXTENSION.get(Path(dst).suffix.lower())  # None: FFmpeg guesses
    return _STREAM_FORMAT


# --------------------------------------------------------------------------------------------
# Planning the output streams


@dataclass
class _VideoPlan:
    codec: str
    pix_fmt: str
    codec_options: dict[str, str]
    width: int
    height: int
    pad_right: int
    pad_bottom: int
    high_bit: bool
    colorspace: Any  # swscale matrix for RGB -> YUV (None: FFmpeg's default)
    color_range: int
    time_base: Fraction  # output stream time base (the input's)
    encoder_time_base: Fraction
    notes: list[str]


def _encoder_exists(name: str) -> bool:
    try:
        av.Codec(name, "w")
    except Exception:
        return False
    return True


def _muxer_takes_codec(format_name: str, codec: str) -> bool:
    """False only when the muxer is known to refuse ``codec`` (PyAV raises ValueError)."""
    try:
        probe = av.open(io.BytesIO(), "w", format=format_name)
    except Exception:
        return True
    try:
        probe.add_stream(codec)
    except ValueError:
        return False
    finally:
        probe.close()
    return True


def _choose_encoder(requested: str, format_name: str, notes: list[str]) -> str:
    for name in dict.fromkeys((requested, *_FALLBACK_ENCODERS)):
        if not _encoder_exists(name) or not _muxer_takes_codec(format_name, name):
            continue
        if name != requested:
            notes.append(
                f"video encoder {requested} is missing or not allowed in {format_name}; used {name}"
            )
        return name
    raise OutputFormatError(f"no video encoder here can write {format_name} ({requested} asked)")


def _choose_pix_fmt(codec: str, requested: str | None, high_bit: bool, notes: list[str]) -> str:
    formats = [f.name for f in av.Codec(codec, "w").video_formats or []]
    if requested:
        if not formats or requested in formats:
            return requested
        chosen = "yuv420p" if "yuv420p" in formats else formats[0]
        notes.append(f"{codec} cannot encode {requested}; used {chosen}")
        return chosen
    if high_bit and "yuv420p10le" in formats:
        return "yuv420p10le"
    return "yuv420p" if not formats or "yuv420p" in formats else formats[0]


def _codec_options(codec: str, options: VideoOptions) -> dict[str, str]:
    if codec in ("libx264", "libx265"):
        opts = {"crf": str(options.crf), "preset": options.preset}
        if codec == "libx265":
            opts["x265-params"] = "log-level=error"
        return opts
    if codec.startswith("libvpx"):
        return {"crf": str(options.crf), "b": "0"}
    return {}


def _plan_video(stream: Any, options: VideoOptions, format_name: str) -> _VideoPlan:
    notes: list[str] = []
    ctx = stream.codec_context
    high_bit = _bit_depth(stream) > 8
    codec = _choose_encoder(options.codec, format_name, notes)
    pix_fmt = _choose_pix_fmt(codec, options.pix_fmt, high_bit, notes)
    # Chroma subsampling needs even sizes: pad by repeating the last column/row rather than
    # cropping, so no restored pixel is lost (the output is then one pixel larger).
    chroma = av.VideoFormat(pix_fmt, 2, 2).components
    pad_right = int(len(chroma) > 1 and chroma[1].width == 1 and ctx.width % 2)
    pad_bottom = int(len(chroma) > 1 and chroma[1].height == 1 and ctx.height % 2)
    if pad_right or pad_bottom:
        notes.append(
            f"{pix_fmt} needs even sizes: padded {ctx.width}x{ctx.height} to "
            f"{ctx.width + pad_right}x{ctx.height + pad_bottom} by repeating the edge"
        )
    if ctx.format is not None and any(c.is_alpha for c in ctx.format.components):
        notes.append("the input's alpha channel is not kept (frames are restored as RGB)")
    time_base = stream.time_base or Fraction(1, 25)
    encoder_time_base = time_base
    if codec == "mpeg4" and time_base.denominator > 65535:
        encoder_time_base = Fraction(1, 65535)  # MPEG-4 part 2 cannot signal finer steps
    return _VideoPlan(
        codec=codec,
        pix_fmt=pix_fmt,
        codec_options=_codec_options(codec, options),
        width=ctx.width + pad_right,
        height=ctx.height + pad_bottom,
        pad_right=pad_right,
        pad_bottom=pad_bottom,
        high_bit=high_bit,
        colorspace=_SWS_COLORSPACE.get(int(ctx.colorspace)),
        color_range=ctx.color_range
        if ctx.color_range in (_RANGE_MPEG, _RANGE_JPEG)
        else _RANGE_MPEG,
        time_base=time_base,
        encoder_time_base=encoder_time_base,
        notes=notes,
    )


def _muxer_accepts(format_name: str, add: Callable[[Any], Any]) -> bool:
    """Dry-run a header with one stream to learn whether the muxer takes that codec."""
    try:
        probe = av.open(io.BytesIO(), "w", format=format_name)
    except Exception:
        return True  # cannot tell: let the real muxer decide
    try:
        add(probe)
        probe.start_encoding()
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            probe.close()
    return True


def _copy_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k.lower() not in _MUXER_OWNED_TAGS}


# --------------------------------------------------------------------------------------------
# Pipeline items


@dataclass
class _Batch:
    """One unit in the queues: side-stream items to mux, then up to batch_size video frames."""

    frames: np.ndarray | None  # N x H x W x 3 uint8/uint16 (reader -> main) or float result
    pts: list[int]
    durations: list[int]
    side: list[tuple[int, Any]]  # (output stream index, Packet to copy | AudioFrame to encode)


@dataclass
class _End:
    error: BaseException | None = None


class _Worker(threading.Thread):
    """A daemon thread that keeps its exception for the main thread to re-raise."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:
            self.error = exc


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


# --------------------------------------------------------------------------------------------
# Reader: demux + decode


class _Reader:
    """Demuxes the input, decodes video into uint8/uint16 RGB batches, forwards side packets."""

    def __init__(self, source: _Input, copy_map: dict[int, int], decode_map: dict[int, int]):
        self.source = source
        self.copy_map = copy_map  # input stream index -> output index, packets copied as-is
        self.decode_map = decode_map  # input stream index -> output index, audio re-encoded
        self.high_bit = _bit_depth(source.video) > 8
        self.reformatter = VideoReformatter()
        self.frames_read = 0
        self.size: tuple[int, int] | None = None
        self.notes: list[str] = []
        self._last_pts: int | None = None
        self._resized = False
        rate, tb = _rate(source.video), source.video.time_base
        self._step = max(1, round(1 / (rate * tb))) if rate and tb else 1

    def items(self) -> Iterator[tuple[str, Any]]:
        """Yield ("frame", VideoFrame) and ("side", (out_index, Packet | AudioFrame))."""
        container, video = self.source.container, self.source.video
        wanted = [video] + [
            s for s in container.streams if s.index in self.copy_map or s.index in self.decode_map
        ]
        try:
            for packet in container.demux(wanted):
                index = packet.stream.index
                if index == video.index:
                    for frame in video.decode(packet):
                        yield "frame", frame
                elif index in self.copy_map:
                    if packet.size and (packet.pts is not None or packet.dts is not None):
                        yield "side", (self.copy_map[index], packet)
                else:
                    for frame in packet.stream.codec_context.decode(packet):
                        yield "side", (self.decode_map[index], frame)
        except av.FFmpegError as exc:
            raise CorruptInputError(
                f"{self.source.name}: corrupt video data after {self.frames_read} frames "
                f"({_ffmpeg_message(exc)})"
            ) from None

    def to_array(self, frame: Any) -> tuple[np.ndarray, int, int]:
        """RGB array (stored orientation), pts made strictly increasing, duration."""
        if self.size is None:
            self.size = (frame.width, frame.height)
        width, height = self.size
        if (frame.width, frame.height) != self.size and not self._resized:
            self._resized = True
            self.notes.append(f"frame size changes mid-stream; scaled to {width}x{height}")
        rgb = self.reformatter.reformat(
            frame, width=width, height=height, format="rgb48le" if self.high_bit else "rgb24"
        )
        pts = frame.pts
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + self._step
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing timestamps
        self._last_pts = pts
        self.frames_read += 1
        return rgb.to_ndarray(), pts, int(frame.duration or 0)

    def run(
        self,
        items: Iterator[tuple[str, Any]],
        q: queue.Queue,
        stop: threading.Event,
        batch_size: int,
    ) -> None:
        """Group ``items`` into batches on ``q``; always ends with an ``_End``."""
        end = _End()
        try:
            frames: list[np.ndarray] = []
            pts: list[int] = []
            durations: list[int] = []
            side: list[tuple[int, Any]] = []
            for kind, payload in items:
                if stop.is_set():
                    return
                if kind == "side":
                    side.append(payload)
                    if len(side) < _SIDE_FLUSH_LIMIT or frames:
                        continue
                else:
                    array, p, d = self.to_array(payload)
                    frames.append(array)
                    pts.append(p)
                    durations.append(d)
                    if len(frames) < batch_size:
                        continue
                batch = _Batch(np.stack(frames) if frames else None, pts, durations, side)
                if not _put(q, batch, stop):
                    return
                frames, pts, durations, side = [], [], [], []
            if frames or side:
                _put(q, _Batch(np.stack(frames) if frames else None, pts, durations, side), stop)
        except BaseException as exc:
            end.error = exc
        finally:
            _put(q, end, stop)


# --------------------------------------------------------------------------------------------
# Writer: encode + mux


class _Writer:
    """Owns the output container: encodes restored frames and muxes side-stream packets."""

    def __init__(self, output: Any, video_out: Any, plan: _VideoPlan) -> None:
        self.output = output
        self.video_out = video_out
        self.plan = plan
        self.reformatter = VideoReformatter()

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            self.output.mux(packet)

    def write(self, batch: _Batch) -> None:
        for out_index, item in batch.side:
            stream = self.output.streams[out_index]
            if isinstance(item, av.Packet):
                item.stream = stream
                self.output.mux(item)
            else:
                self._mux(stream.encode(item))
        if batch.frames is None:
            return
        plan = self.plan
        for array, pts, duration in zip(batch.frames, batch.pts, batch.durations, strict=True):
            if plan.pad_right or plan.pad_bottom:
                array = np.pad(
                    array, ((0, plan.pad_bottom), (0, plan.pad_right), (0, 0)), mode="edge"
                )
            rgb = av.VideoFrame.from_ndarray(array, format="rgb48le" if plan.high_bit else "rgb24")
            frame = self.reformatter.reformat(
                rgb,
                format=plan.pix_fmt,
                dst_colorspace=plan.colorspace,
                dst_color_range=plan.color_range,
            )
            if plan.encoder_time_base != plan.time_base:
                scale = plan.time_base / plan.encoder_time_base
                pts, duration = round(pts * scale), round(duration * scale)
            frame.pts = pts
            frame.duration = duration
            frame.time_base = plan.encoder_time_base
            self._mux(self.video_out.encode(frame))

    def finish(self) -> None:
        self._mux(self.video_out.encode(None))
        for stream in self.output.streams:
            if (
                stream is not self.video_out
                and stream.type == "audio"
                and stream.codec_context.is_encoder
            ):
                self._mux(stream.encode(None))

    def run(self, q: queue.Queue, stop: threading.Event) -> None:
        """Consume batches until ``_End`` (then flush) or ``stop`` (then just close)."""
        try:
            while True:
                try:
                    item = q.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    if stop.is_set():
                        return
                    continue
                if stop.is_set():
                    return
                if isinstance(item, _End):
                    self.finish()
                    return
                self.write(item)
        finally:
            self.output.close()


# --------------------------------------------------------------------------------------------
# restore_video


def _to_float(frames: np.ndarray) -> np.ndarray:
    scale = 1.0 / (65535.0 if frames.dtype == np.uint16 else 255.0)
    return np.multiply(frames, np.float32(scale), dtype=np.float32)


def _from_float(frames: np.ndarray, high_bit: bool) -> np.ndarray:
    peak, dtype = (np.float32(65535.0), np.uint16) if high_bit else (np.float32(255.0), np.uint8)
    out = np.multiply(frames, peak, dtype=np.float32)
    out += np.float32(0.5)
    # fmax/fmin also map NaN to the bound (np.nan_to_num is several times slower)
    np.fmax(out, np.float32(0.0), out=out)
    np.fmin(out, peak, out=out)
    return out.astype(dtype)


def restore_video(
    src: Source,
    dst: Source,
    process: ProcessFn,
    *,
    options: VideoOptions | None = None,
    progress: ProgressFn | None = None,
) -> VideoReport:
    """Decode ``src``, pass its frames through ``process`` in batches, and encode to ``dst``.

    ``src``/``dst`` are paths, ``"-"`` (stdin / stdout, Matroska unless ``options.format``)
    or binary file objects; nothing needs seeking. A path output is written to a temp file
    beside it and moved into place only on success, so errors and Ctrl-C leave no partial
    file. Raises InputNotFoundError, UnsupportedInputError, CorruptInputError,
    OutputExistsError, OutputNotWritableError, OutputFormatError or DiskFullError, each
    with a one-line message; exceptions from ``process`` (and Ctrl-C) pass through unchanged.
    """
    options = options or VideoOptions()
    started = time.perf_counter()
    source = _open_input(src)
    try:
        format_name = _output_format(dst, options)
        with _output_target(dst, src, overwrite=options.overwrite) as (target, seekable):
            report = _run(source, target, seekable, format_name, process, options, progress, dst)
    finally:
        if source.container is not None:
            source.container.close()
    report.seconds = time.perf_counter() - started
    return report


def _open_output(target: Any, format_name: str | None, seekable: bool, dst: Source) -> Any:
    container_options = {}
    if not seekable and format_name in ("mp4", "mov"):
        container_options["movflags"] = "frag_keyframe+empty_moov"  # no seeking back
    try:
        return av.open(target, "w", format=format_name, container_options=container_options)
    except ValueError as exc:
        if format_name is None:  # FFmpeg could not guess a muxer from the file name
            raise OutputFormatError(
                f"{_label(dst)}: no video container known for this extension "
                "(use .mp4, .mkv, .mov, .webm or .avi)"
            ) from None
        raise OutputFormatError(f"{_label(dst)}: {_ffmpeg_message(exc)}") from None
    except (av.FFmpegError, OSError) as exc:
        raise OutputNotWritableError(
            f"{_label(dst)}: cannot write video ({_ffmpeg_message(exc)})"
        ) from None


def _add_side_stream(
    output: Any, stream: Any, options: VideoOptions, report: VideoReport
) -> tuple[Any, bool] | None:
    """Add an output stream for an audio/subtitle input stream.

    Returns ``(output_stream, copied)`` (copied False: audio re-encoded), or None if dropped.
    """
    kind = stream.type
    codec = stream.codec.name if stream.codec_context is not None else "unknown"
    fmt = output.format.name.split(",")[0]
    if not options.audio or kind not in ("audio", "subtitle") or stream.codec_context is None:
        if options.audio:
            report.notes.append(f"dropped {kind} stream #{stream.index} ({codec})")
        report.streams_dropped += 1
        return None
    if _muxer_accepts(fmt, lambda c: c.add_stream_from_template(stream)):
        out, copied = output.add_stream_from_template(stream), True
        if kind == "audio":
            report.audio_copied += 1
        else:
            report.subtitles_copied += 1
    elif kind == "audio":
        out, copied = _add_audio_encoder(output, fmt, stream), False
        report.audio_reencoded += 1
        report.notes.append(
            f"{fmt} cannot hold {codec} audio: re-encoded stream #{stream.index} "
            f"to {out.codec_context.name}"
        )
    else:
        report.streams_dropped += 1
        report.notes.append(f"{fmt} cannot hold {codec} subtitles: dropped stream #{stream.index}")
        return None
    out.metadata.update(_copy_tags(stream.metadata))
    out.disposition = stream.disposition
    return out, copied


def _add_audio_encoder(output: Any, fmt: str, stream: Any) -> Any:
    ctx = stream.codec_context

    def add(container: Any, codec: str) -> Any:
        out = container.add_stream(codec, rate=ctx.sample_rate)
        out.layout = ctx.layout
        return out

    codec = "aac" if _muxer_accepts(fmt, lambda c: add(c, "aac")) else output.default_audio_codec
    try:
        return add(output, codec)
    except (av.FFmpegError, ValueError) as exc:
        raise OutputNotWritableError(
            f"{fmt} cannot hold the audio and re-encoding failed ({_ffmpeg_message(exc)})"
        ) from None


def _add_video_stream(output: Any, video: Any, plan: _VideoPlan, options: VideoOptions) -> Any:
    """The encoder stream, with the input's timing, aspect, colour tags and metadata."""
    video_out = output.add_stream(plan.codec, rate=_rate(video), options=plan.codec_options)
    video_out.width, video_out.height, video_out.pix_fmt = plan.width, plan.height, plan.pix_fmt
    video_out.time_base = plan.time_base
    ctx_in, ctx_out = video.codec_context, video_out.codec_context
    ctx_out.time_base = plan.encoder_time_base
    if video.sample_aspect_ratio:
        video_out.sample_aspect_ratio = video.sample_aspect_ratio
    ctx_out.color_range = plan.color_range
    ctx_out.colorspace = ctx_in.colorspace
    ctx_out.color_primaries = ctx_in.color_primaries
    ctx_out.color_trc = ctx_in.color_trc
    if plan.codec == "mpeg4":  # no CRF: a fixed quantiser of similar quality
        ctx_out.qscale = True
        ctx_out.global_quality = max(2, min(31, options.crf // 6))
    video_out.metadata.update(_copy_tags(video.metadata))
    return video_out


def _carry_rotation(video_out: Any, video: Any, first_frame: Any) -> int:
    """Copy the display matrix (or legacy rotate tag); return the rotation in degrees."""
    matrix = _display_matrix(first_frame)
    if matrix is not None:
        video_out.set_display_matrix(matrix)
        return int(first_frame.rotation)
    legacy = _rotate_tag(video)
    if legacy is not None:
        video_out.set_display_rotation(legacy)
        return legacy
    return 0


def _run(
    source: _Input,
    target: Any,
    seekable: bool,
    format_name: str | None,
    process: ProcessFn,
    options: VideoOptions,
    progress: ProgressFn | None,
    dst: Source,
) -> VideoReport:
    container, video = source.container, source.video
    output = _open_output(target, format_name, seekable, dst)
    reader_thread: _Worker | None = None
    writer_thread: _Worker | None = None
    stop = threading.Event()
    try:
        plan = _plan_video(video, options, output.format.name.split(",")[0])
        expected, expected_exact = _expected_frames(container, video)
        report = VideoReport(
            frames=0,
            frames_expected=expected,
            codec=plan.codec,
            pix_fmt=plan.pix_fmt,
            width=plan.width,
            height=plan.height,
            padding=(plan.pad_right, plan.pad_bottom),
            fps=_rate(video),
            rotation=0,
            notes=plan.notes,
        )
        # Output streams in the input's order; remember how each side stream travels.
        copy_map: dict[int, int] = {}
        decode_map: dict[int, int] = {}
        video_out = None
        for stream in container.streams:
            if stream.index == video.index:
                video_out = _add_video_stream(output, video, plan, options)
            elif (added := _add_side_stream(output, stream, options, report)) is not None:
                out, copied = added
                (copy_map if copied else decode_map)[stream.index] = out.index
        output.metadata.update(_copy_tags(container.metadata))
        with contextlib.suppress(Exception):  # chapters are a nicety, never a failure
            if chapters := container.chapters():
                output.set_chapters(chapters)

        reader = _Reader(source, copy_map, decode_map)
        items = reader.items()
        # Decode up to the first frame here: its display matrix must reach the output header.
        head: list[tuple[str, Any]] = []
        for kind, payload in items:
            head.append((kind, payload))
            if kind == "frame":
                break
        if not head or head[-1][0] != "frame":
            raise CorruptInputError(f"{source.name}: no decodable video frames")
        report.rotation = _carry_rotation(video_out, video, head[-1][1])
        try:
            output.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            raise OutputNotWritableError(
                f"{_label(dst)}: cannot start the output ({_ffmpeg_message(exc)})"
            ) from None

        writer = _Writer(output, video_out, plan)
        to_main: queue.Queue = queue.Queue(maxsize=options.queue_size)
        to_writer: queue.Queue = queue.Queue(maxsize=options.queue_size)
        reader_thread = _Worker(
            "restorecli-video-reader",
            lambda: reader.run(_chain(head, items), to_main, stop, options.batch_size),
        )
        writer_thread = _Worker("restorecli-video-writer", lambda: writer.run(to_writer, stop))
        output = None  # the writer thread owns (and closes) it from here on
        reader_thread.start()
        writer_thread.start()

        if progress is not None:
            progress(0, expected)
        while True:
            item = _receive(to_main, reader_thread)
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                break
            if item.frames is not None:
                item.frames = _apply(process, item.frames, plan.high_bit)
                report.frames += len(item.pts)
            _send(to_writer, item, writer_thread)
            if progress is not None and item.frames is not None:
                progress(report.frames, expected)
        _send(to_writer, _End(), writer_thread)
        writer_thread.join()
        if writer_thread.error is not None:
            raise writer_thread.error
        report.notes.extend(reader.notes)
        if expected is not None and report.frames < (
            expected if expected_exact else 0.9 * expected
        ):
            about = "" if expected_exact else "about "
            report.notes.append(
                f"input ended after {report.frames} of {about}{expected} frames (truncated?)"
            )
        return report
    except av.FFmpegError as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"no space left while writing {_label(dst)}") from None
        if isinstance(exc, OSError):  # input errors were already turned into CorruptInputError
            raise OutputNotWritableError(
                f"{_label(dst)}: write failed ({_ffmpeg_message(exc)})"
            ) from None
        raise
    finally:
        stop.set()
        if writer_thread is not None and writer_thread.is_alive():
            writer_thread.join(timeout=30)
        if reader_thread is not None and reader_thread.is_alive():
            reader_thread.join(timeout=5)
            if reader_thread.is_alive():
                # Still blocked reading a pipe: closing the container under it would crash.
                source.container = None
        if output is not None:
            with contextlib.suppress(Exception):
                output.close()


def _apply(process: ProcessFn, frames: np.ndarray, high_bit: bool) -> np.ndarray:
    """Run ``process`` on one batch of integer RGB frames; return integer frames again."""
    result = process(_to_float(frames))
    if np.shape(result) != frames.shape:
        raise ValueError(f"process() returned shape {np.shape(result)}, expected {frames.shape}")
    return _from_float(result, high_bit)


def _chain(
    head: list[tuple[str, Any]], rest: Iterator[tuple[str, Any]]
) -> Iterator[tuple[str, Any]]:
    yield from head
    yield from rest


def _receive(q: queue.Queue, producer: _Worker) -> Any:
    while True:
        try:
            return q.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if not producer.is_alive() and q.empty():
                raise producer.error or RuntimeError("video reader stopped unexpectedly") from None


def _send(q: queue.Queue, item: Any, consumer: _Worker) -> None:
    while True:
        if not consumer.is_alive():
            if consumer.error is not None:
                raise consumer.error
            raise RuntimeError("video writer stopped unexpectedly")
        try:
            q.put(item, timeout=_POLL_SECONDS)
            return
        except queue.Full:
            continue
