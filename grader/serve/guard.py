"""`Guard`, the layer around every route (outside FastAPI's own error handling, so nothing escapes it):

- a staff path (`/staff...` but its sign-in, `/api/...`) without a staff session or the bearer token is
  refused before its body is read: a form or upload from someone who is not staff is never parsed,
  spooled or kept in memory;
- a request whose body is over its path's limit is refused by its declared length, or cut off once that
  much is read (chunked), never read or spooled further;
- an error in a route is the short "server error" page (its traceback goes to the server's log only);
- every response, the 500 included, gets the security headers (CSP without inline script, no framing,
  nosniff, no caching, a referrer only to this site: with none at all a browser sends its forms with
  `Origin: null`)."""

from __future__ import annotations

import logging

from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from grader.serve import pages

SLACK = 64 * 1024  # the multipart envelope around a file
SMALL = 64 * 1024  # any other request's body
STAFF_FILES = ("/staff/adjustments", "/staff/roster", "/api/roster")  # CSVs: up to 1 MB
OPEN_STAFF_PATHS = ("/staff/signin",)  # the sign-in form itself; its body is one small field
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"),
                    (b"cross-origin-opener-policy", b"same-origin"), (b"cache-control", b"no-store")]
SERVER_ERROR = ("<h1>Something went wrong on the server</h1><p>It is not your fault, and nothing handed in is lost. "
                "Try again in a minute; if it happens again, tell course staff.</p>")
log = logging.getLogger("grader.serve")


def staff_path(path: str) -> bool:
    return (path == "/staff" or path.startswith(("/staff/", "/api/"))) and path not in OPEN_STAFF_PATHS


class Guard:
    """The module's docstring says what it does, in this order."""

    def __init__(self, app, service):
        self.app, self.service = app, service

    def limit(self, path: str) -> int:
        if path == "/submit":
            return self.service.course.upload_bytes + SLACK
        return 1_000_000 + SLACK if path in STAFF_FILES else SMALL

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def secured(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {name for name, _ in SECURITY_HEADERS}
                message["headers"] = [h for h in message.get("headers", []) if h[0] not in names] + SECURITY_HEADERS
            await send(message)

        try:
            await self.guarded(scope, receive, secured)
        except Exception:
            log.exception("error in %s %s", scope.get("method"), scope.get("path"))  # the log only
            if not started:
                page = pages.document("Server error", SERVER_ERROR)
                await HTMLResponse(page, status_code=500, headers={"connection": "close"})(scope, receive, secured)

    async def guarded(self, scope, receive, secured):
        self.service.ensure_dispatcher()
        if staff_path(scope["path"]):
            from grader.serve import staff_access

            request = Request(scope)
            if await run_in_threadpool(staff_access.staff_credential, request, self.service) is None:
                return await staff_access.denied(request)(scope, receive, secured)  # no body read
        limit = self.limit(scope["path"])
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await self.too_big(scope, receive, secured, limit)
        seen, over = 0, False

        async def counted():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                over = scope["grader.too_big"] = True  # the route stops there; `answer` says why
                return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def answer(message):
            if not over:
                return await secured(message)
            if message["type"] == "http.response.start":
                await self.too_big(scope, receive, secured, limit)

        await self.app(scope, counted, answer)

    async def too_big(self, scope, receive, send, limit: int):
        if scope["path"] == "/submit":
            most = self.service.course.upload_bytes / 1e6
            text = f"The file is larger than {most:g} MB, the most this course accepts."
        else:
            text = f"This request is larger than {limit / 1e6:g} MB, the most this page accepts."
        page = pages.document("Too large", f"<h1>Too large</h1><p class=\"problem\" id=\"problem\">{text}</p>"
                              "<p><a href=\"/\">Back</a> (this cost no attempt)</p>")
        await HTMLResponse(page, status_code=413, headers={"connection": "close"})(scope, receive, send)
