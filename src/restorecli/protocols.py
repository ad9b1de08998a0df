"""The seams between the layers, declared: what the file and folder code needs of a restorer.

``pipeline.Restorer`` is the implementation; tests pass small stand-ins. Declared here, without
torch, so the modules that only move files (``jobs``) can name the type they receive.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

Callback = Callable[[dict[str, Any]], None]


class FrameRestorer(Protocol):
    """Restores RGB frames; knows its model and settings."""

    config: Any  # restorecli.config.RestoreConfig (a stand-in may carry its own dataclass)
    name: str | None
    task: str | None
    device: Any

    def restore_array(
        self, image: np.ndarray, *, callback: Callback | None = None
    ) -> np.ndarray: ...

    def restore_batch(
        self, frames: np.ndarray, *, callback: Callback | None = None, session: Any = None
    ) -> np.ndarray: ...

    def check_config(self, given: Collection[str] = ()) -> None: ...

    def sequence(self) -> AbstractContextManager[Any]: ...
