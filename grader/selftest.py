"""Course-staff CI: the reference scores full marks and every example fails exactly what its expectation says."""

from __future__ import annotations

import json
from typing import Callable

from grader.spec import EXAMPLES, REFERENCES, Spec


def expectations(spec: Spec) -> dict[str, dict]:
    """submissions_example/expectations.json: file name -> {"fails": [check names], "about": ...}."""
    path = EXAMPLES / "expectations.json"
    data = json.loads(path.read_text())
    return {name: entry for name, entry in data.items() if entry.get("spec", spec.id) == spec.id}


def run_selftest(spec: Spec, echo: Callable[[str], None] = print) -> bool:
    from grader.engine import grade_submission
    from grader.report import validate

    reference = grade_submission(REFERENCES / spec.data["reference"], spec)
    validate(reference.to_dict())
    ok = reference.score == reference.max_score
    echo(f"{'ok  ' if ok else 'FAIL'}  reference {spec.data['reference']}  {reference.score:g}/{reference.max_score:g}")
    for test in reference.tests:
        if test.status != "passed":
            echo(f"        {test.name}: {test.output}")
    for name, entry in sorted(expectations(spec).items()):
        report = grade_submission(EXAMPLES / name, spec)
        validate(report.to_dict())
        want, got = sorted(entry["fails"]), sorted(report.failed)
        if want == got:
            echo(f"ok    {name}  {report.score:g}/{report.max_score:g}  ({report.execution_time:.1f} s)")
        else:
            ok = False
            extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            echo(f"FAIL  {name}: unexpected failures {extra or '-'}; expected but passed {missing or '-'}")
            for test in report.tests:
                if test.name in extra:
                    echo(f"        {test.name}: {test.output}")
    echo("selftest passed" if ok else "selftest FAILED")
    return ok
