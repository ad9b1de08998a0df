"""Speed and memory of the restoration: images/s, frames/s, peak memory, time per stage.

For each frame size and step count, on a synthetic image (smooth colour fields plus texture,
fixed seed) held as PNG bytes in memory:

- one warm-up run, not counted (first-call costs: allocation, kernel selection, Chebyshev table);
- ``repeats`` timed runs of the still-image path: ``read`` (PNG decode), the model stages from
  ``Restorer.stage_seconds`` (``encode``, ``init_state``, ``sample``, ``requantize``,
  ``decode``), ``write`` (PNG encode); ``images_per_s`` = repeats / their total time;
- one timed ``restore_batch`` of ``frames`` copies of the frame (the video path: frames batched,
  no file I/O): ``frames_per_s``;
- ``peak_rss_mib``: the process's peak resident memory so far (``ru_maxrss``; it never goes down,
  so sizes run smallest first); on CUDA also ``peak_cuda_mib`` (``max_memory_allocated`` of this
  configuration).
"""

from __future__ import annotations

import dataclasses
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from restorecli.pipeline import Restorer

__all__ = [
    "BENCH_STAGES",
    "DEFAULT_SIZES",
    "DEFAULT_STEPS",
    "MODEL_STAGES",
    "BenchRow",
    "bench",
    "bench_table",
    "environment",
    "parse_size",
    "peak_rss_mib",
    "synthetic_image",
]

DEFAULT_SIZES = ((256, 256), (512, 512), (1920, 1080))  # width x height
DEFAULT_STEPS = (1, 2, 4, 8, 15)
MODEL_STAGES = ("encode", "init_state", "sample", "requantize", "decode", "guide")
BENCH_STAGES = ("read", *MODEL_STAGES, "write")


@dataclass
class BenchRow:
    """One (size, steps) configuration: throughput, memory and mean seconds per stage."""

    width: int
    height: int
    steps: int
    repeats: int
    frames: int
    images_per_s: float
    frames_per_s: float | None
    seconds_per_image: float
    stages: dict[str, float] = field(default_factory=dict)  # mean seconds per image
    peak_rss_mib: float = 0.0
    peak_cuda_mib: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (1920, 1080); a single number means a square."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"bad size {text!r}: use WIDTHxHEIGHT, e.g. 1920x1080") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise ValueError(f"bad size {text!r}: use WIDTHxHEIGHT, e.g. 1920x1080")
    return values[0], values[1]


def synthetic_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A deterministic photo-like test image: smooth colour gradients plus fine texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 2 * np.pi)
        img[..., c] = 0.5 + 0.35 * np.sin(fx * 2 * np.pi * xx / width + ph) * np.cos(
            fy * 2 * np.pi * yy / height
        )
    img += rng.normal(0, 0.05, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def environment(restorer: Restorer) -> dict[str, Any]:
    """Where the numbers come from: device, precision, library versions, threads, CPU."""
    device = torch.device(restorer.device)
    info: dict[str, Any] = {
        "device": str(device),
        "dtype": str(getattr(restorer, "dtype", "")).replace("torch.", ""),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def bench(
    restorer: Restorer,
    *,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    steps: Sequence[int] = DEFAULT_STEPS,
    repeats: int = 3,
    frames: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Time the restoration at every (size, steps); see the module docstring.

    ``frames`` is the batch for frames/s (default: the restorer's ``batch_size``; 0 skips it).
    The restorer's config is restored afterwards.
    """
    from restorecli.media.image import ImageData, encode_image, read_image

    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    config, profile = restorer.config, getattr(restorer, "profile", False)
    n_frames = restorer.config.batch_size if frames is None else frames
    device = torch.device(restorer.device)
    rows = []
    restorer.profile = True  # synchronise the device around stages: exact stage times
    try:
        for width, height in sorted(sizes, key=lambda s: s[0] * s[1]):
            png = encode_image(ImageData(rgb=synthetic_image(width, height)), "PNG")
            for n_steps in steps:
                if progress is not None:
                    progress(f"{width}x{height}, {n_steps} steps")
                restorer.config = dataclasses.replace(config, steps=n_steps)
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                _one_image(restorer, png, read_image, encode_image)  # warm-up, not counted
                totals = dict.fromkeys(BENCH_STAGES, 0.0)
                start = time.perf_counter()
                for _ in range(repeats):
                    for k, v in _one_image(restorer, png, read_image, encode_image).items():
                        totals[k] += v
                elapsed = time.perf_counter() - start
                fps = None
                if n_frames:
                    batch = np.repeat(read_image(png).rgb[None], n_frames, axis=0)
                    _sync(device)
                    t0 = time.perf_counter()
                    restorer.restore_batch(batch)
                    _sync(device)
                    fps = n_frames / (time.perf_counter() - t0)
                rows.append(
                    BenchRow(
                        width=width,
                        height=height,
                        steps=n_steps,
                        repeats=repeats,
                        frames=n_frames,
                        images_per_s=repeats / elapsed,
                        frames_per_s=fps,
                        seconds_per_image=elapsed / repeats,
                        stages={k: v / repeats for k, v in totals.items()},
                        peak_rss_mib=peak_rss_mib(),
                        peak_cuda_mib=(
                            torch.cuda.max_memory_allocated(device) / 2**20
                            if device.type == "cuda"
                            else None
                        ),
                    )
                )
    finally:
        restorer.config, restorer.profile = config, profile
    return rows


def bench_table(result: dict[str, Any]) -> Any:
    """Terminal/Markdown table of a bench result: ``{"environment": ..., "rows": [...]}``."""
    from restorecli.evaluate.tables import Table

    fidelity = len({r.get("fidelity") for r in result["rows"]}) > 1
    header = [
        "size",
        *(["fidelity"] if fidelity else []),
        "steps",
        "images/s",
        "frames/s",
        *(f"{s} s" for s in BENCH_STAGES),
        "peak RSS MiB",
    ]
    cuda = any(r.get("peak_cuda_mib") is not None for r in result["rows"])
    if cuda:
        header.append("peak CUDA MiB")
    body = []
    for r in result["rows"]:
        row = [
            f"{r['width']}x{r['height']}",
            *([r.get("fidelity")] if fidelity else []),
            r["steps"],
            r["images_per_s"],
            r["frames_per_s"],
            *(r["stages"].get(s) for s in BENCH_STAGES),
            r["peak_rss_mib"],
        ]
        if cuda:
            row.append(r.get("peak_cuda_mib"))
        body.append(row)
    env = result["environment"]
    title = f"restore bench ({env['device']}, {env['dtype']}, {env['threads']} threads)"
    digits = {h: 4 for h in header if h.endswith(" s")}
    digits.update({"images/s": 3, "frames/s": 3, "peak RSS MiB": 1, "peak CUDA MiB": 1})
    return Table(title, header, body, digits=digits)


def _one_image(
    restorer: Restorer,
    png: bytes,
    read_image: Callable[..., Any],
    encode_image: Callable[..., bytes],
) -> dict[str, float]:
    """Read, restore, write one image; seconds per stage."""
    from restorecli.media.image import ImageData

    t0 = time.perf_counter()
    image = read_image(png)
    t1 = time.perf_counter()
    restorer.stage_seconds.clear()
    out = restorer.restore_array(image.rgb)
    stages = {k: float(restorer.stage_seconds.get(k, 0.0)) for k in MODEL_STAGES}
    t2 = time.perf_counter()
    encode_image(ImageData(rgb=out), "PNG")
    t3 = time.perf_counter()
    return {"read": t1 - t0, **stages, "write": t3 - t2}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
