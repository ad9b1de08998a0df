"""The video encoder: which codec and pixel format, its options, colour, padding and timing."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.video.reformatter import Colorspace

from restorecli.errors import OutputFormatError
from restorecli.media.video.options import VideoOptions, VideoReport
from restorecli.media.video.output import copy_tags, muxer_takes_codec
from restorecli.media.video.stream_facts import bit_depth, frame_rate

# Encoders tried in order when the requested one is missing or the container refuses it.
FALLBACK_ENCODERS = ("libx264", "libopenh264", "libx265", "libvpx-vp9", "mpeg4")

# FFmpeg AVColorSpace value -> swscale matrix used to convert RGB back to YUV on output.
SWS_COLORSPACE = {
    1: Colorspace.ITU709,
    4: Colorspace.FCC,
    5: Colorspace.ITU601,
    6: Colorspace.SMPTE170M,
    7: Colorspace.SMPTE240M,
    9: Colorspace.BT2020,
    10: Colorspace.BT2020,
}
RANGE_MPEG, RANGE_JPEG = 1, 2  # AVColorRange


@dataclass
class VideoPlan:
    """Everything decided about the output video stream before the first frame is encoded."""

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

    def pad(self, array: np.ndarray) -> np.ndarray:
        """One H x W x 3 frame grown to the encoded size by repeating its last column/row."""
        if not (self.pad_right or self.pad_bottom):
            return array
        return np.pad(array, ((0, self.pad_bottom), (0, self.pad_right), (0, 0)), mode="edge")


def encoder_exists(name: str) -> bool:
    """True when this FFmpeg build has an encoder called ``name``."""
    try:
        av.Codec(name, "w")
    except Exception:
        return False
    return True


def choose_encoder(requested: str, format_name: str, notes: list[str]) -> str:
    """``requested`` if it exists and the muxer takes it, else the first fallback that does."""
    for name in dict.fromkeys((requested, *FALLBACK_ENCODERS)):
        if not encoder_exists(name) or not muxer_takes_codec(format_name, name):
            continue
        if name != requested:
            notes.append(
                f"video encoder {requested} is missing or not allowed in {format_name}; used {name}"
            )
        return name
    raise OutputFormatError(f"no video encoder here can write {format_name} ({requested} asked)")


def choose_pix_fmt(codec: str, requested: str | None, high_bit: bool, notes: list[str]) -> str:
    """The requested pixel format if ``codec`` takes it, else yuv420p (10-bit for deep input)."""
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


def codec_options(codec: str, options: VideoOptions) -> dict[str, str]:
    """Encoder options carrying ``crf``/``preset`` for the encoders that have them."""
    if codec in ("libx264", "libx265"):
        opts = {"crf": str(options.crf), "preset": options.preset}
        if codec == "libx265":
            opts["x265-params"] = "log-level=error"
        return opts
    if codec.startswith("libvpx"):
        return {"crf": str(options.crf), "b": "0"}
    return {}


def start_report(plan: VideoPlan, expected: int | None, fps: Any) -> VideoReport:
    """The report of a run about to encode by ``plan``: no frame written yet."""
    return VideoReport(
        frames=0,
        frames_expected=expected,
        codec=plan.codec,
        pix_fmt=plan.pix_fmt,
        width=plan.width,
        height=plan.height,
        padding=(plan.pad_right, plan.pad_bottom),
        fps=fps,
        rotation=0,
        notes=plan.notes,
    )


def plan_video(stream: Any, options: VideoOptions, format_name: str) -> VideoPlan:
    """Decide the output video stream for input ``stream`` written by muxer ``format_name``."""
    notes: list[str] = []
    ctx = stream.codec_context
    high_bit = bit_depth(stream) > 8
    codec = choose_encoder(options.codec, format_name, notes)
    pix_fmt = choose_pix_fmt(codec, options.pix_fmt, high_bit, notes)
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
    return VideoPlan(
        codec=codec,
        pix_fmt=pix_fmt,
        codec_options=codec_options(codec, options),
        width=ctx.width + pad_right,
        height=ctx.height + pad_bottom,
        pad_right=pad_right,
        pad_bottom=pad_bottom,
        high_bit=high_bit,
        colorspace=SWS_COLORSPACE.get(int(ctx.colorspace)),
        color_range=ctx.color_range if ctx.color_range in (RANGE_MPEG, RANGE_JPEG) else RANGE_MPEG,
        time_base=time_base,
        encoder_time_base=encoder_time_base,
        notes=notes,
    )


def add_video_stream(output: Any, video: Any, plan: VideoPlan, options: VideoOptions) -> Any:
    """The encoder stream, with the input's timing, aspect, colour tags and metadata."""
    video_out = output.add_stream(plan.codec, rate=frame_rate(video), options=plan.codec_options)
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
    video_out.metadata.update(copy_tags(video.metadata))
    return video_out
