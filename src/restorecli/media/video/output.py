"""The output container: which muxer, opening it, and dry runs of what that takes."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av

from restorecli.errors import OutputFormatError
from restorecli.media.video.ffmpeg_errors import ffmpeg_message, not_writable
from restorecli.media.video.options import VideoOptions
from restorecli.media.video.source import Source, label

# Output container chosen from the destination's extension (others: FFmpeg guesses from the name).
FORMAT_BY_EXTENSION = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
}
STREAM_FORMAT = "matroska"  # for file objects: needs no seeking and holds any codec

# Metadata the muxer writes itself; copying the input's values would leave them stale.
MUXER_OWNED_TAGS = frozenset(
    {"duration", "encoder", "rotate", "major_brand", "minor_version", "compatible_brands"}
    | {"number_of_frames", "number_of_bytes", "bps", "_statistics_tags", "_statistics_writing_app"}
    | {"_statistics_writing_date_utc"}
)


def output_format(dst: Source, options: VideoOptions) -> str | None:
    """The muxer to use: the options', else by extension (None: FFmpeg guesses), else Matroska."""
    if options.format:
        return options.format
    if isinstance(dst, str | os.PathLike):
        return FORMAT_BY_EXTENSION.get(Path(dst).suffix.lower())  # None: FFmpeg guesses
    return STREAM_FORMAT


def open_output(dst: Source, format_name: str | None) -> Any:
    """Open the output container on ``dst``, a path or a binary file object."""
    target: Any = dst
    container_options = {}
    if isinstance(dst, str | os.PathLike):
        target = os.fspath(dst)
    elif not (getattr(dst, "seekable", None) and dst.seekable()) and format_name in ("mp4", "mov"):
        container_options["movflags"] = "frag_keyframe+empty_moov"  # no seeking back
    try:
        return av.open(target, "w", format=format_name, container_options=container_options)
    except ValueError as exc:
        if format_name is None:  # FFmpeg could not guess a muxer from the file name
            raise OutputFormatError(
                f"{label(dst)}: no video container known for this extension "
                "(use .mp4, .mkv, .mov, .webm or .avi)"
            ) from None
        raise OutputFormatError(f"{label(dst)}: {ffmpeg_message(exc)}") from None
    except (av.FFmpegError, OSError) as exc:
        raise not_writable(f"{label(dst)}: cannot write video", exc) from None


def muxer_name(output: Any) -> str:
    """The output container's muxer name (the first of FFmpeg's comma-separated aliases)."""
    return output.format.name.split(",")[0]


def copy_tags(tags: dict[str, str]) -> dict[str, str]:
    """``tags`` without the ones the muxer writes itself."""
    return {k: v for k, v in tags.items() if k.lower() not in MUXER_OWNED_TAGS}


@contextlib.contextmanager
def _scratch_muxer(format_name: str) -> Iterator[Any]:
    """A throw-away in-memory container of that format, or None when one cannot be opened."""
    try:
        probe = av.open(io.BytesIO(), "w", format=format_name)
    except Exception:
        yield None
        return
    try:
        yield probe
    finally:
        with contextlib.suppress(Exception):
            probe.close()


def muxer_takes_codec(format_name: str, codec: str) -> bool:
    """False only when the muxer is known to refuse ``codec`` (PyAV raises ValueError)."""
    with _scratch_muxer(format_name) as probe:
        if probe is None:
            return True
        try:
            probe.add_stream(codec)
        except ValueError:
            return False
        return True


def muxer_accepts(format_name: str, add: Callable[[Any], Any]) -> bool:
    """Dry-run a header with one stream to learn whether the muxer takes that codec."""
    with _scratch_muxer(format_name) as probe:
        if probe is None:
            return True  # cannot tell: let the real muxer decide
        try:
            add(probe)
            probe.start_encoding()
        except Exception:
            return False
        return True
