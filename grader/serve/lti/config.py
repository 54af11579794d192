"""The tool's LTI configuration: pylti1p3's tool-config JSON (one object, or a list of objects, per
issuer), read strictly, every mistake named by issuer and key; the tool's private key and its public
JWKS (`/lti/jwks`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ("client_id", "auth_login_url", "auth_token_url", "deployment_ids", "private_key_file")


class ConfigProblem(ValueError):
    """What is wrong with lti.json, in words for the person who wrote it."""


@dataclass(frozen=True)
class Registration:
    """This tool as one platform knows it (an issuer and a client id)."""
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    auth_audience: str  # the token endpoint's audience (Moodle: its token URL; Canvas: the same)
    key_set_url: str | None
    key_set: dict | None  # the platform's JWKS given inline instead of a URL
    deployment_ids: tuple[str, ...]
    private_key: bytes = field(repr=False)
    kid: str
    # the course contexts (the platform's context id) this service grades: a launch from any other
    # context, or with none, is refused (docs/lti.md); empty: every launch is refused, saying its context
    contexts: tuple[str, ...] = ()


@dataclass
class ToolConfig:
    registrations: list[Registration]

    def find(self, issuer: str, client_id: str | None) -> Registration | None:
        """The registration of this issuer and client id (client id None: the issuer's default one)."""
        mine = [r for r in self.registrations if r.issuer == issuer]
        if client_id is None:
            return mine[0] if mine else None
        return next((r for r in mine if r.client_id == client_id), None)

    def jwks(self) -> dict:
        """The tool's public keys, one per distinct private key (the platform checks our assertions)."""
        keys, seen = [], set()
        for reg in self.registrations:
            if reg.kid not in seen:
                seen.add(reg.kid)
                keys.append(public_jwk(reg.private_key))
        return {"keys": keys}


def public_jwk(private_pem: bytes) -> dict:
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    public = load_pem_private_key(private_pem, password=None).public_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    return dict(jwk, kid=key_id(private_pem), alg="RS256", use="sig")


def key_id(private_pem: bytes) -> str:
    """A key's id: its public key's thumbprint (RFC 7638), so the same key always has the same kid."""
    import base64
    import hashlib

    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(load_pem_private_key(private_pem, None).public_key()))
    canonical = json.dumps({k: public[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def load(path: Path) -> ToolConfig:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigProblem(f"{path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise ConfigProblem(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise ConfigProblem(f"{path}: expected an object whose keys are the platforms' issuers")
    regs = []
    for issuer, entries in data.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            regs.append(_registration(Path(path), issuer, entry))
    return ToolConfig(regs)


def _registration(path: Path, issuer: str, entry) -> Registration:
    where = f"{path}: issuer {issuer!r}"
    if not isinstance(entry, dict):
        raise ConfigProblem(f"{where}: expected an object with {', '.join(REQUIRED)}")
    missing = [k for k in REQUIRED if not entry.get(k)]
    if not entry.get("key_set_url") and not entry.get("key_set"):
        missing.append("key_set_url (or key_set)")
    if missing:
        raise ConfigProblem(f"{where}: missing {', '.join(missing)}")
    if not isinstance(entry["deployment_ids"], list) or not all(isinstance(d, str) for d in entry["deployment_ids"]):
        raise ConfigProblem(f"{where}: deployment_ids must be a list of strings")
    contexts = entry.get("contexts", [])
    if not isinstance(contexts, list) or not all(isinstance(c, str) and c for c in contexts):
        raise ConfigProblem(f"{where}: contexts must be a list of the course's context ids (strings)")
    key_file = Path(entry["private_key_file"])
    key_file = key_file if key_file.is_absolute() else path.parent / key_file
    try:
        pem = key_file.read_bytes()
        kid = key_id(pem)
    except OSError as exc:
        raise ConfigProblem(f"{where}: private_key_file {key_file} cannot be read ({exc.strerror}); "
                            "make one with `grade lti-keys`") from None
    except ValueError:
        raise ConfigProblem(f"{where}: private_key_file {key_file} is not an RSA private key in PEM "
                            "(make one with `grade lti-keys`)") from None
    for url_key in ("auth_login_url", "auth_token_url", "key_set_url"):
        url = entry.get(url_key)
        if url and not str(url).startswith(("https://", "http://")):
            raise ConfigProblem(f"{where}: {url_key} must be an http(s) URL, not {url!r}")
    return Registration(issuer=issuer, client_id=str(entry["client_id"]), auth_login_url=entry["auth_login_url"],
                        auth_token_url=entry["auth_token_url"],
                        auth_audience=entry.get("auth_audience") or entry["auth_token_url"],
                        key_set_url=entry.get("key_set_url"), key_set=entry.get("key_set"),
                        deployment_ids=tuple(entry["deployment_ids"]), private_key=pem, kid=kid,
                        contexts=tuple(contexts))


def make_keys(folder: Path) -> tuple[Path, Path]:
    """A new RSA key pair (2048 bits) in FOLDER: private.key (0600) and public.key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from grader.report import write_atomic

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "private.key", private.decode(), private=True)
    write_atomic(folder / "public.key", public.decode())
    return folder / "private.key", folder / "public.key"
