"""What one student should see, as a page (OUTDIR/students/<id>.html) and as plain text for a
platform's comment box (OUTDIR/feedback/<id>.md: Canvas's and Moodle's comment boxes show text as it
is, so it holds no Markdown escape, no HTML entity and no tag; still no control character).

Exactly the student's view: the score after staff adjustments and the late policy (and what the policy
took off, in words), the misconceptions with their hints,
each check's feedback (a check whose visibility is hidden or after_due_date shows its name only),
the report's notes, and the adjustments with their comments. Never a staff-only fact: not the seed,
not the isolation layers, not the spec's fingerprint. Every text is cleaned (`report.clean`) and escaped.
"""

from __future__ import annotations

import html

from grader.report import clean, score_text

SHOWN = "visible"  # a check with any other visibility (hidden, after_due_date, after_published) shows no output
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 52em; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } .score { font-size: 1.3em; font-weight: 600; }
table { border-collapse: collapse; width: 100%; } th, td { padding: 4px 8px; border-bottom: 1px solid #ddd;
 text-align: left; vertical-align: top; } td.num { text-align: right; white-space: nowrap; }
.passed { color: #1a7f37; } .failed { color: #cf222e; } .error { color: #9a6700; }
.feedback { white-space: pre-wrap; } .hint { color: #444; } .misconception { margin-bottom: .6em; }
@media print { body { margin: 0; max-width: none; font-size: 11pt; } tr, .misconception { break-inside: avoid; }
 a { color: inherit; text-decoration: none; } }
"""


def esc(text) -> str:
    return html.escape(clean(str(text)), quote=True)


def shown_diagnoses(report: dict) -> list[dict]:
    """The misconceptions a student may see now: those naming at least one check they can see."""
    visible = {t["name"] for t in report["tests"] if t.get("visibility", SHOWN) == SHOWN}
    return [d for d in report.get("diagnoses", []) if visible & set(d.get("checks", []))]


def summary_lines(report: dict) -> list[str]:
    """The report's overall feedback with only what may be shown now: its first line (which names every
    failed check) is said again over the visible checks; the notes follow unchanged."""
    lines = [line for line in clean(report.get("output", "")).splitlines() if line.strip()]
    if report["status"] != "graded" or all(t.get("visibility", SHOWN) == SHOWN for t in report["tests"]):
        return lines
    shown = [t for t in report["tests"] if t.get("visibility", SHOWN) == SHOWN]
    failed = [t["name"] for t in shown if t["status"] != "passed"]
    first = (f"{len(failed)} of {len(shown)} checks shown now did not pass: {', '.join(failed)}." if failed
             else f"All {len(shown)} checks shown now passed.")
    return [first, f"{len(report['tests']) - len(shown)} more checks are shown later.", *lines[1:]]


def _who(sid: str, name: str) -> str:
    return f"{clean(name)} ({clean(sid)})" if name else clean(sid)


def page(report: dict, sid: str, score: float, adjustments: list, scores: dict[str, float], late: str = "",
         name: str = "") -> str:
    """students/<id>.html: self-contained, prints on paper as it reads on screen."""
    parts = [f"<h1>Feedback for {esc(_who(sid, name))}</h1>",
             f"<p class=\"score\" id=\"score\">{score_text(score, report['max_score'], report['status'])}</p>",
             *([f"<p class=\"late\" id=\"late\">Late: {esc(late)}.</p>"] if late else []),
             f"<p>{esc(report['spec']['id'])} {esc(report['spec']['version'])}, "
             f"file {esc(report['submission']['name'])}</p>"]
    parts += [f"<p class=\"note\">{esc(line)}</p>" for line in summary_lines(report)]
    diagnoses = shown_diagnoses(report)
    if diagnoses:
        parts.append("<h2>What seems to be wrong</h2>")
        parts += [f"<div class=\"misconception\" data-id=\"{esc(d['id'])}\"><b>{esc(d['message'])}</b> "
                  f"<span class=\"checks\">({esc(', '.join(d['checks']))})</span><br>"
                  f"<span class=\"hint\">Hint: {esc(d['hint'])}</span></div>" for d in diagnoses]
    parts.append("<h2>Checks</h2><table id=\"checks\"><thead><tr><th>check</th><th>result</th><th>points</th>"
                 "<th>feedback</th></tr></thead><tbody>")
    for t in report["tests"]:
        visible = t.get("visibility", SHOWN) == SHOWN
        status = t["status"] if visible else "later"
        feedback = t["output"] if visible else "Shown later."
        parts.append(f"<tr class=\"check\" data-name=\"{esc(t['name'])}\"><td>{esc(t['name'])}</td>"
                     f"<td class=\"{esc(status)}\">{esc(status)}</td>"
                     f"<td class=\"num\">{_points(scores.get(t['name'], t['score']), t, visible)}</td>"
                     f"<td class=\"feedback\">{esc(feedback)}</td></tr>")
    parts.append("</tbody></table>")
    if adjustments:
        parts.append("<h2>Adjusted by course staff</h2><ul id=\"adjustments\">")
        parts += [f"<li>{esc(a.check)}: {a.points:+g} point(s){': ' + esc(a.comment) if a.comment else ''}</li>"
                  for a in adjustments]
        parts.append("</ul>")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Feedback: {esc(sid)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def _points(score: float, test: dict, visible: bool) -> str:
    return f"{score:g} / {test['max_score']:g}" if visible else f"? / {test['max_score']:g}"


def _text(text) -> str:
    """Student-derived text for a comment box: cleaned, and no tag can start in it (a `<` becomes `‹`),
    should a platform ever render the comment as HTML. Nothing else is escaped: it reads as it is."""
    return clean(str(text)).replace("<", "\u2039")


def plain(report: dict, sid: str, score: float, adjustments: list, scores: dict[str, float], late: str = "",
          name: str = "") -> str:
    """feedback/<id>.md: the same as the page, as plain text that reads as it is in a comment box."""
    lines = [f"Feedback for {_who(sid, name)}: {score_text(score, report['max_score'], report['status'])}",
             f"{_text(report['spec']['id'])} {_text(report['spec']['version'])}, "
             f"file {_text(report['submission']['name'])}",
             ""]
    lines += [f"Late: {_text(late)}.", ""] if late else []
    lines += [_text(line) for line in summary_lines(report)] + [""]
    diagnoses = shown_diagnoses(report)
    if diagnoses:
        lines += ["What seems to be wrong:"]
        for d in diagnoses:
            lines += [f"- {_text(d['message'])} ({', '.join(_text(c) for c in d['checks'])})",
                      f"  Hint: {_text(d['hint'])}"]
        lines.append("")
    lines.append("Checks:")
    for t in report["tests"]:
        visible = t.get("visibility", SHOWN) == SHOWN
        status = t["status"] if visible else "shown later"
        lines.append(f"- {_text(t['name'])}: {status}, {_points(scores.get(t['name'], t['score']), t, visible)}")
        if visible and _text(t["output"]).strip():
            lines += [f"  {line}" for line in _text(t["output"]).splitlines() if line.strip()]
    if adjustments:
        lines += ["", "Adjusted by course staff:"]
        lines += [f"- {_text(a.check)}: {a.points:+g} point(s)" + (f": {_text(a.comment)}" if a.comment else "")
                  for a in adjustments]
    return "\n".join(lines) + "\n"


markdown = plain  # its old name
