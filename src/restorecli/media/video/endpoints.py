"""Where a video is read from or written to: a path, ``"-"`` or an open binary file object."""

from __future__ import annotations

import os
from typing import BinaryIO

Source = str | os.PathLike | BinaryIO
"""A path, ``"-"`` for stdin/stdout, or an open binary file object."""


def is_dash(src: Source) -> bool:
    """True for ``"-"``: stdin as an input, stdout as an output."""
    return isinstance(src, str) and src == "-"


def is_path(src: Source) -> bool:
    """True for a file-system path (``"-"`` is not one)."""
    return isinstance(src, str | os.PathLike) and not is_dash(src)


def label(src: Source) -> str:
    """How ``src`` is named in messages."""
    if is_dash(src):
        return "<stdin>"
    if isinstance(src, str | os.PathLike):
        return os.fspath(src)
    return getattr(src, "name", None) or "<stream>"
