"""Views of a report: JSON (the report itself) and a text table for people.

Each view is a function from a `Report` to a string; Gradescope and JUnit views belong here too.
"""

from __future__ import annotations

import json
import textwrap

from grader.report import PASSED, Report

MARKS = {"passed": "ok", "failed": "FAIL", "error": "ERROR"}


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def render_text(report: Report) -> str:
    """A summary for a terminal: score, misconceptions first, then one line per check."""
    lines = [f"{report.submission_name}: {report.score:g} / {report.max_score:g}"
             f"  ({report.spec_id} {report.spec_version}, seed {report.seed}, {report.execution_time:.2f} s)"]
    if report.diagnoses:
        lines.append("")
        lines.append("What seems to be wrong:")
        for d in report.diagnoses:
            lines.append(f"  * {d.message} [{', '.join(d.checks)}]")
            lines.extend(textwrap.wrap(f"Hint: {d.hint}", width=96, initial_indent="    ",
                                       subsequent_indent="    "))
    lines.append("")
    width = max(len(t.name) for t in report.tests) if report.tests else 10
    for t in report.tests:
        lines.append(f"  {MARKS[t.status]:<5} {t.name:<{width}}  {t.score:>4g} / {t.max_score:<4g}")
        if t.status != PASSED or (t.output and "skipped" in t.output):
            lines.extend(textwrap.wrap(t.output, width=96, initial_indent="        ",
                                       subsequent_indent="        "))
    summary = report.summary()
    if summary:
        lines.append("")
        lines.append(summary)
    return "\n".join(lines) + "\n"


VIEWS = {"json": render_json, "text": render_text}
