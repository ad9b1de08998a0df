"""What happened to each file: its status and the record shown in summaries and JSON reports."""

from __future__ import annotations

import dataclasses
from typing import Any

RESTORED = "restored"
SKIPPED = "skipped"  # output already there and --skip-existing
IGNORED = "ignored"  # not media (a batch's stray text file)
FAILED = "failed"
KEPT = "kept"  # judged clean by `restore auto`: the output is the input as it was


@dataclasses.dataclass
class FileResult:
    """The outcome for one input, as shown in the summary table and the JSON report."""

    input: str
    output: str | None
    status: str
    kind: str | None = None
    message: str = ""
    exit_code: int = 0
    seconds: float = 0.0
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)  # e.g. encoder fallbacks
    # `restore auto`: the tasks run (in order, [] when kept) and every task's confidence.
    tasks: list[str] | None = None
    scores: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.tasks is None:  # the task commands' reports stay as they were
            del out["tasks"], out["scores"]
        return out
