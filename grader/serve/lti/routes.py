"""The LTI routes (`enable` adds them to the app and starts the outbox's loop): /lti/login (GET and
POST, the OIDC third-party login), /lti/launch (the id_token, checked; a student lands on their own
page, staff on the overview) and /lti/jwks (the tool's public key). A refused launch is a page that
says why, and signs no one in."""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from grader.serve import pages
from grader.serve.lti import config as lti_config
from grader.serve.lti import launch as lti_launch
from grader.serve.lti import outbox, people, services

STATE_COOKIE = "grader_lti_state_"  # + the state: launches opened side by side each keep their own
log = logging.getLogger("grader.lti")


@dataclass
class Tool:
    config: lti_config.ToolConfig
    keys: services.Keys
    tokens: services.Tokens
    sender: outbox.Sender

    def close(self) -> None:
        self.sender.close()


def enable(app: FastAPI, service, path: Path, every: float = 0.5) -> Tool:
    """Read lti.json (ConfigProblem if it is wrong), add the routes, start sending scores."""
    config = lti_config.load(path)
    keys, tokens = services.Keys(), services.Tokens()
    sender = outbox.Sender(service, config, tokens,
                           roster=lambda: people.read_memberships(service.make_session, config, tokens), every=every)
    tool = Tool(config, keys, tokens, sender)
    app.include_router(router(service, tool))
    app.state.lti = tool
    sender.start()
    return tool


def refused(problem: lti_launch.Refused, state: str | None = None) -> HTMLResponse:
    body = (f"<h1>This launch was refused</h1><p class=\"problem\" id=\"problem\">{html.escape(str(problem))}</p>"
            "<p>You are not signed in. Open the assignment again from your course's page; if this happens "
            "again, tell course staff what this page says.</p>")
    response = HTMLResponse(pages.document("Launch refused", body), status_code=problem.status)
    forget_state(response, state)
    return response


def state_cookie(state: str) -> str:
    """The state's cookie name, or "" for a state this site cannot have made (ours are base64url)."""
    plain = state.isascii() and state.replace("-", "").replace("_", "").isalnum() and len(state) <= 64
    return STATE_COOKIE + state if plain else ""


def forget_state(response, state: str | None) -> None:
    if state and state_cookie(state):
        response.delete_cookie(state_cookie(state), path="/lti/")


def origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def router(service, tool: Tool) -> APIRouter:
    routes = APIRouter()

    @routes.api_route("/lti/login", methods=["GET", "POST"])
    async def login(request: Request):
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        try:
            url, state = lti_launch.login(tool.config, service.make_session, params, origin(request))
        except lti_launch.Refused as problem:
            return refused(problem)
        response = RedirectResponse(url, status_code=302)
        secure = request.url.scheme == "https"
        # the launch is a cross-site POST from the platform: the state's cookie must travel with it
        response.set_cookie(state_cookie(state), state, max_age=600, path="/lti/", httponly=True, secure=secure,
                            samesite="none" if secure else "lax")
        return response

    @routes.post("/lti/launch")
    async def launch(request: Request):
        form = await request.form()
        id_token, state = form.get("id_token"), form.get("state")
        if not isinstance(id_token, str) or not isinstance(state, str):
            return refused(lti_launch.Refused("This is not an LTI launch: it carries no id_token and state.", 400))
        from starlette.concurrency import run_in_threadpool

        try:
            found = await run_in_threadpool(lti_launch.check, tool.config, service.make_session, tool.keys, id_token,
                                            state, request.cookies.get(state_cookie(state)) if state_cookie(state)
                                            else None)
            response = await run_in_threadpool(land, request, service, found)
        except lti_launch.Refused as problem:
            log.info("LTI launch refused: %s", problem)
            return refused(problem, state)
        forget_state(response, state)
        return response

    @routes.get("/lti/jwks")
    def jwks():
        return JSONResponse(tool.config.jwks())

    @routes.get("/api/lti/outbox")
    def sending(request: Request):
        """Staff's view of the outbox: rows by state, and each pending row's tries and last error."""
        from grader.serve.staff import DENIED, staff_credential

        if not staff_credential(request):
            return JSONResponse({"error": DENIED}, status_code=403)
        return outbox.status(service)

    return routes


def land(request: Request, service, found: lti_launch.Launch):
    """Remember who launched and where their score goes, then sign them in and send them to their page."""
    reg = found.registration
    custom = found.claims.get(lti_launch.LTI + "custom")
    assignment = custom.get("assignment") if isinstance(custom, dict) else None
    if isinstance(assignment, str) and assignment and assignment != service.spec.id:
        raise lti_launch.Refused(f"This link names the assignment {assignment[:64]!r}; this service grades "
                                 f"{service.spec.id!r}. Course staff: point the link at the right service.")
    with service.make_session() as session, session.begin():
        sid = people.remember(session, reg.issuer, found.sub, found.sourcedid, found.name, found.roles, found.staff)
        if not found.staff:
            people.aim(session, reg.issuer, reg.client_id, found.lineitem, found.sub, sid)
        people.note_memberships(session, reg.issuer, reg.client_id, found.memberships, found.lineitem,
                                found.staff)
    if found.staff:
        return sign_in_staff(request)
    return sign_in_student(request, service, sid)


def sign_in_student(request: Request, service, sid: str):
    """The student signed in as `/signin` does (the session cookie is a credential whose sha256 is the
    student's), with a fresh credential: a launch rotates it (a link sent earlier stops working)."""
    from sqlalchemy import update

    from grader.serve.app import STUDENT_COOKIE
    from grader.serve.store import Student
    from grader.serve.tokens import digest

    token = secrets.token_urlsafe(24)
    with service.make_session() as session, session.begin():
        session.execute(update(Student).where(Student.id == sid).values(token_hash=digest(token)))
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(STUDENT_COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        max_age=180 * 86400)
    return response


def sign_in_staff(request: Request):
    """Instructors and TAs signed in as `/staff/signin` does (the staff cookie), landing on the overview."""
    from grader.serve import tokens
    from grader.serve.staff import STAFF_COOKIE

    token = tokens.staff_token()
    if token is None:
        raise lti_launch.Refused(f"Staff pages are closed: {tokens.STAFF_VARIABLE} is not set where the service runs.")
    response = RedirectResponse("/staff/", status_code=303)
    response.set_cookie(STAFF_COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response
