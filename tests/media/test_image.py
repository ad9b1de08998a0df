"""Image reading/writing: formats by content, bit depth, grayscale, alpha, EXIF, ICC, errors."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin

from restorecli.errors import (
    CorruptInputError,
    InputNotFoundError,
    InputTooLargeError,
    OutputFormatError,
    UnsupportedInputError,
)
from restorecli.media.image import (
    MAX_PIXELS_ENV,
    ImageData,
    encode_image,
    format_for_path,
    read_image,
    resolve_max_pixels,
    sniff_image_format,
    write_image,
)

RNG = np.random.default_rng(0)


def rgb8(h: int = 12, w: int = 16) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def save(im: Image.Image, path: Path, fmt: str | None = None, **kw) -> Path:
    im.save(path, format=fmt, **kw)
    return path


def roundtrip(path: Path, out: Path, invert: bool = False, **kw) -> tuple[ImageData, Image.Image]:
    data = read_image(path)
    if invert:
        data = data.with_rgb(1.0 - data.rgb)
    write_image(out, data, **kw)
    back = Image.open(out)
    back.load()
    return data, back


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", ".png"), ("TIFF", ".tif"), ("BMP", ".bmp")])
def test_lossless_rgb_roundtrip_is_exact(tmp_path: Path, fmt: str, ext: str) -> None:
    pixels = rgb8()
    data, back = roundtrip(
        save(Image.fromarray(pixels), tmp_path / f"a{ext}"), tmp_path / f"b{ext}"
    )
    assert data.rgb.dtype == np.float32 and data.rgb.shape == (12, 16, 3)
    assert data.rgb.min() >= 0.0 and data.rgb.max() <= 1.0
    assert (data.format, data.bit_depth, data.grayscale, data.alpha) == (fmt, 8, False, None)
    assert back.format == fmt and back.mode == "RGB"
    assert np.array_equal(np.asarray(back), pixels)


def test_webp_lossless_and_lossy(tmp_path: Path) -> None:
    pixels = rgb8()
    src = save(Image.fromarray(pixels), tmp_path / "a.webp", lossless=True)
    _, back = roundtrip(src, tmp_path / "b.webp", quality=100)
    assert np.array_equal(np.asarray(back), pixels)
    data = read_image(src)
    assert len(encode_image(data, quality=30)) < len(encode_image(data, quality=100))


def test_jpeg_quality_and_full_chroma_at_high_quality(tmp_path: Path) -> None:
    src = save(Image.fromarray(rgb8(64, 64)), tmp_path / "a.jpg", quality=90)
    data = read_image(src)
    hi = Image.open(io.BytesIO(encode_image(data, quality=95)))
    lo = Image.open(io.BytesIO(encode_image(data, quality=60)))
    assert JpegImagePlugin.get_sampling(hi) == 0  # 4:4:4
    assert JpegImagePlugin.get_sampling(lo) == 2  # 4:2:0
    assert len(encode_image(data, quality=60)) < len(encode_image(data, quality=95))


def test_grayscale_stays_grayscale(tmp_path: Path) -> None:
    gray = RNG.integers(0, 256, (10, 9), dtype=np.uint8)
    data, back = roundtrip(save(Image.fromarray(gray), tmp_path / "g.png"), tmp_path / "o.png")
    assert data.grayscale and data.rgb.shape == (10, 9, 3)
    assert back.mode == "L"
    assert np.array_equal(np.asarray(back), gray)
    _, jpeg = roundtrip(tmp_path / "g.png", tmp_path / "o.jpg")
    assert jpeg.mode == "L"


def test_16bit_grayscale_stays_16bit(tmp_path: Path) -> None:
    gray = RNG.integers(0, 65536, (7, 5), dtype=np.uint16)
    src = save(Image.fromarray(gray), tmp_path / "g16.png")
    data, back = roundtrip(src, tmp_path / "o.png")
    assert (data.bit_depth, data.grayscale) == (16, True)
    assert back.mode.startswith("I;16")
    assert np.array_equal(np.asarray(back).astype(np.uint16), gray)
    _, tif = roundtrip(src, tmp_path / "o.tif")
    assert np.array_equal(np.asarray(tif).astype(np.uint16), gray)
    _, eight = roundtrip(src, tmp_path / "o.jpg")  # JPEG has no 16 bits: 8-bit grayscale
    assert eight.mode == "L"


@pytest.mark.parametrize("ext", [".png", ".tiff"])
def test_16bit_colour_with_alpha_stays_16bit(tmp_path: Path, ext: str) -> None:
    rgba = RNG.integers(0, 65536, (6, 8, 4), dtype=np.uint16)
    src = tmp_path / f"c16{ext}"
    assert cv2.imwrite(str(src), rgba[..., [2, 1, 0, 3]])
    data = read_image(src)
    assert (data.bit_depth, data.grayscale) == (16, False)
    assert np.array_equal(data.alpha, rgba[..., 3])
    assert np.allclose(data.rgb * 65535, rgba[..., :3], atol=0.5)
    out = tmp_path / f"o{ext}"
    write_image(out, data.with_rgb(1.0 - data.rgb))
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    assert np.array_equal(back[..., 3], rgba[..., 3])  # alpha untouched
    assert np.array_equal(back[..., 2::-1].astype(int), 65535 - rgba[..., :3].astype(int))


def test_16bit_gray_alpha_png_is_read_at_full_depth(tmp_path: Path) -> None:
    ga = RNG.integers(0, 65536, (3, 4, 2), dtype=np.uint16)
    raw = b"".join(b"\x00" + ga[y].astype(">u2").tobytes() for y in range(3))
    ihdr = struct.pack(">IIBBBBB", 4, 3, 16, 4, 0, 0, 0)  # 16-bit gray + alpha
    png = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw))
    data = read_image(png + png_chunk(b"IEND", b""))
    assert (data.bit_depth, data.grayscale) == (16, True)
    assert np.array_equal(data.alpha, ga[..., 1])
    assert np.allclose(data.rgb[..., 0] * 65535, ga[..., 0], atol=0.5)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_carried_through_unchanged(tmp_path: Path, mode: str) -> None:
    pixels = RNG.integers(0, 256, (9, 11, len(mode)), dtype=np.uint8)
    src = save(Image.fromarray(pixels, mode), tmp_path / "a.png")
    _, back = roundtrip(src, tmp_path / "o.png", invert=True)
    assert back.mode == mode
    out = np.asarray(back)
    assert np.array_equal(out[..., -1], pixels[..., -1])  # alpha is not restored
    assert np.array_equal(out[..., :-1].astype(int), 255 - pixels[..., :-1].astype(int))
    _, jpeg = roundtrip(src, tmp_path / "o.jpg")  # no alpha in JPEG: dropped, not an error
    assert jpeg.mode in ("RGB", "L")


def test_palette_with_transparency_becomes_rgba(tmp_path: Path) -> None:
    im = Image.fromarray(rgb8()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    im.info["transparency"] = 0
    data = read_image(save(im, tmp_path / "p.png", transparency=0))
    assert data.alpha is not None and data.alpha.dtype == np.uint8


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_applied_and_reset(tmp_path: Path, fmt: str) -> None:
    pixels = rgb8(4, 6)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    exif[0x010F] = "TestCam"  # Make: must survive
    src = tmp_path / f"o.{fmt.lower()}"
    Image.fromarray(pixels).save(src, format=fmt, exif=exif.tobytes(), quality=100)
    data = read_image(src)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(src)))
    assert data.rgb.shape == (6, 4, 3)  # upright: width and height swapped
    assert np.array_equal(np.rint(data.rgb * 255).astype(np.uint8), expected)
    out = tmp_path / f"r.{fmt.lower()}"
    write_image(out, data)
    back_exif = Image.open(out).getexif()
    assert back_exif.get(0x0112, 1) == 1
    assert back_exif.get(0x010F) == "TestCam"
    assert Image.open(out).size == (4, 6)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(rgb8(3, 5)).save(buf, "PNG", exif=exif.tobytes())
    data = read_image(buf.getvalue())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    assert np.array_equal(np.rint(data.rgb * 255).astype(np.uint8), expected)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif"])
def test_icc_profile_kept(tmp_path: Path, ext: str) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / f"a{ext}"
    Image.fromarray(rgb8()).save(src, icc_profile=icc)
    data, back = roundtrip(src, tmp_path / f"b{ext}")
    assert data.icc_profile == icc
    assert back.info.get("icc_profile") == icc


def test_icc_and_exif_kept_in_16bit_colour_png(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    data = ImageData(
        rgb=RNG.random((4, 5, 3), dtype=np.float32), bit_depth=16, icc_profile=icc,
        exif=exif.tobytes(),
    )  # fmt: skip
    back = Image.open(io.BytesIO(encode_image(data, "PNG")))
    assert back.info.get("icc_profile") == icc
    assert back.getexif().get(0x010F) == "TestCam"
    assert cv2.imdecode(np.frombuffer(encode_image(data, "PNG"), np.uint8), -1).dtype == np.uint16


def test_icc_of_another_colour_space_is_dropped() -> None:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    data = ImageData(rgb=np.zeros((2, 2, 3), np.float32), icc_profile=lab)
    assert "icc_profile" not in Image.open(io.BytesIO(encode_image(data, "PNG"))).info


def test_format_comes_from_content_not_extension(tmp_path: Path) -> None:
    liar = save(Image.fromarray(rgb8()), tmp_path / "photo.png", "JPEG")
    assert read_image(liar).format == "JPEG"
    assert sniff_image_format(liar.read_bytes()[:32]) == "JPEG"
    assert sniff_image_format(b"hello world, this is text") is None


def test_stdin_bytes_in_and_stream_out_in_the_source_format() -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb8()).save(buf, "WEBP", lossless=True)
    data = read_image(buf.getvalue())
    out = io.BytesIO()
    write_image(out, data)
    assert Image.open(io.BytesIO(out.getvalue())).format == "WEBP"
    out = io.BytesIO()
    write_image(out, data, format="png")
    assert out.getvalue().startswith(b"\x89PNG")


def test_output_format_from_extension() -> None:
    assert format_for_path("a.JPEG") == "JPEG"
    assert format_for_path("a.tiff") == "TIFF"
    with pytest.raises(OutputFormatError, match=r"\.gif"):
        format_for_path("a.gif")
    with pytest.raises(OutputFormatError, match="no extension"):
        format_for_path("a")


# --- broken inputs ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_image(tmp_path / "nope.png")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(CorruptInputError, match="empty"):
        read_image(tmp_path / "e.png")
    with pytest.raises(CorruptInputError, match="empty"):
        read_image(b"")


def test_text_file_named_png_is_unsupported(tmp_path: Path) -> None:
    (tmp_path / "t.png").write_text("just some notes\n")
    with pytest.raises(UnsupportedInputError, match="not an image"):
        read_image(tmp_path / "t.png")


@pytest.mark.parametrize(("fmt", "keep"), [("PNG", 0.5), ("JPEG", 0.5), ("PNG", 20), ("JPEG", 5)])
def test_truncated_files_are_corrupt(tmp_path: Path, fmt: str, keep: float) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb8(64, 64)).save(buf, fmt)
    data = buf.getvalue()
    cut = data[: int(len(data) * keep)] if keep < 1 else data[: int(keep)]
    (tmp_path / "t.img").write_bytes(cut)
    with pytest.raises(CorruptInputError):
        read_image(tmp_path / "t.img")


def test_truncated_16bit_png_is_corrupt(tmp_path: Path) -> None:
    _, buf = cv2.imencode(".png", RNG.integers(0, 65536, (32, 32, 3), dtype=np.uint16))
    with pytest.raises(CorruptInputError):
        read_image(buf.tobytes()[: len(buf) // 2])


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header announcing a huge image, with (almost) no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"")


def test_decompression_bomb_refused_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(100_000, 100_000))  # 10 gigapixels, 45 bytes
    with pytest.raises(InputTooLargeError, match=r"10000\.0 megapixels"):
        read_image(path)


def test_our_limit_replaces_pillows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow refuses images above 2 x its own global (179 MP by default, below our 200 MP).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    src = save(Image.fromarray(rgb8(30, 30)), tmp_path / "a.png")
    assert read_image(src).width == 30
    assert Image.MAX_IMAGE_PIXELS == 100  # restored afterwards


def test_pixel_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = save(Image.fromarray(rgb8(10, 10)), tmp_path / "a.png")
    with pytest.raises(InputTooLargeError, match="--max-pixels"):
        read_image(src, max_pixels=99)
    assert read_image(src, max_pixels=100).width == 10
    monkeypatch.setenv(MAX_PIXELS_ENV, "50")
    assert resolve_max_pixels() == 50
    with pytest.raises(InputTooLargeError):
        read_image(src)
    assert read_image(src, max_pixels=0).width == 10  # 0 = no limit, argument beats env
    monkeypatch.delenv(MAX_PIXELS_ENV)
    assert resolve_max_pixels() == 200_000_000


def test_cmyk_jpeg_is_converted_to_rgb_without_its_cmyk_profile(tmp_path: Path) -> None:
    src = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (6, 4), (0, 255, 255, 0)).save(
        src, icc_profile=b"\0" * 16 + b"CMYK" + b"\0" * 120
    )
    data = read_image(src)
    assert data.mode == "CMYK" and data.rgb.shape == (4, 6, 3) and not data.grayscale
    assert data.rgb[0, 0, 0] > 0.9 and data.rgb[0, 0, 1] < 0.1  # red
    _, back = roundtrip(src, tmp_path / "o.jpg")
    assert back.mode == "RGB" and "icc_profile" not in back.info


def test_png_is_written_at_the_fast_zlib_level() -> None:
    from restorecli.media.image import PNG_COMPRESSION

    rgb = RNG.random((40, 50, 3), dtype=np.float32)
    data = ImageData(rgb=rgb)
    pixels = np.rint(rgb * 255).astype(np.uint8)
    for level, same in ((PNG_COMPRESSION, True), (9, False)):
        ref = io.BytesIO()
        Image.fromarray(pixels).save(ref, format="PNG", compress_level=level)
        assert (encode_image(data, "PNG") == ref.getvalue()) == same
    assert PNG_COMPRESSION == 1


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"")


def test_a_picture_that_cannot_fit_in_memory_is_refused_before_decoding(tmp_path) -> None:
    # 100000 x 100000 claimed by a header of a few bytes: with the pixel limit off, the memory
    # check is what stops it (6.4 TB needed), before a byte of pixels is decoded.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(100_000, 100_000))
    with pytest.raises(InputTooLargeError, match=r"needs about .* GiB of memory and .* available"):
        read_image(bomb, max_pixels=0)


def test_the_memory_check_uses_what_the_system_has_available(monkeypatch) -> None:
    from restorecli.media import image as image_mod

    monkeypatch.setattr(image_mod, "available_memory", lambda: 2**30)
    image_mod.check_memory(1000, 1000, "small.png")  # 64 MB + margin fits in 1 GiB
    with pytest.raises(InputTooLargeError, match=r"big\.png: restoring 5000x5000"):
        image_mod.check_memory(5000, 5000, "big.png")
    monkeypatch.setattr(image_mod, "available_memory", lambda: None)
    image_mod.check_memory(10**6, 10**6, "unknown.png")  # nothing known: nothing refused
    assert image_mod.available_memory is not None


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize(("dtype", "peak"), [(np.uint8, 255), (np.uint16, 65535)])
def test_pixels_are_made_band_by_band_as_from_the_whole_image(monkeypatch, gray, dtype, peak):
    from restorecli.media import image as image_module

    rgb = np.random.default_rng(0).normal(0.5, 0.4, (37, 23, 3)).astype(np.float32)
    rgb[0, 0] = [np.nan, np.inf, -np.inf]
    whole = np.clip(np.nan_to_num(rgb), 0.0, 1.0)
    if gray:
        whole = whole @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    expected = np.rint(whole * peak).astype(dtype)
    monkeypatch.setattr(image_module, "_BAND_PIXELS", 5 * 23)  # bands of 5 rows, one of 2
    got = image_module._to_pixels(rgb, dtype, peak, gray=gray)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
