"""Terminal output for the commands: Rich on stderr, plain data on stdout.

Progress bars only appear when stderr is a terminal (and not ``--quiet``); piped or captured
stderr (a log file, a cluster job) gets no bar residue but a plain progress line now and then
(every ``PLAIN_EVERY`` seconds at most) beside the one-line notes the commands print.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

PLAIN_EVERY = 10.0  # seconds between plain progress lines when stderr is not a terminal


def stderr_console(*, quiet: bool = False) -> Console:
    """Where progress, notes and errors go (stdout stays free for data and images)."""
    return Console(stderr=True, highlight=False, quiet=quiet)


def stdout_console() -> Console:
    """Data (tables, JSON): no markup parsing, since paths may contain brackets."""
    return Console(markup=False, highlight=False, soft_wrap=True)


def table_console(*, stderr: bool = False) -> Console:
    """Where result tables go: stdout, or stderr when stdout carries a data file (``-``)."""
    console = stderr_console() if stderr else stdout_console()
    if not console.is_terminal:
        console.width = 400  # piped tables: do not fold long paths at 80 columns
    return console


class RateColumn(ProgressColumn):
    """Speed of a task in its own unit (``fps`` for frames, ``files/s`` for files)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "it")
        label = "fps" if unit == "frames" else f"{unit}/s"
        if speed is None:
            return Text(f"- {label}", style="progress.data.speed")
        return Text(f"{speed:.1f} {label}", style="progress.data.speed")


class Reporter:
    """Overall and per-file progress for the restore commands.

    One instance per command run; use as a context manager. Every method is a no-op when the
    console is quiet or not a terminal, so callers never branch on it.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal and not console.quiet
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not self.live,
        )
        self._overall: TaskID | None = None
        self._file: TaskID | None = None
        # Plain lines for a stderr that is not a terminal (not quiet).
        self.plain = not console.is_terminal and not console.quiet
        self._plain_name = ""
        self._plain_unit = ""
        self._plain_start = self._plain_last = 0.0

    def __enter__(self) -> Reporter:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def note(self, message: str) -> None:
        """A one-line message on stderr (kept above the bars); silenced by --quiet."""
        self.console.print(message, markup=False)

    def overall(self, total: int, description: str = "files") -> None:
        self._overall = self.progress.add_task(description, total=total, unit="files")

    def advance_overall(self) -> None:
        if self._overall is not None:
            self.progress.advance(self._overall)

    def start_file(self, name: str, total: int | None = None, unit: str = "frames") -> None:
        self.end_file()
        self._file = self.progress.add_task(escape(name), total=total, unit=unit)
        self._plain_name, self._plain_unit = name, unit
        self._plain_start = self._plain_last = time.monotonic()

    def file_progress(self, done: int, total: int | None = None) -> None:
        """Absolute progress of the current file (``done`` of ``total`` frames or tiles)."""
        if self._file is not None:
            self.progress.update(self._file, completed=done, total=total)
        if self.plain:
            self._plain_line(done, total)

    def _plain_line(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._plain_last < PLAIN_EVERY:
            return
        self._plain_last = now
        elapsed = now - self._plain_start
        line = f"{self._plain_name}: {done}" + (f"/{total}" if total else "")
        line += f" {self._plain_unit}, {elapsed:.0f} s"
        if total and 0 < done < total:
            line += f", about {elapsed * (total - done) / done:.0f} s left"
        self.console.print(line, markup=False)

    def end_file(self) -> None:
        if self._file is not None:
            self.progress.remove_task(self._file)
            self._file = None

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner for one step without a known length (loading the model)."""
        task = self.progress.add_task(escape(message), total=None, unit="it")
        try:
            yield
        finally:
            self.progress.remove_task(task)
