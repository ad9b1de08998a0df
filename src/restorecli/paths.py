"""Where outputs go: naming rules shared by the command line and the Python API.

- ``restore derain in.png``            -> ``in_derain.png`` beside the input (``suffix``)
- ``restore batch photos --task dehaze`` -> the sibling folder ``photos_dehaze/``, never inside
  ``photos/``, with the input tree mirrored
- ``-`` names standard input / standard output; reading ``-`` without an output writes to
  standard output.
"""

from __future__ import annotations

import os
from pathlib import Path

STDIO = "-"

PathLike = str | os.PathLike[str]


def is_stdio(value: PathLike | None) -> bool:
    """True for ``-`` (standard input or output)."""
    return value is not None and str(value) == STDIO


def output_is_stdout(input_arg: PathLike | None, output_arg: PathLike | None) -> bool:
    """True when the output goes to standard output: ``-o -``, or no ``-o`` with input ``-``."""
    return is_stdio(output_arg) or (output_arg is None and is_stdio(input_arg))


def default_suffix(task: str) -> str:
    """``_derain`` for ``derain``: what is added to a file name when no output is named."""
    return f"_{task}"


def default_output_path(input_path: PathLike, task: str, *, suffix: str | None = None) -> Path:
    """``dir/in.png`` -> ``dir/in_TASK.png`` (or ``dir/in{suffix}.png``); same extension."""
    path = Path(input_path)
    suffix = default_suffix(task) if suffix is None else suffix
    if not suffix:
        raise ValueError("an empty suffix would name the input itself")
    return path.with_name(f"{path.stem}{suffix}{path.suffix}")


def default_batch_dir(input_dir: PathLike, task: str) -> Path:
    """The sibling folder ``DIR_TASK`` (``photos`` -> ``photos_derain``), resolved.

    Resolving first makes ``.`` and ``photos/`` work: ``.`` inside ``/x/photos`` gives
    ``/x/photos_derain``.
    """
    folder = Path(input_dir).resolve()
    if folder.parent == folder:  # the file system root has no sibling
        raise ValueError(f"{folder} has no parent folder: name the output folder with -o")
    return folder.parent / f"{folder.name}{default_suffix(task)}"


def mirror_path(
    src: PathLike, input_root: PathLike, output_root: PathLike, *, suffix: str = ""
) -> Path:
    """``input_root/a/b.png`` -> ``output_root/a/b{suffix}.png``."""
    relative = Path(src).relative_to(input_root)
    out = Path(output_root) / relative
    return out.with_name(f"{out.stem}{suffix}{out.suffix}") if suffix else out


def is_within(path: PathLike, folder: PathLike) -> bool:
    """True if ``path`` is ``folder`` or lies below it (after resolving links and ``..``)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents
