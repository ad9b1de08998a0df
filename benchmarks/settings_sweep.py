"""Choose a model's settings on held-out pairs at several severities: one table, one mean.

    python benchmarks/settings_sweep.py --task derain HELD_0 HELD_0.3 HELD_0.6 HELD_0.9 \
        --set fidelity=0,0.5,1 --set requantize=hard,vr [--weights NAME] [--limit N]

Runs ``restore eval`` on every paired folder with the grid of ``--set`` options (each a comma
list, as on ``restore eval``) and prints, per setting, the PSNR on every folder, its worst margin
over the input (negative: the setting made some severity worse than doing nothing) and the mean
over folders. Settings are chosen here, on photos held out of training, never on the benchmarks
the model card reports.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

try:
    import restorecli  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def run_eval(args: list[str]) -> dict[str, Any]:
    """`restore eval ARGS --json FILE --quiet` in this process; the parsed JSON."""
    import typer

    from restorecli.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eval.json"
        command = typer.main.get_command(app)
        command.main(["eval", *args, "--json", str(out), "--quiet"], standalone_mode=False)
        return json.loads(out.read_text())


def sweep(
    task: str, folders: list[Path], grid: dict[str, str], extra: list[str]
) -> list[dict[str, Any]]:
    """One row per setting: its label, PSNR and input PSNR per folder."""
    options = [x for key, values in grid.items() for x in (f"--{key.replace('_', '-')}", values)]
    rows: dict[str, dict[str, Any]] = {}
    for folder in folders:
        data = run_eval(["--task", task, str(folder), *options, *extra])
        for s in data["settings"]:
            label = " ".join(f"{k}={s['config'][k]}" for k in grid)
            row = rows.setdefault(label, {"setting": label, "psnr": {}, "input": {}})
            row["psnr"][folder.name] = s["mean"]["psnr"]
            # A clean folder (input = target): the input's PSNR is infinite (JSON null).
            row["input"][folder.name] = s["input_mean"]["psnr"]
    return list(rows.values())


def _finite(psnr: float | None) -> bool:
    return psnr is not None and psnr < 99


def table(rows: list[dict[str, Any]], folders: list[Path]) -> str:
    names = [f.name for f in folders]
    lines = [
        "| setting | " + " | ".join(names) + " | worst margin over input | mean |",
        "|---|" + "---:|" * (len(names) + 2),
    ]
    for r in rows:
        # A clean folder scores infinity as input: no margin to keep there.
        margins = [r["psnr"][n] - r["input"][n] for n in names if _finite(r["input"][n])]
        worst = min(margins) if margins else float("nan")
        mean = sum(r["psnr"][n] for n in names) / len(names)
        cells = " | ".join(f"{r['psnr'][n]:.2f}" for n in names)
        lines.append(f"| {r['setting']} | {cells} | {worst:+.2f} | {mean:.2f} |")
    inputs = " | ".join(
        f"{rows[0]['input'][n]:.2f}" if _finite(rows[0]["input"][n]) else "clean" for n in names
    )
    lines.append(f"| input | {inputs} | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="paired folders (input/, target/)")
    parser.add_argument("--task", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=V1,V2")
    parser.add_argument("--weights")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    grid = {}
    for item in args.set:
        key, _, values = item.partition("=")
        if not values:
            raise SystemExit(f"--set {item!r}: use OPTION=V1,V2")
        grid[key.replace("-", "_")] = values
    extra = (["--weights", args.weights] if args.weights else []) + (
        ["--limit", str(args.limit)] if args.limit else []
    )
    rows = sweep(args.task, args.folders, grid, extra)
    print(json.dumps(rows), file=sys.stderr)  # the raw scores, for a second look
    print(table(rows, args.folders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
