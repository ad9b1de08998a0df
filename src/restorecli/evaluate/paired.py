"""Paired-folder evaluation: restore ``DIR/input/*`` and score against ``DIR/target/*``.

A paired folder holds two sub-folders with the same file names (the same stem with another
image extension also pairs, e.g. ``input/1.jpg`` with ``target/1.png``). Pairs are taken in
natural order (``2.png`` before ``10.png``); ``limit`` keeps the first N, for quick runs.

Every image is scored twice: the restored output against the target, and the degraded input
itself against the target (the starting point; it does not depend on the model, so it is
computed once per image and reused across settings).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from restorecli.errors import InputNotFoundError, UnsupportedInputError
from restorecli.evaluate.metrics import Metrics, image_metrics, mean_metrics, quantize
from restorecli.evaluate.sheets import contact_sheet, save_png, side_by_side
from restorecli.media.image import EXTENSIONS as IMAGE_EXTENSIONS
from restorecli.media.image import ImageData, read_image, write_image
from restorecli.media.safe_write import atomic_output, check_output

if TYPE_CHECKING:
    from restorecli.pipeline import Restorer

__all__ = [
    "EvalResult",
    "ImageResult",
    "OutputSaver",
    "Pair",
    "evaluate_pairs",
    "find_pairs",
    "load_pair",
    "natural_key",
]


@dataclass(frozen=True)
class Pair:
    """One degraded input and its clean target."""

    name: str  # the input's file name
    input: Path
    target: Path

    @property
    def stem(self) -> str:
        return Path(self.name).stem


@dataclass
class ImageResult:
    """Scores of one image: the restored output's and the degraded input's."""

    name: str
    output: Metrics
    input: Metrics
    seconds: float  # restoration time (model only)

    def as_dict(self) -> dict[str, Any]:
        return {
            "image": self.name,
            **self.output.as_dict(),
            **{f"input_{k}": v for k, v in self.input.as_dict().items()},
            "seconds": self.seconds,
        }


@dataclass
class EvalResult:
    """All images of one setting, with the means."""

    setting: dict[str, Any]
    images: list[ImageResult] = field(default_factory=list)

    @property
    def mean(self) -> Metrics:
        return mean_metrics([r.output for r in self.images])

    @property
    def input_mean(self) -> Metrics:
        return mean_metrics([r.input for r in self.images])

    @property
    def seconds(self) -> float:
        return float(sum(r.seconds for r in self.images))

    def as_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "mean": self.mean.as_dict(),
            "input_mean": self.input_mean.as_dict(),
            "seconds": self.seconds,
            "images": [r.as_dict() for r in self.images],
        }


def natural_key(name: str) -> list[Any]:
    """Sort key putting ``2.png`` before ``10.png``."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def find_pairs(
    root: str | os.PathLike[str],
    *,
    limit: int | None = None,
    input_dir: str = "input",
    target_dir: str = "target",
) -> list[Pair]:
    """The (input, target) pairs of a paired folder, in natural order, at most ``limit``.

    Raises InputNotFoundError when the folder or a sub-folder is missing, holds no images, or
    when an image has no counterpart on the other side.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: no such folder")
    sides = {}
    for sub in (input_dir, target_dir):
        folder = root / sub
        if not folder.is_dir():
            raise InputNotFoundError(
                f"{folder}: no such folder (a paired folder holds {input_dir}/ and "
                f"{target_dir}/ with the same file names)"
            )
        sides[sub] = {p.name: p for p in _images(folder)}
    inputs, targets = sides[input_dir], sides[target_dir]
    if not inputs:
        raise InputNotFoundError(f"{root / input_dir}: no images found")
    by_stem: dict[str, list[str]] = {}
    for name in targets:
        by_stem.setdefault(Path(name).stem, []).append(name)
    pairs, missing, used = [], [], set()
    for name in sorted(inputs, key=natural_key):
        match = name if name in targets else None
        if match is None and len(by_stem.get(Path(name).stem, [])) == 1:
            match = by_stem[Path(name).stem][0]
        if match is None:
            missing.append(name)
            continue
        used.add(match)
        pairs.append(Pair(name, inputs[name], targets[match]))
    if missing:
        raise InputNotFoundError(
            f"{root / target_dir}: no target for {_few(missing)} "
            f"(input and target files must have the same names)"
        )
    extra = sorted(set(targets) - used, key=natural_key)
    if extra:
        raise InputNotFoundError(
            f"{root / input_dir}: no input for {_few(extra)} "
            f"(input and target files must have the same names)"
        )
    return pairs[:limit] if limit is not None else pairs


def load_pair(pair: Pair, *, max_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Decoded (input, target) RGB in [0, 1] and the target's bit depth; sizes must match."""
    inp = read_image(pair.input, max_pixels=max_pixels)
    tgt = read_image(pair.target, max_pixels=max_pixels)
    if inp.rgb.shape != tgt.rgb.shape:
        raise UnsupportedInputError(
            f"{pair.input}: {inp.width}x{inp.height} but its target {pair.target} is "
            f"{tgt.width}x{tgt.height} (a pair must have the same size)"
        )
    return inp.rgb, tgt.rgb, tgt.bit_depth


ImageCallback = Callable[[Pair, np.ndarray, np.ndarray, np.ndarray, ImageResult], None]


def evaluate_pairs(
    restorer: Restorer,
    pairs: Iterable[Pair],
    *,
    setting: Mapping[str, Any] | None = None,
    crop_border: int = 0,
    input_cache: dict[str, Metrics] | None = None,
    on_image: ImageCallback | None = None,
    max_pixels: int | None = None,
) -> EvalResult:
    """Restore every pair's input with ``restorer`` (its current config) and score it.

    The output is rounded to the target's bit depth before scoring (what a written file holds).
    ``input_cache`` (name -> input metrics) is filled and reused across calls. ``on_image``
    receives the pair, the input, the output, the target and the scores (e.g. to save them).
    """
    result = EvalResult(dict(setting or {}))
    cache = input_cache if input_cache is not None else {}
    prepare = getattr(restorer, "prepare", None)
    if prepare is not None:  # one-time set-up stays out of the per-image times
        prepare()
    for pair in pairs:
        inp, tgt, bits = load_pair(pair, max_pixels=max_pixels)
        start = time.perf_counter()
        out = quantize(restorer.restore_array(inp), bits)
        seconds = time.perf_counter() - start
        key = str(pair.input)
        if key not in cache:
            cache[key] = image_metrics(inp, tgt, crop_border=crop_border)
        row = ImageResult(
            pair.name, image_metrics(out, tgt, crop_border=crop_border), cache[key], seconds
        )
        result.images.append(row)
        if on_image is not None:
            on_image(pair, inp, out, tgt, row)
    return result


class OutputSaver:
    """Writes restored images, a side-by-side sheet per image and a contact sheet.

    Layout under ``folder``: ``NAME.png`` (the output, lossless), ``sheets/NAME.png``
    (input | output | target, downscaled to ``sheet_side``) and ``contact_sheet.png`` (the
    first ``contact_rows`` sheets stacked) once ``finish`` is called. Existing files are kept
    unless ``overwrite`` (``check`` finds conflicts before any work is done).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        sheet_side: int = 320,
        contact_rows: int = 12,
        label: str = "",
    ) -> None:
        self.folder = Path(folder)
        self.overwrite = overwrite
        self.sheet_side = sheet_side
        self.contact_rows = contact_rows
        self.label = label
        self._rows: list[Any] = []

    def paths(self, pair: Pair) -> tuple[Path, Path]:
        return self.folder / f"{pair.stem}.png", self.folder / "sheets" / f"{pair.stem}.png"

    def check(self, pairs: Iterable[Pair]) -> None:
        """Raise OutputExistsError now if any file this saver would write already exists."""
        for pair in pairs:
            for path in self.paths(pair):
                check_output(path, overwrite=self.overwrite, input_paths=(pair.input, pair.target))
        check_output(self.folder / "contact_sheet.png", overwrite=self.overwrite)

    def __call__(
        self, pair: Pair, inp: np.ndarray, out: np.ndarray, tgt: np.ndarray, row: ImageResult
    ) -> None:
        out_path, sheet_path = self.paths(pair)
        with atomic_output(out_path, overwrite=self.overwrite, create_parents=True) as tmp:
            write_image(tmp, ImageData(rgb=out.astype(np.float32)), format="PNG")
        m, mi = row.output, row.input
        sheet = side_by_side(
            [inp, out, tgt],
            [
                f"input {mi.psnr:.2f} dB",
                f"output {m.psnr:.2f} dB {self.label}".strip(),
                f"target {pair.name}",
            ],
            max_side=self.sheet_side,
        )
        save_png(sheet, sheet_path, overwrite=self.overwrite)
        if len(self._rows) < self.contact_rows:
            self._rows.append(sheet)

    def finish(self) -> Path | None:
        """Write the contact sheet (if any image was saved) and return its path."""
        if not self._rows:
            return None
        path = self.folder / "contact_sheet.png"
        return save_png(contact_sheet(self._rows), path, overwrite=self.overwrite)


def _images(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    ]


def _few(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
