"""Local engine against Ray on this machine: the same folder restored by each, in one run.

The folder holds ``--images`` photos (from ``--photos DIR``, else synthetic gradients) and, with
``--video-frames N``, a video of N frames (from ``--frames DIR``, else synthetic) with a
keyframe every ``--gop`` frames, which the Ray engine cuts into segments of at least
``--segment-frames``. Each engine runs the library as ``restore batch`` does, model loading
included: the local engine with torch's default threads and with one thread, then Ray with
``--workers`` (each worker one CPU, one thread); starting Ray is timed apart. Prints the wall
times, the largest difference between the engines' outputs in 8-bit levels, and the load
average before and after (other jobs on the machine weigh on every number).

    python benchmarks/bench_engines.py --photos DATA/Rain100H_MSPFN/input --images 8 \\
        --frames DATA/NTURain_real_video_SPAC_noGT/frames/ra1_Rain --video-frames 36
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.jobs.folders import plan_batch, run_batch
from restorecli.jobs.options import FileOptions
from restorecli.jobs.restorer import load_restorer
from restorecli.jobs.results import FAILED

ENGINES = ("local", "local1", "ray")
LABELS = {
    "local": "local engine, torch's default threads",
    "local1": "local engine, --threads 1",
    "ray": "Ray engine, --workers {workers}",
}


@dataclasses.dataclass
class Run:
    engine: str
    seconds: float
    startup: float | None = None  # starting Ray, before the batch (None: it was running)
    video_seconds: float | None = None  # the video's own time, as its result reports it
    notes: list[str] = dataclasses.field(default_factory=list)


def synthetic(i: int, size: tuple[int, int]) -> np.ndarray:
    """A smooth gradient with a little texture: something for the model to work on."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(i)
    base = np.stack([x / w, y / h, (x + y + 20 * i) / (w + h + 200)], axis=-1) * 200 + 30
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def make_folder(
    folder: Path,
    *,
    images: int,
    photos: Path | None,
    video_frames: int,
    frames: Path | None,
    gop: int,
    size: tuple[int, int],
) -> None:
    """``images`` photos and (with ``video_frames``) one H.264 video ``clip.mp4``."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in photos.iterdir() if p.is_file()) if photos else []
    if photos and len(sources) < images:
        raise SystemExit(f"{photos}: {len(sources)} files, {images} asked")
    for i in range(images):
        if sources:
            shutil.copyfile(sources[i], folder / f"{i:03d}{sources[i].suffix.lower()}")
        else:
            Image.fromarray(synthetic(i, size)).save(folder / f"{i:03d}.png")
    if video_frames:
        stills = sorted(p for p in frames.iterdir() if p.is_file()) if frames else []
        write_video(folder / "clip.mp4", video_frames, stills, gop, size)


def write_video(path: Path, count: int, stills: list[Path], gop: int, size: tuple[int, int]):
    """``count`` frames (``stills`` resized to ``size``, else synthetic), 25 fps, a keyframe
    every ``gop`` frames."""
    w, h = size
    if stills and len(stills) < count:
        raise SystemExit(f"{len(stills)} frames, {count} asked")
    with av.open(str(path), "w") as out:
        options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "crf": "16"}
        stream = out.add_stream("libx264", rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(count):
            if stills:
                rgb = np.asarray(Image.open(stills[i]).convert("RGB").resize((w, h)))
            else:
                rgb = synthetic(i, size)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def factory(args: argparse.Namespace) -> functools.partial:
    overrides = {"steps": args.steps} if args.steps else None
    return functools.partial(
        load_restorer, args.weights, task=args.task, overrides=overrides, device="cpu"
    )


def warm_up(args: argparse.Namespace) -> None:
    """Load the model once untimed: weights and geometry tables in the disk caches."""
    factory(args)().restore_array(np.zeros((16, 16, 3), np.float32))


def run_engine(engine: str, folder: Path, out: Path, args: argparse.Namespace) -> Run:
    """One engine over ``folder`` into ``out``, model loading included."""
    import torch

    make = factory(args)
    items = plan_batch(folder, out)
    if engine.startswith("local"):
        before = torch.get_num_threads()
        if engine == "local1":
            torch.set_num_threads(1)
        try:
            start = time.perf_counter()
            report = run_batch(make(), items, FileOptions())
            run = Run(engine, time.perf_counter() - start)
        finally:
            torch.set_num_threads(before)
    else:
        import ray

        from restorecli.jobs.ray_engine import RayOptions, run_batch_ray
        from restorecli.jobs.video_split import SplitPolicy

        start = time.perf_counter()
        started = not ray.is_initialized()
        if started:  # as `--engine ray` starts it, so that its cost shows apart
            ray.init(
                num_cpus=args.workers,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        startup = time.perf_counter() - start if started else None
        options = RayOptions(
            workers=args.workers, split=SplitPolicy(min_segment_frames=args.segment_frames)
        )
        try:
            start = time.perf_counter()
            report = run_batch_ray(make, items, FileOptions(), options)
            run = Run(engine, time.perf_counter() - start, startup)
        finally:
            if started:
                ray.shutdown()
    for result in report.results:
        if result.status == FAILED:
            raise SystemExit(f"{engine}: {result.input} failed: {result.message}")
        if result.kind == "video":
            run.video_seconds = result.seconds
            run.notes = result.notes
    return run


def largest_difference(a: Path, b: Path) -> tuple[int, int]:
    """The largest differences between two folders' photos and between their videos' frames,
    in 8-bit levels (a video cut into segments is encoded apart: more than a photo differs)."""
    worst = [0, 0]
    for path in sorted(a.iterdir()):
        is_video = path.suffix == ".mp4"
        if is_video:
            x, y = (video_frames(p) for p in (path, b / path.name))
        else:
            x, y = (np.asarray(Image.open(p).convert("RGB")) for p in (path, b / path.name))
        diff = int(np.abs(x.astype(int) - y.astype(int)).max())
        worst[is_video] = max(worst[is_video], diff)
    return worst[0], worst[1]


def video_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def table(runs: list[Run], files: int, workers: int) -> str:
    base = runs[0].seconds
    lines = [
        "| engine | wall time | files/min | vs first row | video (its own time) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        label = LABELS[run.engine].format(workers=workers)
        if run.startup is not None:
            label += f" (+ {run.startup:.1f} s starting Ray)"
        video = "" if run.video_seconds is None else f"{run.video_seconds:.1f} s"
        lines.append(
            f"| {label} | {run.seconds:.1f} s | {60 * files / run.seconds:.1f} | "
            f"{base / run.seconds:.2f}x | {video} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="derain")
    parser.add_argument("--weights", help="model name or weights folder (default: the task's)")
    parser.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--photos", type=Path, help="copy the photos from here")
    parser.add_argument("--video-frames", type=int, default=0)
    parser.add_argument("--frames", type=Path, help="video frames from here, in name order")
    parser.add_argument("--size", default="320x240", help="synthetic photos and video: WxH")
    parser.add_argument("--gop", type=int, default=12, help="frames between keyframes")
    parser.add_argument("--segment-frames", type=int, default=12, help="shortest segment")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"of {', '.join(ENGINES)}")
    parser.add_argument("--keep", type=Path, help="leave the folder and outputs here")
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    if unknown := set(engines) - set(ENGINES):
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    size = tuple(int(v) for v in args.size.split("x"))

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-engines-"))
    try:
        make_folder(
            work / "in",
            images=args.images,
            photos=args.photos,
            video_frames=args.video_frames,
            frames=args.frames,
            gop=args.gop,
            size=size,
        )
        warm_up(args)
        load = os.getloadavg()
        runs = [run_engine(e, work / "in", work / e, args) for e in engines]
        after = os.getloadavg()
        files = args.images + bool(args.video_frames)
        print(table(runs, files, args.workers))
        for run in runs:
            for note in run.notes:
                print(f"{run.engine}: note: {note}")
        for run in runs[1:]:
            photos, video = largest_difference(work / runs[0].engine, work / run.engine)
            print(
                f"largest difference, {run.engine} vs {runs[0].engine}: photos {photos} levels"
                + (f", video frames {video} levels" if args.video_frames else "")
            )
        print(
            f"load average (1, 5, 15 min): before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
            f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}; {os.cpu_count()} CPUs"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
