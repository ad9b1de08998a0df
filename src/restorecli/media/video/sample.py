"""A few frames spread over a video, for judging it without decoding it all (``restore auto``)."""

from __future__ import annotations

import av
import numpy as np

from restorecli.errors import CorruptInputError
from restorecli.media.video.ffmpeg_errors import ffmpeg_message
from restorecli.media.video.source import Source, open_video
from restorecli.media.video.stream_facts import duration_seconds


def sample_frames(src: Source, count: int = 3) -> list[np.ndarray]:
    """Up to ``count`` RGB frames (float32 HxWx3 in [0, 1]) at evenly spread times.

    Each is the first frame at or after its time; a video without a known duration gives its
    first frame only, and one shorter than ``count`` frames gives fewer.
    """
    source = open_video(src)
    container, stream = source.container, source.video
    frames: list[np.ndarray] = []
    try:
        seconds = duration_seconds(container, stream)
        duration = int(seconds / stream.time_base) if seconds and stream.time_base else 0
        offsets = [0] if not duration else [int(duration * (i + 0.5) / count) for i in range(count)]
        start = stream.start_time or 0
        seen: set[int] = set()
        for offset in offsets:
            try:
                if offset:  # lands on the keyframe before; decode on to the time asked for
                    container.seek(start + offset, stream=stream, backward=True)
                frame = None
                for frame in container.decode(stream):
                    if frame.pts is None or frame.pts >= start + offset:
                        break
            except av.FFmpegError as exc:
                if not frames:
                    raise CorruptInputError(
                        f"{source.name}: cannot decode video ({ffmpeg_message(exc)})"
                    ) from None
                break
            if frame is None or frame.pts in seen:
                continue
            seen.add(frame.pts)
            frames.append(frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0)
    finally:
        container.close()
    if not frames:
        raise CorruptInputError(f"{source.name}: no decodable video frames")
    return frames
