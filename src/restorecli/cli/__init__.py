"""The ``restore`` command: a thin Typer layer over the importable API.

Each ``*_cmd`` module adds its commands with ``register(app)``. Errors the user can cause print
exactly one line, ``restore: error: MESSAGE``, on stderr (no traceback unless ``--debug`` or
``RESTORE_DEBUG=1``), and the process exits with the code of the error class:

====  =========================  ===============================================================
code  error                      meaning
====  =========================  ===============================================================
0     -                          success
1     (batch)                    the batch finished but at least one file failed
2     usage                      bad command line (unknown option, missing argument, bad value)
3     InputNotFoundError         the input file or folder does not exist (or cannot be read)
4     UnsupportedInputError      not an image or video we read (text file, unknown codec)
5     CorruptInputError          empty, truncated or undecodable media
6     InputTooLargeError         more pixels than --max-pixels / RESTORE_MAX_PIXELS
7     OutputExistsError          output exists without --overwrite, or would replace the input
8     OutputNotWritableError     output folder missing, read-only or not a folder
9     WeightsError               weights missing, not downloadable, or failing their checksum
10    ModelNotAvailableError     no model registered for that task or name
11    DeviceError                requested device or precision not available
12    OutputFormatError          output extension names no format we write
13    DiskFullError              no space left while writing (nothing is left behind)
14    SettingError               a setting the model was not made for (unvalidated --steps)
70    (internal)                 a bug: please report it with the --debug traceback
141   (broken pipe)              standard output closed before the output was written
130   (interrupted)              Ctrl-C; the file being written is discarded
143   (terminated)               SIGTERM (kill, timeout, docker stop); nothing partial is left
129   (hangup)                   SIGHUP (terminal closed); nothing partial is left
====  =========================  ===============================================================
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from restorecli import __version__
from restorecli.errors import EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_INTERRUPTED, RestoreError

DEBUG_KEY = "restore.debug"

# Order here is the order of the help listing.
_COMMAND_MODULES = (
    "restore_cmd",
    "detect_cmd",
    "models_cmd",
    "degrade_cmd",
    "train_cmd",
    "eval_cmd",
    "bench_cmd",
)


# Typer may vendor its own copy of Click, so its exception classes are reached through Typer's
# public names rather than the `click` package.
_CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _debug_requested(ctx: typer.Context) -> bool:
    return bool(ctx.meta.get(DEBUG_KEY)) or os.environ.get("RESTORE_DEBUG", "") not in ("", "0")


def _plain_tag(param: Any) -> None:
    """A flag takes no value, so it shows no type tag; a text value shows what it names
    (``--device DEVICE``) and a text argument its name alone, not ``<str>``."""
    if getattr(param, "_restore_tag", False):
        return
    param._restore_tag = True
    if getattr(param, "is_flag", False):
        param.display_type_rich = lambda ctx: ""
        return
    if not hasattr(param, "bare_type") or param.type_descriptor.is_choice:
        return
    if param.bare_type() not in ("str", "list[str]"):
        return
    if param.param_type_name == "argument":
        param.display_type_rich = lambda ctx: ""
    elif param.metavar is None and not param.type_descriptor.is_list:
        name = (param.name or "").upper()
        param.display_type_rich = lambda ctx, name=name: name


def _plain_tags(command: Any) -> None:
    """Every parameter of ``command`` and its subcommands, --help included, as _plain_tag."""
    if getattr(command, "_restore_tags", False):
        return
    command._restore_tags = True
    for param in command.params:
        _plain_tag(param)
    own_help = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = own_help(ctx)
        if option is not None:
            _plain_tag(option)
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _plain_tags(sub)


class RestoreGroup(TyperGroup):
    """Turns the project's errors into one stderr line and their documented exit codes."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_tags(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_tags(self)
        super().format_help(ctx, formatter)

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """As Typer's, but a usage error is one line, ``restore: error: ...``, exit code 2."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except _CLICK_EXCEPTION as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `restore`: its help, as ever
                from typer import rich_utils

                rich_utils.rich_format_error(exc)
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            typer.echo(f"restore: error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("restore: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _CLICK_EXCEPTION):
            raise
        except RestoreError as exc:
            if _debug_requested(ctx):
                raise
            typer.echo(f"restore: error: {_one_line(exc)}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except Terminated as exc:
            typer.echo(f"\nrestore: terminated by {signal.Signals(exc.signum).name}", err=True)
            raise typer.Exit(128 + exc.signum) from None
        except KeyboardInterrupt:
            typer.echo("\nrestore: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (`restore ... -o - | head -c 10`): stop quietly, as Unix
            # tools do, and keep Python from failing again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except Exception as exc:
            if _debug_requested(ctx):
                raise
            typer.echo(
                f"restore: internal error: {type(exc).__name__}: {_one_line(exc)} "
                "(rerun with --debug for the traceback)",
                err=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    name="restore",
    cls=RestoreGroup,
    help="Restore photos and videos: remove rain, haze, snow, raindrops, noise and blur.",
    epilog="Examples: `restore derain in.mp4 -o out.mp4`, "
    "`restore batch ./photos --task dehaze -o ./clean`, "
    "`cat rainy.jpg | restore derain - -o - > clear.jpg`.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"restore {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for errors (any command).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Restore photos and videos: remove rain, haze, snow, raindrops, noise and blur."""
    if debug:
        ctx.meta[DEBUG_KEY] = True


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"restorecli.cli.{name}").register(app)


_register_all()


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, so it unwinds as from Ctrl-C: every
    temporary output is removed on the way out (Python's default would exit on the spot)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs ``restore`` and exits with its status."""
    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, _terminate) for sig in signals}
    try:
        app(args=argv, prog_name="restore")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
