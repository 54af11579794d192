"""An LTI 1.3 launch, checked in full: the OIDC third-party login (`login`: a state for the browser's
cookie and a nonce, both kept in the database until their launch), then the platform's id_token
(`check`): the state against the cookie and a login still in flight (deleted as it is read, so each is
used once), RS256 signature against the platform's JWKS, iss, aud, azp, exp, iat, the nonce of that
login, the deployment, the message type, the LTI version and the target link. Every refusal is a
`Refused` whose text says what was wrong, for a person."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete, func, select

from grader.serve.lti.config import Registration, ToolConfig
from grader.serve.lti.models import Login
from grader.serve.store import now

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
LOGIN_LIFETIME = dt.timedelta(minutes=10)
IN_FLIGHT = 20_000  # logins not yet launched (a flood of /lti/login cannot fill the database)
LEEWAY = 30  # seconds of clock difference allowed on exp and iat
STAFF_ROLES = ("membership#Instructor", "membership#ContentDeveloper", "membership#Administrator",
               "membership/Instructor#", "institution/person#Administrator", "system/person#Administrator",
               "institution/person#Faculty")


class Refused(Exception):
    """Why a login or launch was refused, in words; nothing is signed in."""

    def __init__(self, text: str, status: int = 403):
        super().__init__(text)
        self.status = status


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
        return any(any(r.startswith(f"http://purl.imsglobal.org/vocab/lis/v2/{s}") for s in STAFF_ROLES)
                   or r in ("Instructor", "ContentDeveloper", "Administrator", "TeachingAssistant")
                   for r in self.roles)

    @property
    def lineitem(self) -> str | None:
        endpoint = self.claims.get(AGS) or {}
        scopes = endpoint.get("scope") or []
        if "https://purl.imsglobal.org/spec/lti-ags/scope/score" not in scopes:
            return None
        return endpoint.get("lineitem") if isinstance(endpoint.get("lineitem"), str) else None

    @property
    def memberships(self) -> str | None:
        url = (self.claims.get(NRPS) or {}).get("context_memberships_url")
        return url if isinstance(url, str) else None

    @property
    def sourcedid(self) -> str:
        return str((self.claims.get(LTI + "lis") or {}).get("person_sourcedid") or "")


def login(config: ToolConfig, make_session, params: dict, origin: str) -> tuple[str, str]:
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
    with make_session() as session, session.begin():
        session.execute(delete(Login).where(Login.created_at < now() - LOGIN_LIFETIME))
        if session.scalar(select(func.count()).select_from(Login)) >= IN_FLIGHT:
            raise Refused("Too many logins are in flight right now: try again in a few minutes.", 503)
        session.add(Login(state=state, nonce=nonce, issuer=reg.issuer, client_id=reg.client_id, target=target[:1000],
                          created_at=now()))
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": reg.client_id, "redirect_uri": origin.rstrip("/") + "/lti/launch", "login_hint": hint,
             "state": state, "nonce": nonce}
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    sep = "&" if "?" in reg.auth_login_url else "?"
    return f"{reg.auth_login_url}{sep}{urlencode(query)}", state


def _same_origin(url: str, origin: str) -> bool:
    a, b = urlsplit(url), urlsplit(origin)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def take_login(make_session, state: str | None, cookie: str | None) -> Login:
    """The login this launch answers, deleted as it is read: a state opens one launch at most."""
    if not state or not cookie or len(state) > 64 or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise Refused("This launch did not start from this browser (its state is missing or differs from the one "
                      "this site gave it): open the assignment from the course page again.")
    with make_session() as session, session.begin():
        row = session.scalar(select(Login).where(Login.state == state))
        gone = session.execute(delete(Login).where(Login.state == state)).rowcount
    if row is None or gone != 1 or _aware(row.created_at) < now() - LOGIN_LIFETIME:
        raise Refused("This launch was already used, or took too long: open the assignment from the course page "
                      "again.")
    return row


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def check(config: ToolConfig, make_session, keys, id_token: str, state: str | None, cookie: str | None) -> Launch:
    """The launch if every check passes; Refused otherwise (and the login is used up either way)."""
    import jwt

    row = take_login(make_session, state, cookie)
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
    try:
        claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=reg.client_id, issuer=reg.issuer,
                            leeway=LEEWAY, options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]})
    except jwt.ExpiredSignatureError:
        raise Refused("This launch has expired: open the assignment from the course page again.") from None
    except jwt.InvalidAudienceError:
        raise Refused("This launch is for another tool (its audience is not this tool's client id).") from None
    except jwt.InvalidIssuerError:
        raise Refused("This launch comes from another platform than the one its login named.") from None
    except jwt.InvalidSignatureError:
        raise Refused("This launch's signature does not match the platform's keys.") from None
    except jwt.ImmatureSignatureError:
        raise Refused("This launch is dated in the future: check the platform's clock.") from None
    except jwt.PyJWTError as exc:
        raise Refused(f"This launch's id_token is not valid ({str(exc)[:120]}).") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != reg.client_id:
        raise Refused("This launch is for another tool (its authorized party is not this tool).")
    if not hmac.compare_digest(str(claims["nonce"]).encode(), row.nonce.encode()):
        raise Refused("This launch's nonce is not the one this login gave (a launch replayed?).")
    deployment = claims.get(LTI + "deployment_id")
    if deployment not in reg.deployment_ids:
        raise Refused("This deployment of the tool is not registered: course staff add its deployment id to lti.json.")
    if claims.get(LTI + "message_type") != "LtiResourceLinkRequest":
        raise Refused("This tool takes resource link launches only (LtiResourceLinkRequest), not "
                      f"{str(claims.get(LTI + 'message_type'))[:60]!r}.", 400)
    if claims.get(LTI + "version") != "1.3.0":
        raise Refused(f"This tool speaks LTI 1.3.0, not {str(claims.get(LTI + 'version'))[:20]!r}.", 400)
    if claims.get(LTI + "target_link_uri") != row.target:
        raise Refused("This launch is for another tool (its target link is not the one its login named).")
    link = (claims.get(LTI + "resource_link") or {}).get("id")
    roles = claims.get(LTI + "roles")
    if not isinstance(link, str) or not link or not isinstance(roles, list) or not isinstance(claims["sub"], str) \
            or not 0 < len(claims["sub"]) <= 255:
        raise Refused("This launch names no resource link, user (at most 255 characters) or roles.", 400)
    name = claims.get("name") or " ".join(str(claims.get(k, "")) for k in ("given_name", "family_name")).strip()
    return Launch(reg, claims["sub"], str(name)[:200], [str(r) for r in roles], deployment, link, claims)
