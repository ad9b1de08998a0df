"""The reader thread: demuxes the input, decodes video into RGB batches, forwards side packets."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from restorecli.errors import CorruptInputError
from restorecli.media.video.ffmpeg_errors import ffmpeg_message
from restorecli.media.video.pixels import rgb_format
from restorecli.media.video.source import InputVideo
from restorecli.media.video.stream_facts import bit_depth, frame_rate
from restorecli.media.video.threads import Batch, End, put

SIDE_FLUSH_LIMIT = 256  # forward pending audio packets once this many pile up with no video


class Reader:
    """Demuxes the input, decodes video into uint8/uint16 RGB batches, forwards side packets."""

    def __init__(
        self, source: InputVideo, copy_map: dict[int, int], decode_map: dict[int, int]
    ) -> None:
        self.source = source
        self.copy_map = copy_map  # input stream index -> output index, packets copied as-is
        self.decode_map = decode_map  # input stream index -> output index, audio re-encoded
        self.high_bit = bit_depth(source.video) > 8
        self.reformatter = VideoReformatter()
        self.frames_read = 0
        self.size: tuple[int, int] | None = None
        self.notes: list[str] = []
        self._last_pts: int | None = None
        self._resized = False
        rate, tb = frame_rate(source.video), source.video.time_base
        self._step = max(1, round(1 / (rate * tb))) if rate and tb else 1

    def items(self) -> Iterator[tuple[str, Any]]:
        """Yield ("frame", VideoFrame) and ("side", (out_index, Packet | AudioFrame)).

        What ``first_frame`` read ahead comes first, then the rest of the same demux.
        """
        source, video = self.source, self.source.video
        try:
            for item in source.head:
                if isinstance(item, av.VideoFrame):
                    yield "frame", item
                else:
                    yield from self.side_items(item)
            source.head = []
            assert source.packets is not None  # restore_video read up to the first frame
            for packet in source.packets:
                if packet.stream.index == video.index:
                    for frame in video.decode(packet):
                        yield "frame", frame
                else:
                    yield from self.side_items(packet)
        except av.FFmpegError as exc:
            raise CorruptInputError(
                f"{source.name}: corrupt video data after {self.frames_read} frames "
                f"({ffmpeg_message(exc)})"
            ) from None

    def side_items(self, packet: Any) -> Iterator[tuple[str, Any]]:
        """A side stream's packet as the output takes it: copied, decoded, or dropped."""
        index = packet.stream.index
        if index in self.copy_map:
            if packet.size and (packet.pts is not None or packet.dts is not None):
                yield "side", (self.copy_map[index], packet)
        elif index in self.decode_map:
            for frame in packet.stream.codec_context.decode(packet):
                yield "side", (self.decode_map[index], frame)

    def to_array(self, frame: Any) -> tuple[np.ndarray, int, int]:
        """RGB array (stored orientation), pts made strictly increasing, duration."""
        if self.size is None:
            self.size = (frame.width, frame.height)
        width, height = self.size
        if (frame.width, frame.height) != self.size and not self._resized:
            self._resized = True
            self.notes.append(f"frame size changes mid-stream; scaled to {width}x{height}")
        rgb = self.reformatter.reformat(
            frame, width=width, height=height, format=rgb_format(self.high_bit)
        )
        pts = frame.pts
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + self._step
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing timestamps
        self._last_pts = pts
        self.frames_read += 1
        return rgb.to_ndarray(), pts, int(frame.duration or 0)

    def run(self, q: queue.Queue, stop: threading.Event, batch_size: int) -> None:
        """Group ``items()`` into batches on ``q``; always ends with an ``End``."""
        end = End()
        try:
            frames: list[np.ndarray] = []
            pts: list[int] = []
            durations: list[int] = []
            side: list[tuple[int, Any]] = []
            for kind, payload in self.items():
                if stop.is_set():
                    return
                if kind == "side":
                    side.append(payload)
                    if len(side) < SIDE_FLUSH_LIMIT or frames:
                        continue
                else:
                    array, p, d = self.to_array(payload)
                    frames.append(array)
                    pts.append(p)
                    durations.append(d)
                    if len(frames) < batch_size:
                        continue
                if not put(q, _batch(frames, pts, durations, side), stop):
                    return
                frames, pts, durations, side = [], [], [], []
            if frames or side:
                put(q, _batch(frames, pts, durations, side), stop)
        except BaseException as exc:
            end.error = exc
        finally:
            put(q, end, stop)


def _batch(
    frames: list[np.ndarray], pts: list[int], durations: list[int], side: list[tuple[int, Any]]
) -> Batch:
    return Batch(np.stack(frames) if frames else None, pts, durations, side)
