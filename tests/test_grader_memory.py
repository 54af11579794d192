"""Issue 26, item 3: the grader's own process stays small whatever a file or a reply holds. The hostile
inputs of bench/bench_grader_memory.py are graded each in a fresh process, whose peak resident set
(VmHWM: the grader's process alone, not the student's child) must stay under 200 MB."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_grader_memory.py"
LIMIT_MB = 200


def bench():
    spec = importlib.util.spec_from_file_location("bench_grader_memory", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return bench().inputs(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("name, status", [
    ("forged_frame_at_cap.py", "graded"),
    ("forged_frame.py", "graded"),  # its own frames break the protocol: forward's checks fail, nothing more
    ("load_flood.py", "graded"),
    ("notebook_of_empties.ipynb", "ungradable"),  # 2 million empty outputs: refused before they are expanded
    ("notebook_of_newlines.ipynb", "graded"),  # 300 MB when each line had a tuple of its origin
    ("notebook_of_newlines_child.ipynb", "graded"),
    ("notebook_too_big.ipynb", "ungradable"),  # refused by its size: never held in memory
    ("deep_notebook.ipynb", "ungradable"),
])
def test_the_grader_stays_under_200_mb_whatever_the_file_holds(made, name, status):
    result = bench().measure(made[name])
    assert result["status"] == status, result
    assert result["peak_mb"] < LIMIT_MB, result


def test_a_forged_frame_costs_the_forger_only(made):
    """Frames forward writes itself into the channel are refused (protocol), so the checks that call
    forward fail; the score is far below the correct example's."""
    result = bench().measure(made["forged_frame.py"])
    assert result["score"] < 5, result
