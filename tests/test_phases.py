"""Grading has three phases, as pytest has setup, call and teardown: the load is judged on its own before
any check runs (whatever checks a spec has), then the checks, then the report."""

from __future__ import annotations

import copy

from grader.sandbox import isolation
from grader.judge.grading import grade_submission
from grader.judge.spec import Spec


def without_interface(spec: Spec) -> Spec:
    data = copy.deepcopy(spec.data)
    data["checks"] = [c for c in data["checks"] if c["kind"] != "interface"]
    return Spec(data, spec.path)


def test_a_syntax_error_is_ungradable_without_an_interface_check(make_submission, spec):
    path = make_submission(source="class RNN:\n    def forward(self, x)\n        return x\n")
    report = grade_submission(path, without_interface(spec))
    assert report.status == "ungradable"
    assert report.notes[0] == "Ungradable: your file has a syntax error at line 2."
    assert all(t.output == "Not run: your file has a syntax error at line 2." for t in report.tests)
    assert "None" not in report.summary()


def test_a_missing_class_stops_the_checks_without_an_interface_check(make_submission, spec):
    report = grade_submission(make_submission(source="import numpy as np\n\nclass Model:\n    pass\n"),
                              without_interface(spec))
    assert report.score == 0
    assert all(t.output == "Not run: your file defines no `RNN`, so no model can be built." for t in report.tests)


def test_the_childs_own_failure_to_start_is_never_the_students(make_submission, spec, monkeypatch):
    """A sandbox whose isolation cannot be applied refuses to run student code; the report says the grader
    failed (status error, which a batch grades again), and no check blames the student."""
    real = isolation.child_config

    def broken(*args):
        return dict(real(*args), layers=["seccomp"], seccomp_library="/nonexistent/libseccomp.so")

    monkeypatch.setattr(isolation, "child_config", broken)
    for checked in (spec, without_interface(spec)):
        report = grade_submission(make_submission(), checked)
        assert report.status == "error"
        assert report.score == 0
        assert all("not a problem with your code" in t.output for t in report.tests), [t.output for t in report.tests]
