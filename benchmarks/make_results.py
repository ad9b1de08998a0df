"""Regenerate docs/results.md (and its PNGs under docs/results/) from measurements.

    python benchmarks/make_results.py --data ../shared/data/bench --out docs/results.md
    python benchmarks/make_results.py --data ../shared/data/bench --quick --limit 4  # minutes

Derain is scored on DATA/Rain100H_MSPFN (paired); dehaze on the Kodak24 photos
(DATA/Noise_clean_Kodak24_FFDNet/target) hazed with `restore degrade dehaze --seed 0` in a
temporary folder. Every table states its settings and the weights' SHA-256; see
benchmarks/results_report.py for the sections. The default (full) run may take hours on a CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

sys.path.insert(0, str(Path(__file__).resolve().parent))  # results_report lives beside this file

from restorecli.errors import RestoreError
from restorecli.init_state import INIT_MODES
from results_report import ResultsOptions, ResultsPlan, make_results


def parse_trained(items: list[str]) -> dict[str, dict[str, str]]:
    """``TASK:INIT=WEIGHTS`` items -> {task: {init: weights}}."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        try:
            head, weights = item.split("=", 1)
            task, init = head.split(":", 1)
        except ValueError:
            raise SystemExit(f"--trained {item!r}: use TASK:INIT=WEIGHTS") from None
        if init not in INIT_MODES:
            raise SystemExit(f"--trained {item!r}: INIT must be one of {', '.join(INIT_MODES)}")
        out.setdefault(task, {})[init] = weights
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="benchmark root folder")
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    parser.add_argument("--assets", type=Path, help="PNG folder (default: OUT's folder/results)")
    parser.add_argument(
        "--tasks", default="derain,dehaze", help="comma list (default: %(default)s)"
    )
    parser.add_argument("--weights", help="weights for every task (default: each task's model)")
    parser.add_argument("--derain-weights", help="weights for derain (overrides --weights)")
    parser.add_argument("--dehaze-weights", help="weights for dehaze (overrides --weights)")
    parser.add_argument(
        "--trained",
        action="append",
        default=[],
        metavar="TASK:INIT=WEIGHTS",
        help="a model trained with another initial state (repeat), e.g. derain:zq=runs/derain-zq",
    )
    parser.add_argument("--limit", type=int, help="at most N images in every section")
    parser.add_argument("--quick", action="store_true", help="fewer settings: runs in minutes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--haze-seed", type=int, default=0)
    parser.add_argument("--haze-severity", type=float, help="default: drawn per image")
    parser.add_argument("--no-bench", action="store_true", help="skip the speed section")
    parser.add_argument(
        "--bench-repeats", type=int, help="timed runs per speed setting (default: the plan's)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT even if this script did not write it"
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    if args.bench_repeats is not None and args.bench_repeats < 1:
        parser.error("--bench-repeats must be >= 1")
    plan = ResultsPlan.quick() if args.quick else ResultsPlan.full()
    if args.bench_repeats is not None:
        plan = dataclasses.replace(plan, bench_repeats=args.bench_repeats)

    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    weights = {t: args.weights for t in tasks}
    for task, w in (("derain", args.derain_weights), ("dehaze", args.dehaze_weights)):
        if w is not None:
            weights[task] = w
    given = sys.argv[1:] if argv is None else argv
    options = ResultsOptions(
        data=args.data,
        out=args.out,
        assets=args.assets,
        tasks=tasks,
        weights=weights,
        trained=parse_trained(args.trained),
        limit=args.limit,
        plan=plan,
        device=args.device,
        haze_seed=args.haze_seed,
        haze_severity=args.haze_severity,
        bench=not args.no_bench,
        overwrite=args.overwrite,
        command=shlex.join(["python", "benchmarks/make_results.py", *given]),
    )
    try:
        path = make_results(options, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    except RestoreError as exc:
        print(f"make_results: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
