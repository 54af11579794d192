"""Shared fixtures: the default spec, and submissions made by editing the correct example."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from grader.judge.spec import EXAMPLES, load

CORRECT = EXAMPLES / "correct_vectorised.py"

# Every report any test produces, in this process or in a `grade` it starts, must follow the report
# schema: the engine checks its own reports when this is set (grader/judge/grading.py), so nothing of
# the engine is replaced here.
os.environ["GRADER_VALIDATE_REPORTS"] = "1"


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


@functools.cache
def _graded_example(name: str):
    from grader.judge.grading import grade_submission

    return grade_submission(EXAMPLES / name, load())


@pytest.fixture(scope="session")
def graded():
    """graded(name): the report of one example in submissions_example/ with the default spec, graded once
    per test session (test_examples and test_diagnoses read the same reports; none may modify them)."""
    return _graded_example


# Two layers: `unit` (pure code: compare, toplevel, wire, layout, the numerical-gradient arithmetic, ids;
# no child process, seconds in all) and `slow` (everything that grades in a sandbox). CI runs them in that
# order; `pytest -q` runs both.
UNIT_FOLDER = Path(__file__).resolve().parent / "unit"
UNIT_FILES = {"test_wire.py", "test_spec.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        path = Path(str(item.fspath))
        pure = path.parent == UNIT_FOLDER or path.name in UNIT_FILES
        item.add_marker(pytest.mark.unit if pure else pytest.mark.slow)
