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

An input is opened once (``open_video``); ``describe_video`` reads it up to its first frame
and ``restore_video`` goes on from there. The output is written to the path or file object
given: temporary files and atomic publishing are the caller's (``restorecli.jobs.outputs``).

Modules: ``source`` and ``output`` (the two containers), ``probe`` (describing a video),
``restore`` (the threaded run), ``encoder`` and ``streams`` (the output's video and side
streams), ``reader``/``writer``/``threads`` (the pipeline stages), ``sample`` (a few frames
for ``restore auto``), ``rotation``, ``pixels``, ``stream_facts``, ``options`` and
``ffmpeg_errors``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from restorecli.media.video.options import ProcessFn, ProgressFn, VideoOptions, VideoReport

if TYPE_CHECKING:
    from restorecli.media.video.probe import VideoInfo, describe_video, probe_video
    from restorecli.media.video.restore import restore_video
    from restorecli.media.video.source import InputVideo, Source, open_video

# PyAV takes a tenth of a second to import: the names that need it load on first use, so
# restoring a photo never pays for it.
_LAZY = {
    "VideoInfo": "probe",
    "describe_video": "probe",
    "probe_video": "probe",
    "restore_video": "restore",
    "InputVideo": "source",
    "Source": "source",
    "open_video": "source",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "InputVideo",
    "ProcessFn",
    "ProgressFn",
    "Source",
    "VideoInfo",
    "VideoOptions",
    "VideoReport",
    "describe_video",
    "open_video",
    "probe_video",
    "restore_video",
]
