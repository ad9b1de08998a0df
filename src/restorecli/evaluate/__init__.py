"""Measurement tooling: metrics, paired-folder evaluation, sweeps, robustness, severity levels,
speed, comparison sheets and the ``docs/results.md`` report.

Python API (the ``restore eval`` and ``restore bench`` commands are thin layers over it)::

    from restorecli.evaluate import find_pairs, evaluate_pairs, image_metrics
    pairs = find_pairs("data/Rain100H", limit=10)
    result = evaluate_pairs(restorer, pairs)
    print(result.mean.psnr, result.input_mean.psnr)
"""

from restorecli.evaluate.inits import InitRow, compare_inits
from restorecli.evaluate.levels import LevelRow, autoencode, level_sweep, level_table
from restorecli.evaluate.metrics import (
    Metrics,
    image_metrics,
    mean_metrics,
    psnr,
    quantize,
    rgb_to_y,
    ssim,
)
from restorecli.evaluate.paired import (
    EvalResult,
    ImageResult,
    OutputSaver,
    Pair,
    evaluate_pairs,
    find_pairs,
    load_pair,
)
from restorecli.evaluate.robustness import (
    LatentChain,
    RobustnessRow,
    latent_chain,
    robustness,
    robustness_stats,
)
from restorecli.evaluate.speed import BenchRow, bench
from restorecli.evaluate.sweep import Setting, SweepRow, expand_grid, parse_values, run_sweep

__all__ = [
    "BenchRow",
    "EvalResult",
    "ImageResult",
    "InitRow",
    "LatentChain",
    "LevelRow",
    "Metrics",
    "OutputSaver",
    "Pair",
    "RobustnessRow",
    "Setting",
    "SweepRow",
    "autoencode",
    "bench",
    "compare_inits",
    "evaluate_pairs",
    "expand_grid",
    "find_pairs",
    "image_metrics",
    "latent_chain",
    "level_sweep",
    "level_table",
    "load_pair",
    "mean_metrics",
    "parse_values",
    "psnr",
    "quantize",
    "rgb_to_y",
    "robustness",
    "robustness_stats",
    "run_sweep",
    "ssim",
]
