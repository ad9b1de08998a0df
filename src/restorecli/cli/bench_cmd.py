"""``restore bench``: images/s, frames/s, peak memory and time per stage on this machine.

Sizes run smallest first, each at every step count, after one warm-up run that is not counted.
The work lives in ``restorecli.evaluate.speed``; this module parses and prints.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from restorecli.cli.eval_cmd import (
    EVAL_PANEL,
    Debug,
    Device,
    Offline,
    load_model,
    start_command,
)
from restorecli.config import TASKS


def bench_command(
    ctx: typer.Context,
    task: Annotated[
        str, typer.Option("--task", "-t", help=f"Whose model to time: {', '.join(TASKS)}.")
    ] = "derain",
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            metavar="NAME|PATH",
            show_default=False,
            help="Model name or weights path (default: the task's model).",
        ),
    ] = None,
    sizes: Annotated[
        str, typer.Option("--sizes", help="Frame sizes WIDTHxHEIGHT, comma-separated.")
    ] = "256x256,512x512,1920x1080",
    steps: Annotated[
        str, typer.Option("--steps", help="Diffusion step counts, comma-separated.")
    ] = "1,2,4,8,15",
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Timed runs per configuration.")
    ] = 3,
    frames: Annotated[
        int | None,
        typer.Option(
            "--frames",
            min=0,
            show_default=False,
            help="Frames per batch for frames/s (default: --batch-size; 0 = skip).",
        ),
    ] = None,
    init: Annotated[
        str | None,
        typer.Option("--init", show_default=False, help="Initial state (default: the model's)."),
    ] = None,
    fidelity: Annotated[
        str | None,
        typer.Option(
            "--fidelity",
            show_default=False,
            help="Fidelity-path weights, comma-separated, timed in the same run, e.g. 0,1 "
            "(default: the model's).",
        ),
    ] = None,
    tile: Annotated[
        int | None,
        typer.Option("--tile", min=0, show_default=False, help="Tile size, 0 = off (default 512)."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", min=1, show_default=False, help="Frames per forward pass (default 4)."
        ),
    ] = None,
    device: Device = "auto",
    precision: Annotated[
        str, typer.Option("--precision", help="fp32, fp16, bf16 or auto.")
    ] = "fp32",
    offline: Offline = False,
    json_path: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="PATH",
            show_default=False,
            help="Write the results as JSON to PATH (- for stdout, then no table).",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the JSON file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table or progress.")] = False,
    debug: Debug = False,
) -> None:
    """Time the restoration on this machine: images/s, frames/s, peak memory, seconds per stage.

    Stages: read (PNG decode), encode, init_state, sample, requantize, decode (the model's),
    write (PNG encode). Peak RSS is the process's peak so far; on CUDA the peak allocated memory
    of each configuration is reported too.

    Example: `restore bench --sizes 512x512 --steps 1,4 --json bench.json`.
    """
    start_command(ctx, task=task, debug=debug)
    from restorecli.evaluate.speed import parse_size
    from restorecli.evaluate.sweep import parse_values

    try:
        size_list = [parse_size(s) for s in sizes.split(",") if s.strip()]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sizes") from None
    try:
        step_list = parse_values("steps", steps) or []
        init_mode = (parse_values("init", init) or [None])[0] if init else None
        fidelities = parse_values("fidelity", fidelity) or [None]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not size_list:
        raise typer.BadParameter("give at least one size", param_hint="--sizes")
    if any(s < 1 for s in step_list):
        raise typer.BadParameter("step counts must be >= 1", param_hint="--steps")
    if json_path not in (None, "-"):
        from restorecli.media.safe_write import check_output, check_writable

        check_output(json_path, overwrite=overwrite)
        check_writable(json_path)
    overrides = {
        k: v
        for k, v in {"init": init_mode, "tile": tile, "batch_size": batch_size}.items()
        if v is not None
    }
    result = run_bench(
        task=task,
        weights=weights,
        sizes=size_list,
        steps=step_list,
        repeats=repeats,
        frames=frames,
        overrides=overrides,
        device=device,
        precision=precision,
        offline=offline,
        quiet=quiet,
        fidelities=fidelities,
    )
    result["command"] = _command(ctx)
    if json_path is not None:
        from restorecli.evaluate.tables import dumps, write_text

        write_text(json_path, dumps(result), overwrite=overwrite)
    if not quiet and json_path != "-":
        from restorecli.cli.console import table_console
        from restorecli.evaluate.speed import bench_table

        table_console().print(bench_table(result).to_rich())


def run_bench(
    *,
    task: str,
    weights: str | None,
    sizes: list[tuple[int, int]],
    steps: list[int],
    repeats: int,
    frames: int | None,
    overrides: dict[str, Any],
    device: str,
    precision: str,
    offline: bool,
    quiet: bool,
    fidelities: list[float | None] | None = None,
) -> dict[str, Any]:
    """Load the model, time it, and return a JSON-ready dict (environment, config, rows).

    Each of ``fidelities`` (None: the model's own) is timed in turn on the same loaded model.
    """
    from restorecli.cli.console import stderr_console
    from restorecli.evaluate.provenance import weights_info_or_error
    from restorecli.evaluate.speed import bench, environment
    from restorecli.jobs.restorer import check_overrides

    try:  # inconsistent options (e.g. --tile 32) are usage errors, found before loading
        check_overrides(overrides)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    err = stderr_console(quiet=quiet)
    restorer = load_model(
        err.status,
        weights,
        task=task,
        device=device,
        precision=precision,
        offline=offline,
        overrides=overrides,
    )
    info = weights_info_or_error(weights, task)
    rows = []
    base = restorer.config
    for weight in fidelities or [None]:
        if weight is not None:
            restorer.config = dataclasses.replace(base, fidelity=weight)
            restorer.check_config({"fidelity"})
        for row in bench(
            restorer,
            sizes=sizes,
            steps=steps,
            repeats=repeats,
            frames=frames,
            progress=lambda what: err.print(f"timing {what}", markup=False),
        ):
            rows.append({**row.as_dict(), "fidelity": restorer.config.fidelity})
    restorer.config = base
    return {
        "task": task,
        "weights": info,
        "environment": environment(restorer),
        "config": dataclasses.asdict(restorer.config),
        "precision": precision,
        "repeats": repeats,
        "rows": rows,
    }


def _command(ctx: typer.Context) -> str:
    """The canonical command line of this run (parameters that differ from their defaults)."""
    from restorecli.evaluate.provenance import canonical_command

    options = [
        (param.opts[0], ctx.params.get(param.name), param.default)
        for param in ctx.command.params
        if param.name not in ("debug", "quiet", "overwrite")
    ]
    return canonical_command(["restore", "bench"], options)


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""
    app.command(
        "bench",
        short_help="Time the restoration: images/s, frames/s, memory, seconds per stage.",
        rich_help_panel=EVAL_PANEL,
    )(bench_command)
