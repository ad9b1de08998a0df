"""Audio and subtitle streams: copied packet for packet, else audio re-encoded, else dropped."""

from __future__ import annotations

from typing import Any

import av

from restorecli.media.video.ffmpeg_errors import not_writable
from restorecli.media.video.options import VideoOptions, VideoReport
from restorecli.media.video.output import copy_tags, muxer_accepts, muxer_name


def add_side_stream(
    output: Any, stream: Any, options: VideoOptions, report: VideoReport
) -> tuple[Any, bool] | None:
    """Add an output stream for an audio/subtitle input stream.

    Returns ``(output_stream, copied)`` (copied False: audio re-encoded), or None if dropped.
    Counts and notes what happened in ``report``.
    """
    kind = stream.type
    codec = stream.codec.name if stream.codec_context is not None else "unknown"
    fmt = muxer_name(output)
    if not options.audio or kind not in ("audio", "subtitle") or stream.codec_context is None:
        if options.audio:
            report.notes.append(f"dropped {kind} stream #{stream.index} ({codec})")
        report.streams_dropped += 1
        return None
    if muxer_accepts(fmt, lambda c: c.add_stream_from_template(stream)):
        out, copied = output.add_stream_from_template(stream), True
        if kind == "audio":
            report.audio_copied += 1
        else:
            report.subtitles_copied += 1
    elif kind == "audio":
        out, copied = add_audio_encoder(output, fmt, stream), False
        report.audio_reencoded += 1
        report.notes.append(
            f"{fmt} cannot hold {codec} audio: re-encoded stream #{stream.index} "
            f"to {out.codec_context.name}"
        )
    else:
        report.streams_dropped += 1
        report.notes.append(f"{fmt} cannot hold {codec} subtitles: dropped stream #{stream.index}")
        return None
    out.metadata.update(copy_tags(stream.metadata))
    out.disposition = stream.disposition
    return out, copied


def add_audio_encoder(output: Any, fmt: str, stream: Any) -> Any:
    """An audio encoder stream for ``stream``: AAC when the muxer takes it, else its default."""
    ctx = stream.codec_context

    def add(container: Any, codec: str) -> Any:
        out = container.add_stream(codec, rate=ctx.sample_rate)
        out.layout = ctx.layout
        return out

    codec = "aac" if muxer_accepts(fmt, lambda c: add(c, "aac")) else output.default_audio_codec
    try:
        return add(output, codec)
    except (av.FFmpegError, ValueError) as exc:
        raise not_writable(f"{fmt} cannot hold the audio and re-encoding failed", exc) from None
