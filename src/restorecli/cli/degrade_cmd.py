"""``restore degrade``: make synthetic degraded images (and clean/degraded pairs).

Thin layer over :mod:`restorecli.degrade`: it reads images, picks seeds, writes results.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from restorecli.config import DEGRADATIONS as TASKS
from restorecli.errors import (
    CorruptInputError,
    DiskFullError,
    InputNotFoundError,
    InputTooLargeError,
    OutputExistsError,
    OutputFormatError,
    OutputNotWritableError,
    RestoreError,
    UnsupportedInputError,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
            ".tiff": "TIFF", ".webp": "WEBP"}  # fmt: skip


def file_seed(seed: int | None, name: str) -> np.random.SeedSequence:
    """Seed for one file of a folder: stable across runs, different for each name."""
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    base = np.random.SeedSequence(seed).entropy if seed is None else seed
    return np.random.SeedSequence([int(base), digest])


def read_rgb(path: Path) -> tuple[np.ndarray, bytes | None]:
    """Decode an image as float32 RGB in [0, 1] with EXIF orientation applied, plus its ICC."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            raise CorruptInputError(f"{path}: empty file")
        with Image.open(path) as im:
            icc = im.info.get("icc_profile")
            upright = ImageOps.exif_transpose(im)
            if upright.mode in ("I", "I;16", "I;16B", "I;16L"):
                # 16-bit grey: Pillow's convert("RGB") would saturate it, so scale it here.
                grey = np.asarray(upright, dtype=np.float32) / 65535.0
                return np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=2), icc
            arr = np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such file") from None
    except Image.DecompressionBombError as exc:
        raise InputTooLargeError(f"{path}: {exc}") from None
    except UnidentifiedImageError:
        raise UnsupportedInputError(f"{path}: not an image format Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptInputError(f"{path}: cannot decode image ({exc})") from None
    return arr.astype(np.float32) / 255.0, icc


def write_rgb(path: Path, image: np.ndarray, icc: bytes | None = None) -> None:
    """Encode float RGB in [0, 1] to ``path`` atomically (temp file + os.replace)."""
    from PIL import Image

    fmt = _FORMATS[path.suffix.lower()]
    u8 = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    options: dict[str, object] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    if icc and fmt in ("PNG", "JPEG", "TIFF", "WEBP"):
        options["icc_profile"] = icc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise OutputNotWritableError(f"{path.parent}: cannot write here ({exc})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(u8).save(f, format=fmt, **options)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"{path}: no space left on the device") from None
        if isinstance(exc, OSError):
            raise OutputNotWritableError(f"{path}: cannot write ({exc})") from None
        raise


def _plan(src: Path, out: Path, pairs: bool) -> list[tuple[Path, Path, Path | None]]:
    """(input file, degraded output, clean target or None) for every image to make."""
    if src.is_dir():
        files = sorted(
            p for p in src.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise UnsupportedInputError(f"{src}: no images ({', '.join(IMAGE_SUFFIXES)})")
        stems = [p.stem for p in files]
        # a.jpg and a.png would both become a.png: keep the suffix in the name then.
        names = [
            f"{p.stem}_{p.suffix[1:].lower()}" if stems.count(p.stem) > 1 else p.stem for p in files
        ]
        if pairs:
            return [(p, out / "input" / f"{n}.png", out / "target" / f"{n}.png")
                    for p, n in zip(files, names, strict=True)]  # fmt: skip
        return [(p, out / f"{n}.png", None) for p, n in zip(files, names, strict=True)]
    if pairs:
        return [(src, out / "input" / f"{src.stem}.png", out / "target" / f"{src.stem}.png")]
    if out.is_dir():
        return [(src, out / f"{src.stem}.png", None)]
    if out.suffix.lower() not in _FORMATS:
        raise OutputFormatError(
            f"{out}: unknown image type {out.suffix!r}; use one of {', '.join(_FORMATS)}"
        )
    return [(src, out, None)]


def _check_outputs(jobs: list[tuple[Path, Path, Path | None]], overwrite: bool) -> None:
    inputs = {p.resolve() for p, _, _ in jobs}
    for _, dst, target in jobs:
        for path in (dst, target):
            if path is None:
                continue
            if path.resolve() in inputs:
                raise OutputExistsError(f"{path}: would replace an input file")
            if path.exists() and not overwrite:
                raise OutputExistsError(f"{path} exists (use --overwrite to replace it)")


def degrade_command(
    task: Annotated[str, typer.Argument(metavar="TASK", help=f"Degradation: {', '.join(TASKS)}.")],
    src: Annotated[Path, typer.Argument(metavar="IN", help="Clean image file or folder.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Output image (or folder when IN is one).")
    ],
    seed: Annotated[
        int | None,
        typer.Option(help="Random seed; in a folder each file's seed mixes in its name."),
    ] = None,
    severity: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="0 = lightest, 1 = heaviest; random if omitted."),
    ] = None,
    pairs: Annotated[
        bool, typer.Option("--pairs", help="Write OUT/input/ (degraded) and OUT/target/ (clean).")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing files.")] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            show_default=False,
            help="Fix a setting of the degradation (repeat), e.g. for the usual Gaussian noise "
            "test: --set kind=gaussian --set sigma=25/255 --set grey_prob=0. A range given one "
            "number stays at it.",
        ),
    ] = None,
) -> None:
    """Synthesise a degraded version of clean images (training or test pairs)."""
    if task not in TASKS:
        raise typer.BadParameter(
            f"unknown task {task!r}; choose from {', '.join(TASKS)}", param_hint="'TASK'"
        )
    from restorecli.degrade import config_with, degrade  # OpenCV loads for this command only

    config = None
    if settings:
        pairs_given = [item.partition("=") for item in settings]
        if any(not key or not sep for key, sep, _ in pairs_given):
            raise typer.BadParameter("give KEY=VALUE", param_hint="--set")
        try:
            config = config_with(task, {key: value for key, _, value in pairs_given})
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--set") from None
    if not src.exists():
        raise InputNotFoundError(f"{src}: no such file or folder")
    folder = src.is_dir()
    jobs = _plan(src, output, pairs)
    _check_outputs(jobs, overwrite)
    failures: list[str] = []
    for path, dst, target in jobs:
        try:
            clean, icc = read_rgb(path)
            # A single file uses --seed as is, so the CLI matches degrade(..., seed=N).
            rng = np.random.default_rng(file_seed(seed, path.name) if folder else seed)
            write_rgb(dst, degrade(task, clean, rng=rng, severity=severity, config=config), icc)
            if target is not None:
                write_rgb(target, clean, icc)
        except RestoreError as exc:
            if not folder:
                raise
            failures.append(str(exc))
            typer.echo(f"restore: skipped: {exc}", err=True)
    done = len(jobs) - len(failures)
    where = output if folder or pairs else jobs[0][1]
    typer.echo(
        f"wrote {done} degraded image{'s' if done != 1 else ''} ({task}) to {where}", err=True
    )
    if failures:
        raise RestoreError(f"{len(failures)} of {len(jobs)} files failed")


def register(app: typer.Typer) -> None:
    """Add the ``degrade`` command to ``app``."""
    app.command("degrade")(degrade_command)
