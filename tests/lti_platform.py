"""A small LTI 1.3 platform for the tests, served on 127.0.0.1: real RS256 keys and a JWKS endpoint,
the OIDC authorization step driven as a browser would (`launch`), an OAuth2 token endpoint that checks
the tool's signed assertion against the tool's own /lti/jwks, an AGS line item that keeps the score
with the latest timestamp (and every score it was sent, in order), and an NRPS membership list."""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Platform:
    def __init__(self, client_id: str = "grader-tool", deployment: str = "deployment-1"):
        self.key, self.kid = new_key(), "platform-key-1"
        self.client_id, self.deployment = client_id, deployment
        self.tool_jwks = ""  # the tool's /lti/jwks, to check its assertions
        self.received: list[dict] = []  # every score posted, in order
        self.results: dict[str, dict] = {}  # the score kept per user (latest timestamp)
        self.fail_scores = 0  # answer this many score posts with 503
        self.tokens: dict[str, str] = {}  # access token -> scope
        self.assertions: list[dict] = []
        self.members: list[dict] | None = []  # None: the page says "members": null (malformed)
        self.published: list | None = None  # the keys /jwks publishes, (kid, key) pairs: None, this key only
        self.by_item: dict[str, list[dict]] = {}  # line item number: the scores posted to it
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def lineitem(self) -> str:
        return self.item(1)

    def item(self, number: int) -> str:
        return f"{self.url}/courses/7/lineitems/{number}/lineitem"

    def config(self, private_key_file: str) -> dict:
        """This platform as lti.json names it."""
        return {self.url: {"client_id": self.client_id, "auth_login_url": f"{self.url}/authorize",
                           "auth_token_url": f"{self.url}/token", "key_set_url": f"{self.url}/jwks",
                           "deployment_ids": [self.deployment], "contexts": ["course-7"],
                           "private_key_file": private_key_file}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # the id_token, as the platform's authorization endpoint would make it
    def claims(self, nonce: str, sub: str, roles: list[str], target: str, **extra) -> dict:
        moment = int(time.time())
        claims = {
            "iss": self.url, "aud": self.client_id, "azp": self.client_id, "sub": sub, "iat": moment,
            "exp": moment + 300, "nonce": nonce, "name": extra.pop("name", f"User {sub}"),
            LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment, LTI + "target_link_uri": target,
            LTI + "resource_link": {"id": "rnn-homework-link"}, LTI + "roles": roles,
            LTI + "context": {"id": "course-7", "title": "Neural nets"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", SCORE],
                "lineitems": f"{self.url}/courses/7/lineitems", "lineitem": self.lineitem},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.url}/courses/7/memberships", "service_versions": ["2.0"]},
        }
        claims.update(extra)
        return claims

    def sign(self, claims: dict, key=None, kid: str | None = None, alg: str = "RS256") -> str:
        # signed as bytes, so a test can sign claims that jwt.encode refuses (a list as iss)
        return jwt.api_jws.encode(json.dumps(claims).encode(), pem(key or self.key), algorithm=alg,
                                  headers={"kid": kid or self.kid, "typ": "JWT"})

    def login(self, client: httpx.Client, tool: str, sub: str) -> dict:
        """The third-party login as a browser follows it: the tool's redirect's query (state, nonce...)."""
        response = client.get(f"{tool}/lti/login", params={
            "iss": self.url, "login_hint": sub, "target_link_uri": f"{tool}/lti/launch", "client_id": self.client_id,
            "lti_deployment_id": self.deployment, "lti_message_hint": "hint-1"})
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(f"{self.url}/authorize?")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    def launch(self, client: httpx.Client, tool: str, sub: str, roles=(LEARNER,), key=None, kid=None,
               alg="RS256", post_state: str | None = None, overrides: dict | None = None, **extra) -> httpx.Response:
        """A whole launch: login, the signed id_token posted to the tool's redirect_uri (not followed)."""
        asked = self.login(client, tool, sub)
        assert asked["redirect_uri"] == f"{tool}/lti/launch" and asked["response_mode"] == "form_post"
        claims = self.claims(asked["nonce"], sub, list(roles), f"{tool}/lti/launch", **extra)
        token = self.sign(dict(claims, **(overrides or {})), key, kid, alg)
        return client.post(asked["redirect_uri"], data={"id_token": token, "state": asked["state"] if post_state is None else post_state})

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status: int, body, headers=None):
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def scope(self) -> str | None:
                auth = self.headers.get("Authorization", "")
                return platform.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/jwks":
                    keys = platform.published if platform.published is not None else [(platform.kid, platform.key)]
                    return self.answer(200, {"keys": [
                        dict(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), kid=kid, alg="RS256",
                             use="sig") for kid, key in keys]})
                if path == "/courses/7/memberships":
                    if "contextmembership" not in (self.scope() or ""):
                        return self.answer(401, {"error": "no token for memberships"})
                    return self.answer(200, {"id": path, "context": {"id": "course-7"}, "members": platform.members})
                self.answer(404, {"error": "not found"})

            def do_POST(self):
                path = urlsplit(self.path).path
                if path == "/token":
                    return self.token(parse_qs(self.body().decode()))
                parts = path.split("/")
                if path.startswith("/courses/7/lineitems/") and path.endswith("/lineitem/scores"):
                    return self.score(parts[4])
                self.answer(404, {"error": "not found"})

            def token(self, form):
                assertion = form.get("client_assertion", [""])[0]
                try:
                    keys = httpx.get(platform.tool_jwks, timeout=10).json()["keys"]
                    kid = jwt.get_unverified_header(assertion)["kid"]
                    key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(next(k for k in keys if k["kid"] == kid)))
                    claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=f"{platform.url}/token",
                                        issuer=platform.client_id)
                except Exception as exc:
                    return self.answer(400, {"error": "invalid_client", "why": str(exc)})
                if form.get("grant_type") != ["client_credentials"] or claims["sub"] != platform.client_id:
                    return self.answer(400, {"error": "invalid_grant"})
                token = secrets.token_hex(16)
                with platform.lock:
                    platform.tokens[token] = form.get("scope", [""])[0]
                    platform.assertions.append(claims)
                self.answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                  "scope": form.get("scope", [""])[0]})

            def score(self, item: str):
                if SCORE not in (self.scope() or "").split():
                    return self.answer(401, {"error": "no token for scores"})
                if self.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
                    return self.answer(415, {"error": "not a score"})
                body = json.loads(self.body())
                with platform.lock:
                    if platform.fail_scores > 0:
                        platform.fail_scores -= 1
                        return self.answer(503, {"error": "try later"})
                    if item == "1":
                        platform.received.append(body)
                    platform.by_item.setdefault(item, []).append(body)
                    kept = platform.results.get(body["userId"])
                    # AGS: a score older than the one on record does not replace it
                    if item == "1" and (kept is None or body["timestamp"] >= kept["timestamp"]):
                        platform.results[body["userId"]] = body
                self.answer(200, b"{}")

        return Handler
