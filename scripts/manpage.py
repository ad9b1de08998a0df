"""Render the ``restore(1)`` man page (troff, ``man`` macros) from the Typer command tree.

Commands, arguments, options, their help and defaults all come from the command objects, so a
new command or option shows up on the next ``python scripts/gen_man.py``. The sections that no
command object holds (ENVIRONMENT, FILES, EXAMPLES) are data in this module; EXIT STATUS is read
from the table in ``restorecli.cli``'s docstring, the single source of the exit codes.

Typer may vendor its own copy of Click, so nothing here imports ``click``: contexts and help
records are reached through the command objects themselves. The output depends only on the
command tree and the package version (no dates), so regenerating it is reproducible.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer
import typer.main

from restorecli import __version__

# --- hand-written sections ---------------------------------------------------------------------
# Text uses the same light markup as the help strings: `code` is set in bold.

OVERVIEW = (
    "Each task command (`restore derain`, `restore dehaze`, ...) restores one image or video; "
    "`restore batch` restores every image and video in a folder and mirrors its tree into "
    "another folder. Images keep their bit depth, alpha channel, ICC profile and EXIF block "
    "where the output format can hold them; videos keep their frames, timing and rotation, and "
    "their audio and subtitle streams are copied when the output container can hold them.",
    "Progress, notes and errors go to standard error; tables, JSON and paths go to standard "
    "output, which carries the image itself with `-o -`. An error the user can cause prints one "
    "line, `restore: error: MESSAGE`, and exits with the code listed under EXIT STATUS.",
)

ENVIRONMENT = (
    (
        "RESTORE_CACHE_DIR",
        "restorecli's own cache folder (Chebyshev tables, record of verified weights) instead of "
        "the platform's user cache folder.",
    ),
    (
        "RESTORE_MAX_PIXELS",
        "Largest accepted image or video frame in pixels when `--max-pixels` is not given; "
        "0 means no limit (default 200000000).",
    ),
    (
        "RESTORE_WEIGHTS_TOML",
        "An extra weights registry read on top of the shipped one when `--registry` is not "
        "given; its models are added, and one with the same name replaces the shipped entry.",
    ),
    (
        "RESTORE_DEBUG",
        "Any value other than empty or 0 shows the full traceback of an error, like `--debug`.",
    ),
    (
        "HF_HUB_OFFLINE",
        "1 never downloads weights (like `--offline`): only bundled and already cached files "
        "are used.",
    ),
    ("HF_ENDPOINT", "Hugging Face Hub address used for downloads (read by huggingface_hub)."),
    (
        "HF_HOME, HF_HUB_CACHE",
        "Location of the Hugging Face cache that holds downloaded weights (read by "
        "huggingface_hub; default `~/.cache/huggingface/hub`).",
    ),
    (
        "HF_TOKEN",
        "Access token for private or gated weight repositories (read by huggingface_hub).",
    ),
)

FILES = (
    (
        "restorecli/data/weights.toml",
        "The shipped weights registry, inside the installed package: one `[models.NAME]` table "
        "per model (task, default initial state and steps, and for each file its role, SHA-256, "
        "size, and a bundled path or a Hub repository pinned to a commit) and a `[defaults]` "
        "table naming the model of each task.",
    ),
    (
        "$RESTORE_CACHE_DIR, else ~/.cache/restorecli",
        "restorecli's cache (the platform's user cache folder; `~/.cache/restorecli` on Linux): "
        "`chebyshev/` holds the Chebyshev-centre table of each codebook, "
        "`verified-weights.json` the checksums already verified. Shown by `restore cache info`, "
        "deleted by `restore cache clear`.",
    ),
    (
        "$HF_HUB_CACHE, else ~/.cache/huggingface/hub",
        "Downloaded weights, in the Hugging Face cache layout. `restore cache clear` removes only "
        "the files the registry names there.",
    ),
)

EXAMPLES = (
    ("Remove rain from a photo; writes rainy_derain.jpg beside it:", "restore derain rainy.jpg"),
    (
        "Restore a video with a chosen encoder quality; audio and subtitles are copied:",
        "restore dehaze in.mp4 -o out.mp4 --crf 20",
    ),
    (
        "Restore a folder tree into another folder, keeping outputs of an earlier run:",
        "restore batch photos --task desnow -o clean --recursive --skip-existing",
    ),
    ("Use standard input and output:", "cat in.jpg | restore derain - -o - > out.jpg"),
    (
        "Own weights, another initial state and more steps:",
        "restore denoise noisy.png --weights ./my-weights --init auto --steps 8",
    ),
    (
        "Fetch and check a model's weights before going offline:",
        "restore models download derain && restore models verify derain",
    ),
    (
        "Make a synthetic rainy copy of a clean photo (and the clean/degraded pair):",
        "restore degrade derain clean.png -o pairs --pairs --seed 1",
    ),
)

SEE_ALSO = "README.md in the restorecli source tree; `restore COMMAND --help`."

# --- the command tree --------------------------------------------------------------------------


@dataclass
class CommandPage:
    """One command of the tree with the context its help records are computed in."""

    path: list[str]  # ["restore", "models", "list"]
    command: Any  # a (Typer-vendored) Click command or group
    ctx: Any  # its Click context, built without parsing any arguments

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return callable(getattr(self.command, "list_commands", None))


def iter_commands(app: typer.Typer, prog: str = "restore") -> Iterator[CommandPage]:
    """Every visible command of ``app``, depth first in help-listing order, root first."""
    root = typer.main.get_command(app)
    yield from _walk(root, [prog], None)


def command_paths(app: typer.Typer, prog: str = "restore") -> list[str]:
    """``["restore", "restore derain", ..., "restore models list", ...]``."""
    return [page.name for page in iter_commands(app, prog)]


def _walk(command: Any, path: list[str], parent: Any) -> Iterator[CommandPage]:
    # A context made directly (not via make_context) parses nothing: no callbacks, no env vars.
    ctx = command.context_class(
        command, info_name=path[-1], parent=parent, **(command.context_settings or {})
    )
    page = CommandPage(path, command, ctx)
    yield page
    if page.is_group:
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                yield from _walk(sub, [*path, name], ctx)


# --- troff helpers -----------------------------------------------------------------------------

_CODE = re.compile(r"`([^`]+)`")
# Rich markup a help string might carry (`[bold]...[/bold]`); anything else in brackets is text.
_RICH_TAG = re.compile(
    r"\[/?(?:bold|b|italic|i|underline|u|dim|red|green|yellow|blue|magenta|cyan|white)\]"
)


def escape(text: str) -> str:
    """Plain text to troff: backslashes, minus signs and non-ASCII characters made safe."""
    out = text.replace("\\", r"\e").replace("-", r"\-")
    return "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in out)


def inline(text: str) -> str:
    """Escape ``text`` and set its `code` spans in bold."""
    text = _RICH_TAG.sub("", text)
    parts = _CODE.split(text)  # odd items are the code spans
    return "".join(
        rf"\fB{escape(part)}\fR" if i % 2 else escape(part) for i, part in enumerate(parts)
    )


def _line(text: str) -> str:
    """A text line: one starting with a control character would be read as a request."""
    return rf"\&{text}" if text.startswith((".", "'")) else text


def _quoted(text: str) -> str:
    """A macro argument in double quotes."""
    return '"' + escape(text).replace('"', r"\(dq") + '"'


def _paragraphs(help_text: str) -> list[tuple[bool, str]]:
    """Click help text as (verbatim, text) paragraphs: ``\\f`` ends it, ``\\b`` keeps lines."""
    text = inspect.cleandoc(help_text.split("\f", 1)[0])
    result = []
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        if block.startswith("\b"):
            result.append((True, block[1:].strip("\n")))
        else:
            result.append((False, " ".join(block.split())))
    return result


def _render_help(help_text: str | None) -> list[str]:
    lines: list[str] = []
    for verbatim, text in _paragraphs(help_text or ""):
        lines.append(".PP")
        if verbatim:
            lines += [".nf", *(_line(inline(t)) for t in text.splitlines()), ".fi"]
        else:
            lines.append(_line(inline(text)))
    return lines


# --- parameters --------------------------------------------------------------------------------

_TYPE_WORDS = {
    "str": "TEXT",
    "text": "TEXT",
    "int": "INTEGER",
    "int range": "INTEGER",
    "integer": "INTEGER",
    "float": "FLOAT",
    "float range": "FLOAT",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIR",
}


def _metavar(raw: str) -> str:
    """Typer's ``<int range>``-style type names as classic metavars; choices as ``{a|b}``."""
    raw = raw.strip()
    if not (raw.startswith("<") and raw.endswith(">")):
        return raw
    inner = raw[1:-1].strip()
    if "|" in inner:
        return "{" + inner + "}"
    return _TYPE_WORDS.get(inner.lower(), inner.upper().replace(" ", "_"))


def _split_record(first: str) -> tuple[list[str], str]:
    """``"-o, --output <str>"`` -> (["-o", "--output"], "TEXT"); ``/`` pairs stay one name."""
    tokens = first.split(" ")
    names: list[str] = []
    i = 0
    while i < len(tokens) and (tokens[i].startswith("-") or tokens[i] == "/"):
        token = tokens[i].rstrip(",")
        if token == "/" and names and i + 1 < len(tokens):
            names[-1] = f"{names[-1]} / {tokens[i + 1].rstrip(',')}"
            i += 2
            continue
        names.append(token)
        i += 1
    return names, _metavar(" ".join(tokens[i:]))


def _param_entry(param: Any, ctx: Any) -> tuple[str, str] | None:
    """(tag line, help line) for one parameter, or None when it is hidden."""
    if getattr(param, "hidden", False):
        return None
    record = param.get_help_record(ctx)
    help_text = record[1] if record else (getattr(param, "help", None) or "")
    help_line = _line(inline(" ".join(help_text.split()))) if help_text else ""
    if param.param_type_name == "argument":
        return rf"\fI{escape(_argument_name(param))}\fR", help_line
    names, metavar = _split_record(record[0]) if record else (list(param.opts), "")
    tag = ", ".join(" / ".join(rf"\fB{escape(n)}\fR" for n in name.split(" / ")) for name in names)
    if metavar:
        tag += rf" \fI{escape(metavar)}\fR"
    return tag, help_line


def _argument_name(param: Any) -> str:
    return str(param.metavar or param.name).upper()


def _synopsis(page: CommandPage) -> str:
    parts = [rf"\fB{escape(page.name)}\fR"]
    params = [p for p in page.command.get_params(page.ctx) if not getattr(p, "hidden", False)]
    options = [p for p in params if p.param_type_name == "option"]
    if options:
        parts.append(r"[\fIOPTIONS\fR]")
    for p in options:
        if p.required:
            flag = next((o for o in p.opts if o.startswith("--")), p.opts[0])
            parts.append(rf"\fB{escape(flag)}\fR \fI{escape(str(p.name).upper())}\fR")
    for p in params:
        if p.param_type_name != "argument":
            continue
        name = rf"\fI{escape(_argument_name(p))}\fR"
        if p.nargs == -1:
            name += "..."
        parts.append(name if p.required else f"[{name}]")
    if page.is_group:
        parts.append(r"\fICOMMAND\fR [\fIARGS\fR]...")
    return " ".join(parts)


def _panel(param: Any) -> str:
    panel = getattr(param, "rich_help_panel", None)
    if isinstance(panel, str) and panel:
        return panel
    return "Arguments" if param.param_type_name == "argument" else "Options"


def _render_params(page: CommandPage, *, keep_help: bool) -> list[str]:
    """The parameters of one command, under their help panels (arguments first)."""
    panels: dict[str, list[tuple[str, str]]] = {}
    params = page.command.get_params(page.ctx)
    params = sorted(params, key=lambda p: p.param_type_name != "argument")  # stable
    for param in params:
        if not keep_help and param.name == "help":
            continue
        entry = _param_entry(param, page.ctx)
        if entry is not None:
            panels.setdefault(_panel(param), []).append(entry)
    lines: list[str] = []
    for panel, entries in panels.items():
        if len(panels) > 1:
            lines += [".PP", rf"\fI{escape(panel)}:\fR"]
        for tag, help_line in entries:
            lines += [".TP", tag]
            if help_line:
                lines.append(help_line)
    return lines


# --- exit status -------------------------------------------------------------------------------

_RULE = re.compile(r"^=+(?: +=+)+$")


def exit_status_rows(doc: str) -> list[tuple[str, str, str]]:
    """(code, error, meaning) rows of the reStructuredText table in ``doc``."""
    lines = doc.splitlines()
    rules = [i for i, line in enumerate(lines) if _RULE.match(line.strip())]
    if len(rules) < 3:
        raise ValueError("no exit-status table (three ==== rules) in the docstring")
    rule = lines[rules[0]].strip()
    indent = len(lines[rules[0]]) - len(lines[rules[0]].lstrip())
    starts = [m.start() + indent for m in re.finditer(r"=+", rule)]
    rows = []
    for line in lines[rules[1] + 1 : rules[2]]:
        if not line.strip():
            continue
        bounds = [*starts[1:], None]
        cells = [line[s:e].strip() for s, e in zip(starts, bounds, strict=True)]
        rows.append((cells[0], cells[1], cells[2]))
    return rows


def _render_exit_status(doc: str) -> list[str]:
    lines = [".SH EXIT STATUS"]
    for code, error, meaning in exit_status_rows(doc):
        text = inline(meaning[:1].upper() + meaning[1:]) + "."
        if error.endswith("Error"):  # not the "(batch)" or "usage" placeholders
            text = rf"\fB{escape(error)}\fR: {inline(meaning)}."
        lines += [".TP", rf"\fB{escape(code)}\fR", _line(text)]
    return lines


# --- the page ----------------------------------------------------------------------------------


def render_manpage(app: typer.Typer, *, prog: str = "restore", version: str = __version__) -> str:
    """The whole man page for ``app`` as troff source (deterministic for a given tree)."""
    import restorecli.cli

    pages = list(iter_commands(app, prog))
    root = pages[0]
    summary = " ".join((root.command.help or prog).split("\n\n")[0].split())
    summary = summary[:1].lower() + summary[1:]
    out = [
        rf".TH {prog.upper()} 1 {_quoted('')} {_quoted(f'restorecli {version}')} "
        f"{_quoted('User Commands')}",
        r".\" Generated from the command tree by scripts/gen_man.py; do not edit by hand.",
        ".nh",  # no hyphenation (option and class names), ragged right
        ".ad l",
        ".SH NAME",
        rf"{escape(prog)} \- {escape(summary.rstrip('.'))}",
        ".SH SYNOPSIS",
        ".nf",
        *(_synopsis(page) for page in pages if page is root or not page.is_group),
        ".fi",
        ".SH DESCRIPTION",
        *_render_help(root.command.help),
        *(line for text in OVERVIEW for line in (".PP", _line(inline(text)))),
        *_render_help(root.command.epilog),
        ".SH OPTIONS",
        "These options come before the command name.",
        *_render_params(root, keep_help=True),
        ".SH COMMANDS",
    ]
    for page in pages[1:]:
        out += [
            f".SS {_quoted(page.name)}",
            _synopsis(page),
            *_render_help(page.command.help or page.command.short_help),
            *_render_help(page.command.epilog),
        ]
        if page.is_group:
            subs = [p.name for p in pages if p.path[:-1] == page.path]
            out += [".PP", "Commands: " + ", ".join(rf"\fB{escape(s)}\fR" for s in subs) + "."]
        out += _render_params(page, keep_help=False)
    out += _render_exit_status(restorecli.cli.__doc__ or "")
    out.append(".SH ENVIRONMENT")
    for name, text in ENVIRONMENT:
        out += [".TP", rf"\fB{escape(name)}\fR", _line(inline(text))]
    out.append(".SH FILES")
    for name, text in FILES:
        out += [".TP", rf"\fI{escape(name)}\fR", _line(inline(text))]
    out.append(".SH EXAMPLES")
    for text, command in EXAMPLES:
        out += [".PP", _line(inline(text)), ".PP", ".RS 4", ".nf", _line(escape(command)), ".fi"]
        out.append(".RE")
    out += [".SH SEE ALSO", _line(inline(SEE_ALSO))]
    return "\n".join(out) + "\n"
