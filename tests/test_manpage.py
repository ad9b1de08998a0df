"""The generated man page: up to date with the CLI, well-formed troff, complete."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import pytest
import typer
from manpage import ENVIRONMENT, command_paths, escape, exit_status_rows, render_manpage

import restorecli
from restorecli import errors
from restorecli.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "man" / "restore.1"
# Requests this generator emits; any other line starting with "." or "'" is unescaped text.
REQUESTS = {".TH", ".SH", ".SS", ".TP", ".PP", ".RS", ".RE", ".nf", ".fi", ".nh", ".ad", '.\\"'}


@pytest.fixture(scope="module")
def page() -> str:
    return render_manpage(app)


def section(text: str, name: str) -> str:
    """The troff source of one .SH section."""
    match = re.search(rf"^\.SH {name}\n(.*?)(?=^\.SH |\Z)", text, re.S | re.M)
    assert match, f"no {name} section"
    return match.group(1)


def test_committed_page_is_current(page: str) -> None:
    committed = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    assert committed == page, "man/restore.1 is stale: run `python scripts/gen_man.py`"


def test_page_is_deterministic_and_versioned(page: str) -> None:
    assert render_manpage(app) == page
    assert page.startswith(".TH RESTORE 1 ")
    assert f"restorecli {restorecli.__version__}" in page.splitlines()[0]
    assert not re.search(r"\b(19|20)\d\d-\d\d-\d\d\b", page)  # no build date


def test_sections_present(page: str) -> None:
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS",
                 "ENVIRONMENT", "FILES", "EXAMPLES"):  # fmt: skip
        assert f"\n.SH {name}\n" in page
    assert section(page, "NAME").startswith("restore \\- ")  # whatis/apropos format


def test_every_command_and_option_appears(page: str) -> None:
    paths = command_paths(app)
    known = {"restore derain", "restore deblur", "restore batch", "restore degrade",
             "restore models list", "restore models download", "restore models verify",
             "restore models path", "restore cache info", "restore cache clear",
             "restore train autoencoder", "restore train denoiser"}  # fmt: skip
    assert known <= set(paths)
    root = typer.main.get_command(app)
    for path in paths[1:]:
        assert f'.SS "{escape(path)}"' in page, path
        command = root
        for name in path.split()[1:]:
            command = command.commands[name]
        for param in command.params:
            for opt in param.opts + param.secondary_opts:
                if opt.startswith("-"):
                    assert f"\\fB{escape(opt)}\\fR" in page, f"{path} {opt}"


def test_every_exit_code_is_documented(page: str) -> None:
    rows = exit_status_rows(restorecli.cli.__doc__ or "")
    codes = {int(code) for code, _, _ in rows}
    classes = [c for c in vars(errors).values() if isinstance(c, type)
               and issubclass(c, errors.RestoreError) and c is not errors.RestoreError]  # fmt: skip
    expected = {c.exit_code for c in classes} | {
        value for name, value in vars(errors).items() if name.startswith("EXIT_")
    }
    assert codes == expected
    status = section(page, "EXIT STATUS")
    for c in classes:
        assert f"\\fB{c.exit_code}\\fR\n\\fB{c.__name__}\\fR:" in status


def test_documented_restore_variables_are_read_by_the_code() -> None:
    sources = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (ROOT / "src" / "restorecli").rglob("*.py")
        if p.name != "manpage.py"
    )
    for names, _ in ENVIRONMENT:
        for name in names.split(", "):
            if name.startswith("RESTORE_") or name == "HF_HUB_OFFLINE":
                assert f'"{name}"' in sources, name


def test_no_text_line_is_read_as_a_request(page: str) -> None:
    for line in page.splitlines():
        if line.startswith((".", "'")):
            assert line.split(" ")[0] in REQUESTS, line
        assert line.isascii()
        assert line == line.rstrip(), "trailing space"


def test_escaping() -> None:
    assert escape("--tile-overlap") == "\\-\\-tile\\-overlap"
    assert escape("a\\b") == "a\\eb"
    assert escape("10\u00d710") == "10\\[u00D7]10"


def test_exit_table_parsing() -> None:
    doc = """Codes:

    ====  =====  ===========
    code  error  meaning
    ====  =====  ===========
    0     -      success
    42    Oops   a long meaning, with spaces
    ====  =====  ===========
    """
    rows = exit_status_rows(doc)
    assert rows == [("0", "-", "success"), ("42", "Oops", "a long meaning, with spaces")]
    with pytest.raises(ValueError):
        exit_status_rows("no table here")


def test_new_commands_and_groups_are_picked_up() -> None:
    demo = typer.Typer(name="restore", no_args_is_help=True)
    tools = typer.Typer(help="Tools.")
    demo.add_typer(tools, name="tools")

    @demo.command("zap")
    def zap(
        target: Annotated[str, typer.Argument(help="What to zap.")],
        level: Annotated[int, typer.Option("--level", "-l", help="How hard.")] = 3,
        hidden: Annotated[bool, typer.Option("--secret", hidden=True)] = False,
    ) -> None:
        """Zap TARGET.

        Second paragraph with `code`.
        """

    @tools.command("polish")
    def polish(dry: Annotated[bool, typer.Option("--dry/--wet", help="Pretend.")] = False) -> None:
        """Polish things."""

    text = render_manpage(demo)
    assert command_paths(demo) == [
        "restore",
        "restore zap",
        "restore tools",
        "restore tools polish",
    ]
    assert '.SS "restore zap"' in text and '.SS "restore tools polish"' in text
    assert "\\fB\\-l\\fR, \\fB\\-\\-level\\fR \\fIINTEGER\\fR\nHow hard. [default: 3]" in text
    assert "\\fB\\-\\-dry\\fR / \\fB\\-\\-wet\\fR" in text
    assert "Second paragraph with \\fBcode\\fR." in text
    assert "secret" not in text
    assert "\\fBrestore zap\\fR [\\fIOPTIONS\\fR] \\fITARGET\\fR" in text


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_groff_renders_without_warnings(page: str, tmp_path: Path) -> None:
    source = tmp_path / "restore.1"
    source.write_text(page, encoding="utf-8")
    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", str(source)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    assert "EXIT STATUS" in result.stdout and "restore models verify" in result.stdout
