"""Chebyshev table build time: our batched solver against a per-cell linprog loop.

One run prints, for the same K x D codebook:

- our build (``chebyshev_centers``), median of ``--repeats`` runs;
- the baseline: one ``scipy.optimize.linprog`` (HiGHS) per cell over its Delaunay neighbours
  and the box faces (exact facets in 3-D), plus the largest radius difference from ours;
- a cached load (``load_or_build`` hitting a file in a temporary cache folder), numpy and torch;
- our build at ``--high-dim`` (default 8) with the same K;
- with ``--variants``: our solver seeded by nearest codes instead of Delaunay neighbours, and
  every cell's LP as one block-diagonal sparse LP given to HiGHS (the alternatives that were
  measured and not chosen).

Wall-clock times are what the targets are about; CPU times (``time.process_time``) are printed
next to our build because the machine is shared and wall time swings with its load.

    python benchmarks/bench_geometry.py [--k 8192] [--dim 3] [--high-dim 8] [--repeats 5]
                                        [--codebook mixture|normal] [--variants] [--json]

The default codebook is a Gaussian mixture (64 anisotropic clusters, float32), which is closer to
a trained codebook than plain normal noise; ``--codebook normal`` uses N(0, I).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from restorecli.geometry import ChebyshevStats, chebyshev_centers, codebook_box, load_or_build


def make_codebook(kind: str, k: int, dim: int, seed: int) -> np.ndarray:
    """A float32 ``k x dim`` codebook: N(0, I) or a mixture of 64 anisotropic Gaussians."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal((k, dim)).astype(np.float32)
    means = rng.standard_normal((64, dim)) * 2.0
    scales = np.exp(rng.uniform(np.log(0.05), np.log(0.6), size=(64, dim)))
    comp = rng.integers(0, 64, size=k)
    return (means[comp] + scales[comp] * rng.standard_normal((k, dim))).astype(np.float32)


def baseline_radii(codes: np.ndarray, margin: float) -> np.ndarray:
    """One HiGHS linprog per cell over its Delaunay neighbours and the box (the reference loop)."""
    from scipy.optimize import linprog
    from scipy.spatial import Delaunay

    codes = codes.astype(np.float64)
    lo, hi = codebook_box(codes, margin)
    indptr, indices = Delaunay(codes).vertex_neighbor_vertices
    dim = codes.shape[1]
    eye = np.eye(dim)
    objective = -np.eye(dim + 1)[dim]  # maximise r
    radii = np.empty(len(codes))
    for i, c in enumerate(codes):
        nbrs = codes[indices[indptr[i] : indptr[i + 1]]]
        a = np.vstack([2.0 * (nbrs - c), eye, -eye])
        b = np.concatenate([(nbrs**2).sum(1) - c @ c, hi, -lo])
        a_ub = np.hstack([a, np.linalg.norm(a, axis=1, keepdims=True)])  # a.x + r|a| <= b
        res = linprog(objective, A_ub=a_ub, b_ub=b, bounds=(None, None), method="highs")
        radii[i] = res.x[dim]
    return radii


def block_lp_radii(codes: np.ndarray, margin: float) -> np.ndarray:
    """Every cell's LP (Delaunay neighbours + box) as one block-diagonal sparse HiGHS LP."""
    import scipy.sparse as sp
    from scipy.optimize import linprog
    from scipy.spatial import Delaunay

    codes = codes.astype(np.float64)
    k, dim = codes.shape
    lo, hi = codebook_box(codes, margin)
    indptr, indices = Delaunay(codes).vertex_neighbor_vertices
    cell = np.repeat(np.arange(k), np.diff(indptr))
    v = codes[indices] - codes[cell]
    d = np.linalg.norm(v, axis=1)
    eye = np.concatenate([np.eye(dim), -np.eye(dim)])
    owner = np.concatenate([cell, np.repeat(np.arange(k), 2 * dim)])
    normals = np.concatenate([v / d[:, None], np.tile(eye, (k, 1))])
    offsets = np.concatenate([d / 2, np.concatenate([hi - codes, codes - lo], 1).reshape(-1)])
    rows = np.repeat(np.arange(len(owner)), dim + 1)
    cols = (owner[:, None] * (dim + 1) + np.arange(dim + 1)).reshape(-1)
    vals = np.concatenate([normals, np.ones((len(owner), 1))], 1).reshape(-1)
    a_ub = sp.csr_array((vals, (rows, cols)), shape=(len(owner), k * (dim + 1)))
    objective = np.zeros(k * (dim + 1))
    objective[dim :: dim + 1] = -1.0
    res = linprog(objective, A_ub=a_ub, b_ub=offsets, bounds=(None, None), method="highs")
    return res.x[dim :: dim + 1]


def timed(fn, repeats: int, cpu: list[float] | None = None) -> tuple[list[float], object]:
    """Wall times of ``repeats`` calls (CPU times appended to ``cpu``) and the last result."""
    times, out = [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
    return times, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=8192, help="codebook size")
    parser.add_argument("--dim", type=int, default=3, help="code dimension for the comparison")
    parser.add_argument("--high-dim", type=int, default=8, help="second dimension (0: skip)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of our build (median)")
    parser.add_argument("--codebook", choices=["mixture", "normal"], default="mixture")
    parser.add_argument("--margin", type=float, default=0.1, help="box margin")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-baseline", action="store_true", help="skip the linprog loop")
    parser.add_argument("--variants", action="store_true", help="also time rejected designs")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()

    codes = make_codebook(args.codebook, args.k, args.dim, args.seed)
    result: dict[str, object] = {
        "codebook": f"{args.codebook} float32, K={args.k}, D={args.dim}, seed={args.seed}",
        "box_margin": args.margin,
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
    }

    chebyshev_centers(codes[:256], box_margin=args.margin)  # warm-up (imports, allocator)
    stats, cpu = ChebyshevStats(), []
    times, (_, radii) = timed(
        lambda: chebyshev_centers(codes, box_margin=args.margin, stats=stats), args.repeats, cpu
    )
    result["ours_s"] = statistics.median(times)
    result["ours_runs_s"] = [round(t, 4) for t in times]
    result["ours_cpu_s"] = statistics.median(cpu)
    result["ours_seeding"] = stats.seeding
    result["ours_rounds"] = stats.rounds // args.repeats
    result["ours_pivots_per_cell"] = stats.pivots / args.repeats / args.k

    if not args.skip_baseline:
        (t_base,), base = timed(lambda: baseline_radii(codes, args.margin), 1)
        result["baseline_s"] = t_base
        result["max_abs_radius_diff"] = float(np.abs(base - radii).max())
        result["speedup"] = t_base / result["ours_s"]

    with tempfile.TemporaryDirectory() as folder:
        load_or_build(codes, cache_dir=folder, box_margin=args.margin)  # build + write
        t_np, _ = timed(lambda: load_or_build(codes, cache_dir=folder, box_margin=args.margin), 20)
        result["cached_load_numpy_ms"] = 1e3 * statistics.median(t_np)
        import torch

        tcodes = torch.from_numpy(codes)
        load_or_build(tcodes, cache_dir=folder, box_margin=args.margin)
        t_t, _ = timed(lambda: load_or_build(tcodes, cache_dir=folder, box_margin=args.margin), 20)
        result["cached_load_torch_ms"] = 1e3 * statistics.median(t_t)

    if args.variants:
        import restorecli.geometry.chebyshev as cheb

        cheb._SEEDING, cpu_near = "nearest", []
        t_near, (_, near_radii) = timed(
            lambda: chebyshev_centers(codes, box_margin=args.margin), 3, cpu_near
        )
        cheb._SEEDING = "auto"
        result["ours_nearest_seeded_s"] = statistics.median(t_near)
        result["ours_nearest_seeded_cpu_s"] = statistics.median(cpu_near)
        result["nearest_seeded_max_abs_radius_diff"] = float(np.abs(near_radii - radii).max())
        (t_block,), block = timed(lambda: block_lp_radii(codes, args.margin), 1)
        result["block_lp_highs_s"] = t_block
        result["block_lp_max_abs_radius_diff"] = float(np.abs(block - radii).max())

    if args.high_dim:
        high = make_codebook(args.codebook, args.k, args.high_dim, args.seed)
        hstats, cpu_high = ChebyshevStats(), []
        (t_high,), _ = timed(
            lambda: chebyshev_centers(high, box_margin=args.margin, stats=hstats), 1, cpu_high
        )
        result[f"ours_d{args.high_dim}_s"] = t_high
        result[f"ours_d{args.high_dim}_cpu_s"] = cpu_high[0]
        result[f"ours_d{args.high_dim}_rounds"] = hstats.rounds
    result["load_average_end"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"codebook: {result['codebook']}, box margin {args.margin}")
    print(
        f"machine: {result['cpus']} CPUs, 1-min load {result['load_average_start']:.1f} "
        f"at start, {result['load_average_end']:.1f} at end"
    )
    rows = [
        (
            f"ours, D={args.dim} (median of {args.repeats})",
            f"{result['ours_s']:.3f} s",
            f"CPU {result['ours_cpu_s']:.3f} s; {result['ours_seeding']} seeds; runs "
            + ", ".join(f"{t:.3f}" for t in times),
        ),
    ]
    if "baseline_s" in result:
        rows.append(
            (
                "linprog per cell over Delaunay neighbours",
                f"{result['baseline_s']:.2f} s",
                f"{result['speedup']:.0f}x ours; max |r_ours - r_base| = "
                f"{result['max_abs_radius_diff']:.1e}",
            )
        )
    for kind in ("numpy", "torch"):
        value = f"{result[f'cached_load_{kind}_ms']:.2f} ms"
        rows.append((f"cached load, {kind} (median of 20)", value, ""))
    if args.variants:
        rows.append(
            (
                "ours seeded by nearest codes (median of 3)",
                f"{result['ours_nearest_seeded_s']:.3f} s",
                f"CPU {result['ours_nearest_seeded_cpu_s']:.3f} s; max radius diff "
                f"{result['nearest_seeded_max_abs_radius_diff']:.1e}",
            )
        )
        rows.append(
            (
                "one block-diagonal LP, HiGHS",
                f"{result['block_lp_highs_s']:.2f} s",
                f"max radius diff {result['block_lp_max_abs_radius_diff']:.1e}",
            )
        )
    if args.high_dim:
        rows.append(
            (
                f"ours, D={args.high_dim}",
                f"{result[f'ours_d{args.high_dim}_s']:.2f} s",
                f"CPU {result[f'ours_d{args.high_dim}_cpu_s']:.2f} s; "
                f"{result[f'ours_d{args.high_dim}_rounds']} verification rounds",
            )
        )
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
