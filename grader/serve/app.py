"""The HTTP service (FastAPI, served by uvicorn): students sign in with their link, hand in a .py or
.ipynb, and read their feedback; staff routes are in `staff.py`. A student's routes look everything up
through their own id: another student's attempt is "not found", whatever its number.

An upload is judged in the order of what it costs: the session, the form token and the Origin, then the
hourly limit, then the declared and actual size (`Guard`, before the body is read), then its type and a
notebook's reading and the hash in the upload pool (`uploads.py`, off the event loop); only then is
anything stored. Every response carries the security headers (`Guard`)."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from grader.serve import classroom, pages, sessions, tokens, uploads
from grader.serve.queue import Refused, accept, attempts_in_last_hour, over_limit
from grader.serve.guard import CSP, SECURITY_HEADERS, Guard  # noqa: F401 (also what tests import)
from grader.serve.service import Service, Settings
from grader.serve.sessions import STUDENT_COOKIE

REFUSED_PER_HOUR = 20  # files that could not be accepted (cost no attempt, but a check's CPU): then a pause
NOT_FROM_HERE = ("This form was not sent from this site's page (or it is too old): open the page again and "
                 "send it from there.")


def create_app(settings: Settings) -> FastAPI:
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.close()

    service.open()  # at creation: migrations run and the dispatcher starts before the first request
    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.add_middleware(Guard, service=service)
    add_error_pages(app)
    base = settings.base_url

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        student = current(request, service)
        if student is None:
            return HTMLResponse(pages.signin())
        return HTMLResponse(home(request, service, student))

    @app.get("/signin")
    def signin(request: Request, token: str = ""):
        """A link's page: it asks before signing in, and says who is signed in already (a link opened by
        accident, or sent by someone else, never switches a session by itself)."""
        if not token:
            return RedirectResponse("/", status_code=303)
        student = tokens.student_for(service.make_session, token)
        if student is None:
            return HTMLResponse(pages.signin("This link or token is not valid; ask course staff for yours."), 403)
        held = request.cookies.get(STUDENT_COOKIE)
        now = current(request, service)
        if now is not None and now.id == student.id:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(pages.confirm_signin(student, now, token, service.csrf(held) if now else ""))

    @app.post("/signin")
    def signin_form(request: Request, token: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""):
        if not sessions.same_origin(request, base):
            return HTMLResponse(pages.signin(NOT_FROM_HERE), 403)
        student = tokens.student_for(service.make_session, token)
        if student is None:
            return HTMLResponse(pages.signin("This link or token is not valid; ask course staff for yours."), 403)
        held = request.cookies.get(STUDENT_COOKIE)
        if current(request, service) is not None and not service.csrf_ok(held, csrf):
            return HTMLResponse(pages.signin(NOT_FROM_HERE), 403)
        raw = sessions.start(service.make_session, "student", student.id, ending=held)  # a new id at every sign-in
        response = RedirectResponse("/", status_code=303)
        sessions.cookie(response, STUDENT_COOKIE, raw, secure(request, base), sessions.LIFETIME["student"])
        return response

    @app.get("/signout")
    def signout_page(request: Request):
        held = request.cookies.get(STUDENT_COOKIE)
        if current(request, service) is None:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(pages.signout(service.csrf(held)))

    @app.post("/signout")
    def signout(request: Request, csrf: Annotated[str, Form()] = ""):
        held = request.cookies.get(STUDENT_COOKIE)
        if not sessions.same_origin(request, base) or not service.csrf_ok(held, csrf):
            return HTMLResponse(pages.signin(NOT_FROM_HERE), 403)
        sessions.end(service.make_session, held)  # on the server: the old cookie opens nothing
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(STUDENT_COOKIE)
        return response

    @app.post("/submit")
    async def submit(request: Request, csrf: str = ""):
        student = await run_in_threadpool(current, request, service)
        if student is None:
            return HTMLResponse(pages.signin("Sign in first: your session is gone."), status_code=403)
        held = request.cookies.get(STUDENT_COOKIE)

        async def answer(problem: str, status: int):
            return HTMLResponse(await run_in_threadpool(home, request, service, student, problem), status)

        if not sessions.same_origin(request, base) or not service.csrf_ok(held, csrf):
            return await answer(NOT_FROM_HERE, 403)
        limit = service.course.attempts_per_hour
        if await run_in_threadpool(used_this_hour, service, student.id) >= limit:
            return await answer(over_limit(student.id, limit), 429)  # before the body is read
        refused = [t for t in service.refused.get(student.id, []) if t > time.monotonic() - 3600]
        service.refused[student.id] = refused
        if len(refused) >= REFUSED_PER_HOUR:
            return await answer(f"{REFUSED_PER_HOUR} files you handed in within the last hour could not be "
                                "accepted; try again later, after checking the file opens (in Jupyter, or with "
                                "python).", 429)
        if service.reading.get(student.id, 0) >= 2:  # one being checked, one waiting: no third body in memory
            return await answer("Your previous upload is still being checked: wait for its page.", 429)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return await answer("Hand in with the page's form (a file upload).", 400)
        body = bytearray()
        service.reading[student.id] = service.reading.get(student.id, 0) + 1
        try:
            async for chunk in request.stream():
                body += chunk
            if request.scope.get("grader.too_big"):
                return PlainTextResponse("too large", 413)  # (Guard answers with the limit)
            return await check_and_accept(student, bytes(body), content_type, answer)
        finally:
            service.reading[student.id] -= 1
            if not service.reading[student.id]:
                del service.reading[student.id]

    async def check_and_accept(student, body: bytes, content_type: str, answer):
        limit = service.course.attempts_per_hour
        while service.uploading.get(student.id):  # one upload of a student at a time (the limit is exact)
            await asyncio.sleep(0.05)
        service.uploading[student.id] = True
        try:
            try:
                checked = await service.uploads.check(body, content_type, service.course.upload_bytes)
            except uploads.Busy:
                return await answer("Many uploads are being checked right now: hand in again in a minute "
                                    "(this cost no attempt).", 503)
            if checked.problem:
                service.refused.setdefault(student.id, []).append(time.monotonic())
                return await answer(checked.problem, 413 if checked.too_big else 400)
            try:
                sub = await run_in_threadpool(accept, service.make_session, service.data, student.id, checked.content,
                                              checked.suffix, checked.name, service.spec.fingerprint, service.course,
                                              limit, checked.sha256)
            except Refused as exc:
                return await answer(str(exc), 429)
        finally:
            service.uploading.pop(student.id, None)
        return RedirectResponse(f"/submissions/{sub.id}", status_code=303)

    @app.get("/submissions/{number}", response_class=HTMLResponse)
    def submission(request: Request, number: int):
        student = current(request, service)
        if student is None:
            return HTMLResponse(pages.signin("Sign in to see your feedback."), status_code=403)
        tries = classroom.shown_attempts(service, student.id)
        attempt = next((a for a in tries if a.id == number), None)
        if attempt is None:  # someone else's, or none: the same answer
            return HTMLResponse(pages.document("Not found", "<h1>Not found</h1><p>You have no attempt with this "
                                               "number. <a href=\"/\">Your attempts</a></p>"), 404)
        return HTMLResponse(pages.feedback_page(service, attempt, tries, "<a href=\"/\">Your attempts</a>",
                                                 student.name))

    @app.get("/static/overview.js")
    def overview_script():
        from grader.course.overview import STATIC

        return Response((STATIC / "overview.js").read_text(), media_type="text/javascript")

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz():
        return "ok"

    from grader.serve.staff import add_staff_routes

    add_staff_routes(app, service)
    return app


def add_error_pages(app: FastAPI) -> None:
    """Every error as a short page in words: no traceback, no echo of the request."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        title = {404: "Not found", 405: "Not allowed"}.get(exc.status_code, "Refused")
        return HTMLResponse(pages.document(title, f"<h1>{title}</h1><p><a href=\"/\">Home</a></p>"), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return await http_error(request, HTTPException(404))
        return HTMLResponse(pages.document("Refused", "<h1>Refused</h1><p>This request is not one this site's pages "
                                           "send. <a href=\"/\">Home</a></p>"), 400)



def current(request: Request, service: Service):
    return sessions.student_of(service.make_session, request.cookies.get(STUDENT_COOKIE))


def secure(request: Request, base_url: str | None) -> bool:
    return request.url.scheme == "https" or bool(base_url and base_url.startswith("https://"))


def used_this_hour(service: Service, student: str) -> int:
    with service.make_session() as session:
        return attempts_in_last_hour(session, student, service.spec.fingerprint)


def home(request: Request, service: Service, student, problem: str = "") -> str:
    tries = classroom.shown_attempts(service, student.id)
    counting = classroom.counting(tries, service.course.counts)
    used = used_this_hour(service, student.id)
    return pages.home(student, service.spec, service.course, tries, counting,
                      service.csrf(request.cookies.get(STUDENT_COOKIE, "")), problem,
                      max(service.course.attempts_per_hour - used, 0))
