"""Comparison sheets and the Pillow line plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.errors import OutputExistsError
from restorecli.evaluate.plot import line_plot
from restorecli.evaluate.sheets import contact_sheet, save_png, side_by_side


def test_side_by_side_downscales_and_keeps_order() -> None:
    red = np.zeros((100, 200, 3), np.float32)
    red[..., 0] = 1
    blue = np.zeros((100, 200, 3), np.float32)
    blue[..., 2] = 1
    sheet = side_by_side([red, blue], max_side=50)
    assert sheet.size == (50 + 4 + 50, 25)  # no captions: no caption strip
    assert sheet.getpixel((10, 10)) == (255, 0, 0) and sheet.getpixel((80, 10)) == (0, 0, 255)
    captioned = side_by_side([red, blue], ["a", "b"], max_side=50)
    assert captioned.height > 25
    with pytest.raises(ValueError):
        side_by_side([red], ["a", "b"])


def test_contact_sheet_and_save(tmp_path: Path) -> None:
    rows = [Image.new("RGB", (300, 40), (i * 50, 0, 0)) for i in range(3)]
    sheet = contact_sheet(rows, max_width=150)
    assert sheet.width == 150 and sheet.height == 3 * 20 + 2 * 4
    path = save_png(sheet, tmp_path / "a" / "c.png")
    assert Image.open(path).size == sheet.size
    with pytest.raises(OutputExistsError):
        save_png(sheet, path)
    save_png(sheet, path, overwrite=True)


def test_line_plot() -> None:
    img = line_plot(
        {"a": [(0, 10.0), (0.5, 20.0), (1, math.inf)], "b": [(0, 5.0), (1, None)]},
        title="t",
        xlabel="severity",
        ylabel="dB",
        size=(320, 200),
    )
    assert img.size == (320, 200)
    assert len(img.getcolors(maxcolors=100000) or []) > 3  # something was drawn in colour
    with pytest.raises(ValueError, match="nothing"):
        line_plot({"a": [(0, math.nan)]})
