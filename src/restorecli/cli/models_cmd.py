"""``restore models ...`` and ``restore cache ...``: weights and cache housekeeping.

Data (tables, JSON, paths) goes to stdout; progress and notes go to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.filesize import decimal as human_size
from rich.markup import escape
from rich.table import Table

from restorecli.cli.console import stderr_console, stdout_console
from restorecli.errors import WeightsError

models_app = typer.Typer(
    name="models",
    help="List, download, verify and locate model weights.",
    no_args_is_help=True,
)
cache_app = typer.Typer(
    name="cache",
    help="Show or clear restorecli's caches (weights downloads, Chebyshev tables).",
    no_args_is_help=True,
)

RegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Extra weights registry (TOML) read on top of the shipped one "
        "(default: $RESTORE_WEIGHTS_TOML).",
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    """Add the ``models`` and ``cache`` command groups to ``app``."""
    app.add_typer(models_app)
    app.add_typer(cache_app)


def _out() -> Console:
    console = stdout_console()
    if not console.is_terminal:
        console.width = 400  # piped tables: do not fold long paths at 80 columns
    return console


def _err() -> Console:
    return stderr_console()


def _confirm(question: str) -> bool:
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:  # end of input (not interactive): treat as no
        return False


@models_app.command("list")
def list_cmd(registry: RegistryOption = None, as_json: JsonOption = False) -> None:
    """List registered models and where each of their files is."""
    from restorecli.weights import load_registry, locate

    reg = load_registry(registry)
    rows: list[dict[str, Any]] = []
    for entry in reg.models.values():
        files = []
        for f in entry.files:
            loc = locate(f)
            files.append(
                {
                    "role": f.role,
                    "filename": f.filename,
                    "size": f.size,
                    "sha256": f.sha256,
                    "status": loc.state,
                    "path": str(loc.path) if loc.path else None,
                    "repo_id": f.repo_id,
                    "revision": f.revision,
                }
            )
        rows.append(
            {
                "name": entry.name,
                "task": entry.task,
                "default_for_task": reg.defaults.get(entry.task) == entry.name,
                "description": entry.description,
                "default_init": entry.default_init,
                "default_steps": entry.default_steps,
                "settings": dict(entry.settings),
                "licence": entry.licence,
                "files": files,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _err().print(
            "No models are registered yet. Use --weights PATH, or add a registry with "
            "--registry / RESTORE_WEIGHTS_TOML."
        )
        return
    table = Table(title="restorecli models")
    for column in ("Name", "Task", "Settings", "File", "Where", "Size"):
        table.add_column(column, overflow="fold")
    for row in rows:
        task = row["task"] + (" (default)" if row["default_for_task"] else "")
        extra = "".join(f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}"
                        for k, v in row["settings"].items())  # fmt: skip
        steps = row["default_steps"]
        init = f"{row['default_init']}, {steps} step{'' if steps == 1 else 's'}{extra}"
        if steps is None:  # the detector
            init = "-"
        for i, f in enumerate(row["files"]):
            first = i == 0
            table.add_row(
                row["name"] if first else "",
                task if first else "",
                init if first else "",
                f"{f['role']}: {f['filename']}",
                f["status"],
                human_size(f["size"]),
            )
    _out().print(table)


@models_app.command("download")
def download_cmd(
    name: Annotated[str, typer.Argument(help="Model name (or a task: its default model).")],
    force: Annotated[
        bool, typer.Option("--force", help="Download again even if cached (replaces the copy).")
    ] = False,
    registry: RegistryOption = None,
) -> None:
    """Download a model's files into the Hugging Face cache and verify them."""
    from restorecli.weights import download, load_registry, locate, model_entry

    reg = load_registry(registry)
    entry = model_entry(name, registry=reg)
    err = _err()
    for f in entry.files:
        loc = locate(f)
        if loc.state == "bundled":
            err.print(f"{entry.name} {f.role}: bundled with restorecli")
        elif loc.state == "cached" and not force:
            err.print(f"{entry.name} {f.role}: already in the cache")
        else:
            err.print(
                escape(f"{entry.name} {f.role}: downloading {f.describe()} ({human_size(f.size)})")
            )
    resolved = download(entry.name, force=force, registry=reg)
    err.print(f"[green]{escape(entry.name)}: all files present and verified[/green]")
    for role, path in resolved.files.items():
        typer.echo(f"{role}\t{path}")


@models_app.command("verify")
def verify_cmd(
    name: Annotated[
        str | None, typer.Argument(help="Model name or task (default: every model).")
    ] = None,
    registry: RegistryOption = None,
) -> None:
    """Recompute the SHA-256 of every present file; exit code 9 on any mismatch."""
    from restorecli.weights import load_registry, model_entry, verify_entry

    reg = load_registry(registry)
    entries = [model_entry(name, registry=reg)] if name else list(reg.models.values())
    if not entries:
        _err().print("No models are registered: nothing to verify.")
        return
    table = Table(title="restorecli weights verification")
    for column in ("Name", "File", "Where", "Result"):
        table.add_column(column, overflow="fold")
    bad: list[str] = []
    bundled_only = True
    for entry in entries:
        for f, loc, check in verify_entry(entry):
            if check is None:
                result = "-"
            elif check.ok:
                result = "ok"
            else:
                result = f"MISMATCH: {check.problem()}"
                bad.append(f"{entry.name} {f.role} ({loc.path})")
                bundled_only = bundled_only and loc.state == "bundled"
            table.add_row(entry.name, f"{f.role}: {f.filename}", loc.state, result)
    _out().print(table)
    if bad:
        if bundled_only:  # shipped inside the package: no download replaces them
            fix = "reinstall restorecli (or correct the registry entry that names them)"
        else:
            hint = f"restore models download {entries[0].name if name else 'NAME'} --force"
            fix = f"run `{hint}` or delete them"
        raise WeightsError(f"{len(bad)} file(s) failed verification: {'; '.join(bad)}; {fix}")


@models_app.command("path")
def path_cmd(
    name: Annotated[str, typer.Argument(help="Model name (or a task: its default model).")],
    role: Annotated[
        str | None, typer.Option("--role", help="Print only this file (autoencoder|denoiser).")
    ] = None,
    registry: RegistryOption = None,
) -> None:
    """Print the local, verified path of each file of a model (never downloads)."""
    from restorecli.weights import ROLES, load_registry, model_entry, resolve

    if role is not None and role not in ROLES:
        raise typer.BadParameter(f"must be one of {', '.join(ROLES)}", param_hint="--role")
    reg = load_registry(registry)
    entry = model_entry(name, registry=reg)
    resolved = resolve(entry.name, offline=True, registry=reg)
    if role is not None:
        typer.echo(str(resolved.files[role]))
        return
    for r, path in resolved.files.items():
        typer.echo(f"{r}\t{path}")


@cache_app.command("info")
def cache_info_cmd(registry: RegistryOption = None, as_json: JsonOption = False) -> None:
    """Show where the caches are and how much space restorecli uses in them."""
    from restorecli.weights import load_registry
    from restorecli.weights.cache import cache_info

    info = cache_info(load_registry(registry))
    if as_json:
        typer.echo(json.dumps(info.as_dict(), indent=2))
        return
    table = Table(title="restorecli caches")
    for column in ("Cache", "Path", "Size"):
        table.add_column(column, overflow="fold")
    table.add_row("restorecli", str(info.restore_dir), human_size(info.restore_size))
    table.add_row("  chebyshev tables", str(info.chebyshev_dir), human_size(info.chebyshev_size))
    table.add_row(
        "Hugging Face (our files)",
        str(info.hub_dir),
        f"{human_size(info.hub_size)} in {len(info.hub_items)} file(s)",
    )
    for item in info.hub_items:
        table.add_row(f"  {item.label}", str(item.path), human_size(item.size))
    _out().print(table)


@cache_app.command("clear")
def cache_clear_cmd(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    registry: RegistryOption = None,
) -> None:
    """Delete restorecli's cache and our registry's files in the Hugging Face cache.

    Other Hugging Face repositories, and other files of our repositories, are never touched.
    Exits with 1 if the answer to the confirmation is no.
    """
    from restorecli.weights import load_registry
    from restorecli.weights.cache import clear_items, items_to_clear

    err = _err()
    items = items_to_clear(load_registry(registry))
    if not items:
        err.print("Nothing to clear.")
        return
    total = sum(item.size for item in items)
    err.print(f"This deletes {len(items)} item(s), {human_size(total)}:")
    for item in items:
        err.print(f"  {item.path}  ({human_size(item.size)})", markup=False, highlight=False)
    if not yes and not _confirm("Delete them?"):
        err.print("Nothing deleted (pass --yes to skip the question).")
        raise SystemExit(1)
    freed = clear_items(items)
    err.print(f"Freed {human_size(freed)}.")
