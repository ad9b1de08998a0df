"""Fixtures for the weights tests: isolated caches and a local fake Hugging Face Hub."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load_fake_hub():
    # Loaded by path so it works with any pytest import mode, and from tests/cli too.
    name = "restorecli_tests_fake_hub"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fake_hub.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_hub = _load_fake_hub()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    fake_hub.isolate(monkeypatch, tmp_path)


@pytest.fixture
def hub(monkeypatch):
    server = fake_hub.FakeHub().start()
    fake_hub.point_at(monkeypatch, server.url)
    yield server
    server.stop()
