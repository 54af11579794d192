"""The LTI routes (`enable` adds them to the app and starts the outbox's loop): /lti/login (GET and
POST, the OIDC third-party login), /lti/launch (the id_token, checked; a student lands on their own
page, staff on the overview), /lti/jwks (the tool's public key), and for staff (bearer) /api/lti/outbox
and /api/lti/people. A refused launch is a page that says why, and signs no one in."""

from __future__ import annotations

import html
import logging
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from grader.serve import audit, pages, sessions, tokens
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
    logins: lti_launch.Logins

    def close(self) -> None:
        self.sender.close()


def enable(app: FastAPI, service, path: Path, every: float = 0.5) -> Tool:
    """Read lti.json (ConfigProblem if it is wrong), add the routes, start sending scores."""
    config = lti_config.load(path)
    keys, tokens = services.Keys(), services.Tokens()
    logins = lti_launch.Logins()
    sender = outbox.Sender(service, config, tokens,
                           roster=lambda: people.read_memberships(service.make_session, config, tokens), every=every)
    tool = Tool(config, keys, tokens, sender, logins)
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


def address(request: Request) -> str:
    return request.client.host if request.client else ""


def origin(request: Request, service) -> str:
    """The tool's own origin: `--base-url`'s when staff gave one (the login's redirect_uri must not follow
    a Host header the client chose), else the request's."""
    base = service.settings.base_url
    if base:
        parts = urllib.parse.urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{request.url.netloc}"


def router(service, tool: Tool) -> APIRouter:
    routes = APIRouter()

    @routes.api_route("/lti/login", methods=["GET", "POST"])
    async def login(request: Request):
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        try:
            url, state = lti_launch.login(tool.config, tool.logins, params, origin(request, service), address(request))
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
            found = await run_in_threadpool(lti_launch.check, tool.config, tool.logins, tool.keys, id_token,
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
        from grader.serve.staff_access import DENIED, staff_credential

        if not staff_credential(request, service):
            return JSONResponse({"error": DENIED}, status_code=403)
        return outbox.status(service)

    @routes.get("/api/lti/people")
    def identities(request: Request):
        """Staff's view of who launched: each identity, its student id here and the platform's sourcedid
        (the SIS id: for staff to match with their records; it never chooses an account)."""
        from grader.serve.staff_access import DENIED, staff_credential

        if not staff_credential(request, service):
            return JSONResponse({"error": DENIED}, status_code=403)
        return {"people": people.listing(service.make_session)}

    return routes


def land(request: Request, service, found: lti_launch.Launch):
    """Remember who launched and where their score goes, then sign them in and send them to their page."""
    reg = found.registration
    custom = found.claims.get(lti_launch.LTI + "custom") or {}
    assignment = custom.get("assignment")
    if isinstance(assignment, str) and assignment and assignment != service.spec.id:
        raise lti_launch.Refused(f"This link names the assignment {assignment[:64]!r}; this service grades "
                                 f"{service.spec.id!r}. Course staff: point the link at the right service.")
    if found.staff and tokens.staff_token() is None:
        raise lti_launch.Refused(f"Staff pages are closed: {tokens.STAFF_VARIABLE} is not set where the service runs.")
    who = people.remember(service.make_session, reg.issuer, found.deployment_id, found.sub, found.name, found.roles,
                          found.staff, found.sourcedid)
    if not found.staff:
        people.aim(service.make_session, who, reg.client_id, found.lineitem, found.resource_link)
    people.note_memberships(service.make_session, reg.issuer, reg.client_id, found.deployment_id, found.memberships,
                            found.staff)
    if found.staff:
        return sign_in_staff(request, service, found, who)
    return sign_in_student(request, service, who.student_id)


def _secure(request: Request, service) -> bool:
    return request.url.scheme == "https" or (service.settings.base_url or "").startswith("https://")


def sign_in_student(request: Request, service, sid: str):
    """A new student session (as `/signin` makes one: a random id, only its sha256 kept; the one this
    browser had is ended). The student's roster link, if any, is left as it was."""
    raw = sessions.start(service.make_session, "student", sid, ending=request.cookies.get(sessions.STUDENT_COOKIE))
    response = RedirectResponse("/", status_code=303)
    sessions.cookie(response, sessions.STUDENT_COOKIE, raw, _secure(request, service), sessions.LIFETIME["student"])
    return response


def sign_in_staff(request: Request, service, found: lti_launch.Launch, who):
    """Instructors and TAs: a new staff session (as `/staff/signin` makes one), never the staff token;
    the launch is in the audit log."""
    raw = sessions.start(service.make_session, "staff", ending=request.cookies.get(sessions.STAFF_COOKIE))
    response = RedirectResponse("/staff/", status_code=303)
    sessions.cookie(response, sessions.STAFF_COOKIE, raw, _secure(request, service), sessions.LIFETIME["staff"],
                    path="/staff")
    role = "Instructor" if lti_launch.INSTRUCTOR in found.roles else "Teaching Assistant"
    audit.record(service.make_session, "staff session " + tokens.digest(raw)[:10], "LTI staff launch",
                 f"{found.name or found.sub} ({role}) from {found.registration.issuer}, deployment "
                 f"{found.deployment_id}, user {found.sub}, identity {who.id}", address(request))
    return response
