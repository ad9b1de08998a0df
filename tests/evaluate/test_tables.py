"""Table renderings and JSON-safe values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from restorecli.errors import OutputExistsError
from restorecli.evaluate.tables import Table, dumps, fmt, json_safe, write_text


def test_markdown_csv_and_digits() -> None:
    t = Table(
        "T", ["init", "PSNR", "SSIM"], [["a|b", 30.123456, 0.91234567], ["c", math.inf, None]]
    )
    t.notes = ["note"]
    md = t.to_markdown()
    assert md.startswith("### T\n\nnote\n")
    assert "| a\\|b | 30.12 | 0.9123 |" in md and "| c | inf |  |" in md
    assert "| --- | ---: | ---: |" in md
    csv = t.to_csv().splitlines()
    assert csv[0] == "init,PSNR,SSIM" and csv[1] == "a|b,30.123456,0.91234567"
    assert t.to_rich().row_count == 2


def test_fmt_and_json() -> None:
    assert fmt(None) == "" and fmt(math.nan) == "nan" and fmt(-math.inf) == "-inf"
    assert fmt(1.23456, 2) == "1.23" and fmt(3) == "3" and fmt(True) == "True"
    assert fmt(1e-05) == "1e-05" and fmt(0.0) == "0.0000" and fmt(0.00012) == "0.0001"
    assert json_safe({"a": [math.inf, 1.0, (math.nan,)], "p": Path("x")}) == {
        "a": [None, 1.0, [None]],
        "p": "x",
    }
    assert json.loads(dumps({"v": math.inf})) == {"v": None}


def test_write_text(tmp_path: Path, capsys) -> None:
    path = write_text(tmp_path / "a.md", "hello")
    assert path.read_text() == "hello"
    with pytest.raises(OutputExistsError):
        write_text(path, "again")
    write_text(path, "again", overwrite=True)
    assert path.read_text() == "again"
    assert write_text("-", "to stdout") is None
    assert capsys.readouterr().out == "to stdout"
