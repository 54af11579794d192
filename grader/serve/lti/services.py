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

TIMEOUT = 10.0
MOST = 2_000_000  # bytes a platform's answer may have
REFETCH = 5.0  # seconds between two fetches of one JWKS for an unknown kid (a forged kid cannot flood it)
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MEMBERS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


class PlatformError(Exception):
    pass


def _get_json(response) -> dict:
    if len(response.content) > MOST:
        raise PlatformError(f"{response.url} answered more than {MOST} bytes")
    try:
        data = response.json()
    except ValueError:
        raise PlatformError(f"{response.url} did not answer JSON (HTTP {response.status_code})") from None
    if not isinstance(data, dict):
        raise PlatformError(f"{response.url} answered {type(data).__name__}, not an object")
    return data


class Keys:
    """The platforms' public keys by (JWKS URL or registration, kid)."""

    def __init__(self):
        self.cache: dict[str, tuple[float, dict]] = {}
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
        if reg.key_set is not None:
            return reg.key_set
        with self.lock:
            fetched, jwks = self.cache.get(reg.key_set_url, (0.0, {}))
            known = any(k.get("kid") == kid for k in jwks.get("keys", []) if isinstance(k, dict))
            if known or time.monotonic() - fetched < REFETCH:
                return jwks
            import httpx

            try:
                jwks = _get_json(httpx.get(reg.key_set_url, timeout=TIMEOUT, follow_redirects=False))
            except (httpx.HTTPError, PlatformError):
                return jwks  # the keys known before; an unknown kid is refused
            self.cache[reg.key_set_url] = (time.monotonic(), jwks)
            return jwks


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
            response = httpx.post(reg.auth_token_url, timeout=TIMEOUT, data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion, "scope": " ".join(scopes)})
        except httpx.HTTPError as exc:
            raise PlatformError(f"the token endpoint {reg.auth_token_url} did not answer ({exc})") from None
        data = _get_json(response)
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
        response = httpx.post(url, json=body, timeout=TIMEOUT, headers={
            "Authorization": f"Bearer {tokens.token(reg, (SCORE,))}",
            "Content-Type": "application/vnd.ims.lis.v1.score+json"})
    except httpx.HTTPError as exc:
        raise PlatformError(f"{url} did not answer ({exc})") from None
    if response.status_code == 401:
        tokens.forget(reg)
    if response.status_code not in (200, 201, 202, 204):
        raise PlatformError(f"{url} answered HTTP {response.status_code}: {response.text[:150]}")


def members(tokens: Tokens, reg: Registration, url: str, pages: int = 50) -> list[dict]:
    """Every member of a context (NRPS), following the Link: rel="next" pages."""
    import httpx

    found = []
    for _ in range(pages):
        try:
            response = httpx.get(url, timeout=TIMEOUT, headers={
                "Authorization": f"Bearer {tokens.token(reg, (MEMBERS,))}",
                "Accept": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"})
        except httpx.HTTPError as exc:
            raise PlatformError(f"{url} did not answer ({exc})") from None
        data = _get_json(response)
        if response.status_code != 200:
            raise PlatformError(f"{url} answered HTTP {response.status_code}")
        found.extend(m for m in data.get("members", []) if isinstance(m, dict))
        url = response.links.get("next", {}).get("url")
        if not url:
            break
    return found
