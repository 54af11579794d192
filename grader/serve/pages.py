"""The service's own pages (sign-in, a student's home with the upload form and history, a submission
waiting for its grade, staff's history of a student). Feedback itself is `course.student_pages.page`,
the same view a batch writes. Every text from a user is cleaned and escaped (`esc`)."""

from __future__ import annotations

from grader.course.student_pages import STYLE, esc
from grader.report import score_text

EXTRA = """.problem { background: #fff1f0; border: 1px solid #cf222e; padding: .6em 1em; }
.ok { background: #f0fff4; border: 1px solid #1a7f37; padding: .6em 1em; }
nav { margin-bottom: 1em; } nav a { margin-right: 1em; } .counting { font-weight: 600; }"""


def document(title: str, body: str, refresh: int | None = None) -> str:
    meta = f"<meta http-equiv=\"refresh\" content=\"{refresh}\">" if refresh else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{meta}<title>{esc(title)}</title>"
            f"<style>{STYLE}{EXTRA}</style></head><body>\n{body}\n</body></html>\n")


def signin(problem: str = "") -> str:
    message = f"<p class=\"problem\" id=\"problem\">{esc(problem)}</p>" if problem else ""
    return document("Sign in", f"<h1>Sign in</h1>{message}<p>Open the link course staff sent you, or paste its "
                    "token here.</p><form method=\"post\" action=\"/signin\"><input name=\"token\" id=\"token\" "
                    "size=\"40\" aria-label=\"token\" autocomplete=\"off\"> <button type=\"submit\">Sign in</button>"
                    "</form>")


def confirm_signin(student, signed_in, token: str, csrf: str) -> str:
    """A sign-in link's page: who it is for, who is signed in now (if anyone), and a button."""
    who = esc(student.name or student.id)
    now = ""
    if signed_in is not None:
        now = (f"<p class=\"problem\" id=\"signed-in\">You are signed in as {esc(signed_in.name or signed_in.id)} "
               f"({esc(signed_in.id)}). This link is for someone else: {who} ({esc(student.id)}). Sign in as "
               f"{who} only if that is you; otherwise <a href=\"/\">go back to your own page</a>.</p>")
    return document("Sign in", f"<h1>Sign in as {who}?</h1>{now}<form method=\"post\" action=\"/signin\">"
                    f"<input type=\"hidden\" name=\"token\" value=\"{esc(token)}\">"
                    f"<input type=\"hidden\" name=\"csrf\" value=\"{esc(csrf)}\">"
                    f"<button type=\"submit\" id=\"signin\">Sign in as {who} ({esc(student.id)})</button></form>")


def signout(csrf: str, action: str = "/signout") -> str:
    return document("Sign out", f"<h1>Sign out</h1>{signout_form(csrf, action)}")


def signout_form(csrf: str, action: str = "/signout") -> str:
    return (f"<form method=\"post\" action=\"{action}\" style=\"display:inline\"><input type=\"hidden\" "
            f"name=\"csrf\" value=\"{esc(csrf)}\"><button type=\"submit\" id=\"signout\">Sign out</button></form>")


def rules(course, spec) -> str:
    """The deadline, the late policy, which attempt counts and the limit, in plain words."""
    items = []
    if course.deadline is not None:
        grace = f" (hand-ins up to {course.grace.total_seconds() / 60:g} minutes later are on time)" \
            if course.grace.total_seconds() else ""
        items.append(f"Deadline: {course.deadline:%Y-%m-%d %H:%M} UTC{grace}.")
        late = course.late
        if late.zero_after_days == 0:
            items.append("Late policy: a late hand-in scores 0.")
        elif late.per_day > 0:
            cap = f"; over {late.zero_after_days:g} days late scores 0" if late.zero_after_days is not None else ""
            items.append(f"Late policy: {late.per_day:.0%} of the points per started day late{cap}.")
        else:
            items.append("Late policy: late hand-ins are marked late; no points are taken off"
                         + (f", except over {late.zero_after_days:g} days late, which scores 0"
                            if late.zero_after_days is not None else "") + ".")
    else:
        items.append("No deadline is set.")
    items.append(f"Your {'best' if course.counts == 'best' else 'last'} attempt counts.")
    items.append(f"At most {course.attempts_per_hour} attempts per hour; files up to "
                 f"{course.upload_bytes / 1e6:g} MB, .py or .ipynb.")
    return "<ul id=\"rules\">" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def history(tries, link: str, counting_id: int | None) -> str:
    if not tries:
        return "<p id=\"history\">No attempt yet.</p>"
    rows = []
    for a in reversed(tries):
        score = (score_text(a.score, a.report["max_score"], a.report["status"]) if a.report is not None
                 else "being graded")
        mark = " <span class=\"counting\">(counts)</span>" if a.id == counting_id else ""
        rows.append(f"<tr data-id=\"{a.id}\"><td><a href=\"{link}{a.id}\">#{a.id}</a>{mark}</td>"
                    f"<td>{a.received_at:%Y-%m-%d %H:%M:%S}</td><td>{esc(a.filename)}</td>"
                    f"<td class=\"num\">{esc(score)}</td><td>{esc(a.late)}</td></tr>")
    return ("<table id=\"history\"><thead><tr><th>attempt</th><th>received (UTC)</th><th>file</th><th>score</th>"
            "<th>late</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def home(student, spec, course, tries, counting, csrf: str, problem: str = "", left: int = 0) -> str:
    message = f"<p class=\"problem\" id=\"problem\">{esc(problem)}</p>" if problem else ""
    score = (f"<p class=\"score\" id=\"counting\">Score that counts: "
             f"{score_text(counting.score, counting.report['max_score'], counting.report['status'])}</p>"
             ) if counting else ""
    body = (f"<nav><a href=\"/\">Home</a>{signout_form(csrf)}</nav>"
            f"<h1>{esc(spec.id)}: {esc(student.name or student.id)}</h1>{rules(course, spec)}{score}{message}"
            # the form's token is in its address, so that it is checked before the file is read
            f"<h2>Hand in</h2><form method=\"post\" action=\"/submit?csrf={esc(csrf)}\" "
            "enctype=\"multipart/form-data\" id=\"upload\">"
            "<input type=\"file\" name=\"file\" id=\"file\" accept=\".py,.ipynb\" required> "
            f"<button type=\"submit\" id=\"send\">Hand in</button> <span id=\"left\">{left} attempt(s) left "
            "this hour</span></form>"
            f"<h2>Your attempts</h2>{history(tries, '/submissions/', counting.id if counting else None)}")
    return document(f"{spec.id}: hand in", body)


def waiting(attempt) -> str:
    return document("Being graded", f"<nav><a href=\"/\">Home</a></nav><h1>Attempt #{attempt.id}</h1>"
                    f"<p class=\"ok\" id=\"received\">Received {esc(attempt.filename)} at "
                    f"{attempt.received_at:%Y-%m-%d %H:%M:%S} UTC; it is stored and will be graded. "
                    "This page refreshes by itself.</p>", refresh=1)


def feedback(page_html: str, attempt, nav: str, counts_line: str) -> str:
    """The batch's student page with the service's lines on top: the way back, lateness, what counts."""
    late = f"<p class=\"problem\" id=\"late\">Late: {esc(attempt.late)}.</p>" if attempt.late else ""
    top = f"<nav>{nav}</nav><p id=\"attempt\">Attempt #{attempt.id}. {esc(counts_line)}</p>{late}"
    return page_html.replace("<body>\n", f"<body>\n{top}\n", 1)


def staff_history(sid: str, tries) -> str:
    return document(f"History: {sid}", f"<nav><a href=\"/staff/\">Class</a></nav><h1>Attempts of {esc(sid)}</h1>"
                    + history(tries, "/staff/submissions/", None))


def feedback_page(service, attempt, tries, nav: str, name: str = "") -> str:
    """The batch's student page for one attempt, its score the attempt's standing (`classroom.of`: staff's
    adjustments apply to the attempt that counts)."""
    from grader.course import student_pages
    from grader.serve import classroom

    if attempt.report is None:
        return waiting(attempt)
    counting = classroom.counting(tries, service.course.counts)
    rule = "best" if service.course.counts == "best" else "last"
    line = ("This is the attempt that counts" if counting and counting.id == attempt.id
            else f"Your {rule} attempt counts: #{counting.id}" if counting else "")
    html = student_pages.page(attempt.report, attempt.student, attempt.score, attempt.adjustments,
                              attempt.standing.checks, name=name)
    return feedback(html, attempt, nav, line + ".")


def staff_signin(problem: str = "") -> str:
    message = f"<p class=\"problem\" id=\"problem\">{esc(problem)}</p>" if problem else ""
    return document("Staff sign-in", f"<h1>Staff sign-in</h1>{message}<form method=\"post\" action=\"/staff/signin\">"
                    "<input type=\"password\" name=\"token\" id=\"staff-token\" size=\"40\" aria-label=\"staff token\" "
                    "autocomplete=\"off\"> <button type=\"submit\" id=\"staff-signin\">Sign in</button></form>")


def staff_tools(csrf: str) -> str:
    """The staff overview's tools: downloads, regrade, adjustments, adding students, the audit log."""
    token = f"<input type=\"hidden\" name=\"csrf\" value=\"{esc(csrf)}\">"
    return ("<div id=\"staff-tools\" style=\"margin:1em\"><a href=\"/staff/gradebook.csv\">gradebook.csv</a> · "
            "<a href=\"/staff/changes\">changes after the last regrade</a> · <a href=\"/staff/audit\">audit log</a>"
            f"<form method=\"post\" action=\"/staff/regrade\" style=\"display:inline\">{token} · <button>Regrade all "
            "(after a pack change)</button></form><form method=\"post\" action=\"/staff/adjustments\" "
            f"enctype=\"multipart/form-data\" style=\"display:inline\"> · adjustments.csv {token}"
            "<input type=\"file\" name=\"file\"><button>Upload</button></form> · "
            + signout_form(csrf, "/staff/signout") +
            "<details><summary>Add students</summary><form method=\"post\" action=\"/staff/roster\" "
            f"id=\"roster\">{token}"
            "<textarea name=\"roster\" rows=\"4\" cols=\"60\" aria-label=\"roster CSV\">id,name\n</textarea> "
            "<button id=\"add-students\">Add and show their links</button></form></details></div>")


def reissue_form(sid: str, csrf: str) -> str:
    return (f"<form method=\"post\" action=\"/staff/students/{esc(sid)}/link\" style=\"display:inline\">"
            f"<input type=\"hidden\" name=\"csrf\" value=\"{esc(csrf)}\"><button id=\"reissue\">Issue a new link "
            "(the old one stops working)</button></form>")


def links_page(links: dict[str, str], problem: str = "") -> str:
    message = f"<p class=\"problem\" id=\"problem\">{esc(problem)}</p>" if problem else ""
    rows = "".join(f"<tr data-id=\"{esc(sid)}\"><td>{esc(sid)}</td><td><code>{esc(link)}</code></td></tr>"
                   for sid, link in links.items())
    said = ("<p>Send each student their link (also added to links.csv in the data folder). Students "
            "already known keep theirs.</p>" if links else "<p>No new link.</p>")
    return document("Links", f"<nav><a href=\"/staff/\">Class</a></nav><h1>Sign-in links</h1>{message}{said}"
                    f"<table id=\"links\"><tr><th>id</th><th>link</th></tr>{rows}</table>")


def audit_page(rows: list[dict]) -> str:
    body = "".join(f"<tr><td>{esc(r['at'])}</td><td>{esc(r['actor'])}</td><td>{esc(r['action'])}</td>"
                   f"<td>{esc(r['detail'])}</td><td>{esc(r['client'])}</td></tr>" for r in rows)
    return document("Audit log", "<nav><a href=\"/staff/\">Class</a></nav><h1>Staff actions, newest first</h1>"
                    "<table id=\"audit\"><tr><th>when (UTC)</th><th>who</th><th>what</th><th>detail</th>"
                    f"<th>from</th></tr>{body}</table>")


def without_inline_script(html: str) -> str:
    """The batch's overview with its script served from /static/ (the service's CSP runs no inline script)."""
    from grader.course.overview import STATIC

    script = (STATIC / "overview.js").read_text()
    return html.replace(f"<script>{script}</script>", "<script src=\"/static/overview.js\"></script>")
