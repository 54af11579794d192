"""The HTTP service (FastAPI, served by uvicorn): students sign in with their link, hand in a .py or
.ipynb, and read their feedback; staff routes are in `staff.py`. A student's routes look everything up
through their own id: another student's attempt is "not found", whatever its number."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import PurePosixPath

from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from grader import notebook
from grader.report import clean
from grader.serve import classroom, pages, tokens
from grader.serve.queue import Refused, accept, attempts_in_last_hour
from grader.serve.service import Service, Settings
from grader.serve.store import KINDS

STUDENT_COOKIE = "grader_student"
SLACK = 64 * 1024  # the multipart envelope around a file


def create_app(settings: Settings) -> FastAPI:
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.close()

    service.open()  # at creation: migrations run and the dispatcher starts before the first request
    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=lambda: service.course.upload_bytes + SLACK)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        """Refuse an oversize upload by its declared length, before it is read."""
        length = request.headers.get("content-length", "")
        if request.method == "POST" and length.isdigit() and int(length) > service.course.upload_bytes + SLACK:
            return too_big(request, service)
        service.ensure_dispatcher()
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # the sign-in link's token stays here
        return response

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        student = current(request, service)
        if student is None:
            return HTMLResponse(pages.signin())
        return HTMLResponse(home(request, service, student))

    @app.get("/signin")
    def signin(request: Request, token: str = ""):
        student = tokens.student_for(service.make_session, token)
        if student is None:
            return HTMLResponse(pages.signin("This link or token is not valid; ask course staff for yours."
                                             if token else ""), status_code=403 if token else 200)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(STUDENT_COOKIE, token, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", max_age=180 * 86400)
        return response

    @app.get("/signout")
    def signout():
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(STUDENT_COOKIE)
        return response

    @app.post("/submit")
    async def submit(request: Request, file: Annotated[UploadFile | None, File()] = None,
                     csrf: Annotated[str, Form()] = ""):
        student = current(request, service)
        if student is None:
            return HTMLResponse(pages.signin("Sign in first: your session is gone."), status_code=403)
        token = request.cookies.get(STUDENT_COOKIE)
        if not service.csrf_ok(token, csrf):
            return HTMLResponse(home(request, service, student, "This form was not sent from this site's page "
                                     "(or it is too old): open the page again and hand in from there."), 403)
        limit = service.course.upload_bytes
        content = await file.read(limit + 1) if file is not None else b""
        name = (file.filename or "") if file is not None else ""
        problem, suffix = check_upload(name, content, limit)
        if problem:
            return HTMLResponse(home(request, service, student, problem), 413 if len(content) > limit else 400)
        shown = clean(PurePosixPath(name.replace("\\", "/")).name)[:100] or f"submission{suffix}"
        try:
            sub = accept(service.make_session, service.data, student.id, content, suffix, shown,
                         service.spec.fingerprint, service.course, service.course.attempts_per_hour)
        except Refused as exc:
            return HTMLResponse(home(request, service, student, str(exc)), 429)
        return RedirectResponse(f"/submissions/{sub.id}", status_code=303)

    @app.get("/submissions/{number}", response_class=HTMLResponse)
    def submission(request: Request, number: int):
        student = current(request, service)
        if student is None:
            return HTMLResponse(pages.signin("Sign in to see your feedback."), status_code=403)
        tries = classroom.attempts(service.make_session, service.spec.fingerprint, service.course, student.id)
        attempt = next((a for a in tries if a.id == number), None)
        if attempt is None:  # someone else's, or none: the same answer
            return HTMLResponse(pages.document("Not found", "<h1>Not found</h1><p>You have no attempt with this "
                                               "number. <a href=\"/\">Your attempts</a></p>"), 404)
        return HTMLResponse(pages.feedback_page(service, attempt, tries, "<a href=\"/\">Your attempts</a>"))

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz():
        return "ok"

    from grader.serve.staff import add_staff_routes

    add_staff_routes(app, service)
    return app


class BodyLimit:
    """Stop reading a request body once it is over the limit, even one sent without a Content-Length
    (chunked): the rest is never read or spooled to disk, and whatever the route answers to the cut-off
    body is replaced by a 413 that says the limit."""

    def __init__(self, app, limit):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        seen, over = 0, False

        async def counted():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit():
                over = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def answer(message):
            if not over:
                return await send(message)
            if message["type"] == "http.response.start":
                mb = (self.limit() - SLACK) / 1e6
                await PlainTextResponse(f"The file is larger than {mb:g} MB, the most this course accepts.",
                                        status_code=413)(scope, receive, send)

        await self.app(scope, counted, answer)


def current(request: Request, service: Service):
    return tokens.student_for(service.make_session, request.cookies.get(STUDENT_COOKIE))


def check_upload(name: str, content: bytes, limit: int) -> tuple[str, str]:
    """(what is wrong in words, or "", the stored suffix): type, size, emptiness, a notebook that opens."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if not name:
        return "Choose a file to hand in (.py or .ipynb).", ""
    if suffix not in KINDS:
        what = clean(suffix) or "a file without extension"
        return f"Hand in a Python file (.py) or a Jupyter notebook (.ipynb), not {what}.", ""
    if len(content) > limit:
        return f"The file is larger than {limit / 1e6:g} MB, the most this course accepts.", suffix
    if not content.strip():
        return "The file is empty: hand in the file with your code.", suffix
    if suffix == ".ipynb":
        try:
            notebook.read(content)
        except notebook.NotebookError as exc:
            return f"This notebook cannot be read: {clean(str(exc))[:300]}", suffix
        except Exception:  # nbformat's own errors: still the file's fault, said plainly
            return ("This notebook cannot be read (it is not a valid .ipynb); save it again from Jupyter "
                    "and hand it in."), suffix
    return "", suffix


def home(request: Request, service: Service, student, problem: str = "") -> str:
    tries = classroom.attempts(service.make_session, service.spec.fingerprint, service.course, student.id)
    counting = classroom.counting(tries, service.course.counts)
    with service.make_session() as session:
        used = attempts_in_last_hour(session, student.id)
    return pages.home(student, service.spec, service.course, tries, counting,
                      service.csrf(request.cookies.get(STUDENT_COOKIE, "")), problem,
                      max(service.course.attempts_per_hour - used, 0))


def too_big(request: Request, service: Service):
    limit = service.course.upload_bytes
    text = f"The file is larger than {limit / 1e6:g} MB, the most this course accepts."
    student = current(request, service)
    if student is None or request.url.path != "/submit":
        return PlainTextResponse(text, status_code=413)
    return HTMLResponse(home(request, service, student, text), 413)
