"""Consoles of the commands: where result tables go and how wide they are when piped."""

from __future__ import annotations

from restorecli.cli.console import table_console


def test_table_console_does_not_fold_piped_tables() -> None:
    out = table_console()  # pytest captures stdout and stderr: neither is a terminal
    assert not out.stderr and out.width == 400
    err = table_console(stderr=True)
    assert err.stderr and err.width == 400
