"""Consoles of the commands: where result tables go and how wide they are when piped."""

from __future__ import annotations

from restorecli.cli.console import table_console


def test_table_console_does_not_fold_piped_tables() -> None:
    out = table_console()  # pytest captures stdout and stderr: neither is a terminal
    assert not out.stderr and out.width == 400
    err = table_console(stderr=True)
    assert err.stderr and err.width == 400


def test_plain_progress_lines_when_stderr_is_not_a_terminal(monkeypatch) -> None:
    import io

    from rich.console import Console

    from restorecli.cli import console as console_mod

    buf = io.StringIO()
    con = Console(file=buf, force_terminal=False, width=200)
    monkeypatch.setattr(console_mod, "PLAIN_EVERY", 0.0)
    with console_mod.Reporter(con) as reporter:
        reporter.start_file("big.png", unit="tiles")
        reporter.file_progress(1, 4)
        reporter.file_progress(4, 4)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("big.png: 1/4 tiles, ") and "s left" in lines[0]
    assert lines[1].startswith("big.png: 4/4 tiles, ") and "left" not in lines[1]
    monkeypatch.setattr(console_mod, "PLAIN_EVERY", 1e9)  # at most one line per period
    buf.truncate(0)
    with console_mod.Reporter(con) as reporter:
        reporter.start_file("big.png", unit="tiles")
        reporter.file_progress(1, 4)
    assert buf.getvalue() == ""
