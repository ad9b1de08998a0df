"""``restore eval --task T DIR``: score restorations of a paired folder (PSNR, SSIM, on RGB and Y).

``DIR/input/`` holds degraded images, ``DIR/target/`` the clean ones under the same names. Any
sampling option takes a comma list (``--init all``, ``--steps 1,2,4,8``, ``--weights a,b``...)
and every combination is evaluated, one table row per setting. The work lives in
``restorecli.evaluate``; this module parses, checks outputs early and prints.

The table goes to stdout (stderr when an output file is ``-``, which then owns stdout);
progress and notes go to stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import typer

from restorecli.cli.declared import sweep_parameters, with_parameters
from restorecli.config import TASKS, sweep_options

EVAL_PANEL = "Evaluate"
SWEEP_PANEL = "Settings (comma lists are swept)"
OUT_PANEL = "Outputs"

# Options that `restore bench` declares the same way (it imports these aliases).
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")]
Offline = Annotated[bool, typer.Option("--offline", help="Never download weights.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")]


def _sweep_option(flag: str, help_text: str) -> Any:
    return typer.Option(
        f"--{flag}", show_default=False, help=help_text, rich_help_panel=SWEEP_PANEL
    )


def _output_option(flag: str, help_text: str, metavar: str = "PATH") -> Any:
    return typer.Option(
        flag, metavar=metavar, show_default=False, rich_help_panel=OUT_PANEL, help=help_text
    )


# The options --autoencoder-only still uses: the initial state it decodes, and tiling.
AUTOENCODER_OPTIONS = ("init", "lam", "tile", "tile_overlap")


def _with_sweep_options(command: Callable[..., None]) -> Callable[..., None]:
    """The sweepable RestoreConfig options, generated from their declarations, in place of
    ``command``'s ``sweeps`` parameter (a dict of the comma lists given, None = not given)."""
    params = sweep_parameters(SWEEP_PANEL, list(sweep_options()))
    return with_parameters(command, "sweeps", params, dict)


def _flag(name: str) -> str:
    """The option of a settings field: ``tile_overlap`` -> ``--tile-overlap``."""
    return f"--{name.replace('_', '-')}"


def eval_command(
    ctx: typer.Context,
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", show_default=False, help="Paired folder: DIR/input/ and DIR/target/."
        ),
    ],
    task: Annotated[
        str,
        typer.Option("--task", "-t", show_default=False, help=f"The task: {', '.join(TASKS)}."),
    ],
    sweeps: dict[str, str | None],  # the RestoreConfig options (see _with_sweep_options)
    weights: Annotated[
        str | None,
        _sweep_option("weights", "Model names or weights paths (default: the task's model)."),
    ] = None,
    precision: Annotated[
        str | None, _sweep_option("precision", "fp32, fp16, bf16 or auto (default: fp32).")
    ] = None,
    device: Device = "auto",
    offline: Offline = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=1, show_default=False, help="Only the first N pairs (natural order)."
        ),
    ] = None,
    crop_border: Annotated[
        int,
        typer.Option("--crop-border", min=0, help="Ignore N pixels on every side when scoring."),
    ] = 0,
    autoencoder_only: Annotated[
        bool,
        typer.Option(
            "--autoencoder-only",
            help="Score the autoencoder alone on clean images (DIR/target/ or DIR): encode, "
            "take the --init state (default zq), decode; no diffusion.",
        ),
    ] = False,
    csv_path: Annotated[
        str | None,
        _output_option("--csv", "Per-image scores of every setting as CSV (- for stdout)."),
    ] = None,
    json_path: Annotated[
        str | None,
        _output_option(
            "--json",
            "Everything as JSON: settings, weights SHA-256, per-image scores (- for stdout).",
        ),
    ] = None,
    md_path: Annotated[
        str | None,
        _output_option("--md", "Markdown tables with the command and weights (- for stdout)."),
    ] = None,
    save: Annotated[
        Path | None,
        _output_option(
            "--save", "Write outputs, input|output|target sheets and a contact sheet here.", "DIR"
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", rich_help_panel=OUT_PANEL, help="Replace existing files.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No table, progress or notes; errors only.")
    ] = False,
    debug: Debug = False,
) -> None:
    """Score restorations of a paired folder: PSNR/SSIM on RGB and Y, per image and mean.

    Conventions: RGB in [0, 1] (data range 1), output rounded to the target's bit depth, full
    image unless --crop-border; Y = BT.601 luma as MATLAB rgb2ycbcr (16 + 65.481 R + 128.553 G
    + 24.966 B); SSIM with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, RGB SSIM
    = mean over channels. The input's own scores (input vs target) are shown next to the
    output's.

    Example: `restore eval --task derain data/Rain100H --init all --steps 1,4 --md out.md`.
    """
    start_command(ctx, task=task, debug=debug)
    from restorecli.evaluate.paired import find_pairs
    from restorecli.evaluate.sweep import expand_grid, parse_values

    given = {**sweeps, "weights": weights, "precision": precision}
    if autoencoder_only:
        for name in sweeps:
            if name in AUTOENCODER_OPTIONS or given.get(name) is None:
                continue
            raise typer.BadParameter(
                "has no effect with --autoencoder-only (no diffusion runs)",
                param_hint=_flag(name),
            )
        given["init"] = sweeps.get("init") or "zq"
    grid = {}
    for name, text in given.items():
        try:
            grid[name] = parse_values(name, text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=_flag(name)) from None
    settings = expand_grid(grid)
    _check_settings(settings)
    if autoencoder_only:
        from restorecli.evaluate.reconstruct import clean_image_pairs

        pairs = clean_image_pairs(folder, limit=limit)
    else:
        pairs = find_pairs(folder, limit=limit)
    run_eval(
        task=task,
        folder=folder,
        pairs=pairs,
        settings=settings,
        device=device,
        offline=offline,
        crop_border=crop_border,
        outputs={"csv": csv_path, "json": json_path, "md": md_path},
        save=save,
        overwrite=overwrite,
        quiet=quiet,
        command=_command(task, folder, given, device, limit, crop_border, autoencoder_only),
        autoencoder_only=autoencoder_only,
    )


def start_command(ctx: typer.Context, *, task: str, debug: bool) -> None:
    """First steps of ``restore eval`` and ``restore bench``: note --debug, check --task."""
    if debug:  # read by restorecli.cli.RestoreGroup when an error reaches it
        ctx.meta["restore.debug"] = True
    if task not in TASKS:
        raise typer.BadParameter(
            f"unknown task {task!r}: use one of {', '.join(TASKS)}", param_hint="--task"
        )


def load_model(
    status: Callable[[str], AbstractContextManager[Any]],
    weights: str | None,
    *,
    task: str,
    device: str,
    precision: str,
    offline: bool,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """Load a restorer under a ``status(message)`` spinner.

    Without --offline, ``HF_HUB_OFFLINE`` decides whether weights may be downloaded.
    """
    from restorecli.jobs.restorer import load_restorer

    with status(f"loading {weights or 'the ' + task + ' model'}"):
        return load_restorer(
            weights,
            task=task,
            overrides=overrides,
            device=device,
            precision=precision,
            offline=offline or None,
        )


def run_eval(
    *,
    task: str,
    folder: Path,
    pairs: list[Any],
    settings: list[Any],
    device: str,
    offline: bool,
    crop_border: int,
    outputs: dict[str, str | None],
    save: Path | None,
    overwrite: bool,
    quiet: bool,
    command: str,
    autoencoder_only: bool = False,
) -> list[Any]:
    """Check outputs, run the sweep with progress, print and write the results."""
    from restorecli.cli.console import Reporter, stderr_console, table_console
    from restorecli.evaluate.paired import OutputSaver
    from restorecli.evaluate.sweep import run_sweep, varying_keys
    from restorecli.media.safe_write import check_output, check_writable

    files = {kind: p for kind, p in outputs.items() if p is not None}
    if sum(p == "-" for p in files.values()) > 1:
        raise typer.BadParameter("only one of --csv, --json and --md can be - (stdout)")
    for p in files.values():  # fail before the long part, not after it
        if p != "-":
            check_output(p, overwrite=overwrite, input_paths=[pr.input for pr in pairs])
            check_writable(p)
    savers: dict[int, OutputSaver] = {}  # by id(setting)
    if save is not None:
        keys = varying_keys(settings)
        slugs = [s.slug(keys) for s in settings]
        if len(set(slugs)) < len(slugs):  # e.g. two weights folders with the same name
            slugs = [f"{i:02d}_{s}" for i, s in enumerate(slugs)]
        for setting, slug in zip(settings, slugs, strict=True):
            target = save if len(settings) == 1 else save / slug
            saver = OutputSaver(target, overwrite=overwrite, label=setting.label(keys))
            saver.check(pairs)
            savers[id(setting)] = saver
        check_writable(save / ".probe", create_parents=True)

    err = stderr_console(quiet=quiet)
    total = len(pairs) * len(settings)
    with Reporter(err) as reporter:
        reporter.overall(total, f"eval {task} {folder.name}")

        def load(weights: str | None, precision: str) -> Any:
            restorer = load_model(
                reporter.status,
                weights,
                task=task,
                device=device,
                precision=precision,
                offline=offline,
            )
            if autoencoder_only:
                from restorecli.evaluate.reconstruct import AutoencoderOnly

                return AutoencoderOnly(restorer)
            return restorer

        def on_image(setting: Any) -> Any:
            saver = savers.get(id(setting))

            def callback(pair: Any, inp: Any, out: Any, tgt: Any, row: Any) -> None:
                if saver is not None:
                    saver(pair, inp, out, tgt, row)
                reporter.advance_overall()

            return callback

        rows = run_sweep(pairs, settings, load=load, crop_border=crop_border, on_image=on_image)
    for saver in savers.values():
        saver.finish()

    report = EvalReport(task, folder, command, crop_border, rows, with_input=not autoencoder_only)
    to_stdout = any(p == "-" for p in files.values())
    if not quiet:
        console = table_console(stderr=to_stdout)
        for table in report.tables():
            console.print(table.to_rich())
        if save is not None:
            err.print(f"saved outputs and sheets under {save}", markup=False)
    writers = {"csv": report.csv, "json": report.json, "md": report.markdown}
    from restorecli.evaluate.tables import write_text

    for kind, p in files.items():
        write_text(p, writers[kind](), overwrite=overwrite)
    return rows


class EvalReport:
    """Renderings of one `restore eval` run (terminal tables, CSV, JSON, Markdown)."""

    def __init__(
        self,
        task: str,
        folder: Path,
        command: str,
        crop_border: int,
        rows: list[Any],
        *,
        with_input: bool = True,  # False when the "input" is the target itself
    ) -> None:
        self.task, self.folder, self.command = task, folder, command
        self.crop_border, self.rows, self.with_input = crop_border, rows, with_input

    def tables(self) -> list[Any]:
        from restorecli.evaluate.sweep import images_table, summary_table

        title, inp = f"restore eval {self.task} {self.folder}", self.with_input
        if len(self.rows) == 1:
            return [images_table(self.rows[0], title=title, with_input=inp)]
        return [summary_table(self.rows, title=title, with_input=inp)]

    def weights(self) -> list[dict[str, Any]]:
        from restorecli.evaluate.provenance import weights_info_or_error

        seen: dict[Any, dict[str, Any]] = {}
        for row in self.rows:
            w = row.setting.weights
            if w not in seen:
                seen[w] = weights_info_or_error(w, self.task)
        return list(seen.values())

    def csv(self) -> str:
        from restorecli.evaluate.sweep import per_image_csv

        return per_image_csv(self.rows).to_csv()

    def json(self) -> str:
        from restorecli.evaluate.tables import dumps

        return dumps(
            {
                "command": self.command,
                "task": self.task,
                "folder": str(self.folder),
                "images": len(self.rows[0].result.images) if self.rows else 0,
                "crop_border": self.crop_border,
                "conventions": CONVENTIONS,
                "weights": self.weights(),
                "settings": [row.as_dict() for row in self.rows],
            }
        )

    def markdown(self) -> str:
        from restorecli.evaluate.sweep import images_table, summary_table

        lines = [
            f"## restore eval: {self.task}, {self.folder.name}",
            "",
            f"Command: `{self.command}`",
            "",
            f"Conventions: {CONVENTIONS}",
            "",
            "Weights (SHA-256):",
            "",
        ]
        for info in self.weights():
            files = info.get("files", {})
            digests = ", ".join(f"{role} `{f['sha256']}`" for role, f in files.items())
            lines.append(
                f"- {info.get('weights') or info.get('model')}: {digests or info.get('error')}"
            )
        lines.append("")
        summary = summary_table(self.rows, title="Mean over images", with_input=self.with_input)
        lines.append(summary.to_markdown())
        if len(self.rows) == 1:
            lines.append(
                images_table(
                    self.rows[0], title="Per image", with_input=self.with_input
                ).to_markdown()
            )
        return "\n".join(lines)


CONVENTIONS = (
    "RGB in [0, 1], data range 1, output rounded to the target's bit depth; "
    "Y = 16 + 65.481 R + 128.553 G + 24.966 B (BT.601, MATLAB rgb2ycbcr) divided by 255; "
    "SSIM: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, population variances, "
    "valid region, RGB SSIM = mean over channels; crop border as stated (0 = full image)."
)


def _check_settings(settings: list[Any]) -> None:
    """Reject invalid option values (e.g. --lam 2) before any model is loaded."""
    from restorecli.jobs.restorer import check_overrides

    for s in settings:
        fields = {k: v for k, v in s.overrides.items() if k != "kappa"}
        try:
            check_overrides(fields)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        kappa = s.overrides.get("kappa")
        if kappa is not None and not kappa > 0:
            raise typer.BadParameter(f"--kappa must be > 0, got {kappa}", param_hint="--kappa")
        if s.precision not in ("fp32", "fp16", "bf16", "auto"):
            raise typer.BadParameter(
                f"unknown precision {s.precision!r}: use fp32, fp16, bf16 or auto",
                param_hint="--precision",
            )


def _command(
    task: str,
    folder: Path,
    given: dict[str, str | None],
    device: str,
    limit: int | None,
    crop_border: int,
    autoencoder_only: bool = False,
) -> str:
    """The canonical command line of this run (options that were given, in a fixed order)."""
    from restorecli.evaluate.provenance import canonical_command

    options = [(_flag(name), value, None) for name, value in given.items()]
    options += [("--device", device, "auto"), ("--limit", limit, None)]
    options += [("--crop-border", crop_border, 0)]
    options += [("--autoencoder-only", autoencoder_only, False)]
    return canonical_command(["restore", "eval", "--task", task, str(folder)], options)


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to ``app``."""
    app.command(
        "eval",
        short_help="Score restorations of a paired folder (PSNR/SSIM), sweeping options.",
        rich_help_panel=EVAL_PANEL,
    )(_with_sweep_options(eval_command))
