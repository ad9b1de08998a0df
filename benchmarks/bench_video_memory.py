"""Peak memory of restore_video on a short video and on one 10x longer.

Streaming means peak RSS should not depend on video length. Each length runs in its own
subprocess (so one run's peak cannot hide in the other's) and reports its ru_maxrss; the parent
prints both and their ratio, and exits 1 when the long run's peak exceeds the short one's by more
than --limit (default 10 percent).

    python benchmarks/bench_video_memory.py [--frames 100] [--size 480x270] [--batch-size 4]

The test videos (H.264 + AAC, made here with PyAV) go to a temporary folder that is removed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def make_video(path: Path, frames: int, width: int, height: int, rate: int = 25) -> None:
    """Moving colour noise (so the encoder has real work) with a sine-tone audio track."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        samples_per_frame = 16000 // rate
        tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(samples_per_frame * frames) / 16000)
        audio_pts = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, rate)
            out.mux(video.encode(frame))
            chunk = tone[i * samples_per_frame : (i + 1) * samples_per_frame]
            sound = av.AudioFrame.from_ndarray(
                chunk.astype(np.float32)[None], format="fltp", layout="mono"
            )
            sound.sample_rate, sound.pts = 16000, audio_pts
            audio_pts += sound.samples
            out.mux(audio.encode(sound))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def child(src: str, dst: str, batch_size: int) -> None:
    """Restore src -> dst with a cheap stand-in model; print frames and peak RSS as JSON."""
    from restorecli.media.video import VideoOptions, restore_video

    report = restore_video(src, dst, lambda f: 1.0 - f, options=VideoOptions(batch_size=batch_size))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"frames": report.frames, "peak_mib": peak_kib / 1024}))


def measure(src: Path, dst: Path, batch_size: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(src), str(dst), "--batch-size", str(batch_size)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="frames in the short video")
    parser.add_argument("--size", default="480x270", help="WIDTHxHEIGHT")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--limit", type=float, default=0.10, help="allowed relative growth")
    parser.add_argument("--child", nargs=2, metavar=("SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.batch_size)
        return 0

    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {}
        for name, frames in (("short", args.frames), ("long", 10 * args.frames)):
            src = folder / f"{name}.mp4"
            make_video(src, frames, width, height)
            results[name] = measure(src, folder / f"{name}-out.mp4", args.batch_size)
            print(
                f"{name:5s}: {results[name]['frames']:5d} frames {width}x{height}, "
                f"peak RSS {results[name]['peak_mib']:7.1f} MiB"
            )
    ratio = results["long"]["peak_mib"] / results["short"]["peak_mib"]
    verdict = "OK" if ratio < 1 + args.limit else "FAIL"
    print(f"ratio long/short: {ratio:.3f} (limit {1 + args.limit:.2f}) {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
