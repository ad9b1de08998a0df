"""``restore detect FILE...``: which tasks each file needs, with the detector's confidence.

One line per file on stdout (``--json``: one JSON list); a file that cannot be read is named on
stderr and the others go on. Exit status: that file's error code when only one file was
given, else 1 when any failed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from restorecli.cli.restore_cmd import PANEL, Detector, Device, MaxPixels, Offline, Threshold
from restorecli.config import DETECT_THRESHOLD
from restorecli.errors import EXIT_FAILURES, RestoreError


def detect_command(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE...", help="Images or videos (- for stdin).", show_default=False
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON list: path, tasks, confidences.")
    ] = False,
    threshold: Threshold = DETECT_THRESHOLD,
    detector: Detector = None,
    device: Device = "auto",
    offline: Offline = False,
    max_pixels: MaxPixels = None,
) -> None:
    """Say which restore tasks each file needs ([] / "clean" when none).

    Tasks are listed in the order `restore auto` would run them, each with the detector's
    confidence (0-1); a task runs at --threshold or above.
    """
    from restorecli.auto import detection_frames
    from restorecli.cli.console import stderr_console
    from restorecli.detect import load_detector
    from restorecli.jobs.inputs import open_input
    from restorecli.paths import is_stdio

    console = stderr_console(quiet=as_json)
    with console.status("loading the detector"):
        model = load_detector(detector, device=device, offline=offline or None)
    rows: list[dict[str, Any]] = []
    failures: list[RestoreError] = []
    for name in files:
        source: Any = typer.get_binary_stream("stdin").read() if is_stdio(name) else name
        try:
            with open_input(source, max_pixels=max_pixels) as media:
                decision = _decide(model, detection_frames(media), threshold)
        except RestoreError as exc:
            if len(files) == 1:
                raise
            failures.append(exc)
            typer.echo(f"restore: error: {' '.join(str(exc).split())}", err=True)
            rows.append({"path": name, "tasks": None, "error": str(exc)})
            continue
        rows.append({"path": name, **decision})
        if not as_json:
            typer.echo(f"{name}: {_describe(decision)}")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    if failures:
        raise typer.Exit(EXIT_FAILURES)


def _decide(model: Any, frames: list[Any], threshold: float) -> dict[str, Any]:
    from restorecli.detect import auto_plan, detected

    scores = model.scores(frames)
    tasks = auto_plan(detected(scores, threshold))
    return {
        "tasks": tasks,
        "confidence": {t: round(scores[t], 4) for t in tasks},
        "scores": {t: round(p, 4) for t, p in scores.items()},
    }


def _describe(decision: dict[str, Any]) -> str:
    if decision["tasks"]:
        return ", ".join(f"{t} ({p:.2f})" for t, p in decision["confidence"].items())
    task, top = max(decision["scores"].items(), key=lambda kv: kv[1])
    return f"clean (highest: {task} {top:.2f})"


def register(app: typer.Typer) -> None:
    app.command(
        "detect", short_help="Say which tasks a photo or video needs.", rich_help_panel=PANEL
    )(detect_command)
