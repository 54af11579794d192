"""Views of a report: JSON (the report itself), text for a terminal, Markdown for a CI summary,
Gradescope's results.json, and JUnit XML for CI test reports.

Each view is a function from a `Report` to a string; none of them computes a score. Every view
renders `cleaned(report)`: the report with every text cleaned of control characters and escape
sequences (`report.clean`), since exception messages, skipped lines and file names come from the
student. No view shows a staff-only fact (the hidden seed, the isolation layers): those stay in the
JSON report's `seed` and `isolation`, and on the grader's stderr.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import textwrap
import xml.etree.ElementTree as ET

from grader.report import ERROR, PASSED, CheckResult, Diagnosis, Report, clean, score_text

MARKS = {"passed": "ok", "failed": "FAIL", "error": "ERROR"}


def cleaned(report: Report) -> Report:
    """The report as every view shows it: each text a student could have put into it cleaned."""
    tests = [dataclasses.replace(t, output=clean(t.output), tags=[clean(tag) for tag in t.tags],
                                 diagnoses=[Diagnosis(d.id, clean(d.message), clean(d.hint), list(d.checks))
                                            for d in t.diagnoses])
             for t in report.tests]
    return dataclasses.replace(report, submission_name=clean(report.submission_name), tests=tests,
                               notes=[clean(n) for n in report.notes])


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"  # to_dict cleans the student's texts


def render_text(report: Report) -> str:
    """A summary for a terminal: score, misconceptions first, then one line per check."""
    report = cleaned(report)
    lines = [f"{report.submission_name}: {score_text(report.score, report.max_score, report.status)}"
             f"  ({report.spec_id} {report.spec_version}, {report.execution_time:.2f} s)"]
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


def check_feedback(report: Report, test: CheckResult) -> str:
    """A check's feedback with the misconceptions it matches, for views that have no diagnoses list."""
    report, test = cleaned(report), dataclasses.replace(test, output=clean(test.output))
    parts = [test.output] if test.output else []
    for d in report.diagnoses:
        if test.name in d.checks:
            parts.append(f"{d.message} Hint: {d.hint}")
    return "\n\n".join(parts)


# ------------------------------------------------------------------ Markdown (GitHub's job summary)

STATUS_ICONS = {"passed": "✅", "failed": "❌", "error": "⚠️"}


# a backtick run, then text, then a run of the same length: a code span, as CommonMark pairs them
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def _escape(text: str) -> str:
    """Text shown literally: HTML-escaped, and every Markdown mark that could make a link, an image,
    emphasis or a code span turned into a backslash escape or an entity."""
    text = re.sub(r"([\\*_\[\]~!#])", r"\\\1", text)  # before the entities, which hold a '#'
    return html.escape(text, quote=True).replace("`", "&#96;").replace("|", "&#124;")


def _cell(text: str) -> str:
    """One table cell (or line) of student-derived text, safe whatever it holds: no line breaks, no
    pipes, no raw HTML, no Markdown of the student's.

    Paired backticks are shown as code, rendered by us as <code> with escaped contents, so the number
    of backticks a student's message opens or closes with cannot change what is literal."""
    out, at = [], 0
    for match in CODE_SPAN.finditer(text):
        out.append(_escape(text[at:match.start()]))
        out.append(f"<code>{_escape(match[2])}</code>")  # Markdown inside inline HTML is still Markdown
        at = match.end()
    out.append(_escape(text[at:]))
    return "<br>".join(line for line in "".join(out).splitlines() if line.strip())


def markdown_text(text: str) -> str:
    """Student-derived text as literal Markdown on one line (for other Markdown views, such as a
    student's feedback file): cleaned, HTML-escaped, no Markdown of the student's."""
    return _cell(clean(str(text)))


def render_markdown(report: Report) -> str:
    """A summary for `$GITHUB_STEP_SUMMARY` or a pull-request comment: score, table, misconceptions."""
    report = cleaned(report)
    lines = [f"### {_cell(report.submission_name)}: {score_text(report.score, report.max_score, report.status)}", "",
             f"{report.spec_id} {report.spec_version}, {report.execution_time:.2f} s", ""]
    if report.diagnoses:
        lines.append("**What seems to be wrong**")
        lines.append("")
        for d in report.diagnoses:
            checks = ", ".join(f"`{c}`" for c in d.checks)
            lines.append(f"- {_cell(d.message)} ({checks})<br>Hint: {_cell(d.hint)}")
        lines.append("")
    lines += ["| | check | points | feedback |", "| --- | --- | --- | --- |"]
    for t in report.tests:
        shown_text = t.output if t.status != PASSED or "skipped" in t.output else ""
        lines.append(f"| {STATUS_ICONS[t.status]} | `{t.name}` | {t.score:g} / {t.max_score:g} | {_cell(shown_text)} |")
    summary = report.summary()
    if summary:
        lines += ["", _cell(summary).replace("<br>", "\n\n")]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ Gradescope results.json

def _gradescope_output(report: Report) -> str:
    """The overall summary, naming only failures students may see now (the others are not announced)."""
    report = cleaned(report)
    if all(t.visibility == "visible" for t in report.tests):
        return report.summary()
    shown = [t for t in report.tests if t.visibility == "visible"]
    failed = [t.name for t in shown if t.status != PASSED]
    lines = [report.notes[0]] if report.status == "ungradable" and report.notes else []
    if not lines:
        lines.append(f"{len(failed)} of {len(shown)} checks shown now did not pass: {', '.join(failed)}."
                     if failed else f"All {len(shown)} checks shown now passed.")
    lines.append(f"{len(report.tests) - len(shown)} more checks are shown later (after the due date or "
                 "when grades are published).")
    lines.extend(n for n in report.notes if n not in lines)
    return "\n".join(lines)


def gradescope_results(report: Report) -> dict:
    """Exactly the keys of Gradescope's results.json (tests/gradescope_results.schema.json), nothing else."""
    report = cleaned(report)
    return {
        "score": report.score,
        "execution_time": math.ceil(report.execution_time),  # Gradescope documents whole seconds
        "output": _gradescope_output(report),
        "visibility": report.visibility,
        "stdout_visibility": report.stdout_visibility,
        "tests": [{"name": t.name, "score": t.score, "max_score": t.max_score,
                   # Gradescope knows passed and failed; a grader error is a failure whose text says so
                   "status": "passed" if t.status == PASSED else "failed",
                   "output": check_feedback(report, t), "tags": list(t.tags), "visibility": t.visibility,
                   "number": str(number)}
                  for number, t in enumerate(report.tests, start=1)],
    }


def render_gradescope(report: Report) -> str:
    return json.dumps(gradescope_results(report), indent=2) + "\n"


# ------------------------------------------------------------------ JUnit XML

# XML 1.0 cannot carry most control characters, even escaped; a student's exception message can.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str) -> str:
    return NOT_XML.sub("\ufffd", text)


def render_junit(report: Report) -> str:
    """JUnit XML (the Jenkins/Ant dialect; tests/junit.xsd) that GitLab, Jenkins and GitHub's
    test-report actions read: one testcase per check, the feedback as the failure message.

    The schema allows properties on the suite only (not on a testcase), so each check's points are
    suite properties named `<check>.score` and `<check>.max_score`, next to the totals.
    """
    report = cleaned(report)
    counts = {"tests": str(len(report.tests)),
              "failures": str(sum(t.status not in (PASSED, ERROR) for t in report.tests)),
              "errors": str(sum(t.status == ERROR for t in report.tests))}
    time = f"{report.execution_time:.3f}"
    suites = ET.Element("testsuites", name=report.spec_id, time=time, **counts)
    suite = ET.SubElement(suites, "testsuite", name=f"{report.spec_id}: {_xml_text(report.submission_name)}",
                          skipped="0", time=time, **counts)
    properties = ET.SubElement(suite, "properties")
    points = {"score": f"{report.score:g}", "max_score": f"{report.max_score:g}",
              "status": report.status, "spec": f"{report.spec_id} {report.spec_version}",
              "submission": _xml_text(report.submission_name),
              "sha256": report.sha256, "grader": report.grader_version}
    for t in report.tests:
        points[f"{t.name}.score"], points[f"{t.name}.max_score"] = f"{t.score:g}", f"{t.max_score:g}"
    for name, value in points.items():
        ET.SubElement(properties, "property", name=name, value=value)
    for t in report.tests:
        case = ET.SubElement(suite, "testcase", name=t.name, classname=report.spec_id)
        if t.status != PASSED:
            feedback = _xml_text(check_feedback(report, t))
            kind = "error" if t.status == ERROR else "failure"
            element = ET.SubElement(case, kind, message=_xml_text(t.output), type=t.status)
            element.text = f"{t.score:g} / {t.max_score:g} points\n{feedback}"
    ET.SubElement(suite, "system-out").text = _xml_text(report.summary())
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


VIEWS = {"text": render_text, "json": render_json, "markdown": render_markdown,
         "gradescope": render_gradescope, "junit": render_junit}
