"""Typer options generated from the declarations in ``restorecli.config``.

Typer reads a command's options from its signature, so options declared elsewhere enter a
command through :func:`with_parameters`, which puts generated parameters in place of one
parameter of the command and hands it what they collected.
"""

# No `from __future__ import annotations`: Typer evaluates the annotations built here.

import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any

import typer

from restorecli.config import declared, flag


def _choice_enum(name: str, choices: Sequence[str]) -> type[Enum]:
    """Typer shows Enum members as choices; their values are the plain strings."""
    return Enum(f"{name.title().replace('_', '')}Choice", {c: c for c in choices}, type=str)


def value_of(choice: Any) -> Any:
    """An Enum choice as its plain string; any other value unchanged."""
    return choice.value if isinstance(choice, Enum) else choice


def config_parameters(panel: str) -> list[inspect.Parameter]:
    """One keyword parameter per command-line option of ``RestoreConfig`` (default None: the
    model's own value), with the declared help, range and choices."""
    params = []
    for f, opt in declared():
        if not opt.cli:
            continue
        kind: Any = _choice_enum(f.name, opt.choices) if opt.choices else opt.kind
        extra: dict[str, Any] = {}
        if opt.choices:
            extra["case_sensitive"] = False
        else:
            low = opt.min if opt.min is not None else opt.above
            high = opt.max if opt.max is not None else opt.below
            # The open ends are checked by RestoreConfig; the -1 that means "random" must pass.
            if low is not None and opt.none_value is None:
                extra["min"] = low
            if high is not None:
                extra["max"] = high
        option = typer.Option(
            flag(f.name),
            help=opt.describe(f.default),
            show_default=False,
            rich_help_panel=panel,
            **extra,
        )
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[kind | None, option],
            )
        )
    return params


def sweep_parameters(panel: str, names: Sequence[str]) -> list[inspect.Parameter]:
    """One comma-list parameter per option in ``names`` (``restore eval``'s sweeps)."""
    declarations = {f.name: (f, opt) for f, opt in declared()}
    params = []
    for name in names:
        f, opt = declarations[name]
        option = typer.Option(
            flag(name),
            help=f"Comma list to sweep. {opt.describe(f.default)}",
            show_default=False,
            rich_help_panel=panel,
        )
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, option],
            )
        )
    return params


def config_values(values: dict[str, Any]) -> dict[str, Any]:
    """The given config options as ``RestoreConfig`` fields (None: not given), with each
    option's stand-in for None (``--seed -1``) turned into None."""
    out = {}
    for f, opt in declared():
        if f.name not in values or values[f.name] is None:
            continue
        value = value_of(values[f.name])
        out[f.name] = None if opt.none_value is not None and value == opt.none_value else value
    return out


def with_parameters(
    command: Callable[..., None],
    name: str,
    params: Sequence[inspect.Parameter],
    collect: Callable[[dict[str, Any]], Any],
    *,
    after: str | None = None,
) -> Callable[..., None]:
    """A Typer command for ``command(..., name=X, ...)``: ``params`` replace ``name`` in its
    signature, and ``collect(their values)`` is passed as ``name``. With ``after``, the
    command's own parameters that follow ``name`` are placed after that one of ``params``."""
    # Resolved here: a module with postponed annotations holds them as strings, which would
    # be looked up in this module's namespace.
    hints = typing.get_type_hints(command, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in inspect.signature(command).parameters.values()
    ]
    at = [p.name for p in own].index(name)
    params = list(params)
    split = [p.name for p in params].index(after) + 1 if after else len(params)
    ordered = [*own[:at], *params[:split], *own[at + 1 :], *params[split:]]
    # Keyword-only: Typer passes every value by name, and defaults may then come in any order.
    signature = inspect.Signature(
        [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in ordered], return_annotation=None
    )
    names = [p.name for p in params]

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        collected = collect({n: values.pop(n) for n in names})
        command(**values, **{name: collected})

    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return wrapper
