"""Time every synthetic degradation (``restorecli.degrade``) per call, on one thread.

    python benchmarks/bench_degrade.py [--sizes 128,512] [--calls 33] [--json]

For each task (default config: the kind of noise or blur drawn at random per call, as in
training) and each forced kind of ``denoise`` and ``deblur``, on a square photo-like synthetic
image (``restorecli.evaluate.speed.synthetic_image``, seed 0) of each size: one warm-up call,
then ``--calls`` timed calls with seed i and severity cycling through 0.0, 0.1, ..., 1.0, so
the whole severity range is covered. Prints the minimum and the median in milliseconds. The
minimum is the better estimate of the cost on a busy machine; the median shows the spread.
Everything runs on one thread (OMP_NUM_THREADS=1, cv2.setNumThreads(1)), like one data-loader
worker.
"""

from __future__ import annotations

import os

# Before numpy/OpenCV/torch load: one thread, as in a single data-loader worker.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.degrade import TASKS, BlurConfig, NoiseConfig, degrade
from restorecli.degrade.blur import KINDS as BLUR_KINDS
from restorecli.degrade.noise import KINDS as NOISE_KINDS
from restorecli.evaluate.speed import synthetic_image


def cases() -> list[tuple[str, str, object]]:
    """(label, task, config): every task with its default config, then each forced kind."""
    out: list[tuple[str, str, object]] = [(t, t, None) for t in TASKS]
    out += [(f"denoise {k}", "denoise", NoiseConfig(kind=k)) for k in NOISE_KINDS]
    out += [(f"deblur {k}", "deblur", BlurConfig(kind=k)) for k in BLUR_KINDS]
    return out


def time_calls(task: str, image: np.ndarray, config: object, calls: int) -> list[float]:
    """Milliseconds of ``calls`` calls after one warm-up call."""
    degrade(task, image, seed=0, severity=0.5, config=config)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        degrade(task, image, seed=i, severity=(i % 11) / 10, config=config)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="128,512", help="square sizes in pixels, comma list")
    parser.add_argument(
        "--calls", type=int, default=33, help="timed calls per case and size (3 x 11 severities)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: use a comma list of integers, e.g. 128,512")
    if not sizes or min(sizes) < 16 or args.calls < 1:
        parser.error("--sizes must be at least 16 pixels and --calls at least 1")
    cv2.setNumThreads(1)

    images = {s: synthetic_image(s, s, seed=0) for s in sizes}
    result: dict[str, object] = {
        "sizes": sizes,
        "calls": args.calls,
        "threads": cv2.getNumThreads(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_start": round(os.getloadavg()[0], 2),
    }
    rows = []
    if not args.json:
        head = " | ".join(f"{s} px min | {s} px median" for s in sizes)
        print(f"| task | {head} |\n| --- |" + " ---: | ---: |" * len(sizes), flush=True)
    for label, task, config in cases():
        row: dict[str, object] = {"task": label}
        for s in sizes:
            times = time_calls(task, images[s], config, args.calls)
            row[f"{s}_min_ms"] = round(min(times), 2)
            row[f"{s}_median_ms"] = round(statistics.median(times), 2)
        rows.append(row)
        if not args.json:
            cells = " | ".join(
                f"{row[f'{s}_min_ms']:.1f} | {row[f'{s}_median_ms']:.1f}" for s in sizes
            )
            print(f"| {label} | {cells} |", flush=True)
    result["rows"] = rows
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"\nms per call, {args.calls} calls, 1 thread; load average "
            f"{result['load_average_start']} -> {result['load_average_end']} on "
            f"{result['cpus']} CPUs; numpy {np.__version__}, OpenCV {cv2.__version__}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
