"""Side-by-side comparison sheets (input | output | target) and contact sheets, as PNG.

Sheets are for looking, not for scoring: panels are downscaled (``max_side``) so they stay
small enough for docs, and each panel gets a caption strip above it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from restorecli.media.safe_write import atomic_output

__all__ = ["contact_sheet", "save_png", "side_by_side", "to_pil"]

CAPTION_HEIGHT = 14
GAP = 4
BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)


def to_pil(image: np.ndarray) -> Image.Image:
    """Float H x W x 3 in [0, 1] (or uint8) -> an RGB Pillow image."""
    if image.dtype != np.uint8:
        image = np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(image), "RGB")


def side_by_side(
    panels: Sequence[np.ndarray | Image.Image],
    captions: Sequence[str] | None = None,
    *,
    max_side: int | None = 320,
) -> Image.Image:
    """Panels in one row, each scaled so its longer side is at most ``max_side`` pixels."""
    if not panels:
        raise ValueError("no panels to draw")
    images = [_fit(p if isinstance(p, Image.Image) else to_pil(p), max_side) for p in panels]
    captions = list(captions or [""] * len(images))
    if len(captions) != len(images):
        raise ValueError("give one caption per panel")
    top = CAPTION_HEIGHT if any(captions) else 0
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    # A slot is as wide as its panel or its caption, so captions never run into each other.
    slots = [
        max(im.width, int(probe.textlength(c, font=font)) + 4 if c else 0)
        for im, c in zip(images, captions, strict=True)
    ]
    width = sum(slots) + GAP * (len(images) - 1)
    height = top + max(im.height for im in images)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    x = 0
    for im, caption, slot in zip(images, captions, slots, strict=True):
        sheet.paste(im, (x, top))
        if caption:
            draw.text((x + 2, 1), caption, fill=TEXT, font=font)
        x += slot + GAP
    return sheet


def contact_sheet(rows: Sequence[Image.Image], *, max_width: int | None = 1200) -> Image.Image:
    """Stack sheets vertically (scaled to at most ``max_width``): one overview image."""
    if not rows:
        raise ValueError("no rows to stack")
    width = max(r.width for r in rows)
    scale = min(1.0, max_width / width) if max_width else 1.0
    scaled = [_resize(r, scale) for r in rows]
    width = max(r.width for r in scaled)
    height = sum(r.height for r in scaled) + GAP * (len(scaled) - 1)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    y = 0
    for r in scaled:
        sheet.paste(r, (0, y))
        y += r.height + GAP
    return sheet


def save_png(image: Image.Image, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``image`` as an optimised PNG, atomically (never a half-written file)."""
    path = Path(path)
    with atomic_output(path, overwrite=overwrite, create_parents=True) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return path


def _fit(im: Image.Image, max_side: int | None) -> Image.Image:
    if not max_side or max(im.size) <= max_side:
        return im
    return _resize(im, max_side / max(im.size))


def _resize(im: Image.Image, scale: float) -> Image.Image:
    if scale >= 1.0:
        return im
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS)
