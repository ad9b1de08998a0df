"""Time PNG encoding of a photo at zlib levels 1, 3 and 6 (Pillow), the output writer's cost.

    python benchmarks/bench_png.py PHOTO [--size 1920x1080] [--repeats 3]

Prints seconds per encode and bytes per level; restorecli writes PNG at
``restorecli.media.image.PNG_COMPRESSION``.
"""

from __future__ import annotations

import argparse
import io
import time

from PIL import Image


def encode_seconds(im: Image.Image, level: int, repeats: int) -> tuple[float, int]:
    """Best of ``repeats`` encode times at ``level``, and the encoded size."""
    best, size = float("inf"), 0
    for _ in range(repeats):
        buf = io.BytesIO()
        start = time.perf_counter()
        im.save(buf, format="PNG", compress_level=level)
        best = min(best, time.perf_counter() - start)
        size = len(buf.getvalue())
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    im = Image.open(args.photo).convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
    print("level  seconds  bytes")
    for level in (1, 3, 6):
        seconds, size = encode_seconds(im, level, args.repeats)
        print(f"{level:5d}  {seconds:7.3f}  {size}")


if __name__ == "__main__":
    main()
