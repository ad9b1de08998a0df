"""Read and write still images, keeping everything the model does not touch.

The model sees one thing: ``rgb``, a float32 H x W x 3 array in [0, 1], upright (EXIF orientation
applied). Everything else rides along unchanged and is put back on writing: the alpha channel
(never restored, passed through at the original bit depth), grayscale-ness, 16-bit depth (kept
where the output format has it: PNG and TIFF), the ICC profile and the EXIF block (orientation
reset to "upright", since the pixels now are).

The format is sniffed from the content, never from the extension (files lie about it). PNG, JPEG,
WebP, TIFF and BMP are read; the first frame of a multi-frame file is used. Image size is checked
against a pixel limit from the header, before anything is decoded (decompression bombs).

Pillow reads multi-channel 16-bit files as 8-bit and cannot write them, so those go through
OpenCV; ICC/EXIF are then added to a 16-bit PNG as chunks (a 16-bit colour TIFF loses them).
"""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    InputTooLargeError,
    OutputFormatError,
    RestoreError,
    UnsupportedInputError,
)

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP")
# zlib level of PNG outputs: 1 writes a 1080p photo 5x faster than Pillow's default 6 for files
# about 13 % larger (benchmarks/bench_png.py; docs/benchmarks.md).
PNG_COMPRESSION = 1
EXTENSIONS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".dib": "BMP",
}
FORMAT_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
ICC_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "TIFF"})

DEFAULT_MAX_PIXELS = 200_000_000
MAX_PIXELS_ENV = "RESTORE_MAX_PIXELS"
DEFAULT_QUALITY = 95

_ORIENTATION = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_PIL_LOCK = threading.Lock()

Source = str | os.PathLike[str] | bytes


@dataclasses.dataclass
class ImageData:
    """A decoded image: what the model restores (``rgb``) and what is carried through."""

    rgb: np.ndarray  # float32 H x W x 3 in [0, 1], upright
    alpha: np.ndarray | None = None  # H x W, uint8 or uint16 (the source's depth), or None
    format: str = "PNG"  # source format (Pillow name): PNG, JPEG, WEBP, TIFF, BMP
    mode: str = "RGB"  # the source's Pillow mode, for information
    bit_depth: int = 8  # 8 or 16 bits per channel
    grayscale: bool = False
    icc_profile: bytes | None = None
    exif: bytes | None = None  # EXIF block ("Exif\0\0" + TIFF header), orientation reset

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    def with_rgb(self, rgb: np.ndarray) -> ImageData:
        """Same metadata and alpha, new pixels (e.g. the restored ones); sizes must match."""
        if rgb.shape != self.rgb.shape:
            raise ValueError(f"restored image is {rgb.shape}, expected {self.rgb.shape}")
        return dataclasses.replace(self, rgb=rgb)


def sniff_image_format(head: bytes) -> str | None:
    """The format named by a file's first bytes (16 are enough), or None if not an image."""
    if head.startswith(_PNG_SIGNATURE) or (0 < len(head) < 8 and _PNG_SIGNATURE.startswith(head)):
        return "PNG"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:2] == b"BM" and len(head) >= 18:
        header_size = struct.unpack("<I", head[14:18])[0]
        if header_size in _BMP_HEADER_SIZES:
            return "BMP"
    return None


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The output format an extension asks for; OutputFormatError if it names none we write."""
    ext = Path(path).suffix.lower()
    try:
        return EXTENSIONS[ext]
    except KeyError:
        known = ", ".join(sorted({".png", ".jpg", ".webp", ".tif", ".bmp"}))
        what = f"'{ext}'" if ext else "no extension"
        raise OutputFormatError(
            f"cannot write {path}: {what} is not an image format we write ({known})"
        ) from None


def resolve_max_pixels(max_pixels: int | None = None) -> int | None:
    """The pixel limit: the argument, else $RESTORE_MAX_PIXELS, else 200 megapixels.

    0 or a negative value means no limit (returned as None).
    """
    if max_pixels is None:
        env = os.environ.get(MAX_PIXELS_ENV, "").strip()
        try:
            max_pixels = int(float(env)) if env else DEFAULT_MAX_PIXELS
        except ValueError:
            raise RestoreError(f"{MAX_PIXELS_ENV}={env!r} is not a number of pixels") from None
    return max_pixels if max_pixels > 0 else None


def check_pixel_limit(width: int, height: int, max_pixels: int | None, label: str) -> None:
    """InputTooLargeError when width x height is above ``max_pixels`` (None = no limit)."""
    if max_pixels is not None and width * height > max_pixels:
        raise InputTooLargeError(
            f"{label}: {width}x{height} ({width * height / 1e6:.1f} megapixels) is above the "
            f"limit of {max_pixels / 1e6:g} megapixels (raise it with --max-pixels or "
            f"{MAX_PIXELS_ENV})"
        )


# Memory a restoration holds per pixel of the frame, beyond the model's own working set: the
# decoded file's float copy (12 B), the scaled and padded tensor (12), the tile accumulator,
# which is also the result (12), and the sampling noise (0.75 per step), rounded up for the
# decoder's 8-bit copy while it is read (3) and the encoder's output (measured: a 4096 x 4096
# photo peaks at 1.05 GiB, docs/benchmarks.md "Tiled inference memory").
BYTES_PER_PIXEL = 48
MEMORY_MARGIN = 512 * 2**20  # the interpreter, torch and the models


def available_memory() -> int | None:
    """Bytes the system can give this process now (Linux: MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(width: int, height: int, label: str, frames: int = 1) -> None:
    """InputTooLargeError, before anything is decoded, when restoring ``frames`` frames of
    width x height would need more memory than the system has available."""
    need = width * height * frames * BYTES_PER_PIXEL + MEMORY_MARGIN
    have = available_memory()
    if have is not None and need > have:
        raise InputTooLargeError(
            f"{label}: restoring {width}x{height} ({width * height / 1e6:.0f} megapixels) needs "
            f"about {need / 2**30:.1f} GiB of memory and {have / 2**30:.1f} GiB are available; "
            "free memory or restore a smaller copy"
        )


def read_image(source: Source, *, max_pixels: int | None = None) -> ImageData:
    """Decode an image file (path) or an in-memory file (bytes, e.g. stdin).

    Raises InputNotFoundError, UnsupportedInputError (not an image we read),
    CorruptInputError (empty, truncated, undecodable) and InputTooLargeError (above
    ``max_pixels``, see :func:`resolve_max_pixels`; checked before decoding).
    """
    limit = resolve_max_pixels(max_pixels)
    if isinstance(source, bytes | bytearray | memoryview):
        data, label = bytes(source), "<stdin>"
        head = data[:32]
    else:
        path = Path(source)
        label = str(path)
        data = None
        head = _read_head(path)
    if not head:
        raise CorruptInputError(f"{label}: empty file")
    fmt = sniff_image_format(head)
    if fmt is None:
        raise UnsupportedInputError(
            f"{label}: not an image we can read (PNG, JPEG, WebP, TIFF or BMP)"
        )
    with _pillow_limits_off():
        try:
            im = Image.open(io.BytesIO(data) if data is not None else path, formats=[fmt])
        except Image.DecompressionBombError as exc:
            raise InputTooLargeError(f"{label}: {exc}") from exc
        except Exception as exc:  # Pillow raises many types for malformed headers
            raise CorruptInputError(f"{label}: corrupt or truncated {fmt} file ({exc})") from exc
        with im:
            width, height = im.size
            check_pixel_limit(width, height, limit, label)
            check_memory(width, height, label)  # even with no pixel limit: a bomb stops here
            if _is_16bit_colour(im, head):
                if data is None:
                    data = path.read_bytes()
                return _read_16bit_colour(im, data, label)
            try:
                im.load()
            except Exception as exc:
                raise CorruptInputError(
                    f"{label}: corrupt or truncated {fmt} image ({exc})"
                ) from exc
            return _from_pillow(im, label)


# Rows converted at a time by ``_to_pixels``: its float temporaries stay this many pixels.
_BAND_PIXELS = 1 << 20
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601


def _to_pixels(rgb: np.ndarray, dtype: type, peak: int, *, gray: bool) -> np.ndarray:
    """Float RGB in [0, 1] (NaN as 0, clipped) -> integer pixels, luma if ``gray``. A band of
    rows at a time, so a large image needs no image-sized float copies beside its result."""
    height, width = rgb.shape[:2]
    out = np.empty((height, width) if gray else (height, width, 3), dtype=dtype)
    rows = max(1, _BAND_PIXELS // max(1, width))
    for y in range(0, height, rows):
        band = np.nan_to_num(rgb[y : y + rows].astype(np.float32))  # a copy of our own
        np.clip(band, 0.0, 1.0, out=band)
        if gray:
            band = band @ _LUMA
        band *= peak
        out[y : y + rows] = np.rint(band, out=band)
    return out


def encode_image(
    image: ImageData, format: str | None = None, *, quality: int = DEFAULT_QUALITY
) -> bytes:
    """Encode ``image`` in ``format`` (default: its source format) and return the file bytes.

    Grayscale stays grayscale, 16-bit stays 16-bit in PNG/TIFF (8-bit elsewhere), alpha is
    kept where the format has it (PNG, WebP, TIFF), ICC/EXIF where the format stores them.
    ``quality`` (1-100) applies to JPEG (4:4:4 chroma at 90 and above) and WebP (100 =
    lossless).
    """
    fmt = _normalise_format(format or image.format)
    sixteen = image.bit_depth == 16 and fmt in SIXTEEN_BIT_FORMATS
    dtype, peak = (np.uint16, 65535) if sixteen else (np.uint8, 255)
    pixels = _to_pixels(image.rgb, dtype, peak, gray=image.grayscale)
    alpha = None
    if image.alpha is not None and fmt in ALPHA_FORMATS:
        alpha = _convert_depth(image.alpha, dtype)
    icc = _icc_matching(image.icc_profile, gray=image.grayscale) if fmt in ICC_FORMATS else None
    exif = image.exif if fmt in EXIF_FORMATS else None

    if sixteen and (pixels.ndim == 3 or alpha is not None):
        return _encode_16bit_colour(pixels, alpha, fmt, icc, exif)

    if alpha is not None:
        channels = pixels[..., None] if pixels.ndim == 2 else pixels
        im = Image.fromarray(np.dstack([channels, alpha]), "LA" if image.grayscale else "RGBA")
    else:
        im = Image.fromarray(pixels)  # L, I;16 or RGB from the dtype and shape
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    if fmt == "JPEG":
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=quality, lossless=quality >= 100)
    elif fmt == "TIFF":
        options["compression"] = "tiff_deflate"
    elif fmt == "PNG":
        options["compress_level"] = PNG_COMPRESSION
    out = io.BytesIO()
    im.save(out, format=fmt, **options)
    return out.getvalue()


def write_image(
    dst: str | os.PathLike[str] | BinaryIO,
    image: ImageData,
    *,
    format: str | None = None,
    quality: int = DEFAULT_QUALITY,
) -> None:
    """Write ``image`` to a path (format from its extension) or a binary stream.

    For a stream the format is ``format``, else the source format. This writes where it is
    told: callers wrap it in :func:`restorecli.media.safe_write.atomic_output`.
    """
    if isinstance(dst, str | os.PathLike):
        data = encode_image(image, format or format_for_path(dst), quality=quality)
        with open(dst, "wb") as fh:
            fh.write(data)
    else:
        dst.write(encode_image(image, format, quality=quality))
        dst.flush()


# --- reading helpers -------------------------------------------------------------------------


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(32)
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnsupportedInputError(f"{path}: is a folder, not an image") from None
    except PermissionError:
        raise InputNotFoundError(f"{path}: permission denied") from None


@contextmanager
def _pillow_limits_off() -> Iterator[None]:
    """Our own pixel limit replaces Pillow's global one (which would refuse 180 MP images)."""
    with _PIL_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _is_16bit_colour(im: Image.Image, head: bytes) -> bool:
    """Multi-channel 16-bit files, which Pillow would silently reduce to 8 bits."""
    if im.format == "PNG" and len(head) >= 26 and head[12:16] == b"IHDR":
        depth, colour_type = head[24], head[25]
        return depth == 16 and colour_type in (2, 4, 6)
    if im.format == "TIFF" and not im.mode.startswith("I;16"):
        bits = im.tag_v2.get(258)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return len(bits) >= 2 and bits[0] == 16
    return False


def _read_16bit_colour(im: Image.Image, data: bytes, label: str) -> ImageData:
    import cv2  # only needed here; keeps plain imports light

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.shape[:2] != im.size[::-1]:
        raise CorruptInputError(f"{label}: corrupt or truncated 16-bit {im.format} image")
    gray = im.format == "PNG" and data[25] == 4  # gray + alpha; OpenCV expands it to BGRA
    alpha = None
    if array.ndim == 2:
        colour = np.repeat(array[..., None], 3, axis=2)
        gray = True
    else:
        if array.shape[2] == 4:
            alpha = array[..., 3]
        colour = array[..., 2::-1] if not gray else np.repeat(array[..., :1], 3, axis=2)
    orientation = _orientation(im)
    colour, alpha = _orient(colour, orientation), _orient(alpha, orientation)
    return ImageData(
        rgb=colour.astype(np.float32) / 65535.0,
        alpha=None if alpha is None else np.ascontiguousarray(alpha),
        format=im.format,
        mode=im.mode,
        bit_depth=16,
        grayscale=gray,
        icc_profile=im.info.get("icc_profile") or None,
        exif=_exif_upright(im, orientation),
    )


def _from_pillow(im: Image.Image, label: str) -> ImageData:
    source_mode = im.mode
    orientation = _orientation(im)
    exif = _exif_upright(im, orientation)
    icc = im.info.get("icc_profile") or None
    transparent = "transparency" in im.info
    if im.mode in ("1", "La"):
        im = im.convert("L" if im.mode == "1" else "LA")
    elif im.mode in ("P", "PA"):
        im = im.convert("RGBA" if transparent or im.mode == "PA" else "RGB")
    elif im.mode in ("RGBa", "RGBX"):
        im = im.convert("RGBA" if im.mode == "RGBa" else "RGB")
    elif im.mode == "F":
        raise UnsupportedInputError(f"{label}: 32-bit float images are not supported")
    elif im.mode not in ("L", "LA", "RGB", "RGBA", "I") and not im.mode.startswith("I;16"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV: the model works in RGB
        icc = None if source_mode == "CMYK" else icc

    array = np.asarray(im)
    if im.mode == "I" or im.mode.startswith("I;16"):
        if array.max(initial=0) > 65535 or array.min(initial=0) < 0:
            raise UnsupportedInputError(f"{label}: 32-bit integer images are not supported")
        array, depth, peak = array.astype(np.uint16), 16, 65535.0
    else:
        depth, peak = 8, 255.0
    alpha = None
    if im.mode in ("LA", "RGBA"):
        alpha = array[..., -1]
        array = array[..., :-1]
    gray = array.ndim == 2 or array.shape[2] == 1
    if gray:
        array = np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    array, alpha = _orient(array, orientation), _orient(alpha, orientation)
    return ImageData(
        rgb=array.astype(np.float32) / peak,
        alpha=None if alpha is None else np.ascontiguousarray(alpha),
        format=im.format or "PNG",
        mode=source_mode,
        bit_depth=depth,
        grayscale=gray,
        icc_profile=icc,
        exif=exif,
    )


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not make the whole image unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orient(array: np.ndarray | None, orientation: int) -> np.ndarray | None:
    """Apply EXIF orientation to an H x W (x C) array, as ImageOps.exif_transpose does."""
    if array is None or orientation == 1:
        return array
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](array))


def _exif_upright(im: Image.Image, orientation: int) -> bytes | None:
    """The EXIF block to write back, with the orientation tag removed (pixels are upright)."""
    if im.format == "TIFF":
        return None  # TIFF "EXIF" is the file's own structure tags, not portable metadata
    try:
        exif = im.getexif()
        if not exif and not im.info.get("exif"):
            return None
        if _ORIENTATION in exif:
            del exif[_ORIENTATION]
        elif orientation == 1 and isinstance(im.info.get("exif"), bytes):
            raw = im.info["exif"]
            return raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw
        return exif.tobytes()
    except Exception:  # unreadable EXIF: drop it rather than fail the whole image
        return None


# --- writing helpers -------------------------------------------------------------------------


def _normalise_format(fmt: str) -> str:
    fmt = fmt.upper()
    fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise OutputFormatError(f"cannot write {fmt} images: use one of {', '.join(FORMATS)}")
    return fmt


def _convert_depth(alpha: np.ndarray, dtype: type) -> np.ndarray:
    if alpha.dtype == dtype:
        return alpha
    if dtype is np.uint16:
        return alpha.astype(np.uint16) * 257
    return np.rint(alpha.astype(np.float32) / 257.0).astype(np.uint8)


def _icc_matching(icc: bytes | None, *, gray: bool) -> bytes | None:
    """Keep a profile only if its colour space matches the pixels we write."""
    if not icc or len(icc) < 20:
        return None
    space = icc[16:20]
    return icc if space == (b"GRAY" if gray else b"RGB ") else None


def _encode_16bit_colour(
    pixels: np.ndarray, alpha: np.ndarray | None, fmt: str, icc: bytes | None, exif: bytes | None
) -> bytes:
    import cv2

    colour = pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)
    bgr = colour[..., ::-1]
    if alpha is not None:
        bgr = np.dstack([bgr, alpha])
    params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION] if fmt == "PNG" else []
    ok, encoded = cv2.imencode(
        ".png" if fmt == "PNG" else ".tiff", np.ascontiguousarray(bgr), params
    )
    if not ok:
        raise RestoreError(f"could not encode a 16-bit {fmt} image")
    data = encoded.tobytes()
    if fmt == "PNG":
        chunks = b""
        if icc:
            chunks += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
        if exif:
            chunks += _png_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00"))
        data = data[:33] + chunks + data[33:]  # right after the 8-byte signature + IHDR
    return data


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
