"""Smoke tests of training/ (CPU, seconds): `make test-training`, from the repository root."""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    """The training code reads and writes paths relative to the repository root, as its commands do."""
    monkeypatch.chdir(ROOT)
