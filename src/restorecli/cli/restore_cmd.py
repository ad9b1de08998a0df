"""``restore TASK INPUT`` and ``restore batch DIR``: parse, check, report.

The work lives in ``restorecli.jobs`` (per-file processing, folder walking) and
``restorecli.paths`` (output naming); this module only maps options onto them and prints.

Streams: INPUT ``-`` reads standard input; ``-o -`` writes the image to standard output, in the
input's format (a video is encoded to a temporary file first, then streamed). With ``-o -`` the
``--json`` summary goes to standard error, since standard output carries the image. Without
``-o``, an input read from ``-`` is written to standard output.
"""

# No `from __future__ import annotations`: Typer evaluates the annotations of the per-task
# commands, which refer to the `task` they are built for.

import contextlib
import dataclasses
import inspect
import json
import stat
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from restorecli.cli.declared import config_parameters, config_values, value_of, with_parameters
from restorecli.config import AUTO_ORDER, DETECT_THRESHOLD, TASKS
from restorecli.errors import EXIT_FAILURES, RestoreError

PRECISIONS = ("fp32", "fp16", "bf16", "auto")
PANEL = "Restore"
MODEL_PANEL = "Model and sampling"
OUTPUT_PANEL = "Output"
VIDEO_PANEL = "Video"
REPORT_PANEL = "Reporting"
ENGINE_PANEL = "Engine"


# Typer shows Enum members as choices; values are plain strings.
# `restore auto` and `batch --task auto`: detect, then run what was found (restorecli.auto).
AUTO = "auto"

PrecisionChoice = Enum("PrecisionChoice", {name: name for name in PRECISIONS}, type=str)
TaskChoice = Enum("TaskChoice", {name: name for name in (*TASKS, AUTO)}, type=str)
EngineChoice = Enum("EngineChoice", {name: name for name in ("local", "ray")}, type=str)


Input = Annotated[str, typer.Argument(metavar="INPUT", help="Image or video file, or - for stdin.")]
# Options shared by the task commands and `batch` (Annotated aliases keep the signatures short);
# the sampling options come from their declarations in restorecli.config.
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Output file, or - for standard output.",
        rich_help_panel=OUTPUT_PANEL,
        show_default=False,
    ),
]
Weights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Registered model name, .safetensors file or weights folder "
        "(default: the task's model).",
        metavar="NAME|PATH",
        show_default=False,
        rich_help_panel=MODEL_PANEL,
    ),
]
Device = Annotated[
    str,
    typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.", rich_help_panel=MODEL_PANEL),
]
Precision = Annotated[
    PrecisionChoice,
    typer.Option(
        "--precision", case_sensitive=False, help="Compute precision.", rich_help_panel=MODEL_PANEL
    ),
]
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        envvar="RESTORE_THREADS",
        show_default=False,
        help="CPU threads for the model (also RESTORE_THREADS; default: torch's, one per "
        "core). On a machine busy with other work, 1 can be much faster.",
        rich_help_panel=MODEL_PANEL,
    ),
]
Offline = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Never download weights (also: HF_HUB_OFFLINE=1).",
        rich_help_panel=MODEL_PANEL,
    ),
]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Replace existing output files.", rich_help_panel=OUTPUT_PANEL
    ),
]
Quality = Annotated[
    int,
    typer.Option(
        "--quality",
        min=1,
        max=100,
        help="JPEG/WebP quality (WebP 100 = lossless).",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
MaxPixels = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        envvar="RESTORE_MAX_PIXELS",
        show_default=False,
        help="Refuse inputs with more pixels per frame, 0 = no limit (default: 200000000).",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
Codec = Annotated[
    str | None,
    typer.Option(
        "--codec",
        show_default=False,
        help="Video encoder, e.g. libx264, libx265, libvpx-vp9 (default: libx264, else the first "
        "available encoder the container accepts).",
        rich_help_panel=VIDEO_PANEL,
    ),
]
Crf = Annotated[
    int | None,
    typer.Option(
        "--crf",
        min=0,
        max=63,
        show_default=False,
        help="Video quality: lower is better (default: 18).",
        rich_help_panel=VIDEO_PANEL,
    ),
]
Preset = Annotated[
    str | None,
    typer.Option(
        "--preset",
        show_default=False,
        help="Encoder speed preset (default: medium).",
        rich_help_panel=VIDEO_PANEL,
    ),
]
NoAudio = Annotated[
    bool,
    typer.Option(
        "--no-audio",
        help="Drop audio and subtitle streams instead of copying them.",
        rich_help_panel=VIDEO_PANEL,
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No progress or notes, errors only.", rich_help_panel=REPORT_PANEL
    ),
]
AsJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print a JSON summary on stdout (stderr with -o -).",
        rich_help_panel=REPORT_PANEL,
    ),
]
Debug = Annotated[
    bool,
    typer.Option("--debug", help="Show full tracebacks for errors.", rich_help_panel=REPORT_PANEL),
]


@dataclasses.dataclass
class RunOptions:
    """Everything the task commands and `batch` share, as given on the command line."""

    weights: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    threads: int | None = None
    offline: bool = False
    overwrite: bool = False
    quality: int = 95
    max_pixels: int | None = None
    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    no_audio: bool = False
    quiet: bool = False
    as_json: bool = False
    debug: bool = False
    # The RestoreConfig options the user gave (restorecli.config); the rest stay the model's.
    sampling: dict[str, Any] = dataclasses.field(default_factory=dict)
    # auto only: the detector (None: the registry's) and the confidence that runs a task.
    detector: str | None = None
    threshold: float = DETECT_THRESHOLD

    def config_overrides(self) -> dict[str, Any]:
        """Only the sampling options the user gave: the rest stay the model's defaults."""
        return dict(self.sampling)

    def file_options(self) -> Any:
        from restorecli.jobs.options import FileOptions, VideoSettings

        return FileOptions(
            overwrite=self.overwrite,
            quality=self.quality,
            max_pixels=self.max_pixels,
            video=VideoSettings(
                codec=self.codec, crf=self.crf, preset=self.preset, audio=not self.no_audio
            ),
        )


def _fixed_options(
    weights: Weights = None,
    device: Device = "auto",
    precision: Precision = PrecisionChoice.fp32,
    threads: Threads = None,
    offline: Offline = False,
    overwrite: Overwrite = False,
    quality: Quality = 95,
    max_pixels: MaxPixels = None,
    codec: Codec = None,
    crf: Crf = None,
    preset: Preset = None,
    no_audio: NoAudio = False,
    quiet: Quiet = False,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """The shared options that are not RestoreConfig's: their parameters are read from here."""


_FIXED = list(inspect.signature(_fixed_options).parameters.values())
# Model options, then the sampling options from their declarations, then the rest.
_SHARED = [*_FIXED[:4], *config_parameters(MODEL_PANEL), *_FIXED[4:]]
_CONFIG_NAMES = {p.name for p in _SHARED} - {p.name for p in _FIXED}


def _collect(values: dict[str, Any]) -> RunOptions:
    fixed = {k: value_of(v) for k, v in values.items() if k not in _CONFIG_NAMES}
    return RunOptions(**fixed, sampling=config_values(values))


def _with_run_options(command: Callable[..., None]) -> Callable[..., None]:
    """Typer command for ``command(..., run: RunOptions, ...)``: the shared options replace
    ``run``; a command's own options declared after ``run`` (--suffix) are listed beside the
    other output options."""
    return with_parameters(command, "run", _SHARED, _collect, after="overwrite")


def _load(task: str, run: RunOptions, reporter: Any) -> Any:
    from restorecli.jobs.restorer import check_overrides, load_restorer

    overrides = run.config_overrides()
    try:  # inconsistent sampling options (e.g. --tile 32) are usage errors, found before loading
        check_overrides(overrides)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with reporter.status(f"loading the {task} model"):
        restorer = load_restorer(
            run.weights,
            task=task,
            overrides=overrides,
            device=run.device,
            precision=run.precision,
            offline=run.offline or None,
            threads=run.threads,
        )
    if restorer.task is not None and restorer.task != task:  # e.g. --weights dehaze-cheb
        reporter.note(
            f"{restorer.name or run.weights} was trained for {restorer.task}, not {task}: "
            f"it will remove what a {restorer.task} model removes"
        )
    return restorer


def _load_auto(run: RunOptions, reporter: Any) -> Any:
    """The AutoRestorer: the detector now, each task's model when a file first needs it."""
    from restorecli.auto import AutoRestorer
    from restorecli.detect import load_detector

    with reporter.status("loading the detector"):
        detector = load_detector(run.detector, device=run.device, offline=run.offline or None)
    return AutoRestorer(
        detector, lambda task: _load(task, run, reporter), run.threshold, _tasks_with_weights()
    )


def _check_model_exists(task: str, run: RunOptions) -> None:
    """A task without registered weights fails at once, from the registry alone (no torch)."""
    if task == AUTO:
        if run.weights is not None:
            raise typer.BadParameter(
                "auto runs each task's own model; --weights names one model", param_hint="--weights"
            )
        if run.detector is None:
            from restorecli.weights import default_model_for_task
            from restorecli.weights.registry import DETECT_TASK

            default_model_for_task(DETECT_TASK)
    elif run.weights is None:
        from restorecli.weights import default_model_for_task

        default_model_for_task(task)


def _tasks_with_weights() -> set[str] | None:
    """Tasks that have a registered model (None if the registry cannot be read now: the
    command that needs it will say why)."""
    try:
        from restorecli.weights import load_registry

        return set(load_registry().tasks())
    except Exception:
        return None


def _set_debug(ctx: typer.Context, debug: bool) -> None:
    if debug:  # read by restorecli.cli.RestoreGroup when an error reaches it
        ctx.meta["restore.debug"] = True


# --- restore TASK INPUT -------------------------------------------------------------------------


def restore_one(
    task: str, input_arg: str, output_arg: str | None, run: RunOptions, *, suffix: str | None = None
) -> None:
    """Restore one image or video (or stdin) into one output (or stdout).

    Without an output, ``IN.EXT`` goes to ``IN{suffix}.EXT`` (suffix ``_TASK`` by default).
    """
    from restorecli.auto import restore_auto
    from restorecli.cli.console import Reporter, stderr_console
    from restorecli.jobs.inputs import open_input
    from restorecli.jobs.outputs import check_destination, default_destination, restore_media
    from restorecli.jobs.restorer import describe_restorer
    from restorecli.media import IMAGE
    from restorecli.paths import is_stdio, output_is_stdout

    _check_model_exists(task, run)
    to_stdout = output_is_stdout(input_arg, output_arg)
    if to_stdout and sys.stdout.isatty():
        raise typer.BadParameter(
            "refusing to write binary data to a terminal: redirect standard output or use -o FILE",
            param_hint="-o",
        )
    console = stderr_console(quiet=run.quiet)

    # Cheap checks first (kind, output name and folder), then decoding, then the model.
    source: Path | bytes
    if is_stdio(input_arg):
        source = typer.get_binary_stream("stdin").read()
        input_paths: list[Path] = []
    else:
        source = Path(input_arg)
        input_paths = [source]
    dst: Path | None = None
    # A device (-o /dev/null to time a run, a FIFO) takes the bytes as standard output would:
    # in the input's format, without a temporary file beside it.
    device = output_arg is not None and not to_stdout and _is_device(Path(output_arg))
    if not to_stdout and not device:
        dst = Path(output_arg) if output_arg else default_destination(source, task, suffix=suffix)

    def check_output(kind: str) -> None:  # once the kind is known, before decoding
        if dst is not None:
            check_destination(dst, kind, overwrite=run.overwrite, input_paths=input_paths)

    with (
        open_input(source, max_pixels=run.max_pixels, check_kind=check_output) as media,
        Reporter(console) as reporter,
    ):
        restorer = _load_auto(run, reporter) if task == AUTO else _load(task, run, reporter)
        total = getattr(media.info, "frames", None) if media.info is not None else None
        unit = "frames" if media.kind != IMAGE else "tiles"  # a large image: tile by tile
        reporter.start_file(Path(media.label).name, total=total or None, unit=unit)
        with contextlib.ExitStack() as stack:
            out: Any = dst
            if device:
                out = stack.enter_context(open(str(output_arg), "wb"))
            elif dst is None:
                out = typer.get_binary_stream("stdout")
            restore = restore_auto if task == AUTO else restore_media
            result = restore(
                restorer, media, out, run.file_options(), progress=reporter.file_progress
            )
        reporter.end_file()

    if task == AUTO:
        summary = {"task": task, **result.to_dict(), "detector": restorer.detector.name}
    else:
        summary = {"task": task, **result.to_dict(), **describe_restorer(restorer)}
    if run.as_json:  # on stderr when stdout carries the image
        typer.echo(json.dumps(summary, default=str), err=to_stdout)
    elif not run.quiet:
        for note in result.notes:
            console.print(f"note: {note}", markup=False)
        size = f"{result.width}x{result.height}" if result.width else media.kind
        frames = f", {result.frames} frames" if result.frames else ""
        console.print(
            f"{result.status} {result.input} -> {result.output} ({size}{frames}, "
            f"{result.seconds:.1f} s)",
            markup=False,
        )


def _is_device(path: Path) -> bool:
    """A character device or FIFO (``/dev/null``), which takes a stream, not a file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _restore_one_reporting(
    task: str, input_arg: str, output_arg: str | None, run: RunOptions, *, suffix: str | None = None
) -> None:
    """restore_one; with --json a failure is also reported in the summary a script reads."""
    try:
        restore_one(task, input_arg, output_arg, run, suffix=suffix)
    except RestoreError as exc:
        if run.as_json:
            _print_failure_json(task, input_arg, output_arg, exc)
        raise


def _print_failure_json(
    task: str, input_arg: str, output_arg: str | None, exc: RestoreError
) -> None:
    """The --json summary of a single file that failed (FileResult's fields)."""
    from restorecli.jobs.results import FAILED, FileResult
    from restorecli.paths import output_is_stdout

    result = FileResult(
        input=input_arg,
        output=output_arg,
        status=FAILED,
        message=" ".join(str(exc).split()),
        exit_code=exc.exit_code,
    )
    summary = {"task": task, **result.to_dict()}
    typer.echo(json.dumps(summary), err=output_is_stdout(input_arg, output_arg))


def _make_task_command(task: str) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        input: Input,
        output: Output = None,
        *,
        run: RunOptions,  # the shared options (see _with_run_options)
        suffix: Annotated[
            str | None,
            typer.Option(
                "--suffix",
                show_default=False,
                rich_help_panel=OUTPUT_PANEL,
                help=f"Added to the input name when -o is not given (default: _{task}).",
            ),
        ] = None,
    ) -> None:
        _set_debug(ctx, run.debug)
        if suffix == "" and output is None:
            raise typer.BadParameter("an empty suffix would name the input", param_hint="--suffix")
        _restore_one_reporting(task, input, output, run, suffix=suffix)

    command.__name__ = f"{task}_command"
    command.__doc__ = (
        f"{TASKS[task]}\n\n"
        f"Without -o, IN.EXT is written to IN_{task}.EXT beside it; - reads stdin / writes "
        f"stdout, e.g. `cat in.jpg | restore {task} - > out.jpg`."
    )
    return _with_run_options(command)


def _auto_options(run: RunOptions, detector: str | None, threshold: float) -> RunOptions:
    return dataclasses.replace(run, detector=detector, threshold=threshold)


AUTO_HELP = (
    "Which tasks the file needs (restore detect), then those tasks in order, or nothing.\n\n"
    "A photo judged clean is kept as it is (its own bytes when the output has its format), with "
    f"a note. Tasks run in the order {', '.join(AUTO_ORDER)}. Without -o, IN.EXT is written to "
    "IN_auto.EXT beside it; - reads stdin / writes stdout."
)
Detector = Annotated[
    str | None,
    typer.Option(
        "--detector",
        metavar="NAME|PATH",
        show_default=False,
        rich_help_panel=MODEL_PANEL,
        help="Detector model or .safetensors file (default: the registry's).",
    ),
]
Threshold = Annotated[
    float,
    typer.Option(
        "--threshold",
        min=0.0,
        max=1.0,
        rich_help_panel=MODEL_PANEL,
        help="Detector confidence at which a task runs.",
    ),
]


@_with_run_options
def auto_command(
    ctx: typer.Context,
    input: Input,
    output: Output = None,
    *,
    run: RunOptions,  # the shared options (see _with_run_options)
    detector: Detector = None,
    threshold: Threshold = DETECT_THRESHOLD,
) -> None:
    _set_debug(ctx, run.debug)
    run = _auto_options(run, detector, threshold)
    _restore_one_reporting(AUTO, input, output, run)


auto_command.__doc__ = AUTO_HELP


# --- restore batch DIR ---------------------------------------------------------------------------


@_with_run_options
def batch_command(
    ctx: typer.Context,
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="Folder of images and videos.", show_default=False)
    ],
    task: Annotated[
        TaskChoice,
        typer.Option(
            "--task", "-t", case_sensitive=False, show_default=False, help="What to remove."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            show_default=False,
            rich_help_panel=OUTPUT_PANEL,
            help="Output folder, mirroring DIR's tree (default: DIR_TASK beside DIR).",
        ),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Include sub-folders.")
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="Keep outputs that already exist (resume a run).",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    engine: Annotated[
        EngineChoice,
        typer.Option(
            "--engine",
            case_sensitive=False,
            rich_help_panel=ENGINE_PANEL,
            help="local: files one by one in this process; ray: on Ray workers, each with its "
            "own copy of the model, long videos cut at keyframes (needs the package's ray "
            "extra).",
        ),
    ] = EngineChoice.local,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            metavar="ADDR",
            show_default=False,
            rich_help_panel=ENGINE_PANEL,
            help="Ray cluster to join (HEAD:6379, or auto on a machine of the cluster; the "
            "folders on a filesystem every machine shares at the same path). Default: start "
            "Ray on this machine.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            metavar="N",
            show_default=False,
            rich_help_panel=ENGINE_PANEL,
            help="Ray workers (default: one per CPU of this machine or of the cluster).",
        ),
    ] = None,
    *,
    run: RunOptions,  # the shared options (see _with_run_options)
    suffix: Annotated[
        str,
        typer.Option(
            "--suffix", rich_help_panel=OUTPUT_PANEL, help="Added to each output file name."
        ),
    ] = "",
    detector: Detector = None,
    threshold: Threshold = DETECT_THRESHOLD,
) -> None:
    """Restore every image and video in a folder, mirroring it into another folder.

    Files that are not images or videos are skipped with a note; a file that fails is
    reported and the others go on (exit status 1 at the end). Outputs are complete or absent,
    so an interrupted run resumes with --skip-existing.
    """
    _set_debug(ctx, run.debug)
    if value_of(task) != AUTO and (detector is not None or threshold != DETECT_THRESHOLD):
        raise typer.BadParameter("only --task auto uses a detector", param_hint="--detector")
    run = _auto_options(run, detector, threshold)
    ray = _ray_options(value_of(engine), address, workers)
    report = restore_folder(
        value_of(task) or "",
        folder,
        output,
        recursive=recursive,
        skip_existing=skip_existing,
        suffix=suffix,
        run=run,
        ray=ray,
    )
    if not report.ok:
        raise typer.Exit(EXIT_FAILURES)


def restore_folder(
    task: str,
    folder: Path,
    output: Path | None,
    *,
    recursive: bool,
    skip_existing: bool,
    suffix: str,
    run: RunOptions,
    ray: Any = None,
) -> Any:
    """Plan, load the model once, restore, print the summary; returns the BatchReport.

    With ``ray`` (a ``jobs.ray_engine.RayOptions``), the files run on Ray workers instead, each
    loading the model once.
    """
    from restorecli.cli.console import Reporter, stderr_console
    from restorecli.jobs.folders import RESTORE, batch_output_dir, plan_batch, run_batch
    from restorecli.jobs.results import IGNORED
    from restorecli.media.safe_write import check_writable

    _check_model_exists(task, run)
    console = stderr_console(quiet=run.quiet)
    out_root = batch_output_dir(folder, output, task, suffix=suffix)
    items = plan_batch(
        folder,
        out_root,
        recursive=recursive,
        skip_existing=skip_existing,
        overwrite=run.overwrite,
        suffix=suffix,
    )
    todo = [item for item in items if item.action == RESTORE]
    with Reporter(console) as reporter:
        for item in items:
            if item.action == IGNORED:
                reporter.note(f"skipping {item.src}: {item.note}")
        restorer = None
        if todo:
            check_writable(out_root / ".probe", create_parents=True)
        if todo and ray is None:
            restorer = _load_auto(run, reporter) if task == AUTO else _load(task, run, reporter)
        reporter.overall(len(items), f"{task} {folder}")

        def on_start(item: Any) -> None:
            if item.action == RESTORE:
                reporter.start_file(
                    item.src.name, unit="tiles" if item.kind == "image" else "frames"
                )

        def on_done(result: Any) -> None:
            reporter.end_file()
            reporter.advance_overall()

        if ray is not None:
            report = _run_on_ray(task, run, ray, items, reporter)
        else:
            report = run_batch(
                restorer,
                items,
                run.file_options(),
                on_start=on_start,
                on_done=on_done,
                progress=reporter.file_progress,
                raise_unexpected=run.debug,
            )
    if run.as_json:
        typer.echo(
            json.dumps(
                {"task": task, "input": str(folder), "output": str(out_root), **report.to_dict()}
            )
        )
    elif not run.quiet:
        _print_summary(console, report, out_root)
    else:  # quiet still names what failed, one line each, like any other error
        for failed in report.failed:
            message = " ".join(failed.message.split())
            if failed.input not in message:
                message = f"{failed.input}: {message}"
            typer.echo(f"restore: error: {message}", err=True)
    return report


def _ray_options(engine: str | None, address: str | None, workers: int | None) -> Any:
    """``--engine ray``'s RayOptions (None: the local engine); usage errors for the rest."""
    if engine != "ray":
        if address is not None or workers is not None:
            raise typer.BadParameter(
                "only --engine ray takes --address and --workers", param_hint="--address"
            )
        return None
    from restorecli.jobs.ray_engine import RAY_MISSING, RayOptions, ray_installed

    if not ray_installed():
        raise typer.BadParameter(RAY_MISSING, param_hint="--engine")
    return RayOptions(address=address, workers=workers)


def _run_on_ray(task: str, run: RunOptions, ray: Any, items: list[Any], reporter: Any) -> Any:
    """The batch on Ray workers, each building the restorer as ``_load`` / ``_load_auto`` do."""
    import functools

    from restorecli.jobs.ray_engine import run_batch_ray
    from restorecli.jobs.restorer import check_overrides, load_auto_restorer, load_restorer

    overrides = run.config_overrides()
    try:  # inconsistent sampling options are usage errors, found before starting Ray
        check_overrides(overrides)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    model = {"device": run.device, "precision": run.precision, "offline": run.offline or None}
    model.update(threads=run.threads, overrides=overrides)
    if task == AUTO:  # a file's tasks are its own: no cutting a video into segments
        make = functools.partial(
            load_auto_restorer,
            run.detector,
            threshold=run.threshold,
            available=_tasks_with_weights(),
            **model,
        )
        ray = dataclasses.replace(ray, split=None)
    else:
        make = functools.partial(load_restorer, run.weights, task=task, **model)
    if run.device.startswith("cuda"):
        ray = dataclasses.replace(ray, gpus_per_worker=1.0)

    def on_ready(info: Any) -> None:
        if task != AUTO and info.task is not None and info.task != task:
            reporter.note(
                f"{info.name or run.weights} was trained for {info.task}, not {task}: "
                f"it will remove what a {info.task} model removes"
            )

    return run_batch_ray(
        make,
        items,
        run.file_options(),
        ray,
        on_ready=on_ready,
        on_done=lambda result: reporter.advance_overall(),
    )


def _print_summary(console: Any, report: Any, out_root: Path) -> None:
    from rich.table import Table
    from rich.text import Text

    from restorecli.jobs.results import FAILED, IGNORED, KEPT, RESTORED, SKIPPED

    styles = {RESTORED: "green", KEPT: "green", SKIPPED: "cyan", IGNORED: "dim", FAILED: "bold red"}
    table = Table(title=f"restore batch -> {out_root}", title_justify="left", expand=False)
    table.add_column("file", overflow="fold")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("note", overflow="fold")
    for r in report.results:
        table.add_row(
            Text(r.input),
            Text(r.status, style=styles[r.status]),
            f"{r.seconds:.1f} s" if r.status in (RESTORED, KEPT) else "",
            Text(r.message or (r.notes[0] if r.tasks is not None and r.notes else "")),
        )
    console.print(table)
    shown = (RESTORED, KEPT, SKIPPED, IGNORED, FAILED) if report.count(KEPT) else None
    shown = shown or (RESTORED, SKIPPED, IGNORED, FAILED)
    counts = ", ".join(f"{report.count(s)} {s}" for s in shown)
    console.print(counts, markup=False)


def register(app: typer.Typer) -> None:
    """Add one command per task and ``batch`` to ``app`` (help panel "Restore")."""
    have = _tasks_with_weights()
    for task, summary in TASKS.items():
        if have is not None and task not in have:
            summary = f"{summary} (no weights yet: needs --weights)"
        app.command(task, help=None, short_help=summary, rich_help_panel=PANEL)(
            _make_task_command(task)
        )
    app.command(
        AUTO,
        short_help="Detect what a photo or video needs and restore it (or keep it).",
        rich_help_panel=PANEL,
    )(auto_command)
    app.command(
        "batch", short_help="Restore every image and video in a folder.", rich_help_panel=PANEL
    )(batch_command)
