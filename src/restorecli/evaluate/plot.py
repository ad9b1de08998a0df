"""A small line plot drawn with Pillow (matplotlib is not a dependency).

Enough for "metric against severity": axes with ticks, one coloured polyline with markers per
series, a legend. Non-finite points (e.g. an infinite PSNR) are left out of the line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

__all__ = ["PALETTE", "line_plot"]

PALETTE = (
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (23, 190, 207),
)


def line_plot(
    series: Mapping[str, Sequence[tuple[float, float | None]]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (640, 400),
) -> Image.Image:
    """Plot ``{name: [(x, y), ...]}`` and return the RGB image."""
    width, height = size
    left, right, top, bottom = 56, 150, 28, 40
    pts = [
        (x, y)
        for values in series.values()
        for x, y in values
        if y is not None and math.isfinite(y) and math.isfinite(x)
    ]
    if not pts:
        raise ValueError("nothing to plot: no finite points")
    x0, x1 = _span([p[0] for p in pts])
    y0, y1 = _span([p[1] for p in pts], pad=0.05)
    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    pw, ph = width - left - right, height - top - bottom

    def to_px(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / (x1 - x0) * pw, top + (1 - (y - y0) / (y1 - y0)) * ph

    draw.rectangle([left, top, left + pw, top + ph], outline=(0, 0, 0))
    for tx in _ticks(x0, x1):
        px, _ = to_px(tx, y0)
        draw.line([px, top + ph, px, top + ph + 4], fill=(0, 0, 0))
        draw.text((px - 10, top + ph + 6), f"{tx:g}", fill=(0, 0, 0), font=font)
    for ty in _ticks(y0, y1):
        _, py = to_px(x0, ty)
        draw.line([left - 4, py, left, py], fill=(0, 0, 0))
        draw.line([left + 1, py, left + pw - 1, py], fill=(230, 230, 230))
        draw.text((4, py - 6), f"{ty:.4g}", fill=(0, 0, 0), font=font)
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        line = [
            to_px(x, y)
            for x, y in values
            if y is not None and math.isfinite(y) and math.isfinite(x)
        ]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        for px, py in line:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        ly = top + 6 + 16 * i
        draw.line([left + pw + 10, ly + 6, left + pw + 30, ly + 6], fill=colour, width=2)
        draw.text((left + pw + 34, ly), name, fill=(0, 0, 0), font=font)
    if title:
        draw.text((left, 8), title, fill=(0, 0, 0), font=font)
    if xlabel:
        draw.text(
            (left + pw // 2 - 3 * len(xlabel), height - 16), xlabel, fill=(0, 0, 0), font=font
        )
    if ylabel:
        draw.text((4, top - 20), ylabel, fill=(0, 0, 0), font=font)
    return img


def _span(values: Sequence[float], pad: float = 0.0) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    margin = (hi - lo) * pad
    return lo - margin, hi + margin


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values inside [lo, hi]."""
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks
