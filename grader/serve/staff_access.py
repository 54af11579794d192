"""Who may act as staff, and the staff routes about people: sign-in by a POST form (the token is never in
a URL, so never in a history or a log), sign-out, the roster (links, never bare tokens), a student's link
issued again, and the audit log. Pages take a staff session's cookie (path /staff) and, for every change,
the page's form token and this site's Origin; the JSON API (/api/) takes `Authorization: Bearer TOKEN`
only, never a cookie, so a page elsewhere cannot make a signed-in browser call it."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from grader.serve import audit, classroom, pages, sessions, tokens
from grader.serve.sessions import STAFF_COOKIE

DENIED = "Course staff only: sign in at /staff/signin (scripts: Authorization: Bearer TOKEN on /api/)."
STALE = "The form's token is missing or stale, or the form was not sent from this site: open the page again."


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def staff_credential(request: Request, service) -> str | None:
    """The API's bearer token on /api/, a live staff session's id on staff pages; else None."""
    if is_api(request):
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        return token if tokens.is_staff(token) else None
    raw = request.cookies.get(STAFF_COOKIE)
    return raw if sessions.find(service.make_session, raw, "staff") is not None else None


def denied(request: Request):
    if is_api(request):
        return JSONResponse({"error": DENIED}, status_code=403)
    return HTMLResponse(pages.document("Staff only", f"<h1>Staff only</h1><p>{DENIED}</p>"), status_code=403)


def refusal(request: Request, service, csrf: str):
    """None when a state-changing staff request may go ahead; else the answer that refuses it."""
    credential = staff_credential(request, service)
    if credential is None:
        return denied(request)
    if is_api(request):
        return None
    if not sessions.same_origin(request, service.settings.base_url) or not service.csrf_ok(credential, csrf):
        return HTMLResponse(pages.document("Refused", f"<h1>Refused</h1><p>{STALE}</p>"), status_code=403)
    return None


def actor(request: Request) -> str:
    if is_api(request):
        return "API (bearer token)"
    return "staff session " + tokens.digest(request.cookies.get(STAFF_COOKIE, ""))[:10]


def log(request: Request, service, action: str, detail: str = "") -> None:
    audit.record(service.make_session, actor(request), action, detail, request.client.host if request.client else "")


def base_url(request: Request, service) -> str:
    return service.settings.base_url or str(request.base_url)


def add_access_routes(app: FastAPI, service) -> None:
    @app.get("/staff/signin")
    def staff_signin_page(request: Request):
        problem = ("Type the staff token in this form: a token in a link is kept in the browser's history and "
                   "in logs, so a link no longer signs in." if "token" in request.query_params else "")
        return HTMLResponse(pages.staff_signin(problem), status_code=403 if problem else 200)

    @app.post("/staff/signin")
    async def staff_signin(request: Request, token: Annotated[str, Form()] = ""):
        if not sessions.same_origin(request, service.settings.base_url):
            return HTMLResponse(pages.staff_signin(STALE), status_code=403)
        held = request.cookies.get(STAFF_COOKIE)
        client = request.client.host if request.client else ""
        await asyncio.sleep(service.staff_guesses.turn(client))  # guessing waits; the right token still signs in
        if not tokens.is_staff(token):
            service.staff_guesses.wrong(client)
            await run_in_threadpool(audit.record, service.make_session, "someone", "staff sign-in refused", "", client)
            return HTMLResponse(pages.staff_signin("That is not the staff token."), status_code=403)
        service.staff_guesses.right(client)
        raw = await run_in_threadpool(sessions.start, service.make_session, "staff", None, held)
        response = RedirectResponse("/staff/", status_code=303)
        secure = request.url.scheme == "https" or (service.settings.base_url or "").startswith("https://")
        sessions.cookie(response, STAFF_COOKIE, raw, secure, sessions.LIFETIME["staff"], path="/staff")
        await run_in_threadpool(audit.record, service.make_session, "staff session " + tokens.digest(raw)[:10],
                                "staff sign-in", "", client)
        return response

    @app.post("/staff/signout")
    def staff_signout(request: Request, csrf: Annotated[str, Form()] = ""):
        if (refused := refusal(request, service, csrf)) is not None:
            return refused
        log(request, service, "staff sign-out")
        sessions.end(service.make_session, request.cookies.get(STAFF_COOKIE))
        response = RedirectResponse("/staff/signin", status_code=303)
        response.delete_cookie(STAFF_COOKIE, path="/staff")
        return response

    @app.get("/staff/audit")
    @app.get("/api/audit")
    def audit_log(request: Request):
        if staff_credential(request, service) is None:
            return denied(request)
        rows = audit.recent(service.make_session)
        return {"audit": rows} if is_api(request) else HTMLResponse(pages.audit_page(rows))

    @app.post("/staff/roster")
    def roster_page(request: Request, roster: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""):
        if (refused := refusal(request, service, csrf)) is not None:
            return refused
        return add_students(request, roster)

    @app.post("/api/roster")
    async def roster_api(request: Request):
        if (refused := refusal(request, service, "")) is not None:
            return refused
        try:
            text = (await request.body()).decode("utf-8-sig")
        except UnicodeDecodeError:
            return JSONResponse({"error": "the roster is not UTF-8 text"}, status_code=400)
        return await run_in_threadpool(add_students, request, text)

    def add_students(request: Request, text: str):
        try:
            rows = tokens.read_roster(text)
        except tokens.RosterProblem as exc:
            if is_api(request):
                return JSONResponse({"error": str(exc)}, status_code=400)
            return HTMLResponse(pages.links_page({}, str(exc)), status_code=400)
        issued = tokens.issue(service.make_session, rows)
        given = keep(request, issued)
        log(request, service, "roster", f"{len(rows)} row(s); new: {', '.join(issued) or 'none'}")
        return {"issued": given} if is_api(request) else HTMLResponse(pages.links_page(given))

    @app.post("/staff/students/{sid}/link")
    @app.post("/api/students/{sid}/link")
    def reissue(request: Request, sid: str, csrf: Annotated[str, Form()] = ""):
        if (refused := refusal(request, service, csrf)) is not None:
            return refused
        if sid not in {s for s, _ in classroom.roster(service.make_session)}:
            return JSONResponse({"error": "no such student"}, 404) if is_api(request) else \
                HTMLResponse(pages.document("Not found", "<h1>Not found</h1>"), status_code=404)
        token = tokens.reissue(service.make_session, sid)
        given = keep(request, {sid: token})
        log(request, service, "link issued again", f"{sid} (the old link and their sessions ended)")
        return {"issued": given} if is_api(request) else HTMLResponse(pages.links_page(given))

    def keep(request: Request, issued: dict[str, str]) -> dict[str, str]:
        """{id: link}; the links are also added to DATA/links.csv, as `grade serve --roster` does."""
        base = base_url(request, service)
        if issued:
            tokens.keep_links(service.data, issued, base)
        return {sid: tokens.link(base, token) for sid, token in issued.items()}
