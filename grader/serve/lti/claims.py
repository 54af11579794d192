"""The id_token's claims, typed strictly before anything reads them: a number where a time is, a string
where an id is, an object where a claim holds others. A claim of another type is a 400 with a plain
message (`Refused`), never an error deep in a check (a list where a string belongs was a 500, and
a string `exp` was read as a number)."""

from __future__ import annotations

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
STRINGS = ("iss", "sub", "nonce", LTI + "deployment_id", LTI + "message_type", LTI + "version",
           LTI + "target_link_uri")
NUMBERS = ("exp", "iat")
OPTIONAL_STRINGS = ("azp", "name", "given_name", "family_name")
OBJECTS = (LTI + "resource_link", LTI + "context", LTI + "lis", LTI + "custom", AGS, NRPS)


class Refused(Exception):
    """Why a login or launch was refused, in words; nothing is signed in."""

    def __init__(self, text: str, status: int = 403):
        super().__init__(text)
        self.status = status


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(name: str) -> str:
    return name.removeprefix(LTI).rsplit("/", 1)[-1]


def strict(claims) -> dict:
    """The claims if every one has its type; Refused (400) naming the first that has not."""
    def bad(name: str, wanted: str):
        return Refused(f"This launch's id_token is malformed: its {_short(name)} claim must be {wanted}.", 400)

    if not isinstance(claims, dict):
        raise Refused("This launch's id_token is malformed: its claims are not an object.", 400)
    for name in STRINGS:
        if not isinstance(claims.get(name), str):
            raise bad(name, "a string")
    for name in OPTIONAL_STRINGS:
        if name in claims and not isinstance(claims[name], str):
            raise bad(name, "a string")
    for name in NUMBERS:
        if not _number(claims.get(name)):
            raise bad(name, "a number (seconds since 1970)")
    if "nbf" in claims and not _number(claims["nbf"]):
        raise bad("nbf", "a number (seconds since 1970)")
    aud = claims.get("aud")
    if not (isinstance(aud, str) or (isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud))):
        raise bad("aud", "a string or a list of strings")
    for name in OBJECTS:
        if name in claims and not isinstance(claims[name], dict):
            raise bad(name, "an object")
    roles = claims.get(LTI + "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise bad(LTI + "roles", "a list of strings")
    link = claims.get(LTI + "resource_link", {}).get("id")
    if not isinstance(link, str) or not link:
        raise bad(LTI + "resource_link", "an object with a string id")
    endpoint = claims.get(AGS, {})
    if "scope" in endpoint and not (isinstance(endpoint["scope"], list)
                                    and all(isinstance(s, str) for s in endpoint["scope"])):
        raise bad(AGS, "an object whose scope is a list of strings")
    for holder, key in ((AGS, "lineitem"), (NRPS, "context_memberships_url"), (LTI + "lis", "person_sourcedid")):
        if key in claims.get(holder, {}) and not isinstance(claims[holder][key], str):
            raise bad(holder, f"an object whose {key} is a string")
    return claims
