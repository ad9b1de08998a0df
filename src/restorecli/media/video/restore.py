"""``restore_video``: wires the reader thread, the caller's ``process`` and the writer thread."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import Any

import av

from restorecli.media.video.encoder import VideoPlan, add_video_stream, plan_video, start_report
from restorecli.media.video.ffmpeg_errors import not_writable, write_failure
from restorecli.media.video.options import ProcessFn, ProgressFn, VideoOptions, VideoReport
from restorecli.media.video.output import copy_tags, muxer_name, open_output, output_format
from restorecli.media.video.pixels import apply_process
from restorecli.media.video.reader import Reader
from restorecli.media.video.rotation import carry_rotation
from restorecli.media.video.source import InputVideo, Source, label, open_video
from restorecli.media.video.stream_facts import expected_frames, frame_rate
from restorecli.media.video.streams import add_side_stream
from restorecli.media.video.threads import End, Worker, receive, send
from restorecli.media.video.writer import Writer


def restore_video(
    src: Source | InputVideo,
    dst: Source,
    process: ProcessFn,
    *,
    options: VideoOptions | None = None,
    progress: ProgressFn | None = None,
) -> VideoReport:
    """Decode ``src``, pass its frames through ``process`` in batches, and encode to ``dst``.

    ``src`` is a path, a binary file object or an ``open_video`` result (``describe_video``
    may have read it up to its first frame), which is consumed: read to its end and closed.
    ``dst`` is a path or a binary file object (Matroska unless ``options.format`` or the
    path's extension says otherwise); nothing needs seeking. ``dst`` is written as it is:
    making that a temporary file published on success is the caller's business. Raises
    InputNotFoundError, UnsupportedInputError, CorruptInputError, OutputNotWritableError,
    OutputFormatError or DiskFullError, each with a one-line message; exceptions from
    ``process`` (and Ctrl-C) pass through unchanged.
    """
    options = options or VideoOptions()
    started = time.perf_counter()
    source = src if isinstance(src, InputVideo) else open_video(src)
    try:
        report = _run(source, dst, output_format(dst, options), process, options, progress)
    finally:
        source.close()
    report.seconds = time.perf_counter() - started
    return report


def _run(
    source: InputVideo,
    dst: Source,
    format_name: str | None,
    process: ProcessFn,
    options: VideoOptions,
    progress: ProgressFn | None,
) -> VideoReport:
    container, video = source.container, source.video
    # Decode up to the first frame before the output exists: its display matrix must reach
    # the output header, and an input that fails here leaves nothing behind.
    first = source.first_frame()
    output = open_output(dst, format_name)
    reader_thread: Worker | None = None
    writer_thread: Worker | None = None
    stop = threading.Event()
    try:
        plan = plan_video(video, options, muxer_name(output))
        expected, expected_exact = expected_frames(container, video)
        report = start_report(plan, expected, frame_rate(video))
        video_out, copy_map, decode_map = add_output_streams(output, source, plan, options, report)

        reader = Reader(source, copy_map, decode_map)
        report.rotation = carry_rotation(video_out, video, first)
        try:
            output.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            raise not_writable(f"{label(dst)}: cannot start the output", exc) from None

        writer = Writer(output, video_out, plan)
        to_main: queue.Queue = queue.Queue(maxsize=options.queue_size)
        to_writer: queue.Queue = queue.Queue(maxsize=options.queue_size)
        reader_thread = Worker(
            "restorecli-video-reader",
            lambda: reader.run(to_main, stop, options.batch_size),
        )
        writer_thread = Worker("restorecli-video-writer", lambda: writer.run(to_writer, stop))
        output = None  # the writer thread owns (and closes) it from here on
        reader_thread.start()
        writer_thread.start()

        if progress is not None:
            progress(0, expected)
        while True:
            item = receive(to_main, reader_thread)
            if isinstance(item, End):
                if item.error is not None:
                    raise item.error
                break
            if item.frames is not None:
                item.frames = apply_process(process, item.frames, plan.high_bit)
                report.frames += len(item.pts)
            send(to_writer, item, writer_thread)
            if progress is not None and item.frames is not None:
                progress(report.frames, expected)
        send(to_writer, End(), writer_thread)
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
        if (error := write_failure(exc, label(dst))) is not None:
            raise error from None
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


def add_output_streams(
    output: Any, source: InputVideo, plan: VideoPlan, options: VideoOptions, report: VideoReport
) -> tuple[Any, dict[int, int], dict[int, int]]:
    """Output streams in the input's order, plus container metadata and chapters.

    Returns ``(video_out, copy_map, decode_map)``: input stream index -> output stream index
    for side streams copied packet for packet, and for audio that is decoded and re-encoded.
    """
    container, video = source.container, source.video
    copy_map: dict[int, int] = {}
    decode_map: dict[int, int] = {}
    video_out = None
    for stream in container.streams:
        if stream.index == video.index:
            video_out = add_video_stream(output, video, plan, options)
        elif (added := add_side_stream(output, stream, options, report)) is not None:
            out, copied = added
            (copy_map if copied else decode_map)[stream.index] = out.index
    output.metadata.update(copy_tags(container.metadata))
    with contextlib.suppress(Exception):  # chapters are a nicety, never a failure
        if chapters := container.chapters():
            output.set_chapters(chapters)
    return video_out, copy_map, decode_map
