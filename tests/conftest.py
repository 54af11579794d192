"""Shared fixtures: the default spec, and submissions made by editing the correct example."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.spec import EXAMPLES, load

CORRECT = EXAMPLES / "correct_vectorised.py"


@pytest.fixture
def spec():
    """A fresh copy of the default spec (tests may shrink its limits without affecting others)."""
    return load()


@pytest.fixture
def make_submission(tmp_path):
    """Write a submission: the correct example with `old -> new` replacements, or given source."""

    def make(*replacements: tuple[str, str], source: str | None = None, name: str = "sub.py") -> Path:
        text = CORRECT.read_text() if source is None else source
        for old, new in replacements:
            assert old in text, f"test setup: {old!r} not in the correct example"
            text = text.replace(old, new)
        path = tmp_path / name
        path.write_text(text)
        return path

    return make
