"""Calibrate restorecli.degrade against real benchmark images: do our synthetic degradations
measure like the real ones they stand in for?

    python benchmarks/calibrate_degrade.py [--bench DIR] [--limit N] [--seeds N]
                                           [--blur-seeds N] [--sections rain,noise,blur,haze]
                                           [--ssim] [--json]

DIR (default ``../shared/data/bench`` from the repository root) holds the benchmark folders
named below. Every synthetic image is rounded to 8 bits first (``quantize``: what a saved PNG
holds) and scored with the project's own metrics (``restorecli.evaluate.metrics``), exactly like
the real inputs; ``--ssim`` adds SSIM to the paired sections (about twice the time). Sections:

- rain: ``Rain100H_MSPFN`` real inputs against their targets, then ``derain`` applied to the
  same targets at fixed severities and at a uniform random severity (as in training): PSNR
  (mean, median, range), mean brightening (input - target, channel mean, per pixel) and
  the share of pixels brightened by more than 0.05 and 0.2.
- noise: ``PolyU_real_noise`` real noisy crops against their mean-of-shots targets, then
  ``denoise`` in camera-pipeline mode on the same targets: PSNR, residual std and the
  correlation of the residual between horizontal/vertical neighbours (i.i.d. noise gives 0).
- blur: ``GoPro_examples_DeepDeblur`` real blurred frames against the sharp ones, then
  ``deblur`` motion blur on the sharp ones (``--blur-seeds`` draws per image, since there are
  only two pairs): PSNR and the gradient ratio (mean |grad Y| of input / of target).
- haze (no ground truth): dark channel (15 x 15 minimum of the RGB minimum; haze raises it),
  RMS contrast (std of Y), mean HSV saturation and the blown-out share (per cent of pixels with
  all channels >= 0.98), the veil's brightness (mean RGB of the pixels with the highest 0.1 %
  of the dark channel, the usual airlight estimate) and the share of images whose veil is
  below 0.85 (a grey veil) of the real hazy inputs of ``RealHazy_misc_PyTorchDehazing`` and
  ``SOTS_outdoor_examples_GCANet_noGT``, of the clean ``Noise_clean_Kodak24_FFDNet`` targets,
  and of ``dehaze`` applied to those targets. Images are resized to a long side of 512 px
  first so the 15 px patch covers a similar part of each.

Synthetic image i, draw k uses ``seed = i + 1000 k`` (the same seeds at every severity). One
thread (OMP_NUM_THREADS=1, cv2.setNumThreads(1)) so the run behaves the same on a busy machine.
"""

from __future__ import annotations

import os

# Before numpy/OpenCV/torch load: one thread, so timings and load do not depend on the machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.degrade import BlurConfig, NoiseConfig, degrade
from restorecli.errors import RestoreError
from restorecli.evaluate.metrics import psnr, quantize, rgb_to_y, ssim
from restorecli.evaluate.paired import find_pairs, natural_key
from restorecli.media import IMAGE_EXTENSIONS
from restorecli.media.image import read_image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO.parent / "shared" / "data" / "bench"

RAIN_SEVERITIES = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
NOISE_SEVERITIES = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
BLUR_SEVERITIES = (0.3, 0.5, 0.7, 0.9)
HAZE_SEVERITIES = (0.2, 0.5, 0.8, 1.0)
HAZE_SIDE = 512  # long side before the haze statistics
DARK_PATCH = 15

Stats = dict[str, float]
Row = dict[str, object]
PairStats = Callable[[np.ndarray, np.ndarray], Stats]


# -- loading ---------------------------------------------------------------------------------


def load(path: Path) -> np.ndarray:
    """RGB float32 in [0, 1] through the project's reader (sniffs lying extensions)."""
    return read_image(path).rgb


def folder_images(folder: Path, limit: int | None) -> list[Path]:
    """Image files of ``folder`` in natural order, at most ``limit``."""
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such folder (see --bench)")
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: natural_key(p.name),
    )
    return files[:limit]


def load_pairs(root: Path, limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Decoded (input, target) pairs of a paired benchmark folder."""
    try:
        pairs = find_pairs(root, limit=limit)
    except RestoreError as exc:
        raise SystemExit(f"{exc} (see --bench)") from None
    return [(load(p.input), load(p.target)) for p in pairs]


def seeds(n_images: int, draws: int) -> Iterable[tuple[int, int]]:
    """(image index, seed) for every image and draw."""
    for k in range(draws):
        for i in range(n_images):
            yield i, i + 1000 * k


# -- per-image statistics --------------------------------------------------------------------


def rain_stats(x: np.ndarray, y: np.ndarray) -> Stats:
    """PSNR, SSIM and how much (and where) the input is brighter than the target."""
    d = (x.astype(np.float64) - y).mean(axis=2)
    return {
        "psnr": psnr(x, y),
        "brighten": float(d.mean()),
        "over_0.05": float((d > 0.05).mean()),
        "over_0.2": float((d > 0.2).mean()),
    }


def noise_stats(x: np.ndarray, y: np.ndarray) -> Stats:
    """PSNR, SSIM, residual std and its neighbour correlation (spatial structure of noise)."""
    r = x.astype(np.float64) - y
    r -= r.mean(axis=(0, 1))
    corr = [
        float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        for a, b in ((r[:, :-1], r[:, 1:]), (r[:-1], r[1:]))
    ]
    return {"psnr": psnr(x, y), "std": float(r.std()), "corr": float(np.mean(corr))}


def mean_gradient(image: np.ndarray) -> float:
    """Mean magnitude of the finite-difference gradient of Y."""
    luma = rgb_to_y(image)
    gx, gy = np.diff(luma, axis=1)[:-1], np.diff(luma, axis=0)[:, :-1]
    return float(np.hypot(gx, gy).mean())


def blur_stats(x: np.ndarray, y: np.ndarray) -> Stats:
    """PSNR, SSIM and how much gradient energy the blur leaves."""
    return {
        "psnr": psnr(x, y),
        "grad_ratio": mean_gradient(x) / mean_gradient(y),
    }


def to_side(image: np.ndarray, side: int = HAZE_SIDE) -> np.ndarray:
    """``image`` resized so its long side is ``side`` pixels."""
    h, w = image.shape[:2]
    f = side / max(h, w)
    size = (max(round(w * f), 1), max(round(h * f), 1))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


# A pixel whose three channels are all at least this counts as blown out (white sky, glow).
WHITE = 0.98
# The veil's brightness: mean RGB of the pixels with the highest 0.1 % of the dark channel (the
# usual airlight estimate); a veil below GREY_VEIL is exposed as grey rather than white.
VEIL_SHARE = 0.001
GREY_VEIL = 0.85


def haze_stats(x: np.ndarray) -> Stats:
    """Dark channel, RMS contrast, saturation and blown-out share of one (resized) image."""
    x = x.astype(np.float32)
    dark = cv2.erode(x.min(axis=2), np.ones((DARK_PATCH, DARK_PATCH), np.uint8))
    sat = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)[..., 1]
    top = np.argsort(dark.ravel())[-max(1, int(dark.size * VEIL_SHARE)) :]
    veil = float(x.reshape(-1, 3)[top].mean())
    return {
        "dark": float(dark.mean()),
        "contrast": float(rgb_to_y(x).std()),
        "saturation": float(sat.mean()),
        "white_pct": 100.0 * float((x.min(axis=2) >= WHITE).mean()),
        "veil": veil,
        "grey_veil_pct": 100.0 * float(veil < GREY_VEIL),
    }


# -- summaries -------------------------------------------------------------------------------


def summary(label: str, items: list[Stats]) -> Row:
    """Mean of every statistic, plus median and range of the first one, over images."""
    keys = list(items[0])
    lead = np.array([s[keys[0]] for s in items])
    row: Row = {"label": label, "n": len(items)}
    for k in keys:
        row[k] = float(np.mean([s[k] for s in items]))
    row[f"{keys[0]}_median"] = float(np.median(lead))
    row[f"{keys[0]}_min"] = float(lead.min())
    row[f"{keys[0]}_max"] = float(lead.max())
    return row


def synthetic(
    task: str,
    targets: list[np.ndarray],
    severity: float | None,
    draws: int,
    stats: PairStats,
    config: object = None,
) -> list[Stats]:
    """Stats of ``task`` applied to every target ``draws`` times, rounded to 8 bits."""
    out = []
    for i, seed in seeds(len(targets), draws):
        y = targets[i]
        x = quantize(degrade(task, y, seed=seed, severity=severity, config=config))
        out.append(stats(x, y))
    return out


def sev_label(severity: float | None) -> str:
    return "ours, severity U[0, 1]" if severity is None else f"ours, severity {severity:.1f}"


# -- sections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What every section reads: the benchmark root, images per set, draws, SSIM or not."""

    bench: Path
    limit: int | None
    draws: int
    with_ssim: bool


def add_ssim(stats: PairStats) -> PairStats:
    """``stats`` plus the project's SSIM (the slowest statistic here, hence optional)."""

    def both(x: np.ndarray, y: np.ndarray) -> Stats:
        return {**stats(x, y), "ssim": ssim(x, y)}

    return both


def paired_section(
    cfg: Settings,
    folder: str,
    real_label: str,
    task: str,
    severities: tuple[float, ...],
    stats: PairStats,
    config: object = None,
    suffix: str = "",
) -> list[Row]:
    """Real inputs against their targets, then ``task`` on the same targets per severity."""
    pairs = load_pairs(cfg.bench / folder, cfg.limit)
    targets = [y for _, y in pairs]
    if cfg.with_ssim:
        stats = add_ssim(stats)
    rows = [summary(real_label, [stats(x, y) for x, y in pairs])]
    for sev in (*severities, None):
        items = synthetic(task, targets, sev, cfg.draws, stats, config)
        rows.append(summary(sev_label(sev) + suffix, items))
    return rows


def rain_section(cfg: Settings) -> list[Row]:
    return paired_section(
        cfg, "Rain100H_MSPFN", "Rain100H real inputs", "derain", RAIN_SEVERITIES, rain_stats
    )


def noise_section(cfg: Settings) -> list[Row]:
    camera = NoiseConfig(kind="camera")
    return paired_section(
        cfg,
        "PolyU_real_noise",
        "PolyU real noisy inputs",
        "denoise",
        NOISE_SEVERITIES,
        noise_stats,
        camera,
        ", camera",
    )


def blur_section(cfg: Settings) -> list[Row]:
    motion = BlurConfig(kind="motion")
    return paired_section(
        cfg,
        "GoPro_examples_DeepDeblur",
        "GoPro real blurred inputs",
        "deblur",
        BLUR_SEVERITIES,
        blur_stats,
        motion,
        ", motion",
    )


def haze_section(cfg: Settings) -> list[Row]:
    def images(folder: str) -> list[np.ndarray]:
        return [to_side(load(p)) for p in folder_images(cfg.bench / folder, cfg.limit)]

    rows = [
        summary(
            "RealHazy inputs",
            [haze_stats(x) for x in images("RealHazy_misc_PyTorchDehazing/input")],
        ),
        summary(
            "SOTS outdoor inputs",
            [haze_stats(x) for x in images("SOTS_outdoor_examples_GCANet_noGT/input")],
        ),
    ]
    clean = images("Noise_clean_Kodak24_FFDNet/target")
    rows.append(summary("Kodak24 clean targets", [haze_stats(y) for y in clean]))
    for sev in (*HAZE_SEVERITIES, None):
        items = synthetic("dehaze", clean, sev, cfg.draws, lambda x, _: haze_stats(x))
        rows.append(summary(sev_label(sev) + ", on Kodak24", items))
    return rows


# -- output ----------------------------------------------------------------------------------

COLUMNS = {
    "rain": [
        ("PSNR mean", "psnr", ".2f"),
        ("median", "psnr_median", ".2f"),
        ("min", "psnr_min", ".2f"),
        ("max", "psnr_max", ".2f"),
        ("SSIM", "ssim", ".3f"),
        ("brightening", "brighten", ".3f"),
        ("> 0.05", "over_0.05", ".2f"),
        ("> 0.2", "over_0.2", ".3f"),
    ],
    "noise": [
        ("PSNR mean", "psnr", ".2f"),
        ("median", "psnr_median", ".2f"),
        ("min", "psnr_min", ".2f"),
        ("max", "psnr_max", ".2f"),
        ("SSIM", "ssim", ".3f"),
        ("residual std", "std", ".4f"),
        ("neighbour corr", "corr", ".2f"),
    ],
    "blur": [
        ("PSNR mean", "psnr", ".2f"),
        ("min", "psnr_min", ".2f"),
        ("max", "psnr_max", ".2f"),
        ("SSIM", "ssim", ".3f"),
        ("gradient ratio", "grad_ratio", ".2f"),
    ],
    "haze": [
        ("dark channel", "dark", ".3f"),
        ("min", "dark_min", ".3f"),
        ("max", "dark_max", ".3f"),
        ("contrast", "contrast", ".3f"),
        ("saturation", "saturation", ".3f"),
        ("white %", "white_pct", ".2f"),
        ("veil", "veil", ".3f"),
        ("grey veil %", "grey_veil_pct", ".0f"),
    ],
}

SECTIONS = {
    "rain": rain_section,
    "noise": noise_section,
    "blur": blur_section,
    "haze": haze_section,
}


def markdown(name: str, rows: list[Row]) -> str:
    """One section as a Markdown table (readable as plain text too)."""
    cols = [c for c in COLUMNS[name] if c[1] in rows[0]]
    lines = [
        "| " + " | ".join(["set", "n", *(c[0] for c in cols)]) + " |",
        "| --- | ---: |" + " ---: |" * len(cols),
    ]
    for r in rows:
        cells = [str(r["label"]), str(r["n"]), *(format(r[key], fmt) for _, key, fmt in cols)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="benchmark root folder")
    parser.add_argument("--limit", type=int, help="at most N images per set (default: all)")
    parser.add_argument("--seeds", type=int, default=1, help="draws per target (default: 1)")
    parser.add_argument(
        "--blur-seeds", type=int, default=4, help="draws per GoPro target (default: 4)"
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma list (default: %(default)s)"
    )
    parser.add_argument("--ssim", action="store_true", help="add SSIM (about 2x the time)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.seeds < 1 or args.blur_seeds < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--seeds, --blur-seeds and --limit must be at least 1")
    cv2.setNumThreads(1)

    result: dict[str, object] = {
        "bench": str(args.bench),
        "limit": args.limit,
        "seeds": args.seeds,
        "blur_seeds": args.blur_seeds,
        "ssim": args.ssim,
        "cpus": os.cpu_count(),
        "load_average_start": round(os.getloadavg()[0], 2),
    }
    start = time.perf_counter()
    tables: dict[str, list[Row]] = {}
    for name in names:
        draws = args.blur_seeds if name == "blur" else args.seeds
        tables[name] = SECTIONS[name](Settings(args.bench, args.limit, draws, args.ssim))
        if not args.json:
            print(f"\n## {name}\n\n{markdown(name, tables[name])}", flush=True)
    result["sections"] = tables
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"\n{result['seconds']} s; load average {result['load_average_start']} -> "
            f"{result['load_average_end']} on {result['cpus']} CPUs"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
