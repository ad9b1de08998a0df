"""Fixtures for the weights tests: isolated caches. The local fake Hugging Face Hub (fake_hub.py,
imported as ``restorecli_tests_fake_hub``) and its ``hub`` fixture come from tests/conftest.py,
shared with tests/cli."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_caches):
    """Every test here runs with its caches in tmp_path."""
