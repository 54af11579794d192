"""Staff's routes: the class overview (the batch's index.html, live), any student's history and
feedback, the gradebook, adjustments, regrade-all after a pack change with what moved, and a JSON API
for scripts. Pages need a staff session (`staff_access.py`: sign-in, and who may change what), the API
`Authorization: Bearer TOKEN` (GRADER_STAFF_TOKEN). A student's cookie opens none of them."""

from __future__ import annotations

import json

from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from grader.serve import classroom, pages
from grader.serve import staff_access as access
from grader.serve.staff_access import add_access_routes, denied

def add_staff_routes(app: FastAPI, service) -> None:
    add_access_routes(app, service)

    def staff_credential(request: Request) -> str | None:
        return access.staff_credential(request, service)

    def known(sid: str) -> bool:
        return sid in {s for s, _ in classroom.roster(service.make_session)}

    def name_of(sid: str) -> str:
        return dict(classroom.roster(service.make_session)).get(sid, "")

    @app.get("/staff")
    def staff_root(request: Request):
        return RedirectResponse("/staff/", status_code=303) if staff_credential(request) else denied(request)

    @app.get("/staff/")
    def overview(request: Request):
        credential = staff_credential(request)
        if not credential:
            return denied(request)
        built = classroom.build_pages(service.out, service.make_session, service.spec, service.course)
        if built is None:
            body = "<h1>The class</h1><p id=\"empty\">No attempt is graded yet.</p>"
        else:
            body = None
        tools = pages.staff_tools(service.csrf(credential))
        if body is not None:
            return HTMLResponse(pages.document("The class", tools + body))
        html = (service.out / "index.html").read_text()
        return HTMLResponse(pages.without_inline_script(html).replace("<body>\n", f"<body>\n{tools}\n", 1))

    @app.get("/staff/students/{page}")
    def student_page(request: Request, page: str):
        if not staff_credential(request):
            return denied(request)
        sid = page.removesuffix(".html")
        if not page.endswith(".html") or not known(sid):  # a path only from a roster id, never as given
            return HTMLResponse(pages.document("Not found", "<h1>Not found</h1>"), status_code=404)
        tries = classroom.shown_attempts(service, sid)
        counting = classroom.counting(tries, service.course.counts)
        nav = (f"<a href=\"/staff/\">Class</a><a href=\"/staff/history/{sid}\">All attempts of this student</a>"
               + pages.reissue_form(sid, service.csrf(staff_credential(request))))
        if counting is None:
            return HTMLResponse(pages.document(sid, f"<nav>{nav}</nav><p>No graded attempt yet.</p>"))
        return HTMLResponse(pages.feedback_page(service, counting, tries, nav, name_of(sid)))  # what the student sees

    @app.get("/staff/history/{sid}")
    def history(request: Request, sid: str):
        if not staff_credential(request):
            return denied(request)
        if not known(sid):
            return HTMLResponse(pages.document("Not found", "<h1>Not found</h1>"), status_code=404)
        tries = classroom.shown_attempts(service, sid)
        return HTMLResponse(pages.staff_history(sid, tries))

    @app.get("/staff/submissions/{number}")
    def any_submission(request: Request, number: int):
        if not staff_credential(request):
            return denied(request)
        for sid, tries in classroom.by_student(classroom.shown_attempts(service)).items():
            for attempt in tries:
                if attempt.id == number:
                    return HTMLResponse(pages.feedback_page(service, attempt, tries,
                                                      f"<a href=\"/staff/history/{sid}\">History of {sid}</a>",
                                                            name_of(sid)))
        return HTMLResponse(pages.document("Not found", "<h1>Not found</h1>"), status_code=404)

    @app.get("/staff/gradebook.csv")
    @app.get("/api/gradebook.csv")
    def gradebook_csv(request: Request, format: str = "csv"):
        if not staff_credential(request):
            return denied(request)
        from grader.course import gradebook

        if format not in gradebook.FORMATS:
            return PlainTextResponse(f"format is one of {', '.join(gradebook.FORMATS)}", status_code=400)
        return Response(gradebook.text(format, gradebook_rows(service), service.spec.id), media_type="text/csv",
                        headers={"Content-Disposition": "attachment; filename=gradebook.csv"})

    @app.post("/staff/adjustments")
    async def adjustments(request: Request, file: Annotated[UploadFile | None, File()] = None,
                     csrf: Annotated[str, Form()] = ""):
        if (refused := access.refusal(request, service, csrf)) is not None:
            return refused
        from grader.course.adjustments import FILE
        from grader.report import write_atomic

        text = (await file.read(1_000_000)).decode("utf-8-sig", "replace") if file else ""
        service.out.mkdir(parents=True, exist_ok=True)
        write_atomic(service.out / FILE, text)
        access.log(request, service, "adjustments uploaded", f"{len(text.splitlines())} line(s)")
        return RedirectResponse("/staff/", status_code=303)

    @app.post("/staff/regrade")
    @app.post("/api/regrade")
    def regrade(request: Request, csrf: Annotated[str, Form()] = ""):
        if (refused := access.refusal(request, service, csrf)) is not None:
            return refused
        api = access.is_api(request)
        count = regrade_all(service)
        access.log(request, service, "regrade all", f"{count} content(s) by spec {service.spec.fingerprint[:12]}")
        if api:
            return {"regrading": count, "spec": service.spec.fingerprint}
        return RedirectResponse("/staff/", status_code=303)

    @app.get("/staff/changes")
    @app.get("/api/changes")
    def changes(request: Request):
        if not staff_credential(request):
            return denied(request)
        rows = what_moved(service)
        if request.url.path.startswith("/api/"):
            return {"changes": rows}
        from grader.course.student_pages import esc

        body = "".join(f"<tr><td>{esc(r['id'])}</td><td>{esc(r['before'])}</td><td>{esc(r['after'])}</td>"
                       f"<td>{esc(r['change'])}</td><td>{esc(r['checks'])}</td></tr>" for r in rows)
        return HTMLResponse(pages.document("Changes", "<nav><a href=\"/staff/\">Class</a></nav><h1>What moved in "
                                           "the last regrade</h1><table id=\"changes\"><tr><th>id</th><th>before</th>"
                                           f"<th>after</th><th>change</th><th>checks</th></tr>{body}</table>"))

    @app.get("/api/status")
    def status(request: Request):
        if not staff_credential(request):
            return denied(request)
        return queue_status(service)

    @app.get("/api/states")
    def states(request: Request):
        """{attempt number: state}, cheap enough to poll (no report is read)."""
        if not staff_credential(request):
            return denied(request)
        from sqlalchemy import select

        from grader.serve.store import Grading, Submission

        mine = (Grading.key == Submission.key) & (Grading.spec == service.spec.fingerprint)
        with service.make_session() as session:
            rows = session.execute(select(Submission.id, Grading.state).join(Grading, mine, isouter=True)).all()
        return {str(number): state or "accepted" for number, state in rows}

    @app.get("/api/submissions")
    def submissions(request: Request):
        if not staff_credential(request):
            return denied(request)
        tries = classroom.shown_attempts(service)
        # score: the score that counts for that attempt (course.standing, as every page and the gradebook);
        # grader_score: the grader's own; counts: the attempt that goes to the gradebook
        return {"submissions": [{"id": a.id, "student": a.student, "file": a.filename, "state": a.state,
                                 "received_at": a.received_at.isoformat(), "score": a.score,
                                 "grader_score": a.standing.grader_score if a.standing else None,
                                 "counts": a.counts, "late": a.late,
                                 "status": a.report["status"] if a.report else None} for a in tries]}


def gradebook_rows(service) -> list[dict]:
    """One row per roster student, with their name: the counting attempt's score that counts
    (course.standing), as the batch's pages work it out (course/overview.py); an empty score for a
    student with no graded attempt."""
    from grader.course import overview

    classroom.refresh(service.out, service.make_session, service.spec, service.course)
    _summary, students, _problems = overview.load(service.out, service.course, classroom.members(service.make_session))
    return overview.gradebook_rows(students)


def regrade_all(service) -> int:
    """After a pack change: remember the class as it is (for the changes list), read the spec again, and
    queue a grading by the new spec for every content ever handed in."""
    from grader.serve.queue import enqueue_all

    classroom.refresh(service.out, service.make_session, service.spec, service.course)
    before = service.out / "summary.json"
    if before.is_file():
        (service.out / "before-regrade.json").write_text(before.read_text())
    service.reload()
    return enqueue_all(service.make_session, service.spec.fingerprint)


def what_moved(service) -> list[dict]:
    from grader.course import adjustments as adjust

    try:
        before = {r["id"]: r for r in json.loads((service.out / "before-regrade.json").read_text())["submissions"]}
    except (OSError, ValueError, KeyError):
        return []
    classroom.refresh(service.out, service.make_session, service.spec, service.course)
    after = {r["id"]: r for r in json.loads((service.out / "summary.json").read_text())["submissions"]}
    return adjust.changes(before, after, [c["name"] for c in service.spec.checks])


def queue_status(service) -> dict:
    from sqlalchemy import func, select

    from grader.serve.store import Grading, Submission

    with service.make_session() as session:
        mine = Grading.spec == service.spec.fingerprint
        states = dict(session.execute(select(Grading.state, func.count()).where(mine).group_by(Grading.state)).all())
        doubled = session.scalar(select(func.count()).select_from(Grading).where(Grading.graded > 1)) or 0
        submissions = session.scalar(select(func.count()).select_from(Submission)) or 0
    return {"submissions": submissions, "gradings": states, "graded_twice": doubled}
