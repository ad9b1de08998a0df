"""Tables of results and their renderings: Markdown, CSV, Rich, and JSON-safe values.

Numbers are rounded for display only (PSNR 2 decimals, SSIM and shares 4); CSV and JSON keep
full precision. Non-finite values (a PSNR of identical images is inf) become ``inf``/``nan`` in
text and ``null`` in JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restorecli.media.safe_write import atomic_output

__all__ = ["Table", "dumps", "fmt", "json_safe", "write_text"]

_DIGITS = (("psnr", 2), ("ssim", 4), ("share", 4), ("std", 4), ("seconds", 3), ("per_s", 3))


@dataclass
class Table:
    """A titled table; ``notes`` are printed under it (settings, weights, command)."""

    title: str
    header: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    digits: dict[str, int] = field(default_factory=dict)  # column -> decimals, overrides

    def cells(self) -> list[list[str]]:
        return [
            [
                fmt(v, self.digits.get(h, _column_digits(h)))
                for h, v in zip(self.header, row, strict=True)
            ]
            for row in self.rows
        ]

    def to_markdown(self, *, level: int = 3) -> str:
        lines = [f"{'#' * level} {self.title}", ""] if self.title else []
        for note in self.notes:
            lines.append(note)
            lines.append("")
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append(
            "| " + " | ".join(_align(h, self.rows, i) for i, h in enumerate(self.header)) + " |"
        )
        for cells in self.cells():
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        for row in self.rows:
            writer.writerow(["" if v is None else v for v in row])
        return out.getvalue()

    def to_rich(self) -> Any:
        from rich.table import Table as RichTable

        table = RichTable(title=self.title or None, title_justify="left")
        for i, h in enumerate(self.header):
            table.add_column(h, justify="right" if _numeric(self.rows, i) else "left")
        for cells in self.cells():
            table.add_row(*cells)
        return table


def fmt(value: Any, digits: int | None = None) -> str:
    """Display form: floats rounded to ``digits`` (4 by default), None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        digits = 4 if digits is None else digits
        if 0 < abs(value) < 10**-digits:  # would print as 0 (e.g. --guide-eps 1e-5)
            return f"{value:.3g}"
        return f"{value:.{digits}f}"
    return str(value)


def json_safe(value: Any) -> Any:
    """Replace non-finite floats by None, recursively (JSON has no inf or nan)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(value: Any) -> str:
    """JSON text of ``value`` (non-finite floats as null), indented."""
    return json.dumps(json_safe(value), indent=2, default=str) + "\n"


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path | None:
    """Write ``text`` to ``path`` atomically (``-`` = standard output, returns None)."""
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return None
    path = Path(path)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _column_digits(name: str) -> int | None:
    low = name.lower().replace(" ", "_").replace("-", "_").replace("/", "_per_")
    for key, digits in _DIGITS:
        if key in low:
            return digits
    return None


def _numeric(rows: Sequence[Sequence[Any]], i: int) -> bool:
    values = [r[i] for r in rows if r[i] is not None]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _align(header: str, rows: Sequence[Sequence[Any]], i: int) -> str:
    return "---:" if _numeric(rows, i) else "---"
