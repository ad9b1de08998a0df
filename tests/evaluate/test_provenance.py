"""Provenance helpers: the canonical command line and weights info that never raises."""

from __future__ import annotations

import pytest

from restorecli.evaluate import provenance
from restorecli.evaluate.provenance import canonical_command, weights_info_or_error


def test_canonical_command_keeps_only_options_that_were_set() -> None:
    options = [
        ("--init", "zq,chebyshev", None),
        ("--lam", None, None),  # not given
        ("--device", "auto", "auto"),  # the default
        ("--crop-border", 0, 0),
        ("--tile", 0, 512),  # 0 is a real value (no tiles), not "unset"
        ("--offline", True, False),  # a flag: no value
        ("--quiet", False, False),
        ("--limit", 3, None),
    ]
    line = canonical_command(["restore", "eval", "dir with space"], options)
    assert line == "restore eval 'dir with space' --init zq,chebyshev --tile 0 --offline --limit 3"


def test_weights_info_or_error_turns_a_failure_into_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(weights: str | None, task: str | None = None) -> dict:
        raise OSError("checksum mismatch")

    monkeypatch.setattr(provenance, "weights_info", broken)
    assert weights_info_or_error("w.safetensors", "derain") == {
        "weights": "w.safetensors",
        "error": "checksum mismatch",
    }


def test_weights_info_or_error_passes_the_info_through(monkeypatch: pytest.MonkeyPatch) -> None:
    info = {"weights": "m", "model": "m", "files": {}}
    monkeypatch.setattr(provenance, "weights_info", lambda weights, task=None: info)
    assert weights_info_or_error("m") is info
