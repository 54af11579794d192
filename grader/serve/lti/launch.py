"""An LTI 1.3 launch, checked in full: the OIDC third-party login (`login`: a state for the browser's
cookie and a nonce, both kept in memory by `Logins` until their launch: bounded, and a per-address
limit, so a flood of logins costs no database write and cannot delay anyone else), then the platform's
id_token (`check`): the state against the cookie and a login still in flight (taken as it is read, so
each is used once), RS256 signature against the platform's JWKS, every claim's type (`claims.strict`),
iss, aud, azp, exp, iat, nbf, the nonce of that login, the deployment, the message type, the LTI
version and the target link. Every refusal is a `Refused` whose text says what was wrong, for a person."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from grader.serve.lti.claims import AGS, LTI, NRPS, Refused, strict
from grader.serve.lti.config import Registration, ToolConfig

LOGIN_LIFETIME = 600.0  # seconds a login may wait for its launch
IN_FLIGHT = 20_000  # logins kept at most; past it the oldest is dropped (a real one waits seconds, not minutes)
PER_ADDRESS = 200  # logins in flight from one address; past it that address's oldest is dropped
LEEWAY = 30  # seconds of clock difference allowed on exp, iat and nbf
# The context roles that count as course staff, exactly (docs/lti.md): Instructor, and its sub-role
# TeachingAssistant. Institution and system roles (Faculty, Administrator...) never do, nor do
# ContentDeveloper, Mentor or a context Administrator: they do not grade this course.
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
STAFF_ROLES = frozenset({INSTRUCTOR,
                         "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"})
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
__all__ = ["Refused", "LTI", "AGS", "NRPS", "Launch", "Logins", "login", "check", "is_staff"]


def is_staff(roles) -> bool:
    return any(r in STAFF_ROLES for r in roles)


@dataclass
class Pending:
    nonce: str
    issuer: str
    client_id: str
    target: str
    address: str
    at: float


class Logins:
    """Logins in flight, in memory (a login writes nothing to the database): state -> Pending, at most
    `most` (past it the oldest is dropped: a real login waits seconds for its launch, a flood's are the
    oldest), each for LOGIN_LIFETIME, and at most `per_address` in flight from one address: past it that
    address's oldest is dropped, never the new one refused, so a flood from a campus NAT costs a classmate
    behind it at most a launch to open again, not ten minutes of refusals."""

    def __init__(self, most: int = IN_FLIGHT, per_address: int = PER_ADDRESS):
        self.most, self.per_address = most, per_address
        self.pending: OrderedDict[str, Pending] = OrderedDict()
        self.count: dict[str, int] = {}
        self.lock = threading.Lock()

    def add(self, state: str, pending: Pending) -> None:
        with self.lock:
            self._expire()
            if self.count.get(pending.address, 0) >= self.per_address:
                self._drop(next(s for s, p in self.pending.items() if p.address == pending.address))
            self.pending[state] = pending
            self.count[pending.address] = self.count.get(pending.address, 0) + 1
            while len(self.pending) > self.most:
                self._drop(next(iter(self.pending)))

    def take(self, state: str) -> Pending | None:
        with self.lock:
            found = self._drop(state)
        if found is None or found.at < time.monotonic() - LOGIN_LIFETIME:
            return None
        return found

    def _drop(self, state: str) -> Pending | None:
        found = self.pending.pop(state, None)
        if found is not None:
            left = self.count[found.address] - 1
            if left:
                self.count[found.address] = left
            else:
                del self.count[found.address]
        return found

    def _expire(self) -> None:
        while self.pending:  # the oldest first
            state, first = next(iter(self.pending.items()))
            if first.at > time.monotonic() - LOGIN_LIFETIME:
                break
            self._drop(state)


@dataclass
class Launch:
    registration: Registration
    sub: str
    name: str
    roles: list[str]
    deployment_id: str
    resource_link: str
    claims: dict = field(repr=False)

    @property
    def staff(self) -> bool:
        return is_staff(self.roles)

    @property
    def learner(self) -> bool:
        return LEARNER in self.roles

    @property
    def lineitem(self) -> str | None:
        endpoint = self.claims.get(AGS) or {}
        scopes = endpoint.get("scope") or []
        if not isinstance(scopes, list) or "https://purl.imsglobal.org/spec/lti-ags/scope/score" not in scopes:
            return None
        return endpoint.get("lineitem") if isinstance(endpoint.get("lineitem"), str) else None

    @property
    def memberships(self) -> str | None:
        url = (self.claims.get(NRPS) or {}).get("context_memberships_url")
        return url if isinstance(url, str) else None

    @property
    def sourcedid(self) -> str:
        found = (self.claims.get(LTI + "lis") or {}).get("person_sourcedid")
        return found[:255] if isinstance(found, str) else ""


def login(config: ToolConfig, logins: Logins, params: dict, origin: str, address: str) -> tuple[str, str]:
    """(the platform's authorization URL to redirect to, the state for the cookie)."""
    issuer, hint, target = params.get("iss", ""), params.get("login_hint", ""), params.get("target_link_uri", "")
    if not issuer or not hint or not target:
        raise Refused("This is not an LTI login: iss, login_hint and target_link_uri are needed.", 400)
    reg = config.find(issuer, params.get("client_id") or None)
    if reg is None:
        raise Refused("This platform (or its client id) is not registered with this tool: course staff add it to "
                      "lti.json (see docs/lti.md).")
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in reg.deployment_ids:
        raise Refused("This deployment of the tool is not registered: course staff add its deployment id to lti.json.")
    if not _same_origin(target, origin):
        raise Refused("This login is for another tool (its target link is not on this site).")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    logins.add(state, Pending(nonce, reg.issuer, reg.client_id, target[:1000], address, time.monotonic()))
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": reg.client_id, "redirect_uri": origin.rstrip("/") + "/lti/launch", "login_hint": hint[:2000],
             "state": state, "nonce": nonce}
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"][:2000]
    sep = "&" if "?" in reg.auth_login_url else "?"
    return f"{reg.auth_login_url}{sep}{urlencode(query)}", state


def _same_origin(url: str, origin: str) -> bool:
    a, b = urlsplit(url), urlsplit(origin)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def in_context(reg: Registration, claims: dict) -> None:
    """The launch comes from a course this service grades: its context id is in the registration's
    `contexts` (an Instructor of another course on the same deployment is no one here)."""
    context = claims.get(LTI + "context", {}).get("id")
    if not isinstance(context, str) or not context:
        raise Refused("This launch names no course (its context claim has no id): this tool takes launches from "
                      "the course(s) named in lti.json only.")
    if context not in reg.contexts:
        shown = "".join(c for c in context[:200] if c.isprintable())
        raise Refused(f"This launch comes from a course this service does not grade: context id {shown!r}. "
                      "If this is the course, an administrator of the service adds this id to the "
                      '"contexts" list of this platform in lti.json (docs/lti.md) and restarts the service.')


def take_login(logins: Logins, state: str | None, cookie: str | None) -> Pending:
    """The login this launch answers, taken as it is read: a state opens one launch at most."""
    if not state or not cookie or len(state) > 64 or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise Refused("This launch did not start from this browser (its state is missing or differs from the one "
                      "this site gave it): open the assignment from the course page again.")
    row = logins.take(state)
    if row is None:
        raise Refused("This launch was already used, or took too long: open the assignment from the course page "
                      "again.")
    return row


def check(config: ToolConfig, logins: Logins, keys, id_token: str, state: str | None, cookie: str | None) -> Launch:
    """The launch if every check passes; Refused otherwise (and the login is used up either way)."""
    import json

    import jwt

    row = take_login(logins, state, cookie)
    reg = config.find(row.issuer, row.client_id)
    if reg is None or not id_token or len(id_token) > 64_000:
        raise Refused("This launch carries no id_token this tool can read.", 400)
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise Refused("This launch's id_token is not a signed token.", 400) from None
    if header.get("alg") != "RS256":
        raise Refused(f"This launch's id_token is signed with {str(header.get('alg'))[:20]!r}; LTI 1.3 needs RS256.")
    key = keys.key(reg, header.get("kid"))
    if key is None:
        raise Refused("This launch's id_token is signed by a key the platform does not publish.")
    try:  # the signature first, then every claim's type, then what the claims say
        payload = jwt.api_jws.PyJWS().decode(id_token, key, algorithms=["RS256"])
        strict(json.loads(payload))
    except jwt.InvalidSignatureError:
        raise Refused("This launch's signature does not match the platform's keys.") from None
    except jwt.PyJWTError as exc:
        raise Refused(f"This launch's id_token is not valid ({str(exc)[:120]}).", 400) from None
    except ValueError:
        raise Refused("This launch's id_token is malformed: its claims are not JSON.", 400) from None
    except RecursionError:
        raise Refused("This launch's id_token is malformed: its claims are nested too deeply.", 400) from None
    try:
        claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=reg.client_id, issuer=reg.issuer,
                            leeway=LEEWAY, options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]})
    except jwt.ExpiredSignatureError:
        raise Refused("This launch has expired: open the assignment from the course page again.") from None
    except jwt.InvalidAudienceError:
        raise Refused("This launch is for another tool (its audience is not this tool's client id).") from None
    except jwt.InvalidIssuerError:
        raise Refused("This launch comes from another platform than the one its login named.") from None
    except jwt.ImmatureSignatureError:
        raise Refused("This launch is dated in the future: check the platform's clock.") from None
    except jwt.PyJWTError as exc:
        raise Refused(f"This launch's id_token is not valid ({str(exc)[:120]}).") from None
    except RecursionError:
        raise Refused("This launch's id_token is malformed: its claims are nested too deeply.", 400) from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != reg.client_id:
        raise Refused("This launch is for another tool (its authorized party is not this tool).")
    if not hmac.compare_digest(claims["nonce"].encode(), row.nonce.encode()):
        raise Refused("This launch's nonce is not the one this login gave (a launch replayed?).")
    deployment = claims[LTI + "deployment_id"]
    if deployment not in reg.deployment_ids:
        raise Refused("This deployment of the tool is not registered: course staff add its deployment id to lti.json.")
    if claims[LTI + "message_type"] != "LtiResourceLinkRequest":
        raise Refused("This tool takes resource link launches only (LtiResourceLinkRequest), not "
                      f"{claims[LTI + 'message_type'][:60]!r}.", 400)
    if claims[LTI + "version"] != "1.3.0":
        raise Refused(f"This tool speaks LTI 1.3.0, not {claims[LTI + 'version'][:20]!r}.", 400)
    if claims[LTI + "target_link_uri"] != row.target:
        raise Refused("This launch is for another tool (its target link is not the one its login named).")
    if not 0 < len(claims["sub"]) <= 255 or len(deployment) > 255:
        raise Refused("This launch names no user, or a user or deployment id over 255 characters: at most 255 "
                      "are taken.", 400)
    in_context(reg, claims)
    roles = claims[LTI + "roles"]
    if not is_staff(roles) and LEARNER not in roles:
        raise Refused("This tool takes launches from students (Learner) and course staff (Instructor, Teaching "
                      "Assistant) only; your role in this course is neither.")
    name = claims.get("name") or " ".join(claims.get(k, "") for k in ("given_name", "family_name")).strip()
    return Launch(reg, claims["sub"], name[:200], roles[:50], deployment, claims[LTI + "resource_link"]["id"][:255],
                  claims)
