"""Talking to a platform: its public keys (JWKS, cached, fetched again for an unknown key id at most
every few seconds), an access token by the client-credentials grant with a signed assertion (cached
until shortly before it expires), a score to a line item (AGS) and a context's members (NRPS).
Every call is bounded in time and size; a failure is `PlatformError` with what the platform said."""

from __future__ import annotations

import json
import secrets
import threading
import time

from grader.serve.lti.config import Registration

TIMEOUT = 10.0  # seconds for connecting and for each read
DEADLINE = 20.0  # seconds of wall clock for a whole answer (a dribbling one is given up)
MEMBERS_DEADLINE = 60.0  # seconds for every page of one membership service
MOST = 2_000_000  # bytes a platform's answer may have (read as a stream: no more is read)
REFETCH = 5.0  # seconds between two fetches of one JWKS URL for an unknown kid (a forged kid cannot flood it)
MAX_AGE = 300.0  # seconds a fetched JWKS is used before it is fetched again (GRADER_LTI_KEYS_MAX_AGE)
STALE = 3600.0  # seconds past MAX_AGE that a set is still used while the platform does not answer
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MEMBERS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


class PlatformError(Exception):
    pass


class Unsendable(PlatformError):
    """A score that no retry can send (its line item is not a URL): its row is marked failed."""


def fetch(method: str, url: str, deadline: float = DEADLINE, **kwargs) -> tuple:
    """(the response, its body): the body read as a stream and given up past MOST bytes (nothing more is
    read) or past `deadline` seconds of wall clock for the whole answer (httpx's timeout is per read: a
    byte every 2 s never ends it). httpx's own errors pass through; those two are PlatformError."""
    import httpx

    end = time.monotonic() + deadline
    with httpx.Client(timeout=httpx.Timeout(min(TIMEOUT, deadline)), follow_redirects=False) as client:
        with client.stream(method, url, **kwargs) as response:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > MOST:
                raise PlatformError(f"{url} answered more than {MOST} bytes")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MOST:
                    raise PlatformError(f"{url} answered more than {MOST} bytes")
                if time.monotonic() > end:
                    raise PlatformError(f"{url} took more than {deadline:.0f} s to answer")
            if time.monotonic() > end:
                raise PlatformError(f"{url} took more than {deadline:.0f} s to answer")
    return response, bytes(body)


def _get_json(response, body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise PlatformError(f"{response.url} did not answer JSON (HTTP {response.status_code})") from None
    if not isinstance(data, dict):
        raise PlatformError(f"{response.url} answered {type(data).__name__}, not an object")
    return data


class Keys:
    """The platforms' public keys, per JWKS URL: the set last fetched, replaced whole by each fetch (a key
    the platform removed is dropped with it), fetched again when older than MAX_AGE, and at once (at most
    every REFETCH seconds) for an unknown kid. A set that cannot be fetched again is used for at most
    STALE more; then launches are refused until the platform answers."""

    def __init__(self, max_age: float | None = None):
        import os

        if max_age is None:
            try:
                max_age = float(os.environ.get("GRADER_LTI_KEYS_MAX_AGE", MAX_AGE))
            except ValueError:
                from grader.serve.lti.config import ConfigProblem

                raise ConfigProblem("GRADER_LTI_KEYS_MAX_AGE must be a number of seconds") from None
        self.max_age = max_age
        self.cache: dict[str, tuple[float, float, dict]] = {}  # url: (fetched, tried, jwks)
        self.fetching: dict[str, threading.Lock] = {}  # url: held while that URL is fetched
        self.lock = threading.Lock()

    def key(self, reg: Registration, kid: str | None):
        import jwt

        jwks = self._jwks(reg, kid)
        for jwk in jwks.get("keys", []):
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and (kid is None or jwk.get("kid") == kid):
                try:
                    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
                except (ValueError, KeyError, TypeError):
                    continue
        return None

    def _jwks(self, reg: Registration, kid: str | None) -> dict:
        """The URL's set; fetched by one caller at a time per URL (a lock per URL, never held while the
        platform answers for another), the others served the set in hand meanwhile; a first fetch is
        waited for, at most its deadline."""
        if reg.key_set is not None:
            return reg.key_set
        url = reg.key_set_url
        with self.lock:  # held only to read and mark the cache, never across a fetch
            fetching = self.fetching.setdefault(url, threading.Lock())
            fetched, tried, jwks = self.cache.get(url, (-1e18, -1e18, {"keys": []}))
            moment = time.monotonic()
            known = any(k.get("kid") == kid for k in jwks.get("keys", []) if isinstance(k, dict))
            fresh = moment - fetched < self.max_age
            usable = jwks if moment - fetched < self.max_age + STALE else {"keys": []}
            if (known and fresh) or moment - tried < min(REFETCH, self.max_age):
                return usable
        first = fetched < 0
        if not fetching.acquire(timeout=DEADLINE + TIMEOUT if first else 0):
            return self.cache.get(url, (0, 0, usable))[2] if first else usable  # another caller fetches it
        try:
            with self.lock:
                fetched, tried, jwks = self.cache.get(url, (-1e18, -1e18, {"keys": []}))
                if time.monotonic() - tried < min(REFETCH, self.max_age):  # fetched while this one waited
                    return jwks if time.monotonic() - fetched < self.max_age + STALE else {"keys": []}
                self.cache[url] = (fetched, time.monotonic(), jwks)  # the refetch is rate-limited from now
            import httpx

            try:
                got = _get_json(*fetch("GET", url))
                if not isinstance(got.get("keys"), list):
                    raise PlatformError(f"{url} answered no list of keys")
            except (httpx.HTTPError, PlatformError):
                return jwks if time.monotonic() - fetched < self.max_age + STALE else {"keys": []}
            with self.lock:
                self.cache[url] = (time.monotonic(), time.monotonic(), got)
            return got
        finally:
            fetching.release()


class Tokens:
    """Access tokens per (registration, scopes), by the client-credentials grant (LTI security framework)."""

    def __init__(self):
        self.cache: dict[tuple, tuple[float, str]] = {}
        self.lock = threading.Lock()

    def token(self, reg: Registration, scopes: tuple[str, ...]) -> str:
        import httpx
        import jwt

        key = (reg.issuer, reg.client_id, scopes)
        with self.lock:
            until, token = self.cache.get(key, (0.0, ""))
            if time.monotonic() < until:
                return token
        moment = int(time.time())
        assertion = jwt.encode({"iss": reg.client_id, "sub": reg.client_id, "aud": reg.auth_audience, "iat": moment,
                                "exp": moment + 300, "jti": secrets.token_urlsafe(16)},
                               reg.private_key, algorithm="RS256", headers={"kid": reg.kid})
        try:
            response, body = fetch("POST", reg.auth_token_url, data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion, "scope": " ".join(scopes)})
        except httpx.HTTPError as exc:
            raise PlatformError(f"the token endpoint {reg.auth_token_url} did not answer ({exc})") from None
        data = _get_json(response, body)
        if response.status_code != 200 or not isinstance(data.get("access_token"), str):
            raise PlatformError(f"the token endpoint refused (HTTP {response.status_code}: "
                                f"{str(data.get('error', ''))[:100]})")
        lifetime = data.get("expires_in") if isinstance(data.get("expires_in"), int) else 3600
        with self.lock:
            self.cache[key] = (time.monotonic() + max(lifetime - 60, 0), data["access_token"])
        return data["access_token"]

    def forget(self, reg: Registration) -> None:
        with self.lock:
            for key in [k for k in self.cache if k[:2] == (reg.issuer, reg.client_id)]:
                del self.cache[key]


def post_score(tokens: Tokens, reg: Registration, lineitem: str, sub: str, given: float, maximum: float,
               timestamp: str) -> None:
    """The score to the line item (AGS Score service): fully graded, the attempt completed."""
    import httpx

    path, _, query = lineitem.partition("?")
    url = f"{path.rstrip('/')}/scores" + (f"?{query}" if query else "")
    body = {"userId": sub, "scoreGiven": given, "scoreMaximum": maximum, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": timestamp}
    try:
        response, answer = fetch("POST", url, json=body, headers={
            "Authorization": f"Bearer {tokens.token(reg, (SCORE,))}",
            "Content-Type": "application/vnd.ims.lis.v1.score+json"})
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise Unsendable(f"the line item {lineitem[:200]!r} is not a URL ({exc})") from None
    except httpx.HTTPError as exc:
        raise PlatformError(f"{url} did not answer ({exc})") from None
    if response.status_code == 401:
        tokens.forget(reg)
    if response.status_code not in (200, 201, 202, 204):
        raise PlatformError(f"{url} answered HTTP {response.status_code}: {answer[:150].decode(errors='replace')}")


def members(tokens: Tokens, reg: Registration, url: str, pages: int = 50) -> list[dict]:
    """Every member of a context (NRPS), following the Link: rel="next" pages, decoded strictly
    (`member`): a page that is not a membership container is a PlatformError, not a crash."""
    import httpx

    found, end = [], time.monotonic() + MEMBERS_DEADLINE
    for _ in range(pages):
        left = end - time.monotonic()
        if left <= 0:
            raise PlatformError(f"{url} took more than {MEMBERS_DEADLINE:.0f} s for its pages")
        try:
            response, body = fetch("GET", url, deadline=min(DEADLINE, left), headers={
                "Authorization": f"Bearer {tokens.token(reg, (MEMBERS,))}",
                "Accept": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise PlatformError(f"{url} did not answer ({exc})") from None
        if response.status_code != 200:
            raise PlatformError(f"{url} answered HTTP {response.status_code}")
        data = _get_json(response, body)
        if not isinstance(data.get("members"), list):
            raise PlatformError(f"{url} answered no list of members (members is "
                                f"{type(data.get('members')).__name__})")
        found.extend(m for m in map(member, data["members"]) if m is not None)
        url = response.links.get("next", {}).get("url")
        if not url:
            break
    return found


def member(raw) -> dict | None:
    """A member with a string user_id (at most 255), roles (strings), status, name and sourcedid; None for
    one that has not these types (skipped, the others kept)."""
    if not isinstance(raw, dict):
        return None
    sub, roles = raw.get("user_id"), raw.get("roles")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255 or not isinstance(roles, list) \
            or not all(isinstance(r, str) for r in roles):
        return None
    text = {k: raw.get(k) if isinstance(raw.get(k), str) else "" for k in ("name", "lis_person_sourcedid")}
    status = raw.get("status", "Active")
    return {"user_id": sub, "roles": roles[:50], "status": status if isinstance(status, str) else "",
            "name": text["name"][:200], "lis_person_sourcedid": text["lis_person_sourcedid"][:255]}
