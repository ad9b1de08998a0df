"""The ``restore`` command: a thin Typer layer over the importable API.

Each ``*_cmd`` module adds its commands with ``register(app)``. ``main`` turns the project's
errors into one-line messages and documented exit codes (see ``restorecli.errors``).
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from restorecli.errors import EXIT_INTERRUPTED, RestoreError

app = typer.Typer(
    name="restore",
    help="Restore photos and videos: remove rain, haze, snow, raindrops, noise and blur.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Order here is the order of the help listing.
_COMMAND_MODULES = ("restore_cmd", "models_cmd", "degrade_cmd", "train_cmd")


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"restorecli.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module still being written
            if exc.name == f"restorecli.cli.{name}":
                continue
            raise
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or bool(
        os.environ.get("RESTORE_DEBUG")
    )
    try:
        app(args=argv, standalone_mode=False)
    except RestoreError as exc:
        if debug:
            raise
        print(f"restore: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("restore: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and the unexpected
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            print("restore: interrupted", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)
        if debug:
            raise
        print(f"restore: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
              file=sys.stderr)
        sys.exit(70)
