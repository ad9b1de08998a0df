"""The writer thread: owns the output container, encodes restored frames, muxes side streams."""

from __future__ import annotations

import queue
import threading
from typing import Any

import av
from av.video.reformatter import VideoReformatter

from restorecli.media.video.encoder import VideoPlan
from restorecli.media.video.pixels import rgb_format
from restorecli.media.video.threads import Batch, End, get_until


class Writer:
    """Owns the output container: encodes restored frames and muxes side-stream packets."""

    def __init__(self, output: Any, video_out: Any, plan: VideoPlan) -> None:
        self.output = output
        self.video_out = video_out
        self.plan = plan
        self.reformatter = VideoReformatter()

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            self.output.mux(packet)

    def write(self, batch: Batch) -> None:
        """Mux the batch's side items, then encode its frames (integer RGB) with their pts."""
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
            rgb = av.VideoFrame.from_ndarray(plan.pad(array), format=rgb_format(plan.high_bit))
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
        """Flush the video encoder and any audio encoders."""
        self._mux(self.video_out.encode(None))
        for stream in self.output.streams:
            if (
                stream is not self.video_out
                and stream.type == "audio"
                and stream.codec_context.is_encoder
            ):
                self._mux(stream.encode(None))

    def run(self, q: queue.Queue, stop: threading.Event) -> None:
        """Consume batches until ``End`` (then flush) or ``stop`` (then just close)."""
        try:
            while True:
                item = get_until(q, stop.is_set)
                if item is None or stop.is_set():
                    return
                if isinstance(item, End):
                    self.finish()
                    return
                self.write(item)
        finally:
            self.output.close()
