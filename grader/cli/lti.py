"""`grade lti-keys`: the tool's RSA key pair for LTI 1.3, and an lti.json to fill in (docs/lti.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from grader.cli.group import main


@main.command("lti-keys")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=Path("lti"))
@click.option("--force", is_flag=True, help="Replace a key pair already in FOLDER (platforms must get the new one).")
def lti_keys(folder, force):
    """Make the tool's key pair in FOLDER (private.key, 0600, and public.key) and, if there is none,
    FOLDER/lti.json for `grade serve --lti`, to be completed with the platform's values."""
    try:
        from grader.serve.lti.config import make_keys, public_jwk
    except ImportError as exc:
        raise click.UsageError(f"lti-keys needs the service's extra: pip install 'rnn-grader[serve]' "
                               f"({exc.name} is missing).") from None
    if (folder / "private.key").exists() and not force:
        raise click.UsageError(f"{folder / 'private.key'} exists: the platforms know its public key. "
                               "Use --force to make a new pair.")
    private, public = make_keys(folder)
    config = folder / "lti.json"
    if not config.exists():
        from grader.report import write_atomic

        template = {"https://canvas.instructure.com": {
            "client_id": "the developer key's client id",
            "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
            "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
            "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks",
            "deployment_ids": ["the deployment id"],
            "contexts": ["the course's context id (a first launch's refusal page shows it)"],
            "private_key_file": "private.key",
            "public_key_file": "public.key"}}
        write_atomic(config, json.dumps(template, indent=2) + "\n")
        click.echo(f"{config}: fill in the platform's values (docs/lti.md)", err=True)
    click.echo(f"{private} (keep it private) and {public}; the tool's JWKS, also served at /lti/jwks:", err=True)
    click.echo(json.dumps({"keys": [public_jwk(private.read_bytes())]}, indent=2))
