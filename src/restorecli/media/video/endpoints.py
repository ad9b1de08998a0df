"""Where a video is read from or written to: a path or an open binary file object."""

from __future__ import annotations

import os
from typing import BinaryIO

Source = str | os.PathLike | BinaryIO
"""A path or an open binary file object."""


def is_path(src: Source) -> bool:
    """True for a file-system path."""
    return isinstance(src, str | os.PathLike)


def label(src: Source) -> str:
    """How ``src`` is named in messages."""
    if isinstance(src, str | os.PathLike):
        return os.fspath(src)
    return getattr(src, "name", None) or "<stream>"
