"""`sharebatch login`: one password login, tokens saved for the runs that follow."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from runner.batches.baseurl import REGION_BASE_URLS, check_base_url
from runner.commands.console import echo
from runner.errors import UsageError
from runner.outputs.logsetup import configure_logging
from runner.platform.auth.api import Credentials, password_login
from runner.platform.auth.tokenfile import default_token_file, save_tokens
from runner.platform.auth.tokens import DOMAIN_SECRET_ENV, PASSWORD_ENV
from runner.platform.tls import tls_context
from runner.redact import Secret


async def run_login(
    *,
    email: str | None,
    phone: str | None,
    international_code: str,
    user_domain: str,
    base_url: str | None,
    region: str | None,
    token_file: Path | None,
    allow_insecure_http: bool,
    prompt: Callable[[str], str],
    ca_bundle: Path | None = None,
) -> str:
    """Log in once and save the pair; returns the line to show (no secret in it)."""
    if (base_url is None) == (region is None):
        raise UsageError("give exactly one of --base-url URL or --region eu|cn")
    url = check_base_url(base_url or REGION_BASE_URLS[str(region)], allow_insecure_http=allow_insecure_http)
    password = os.environ.get(PASSWORD_ENV) or prompt(PASSWORD_ENV)
    secret = os.environ.get(DOMAIN_SECRET_ENV) or prompt(DOMAIN_SECRET_ENV)
    credentials = Credentials(user_domain=user_domain, password=Secret(password), domain_secret=Secret(secret),
                              email=email, phone=phone, international_code=international_code)
    path = token_file or default_token_file()
    connector = aiohttp.TCPConnector(ssl=tls_context(ca_bundle))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), connector=connector) as session:
        pair = await password_login(session, url, credentials)
    try:
        save_tokens(path, pair, base_url=url)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the token file ({exc.strerror or type(exc).__name__}); "
                         "give a --token-file in a folder you can write, then log in again") from None
    until = datetime.fromtimestamp(pair.refresh_expires_at, UTC).isoformat(timespec="minutes")
    return f"logged in; tokens saved to {path} (mode 0600); the refresh token is valid until {until}"


def login_command(
    email: str | None, phone: str | None, international_code: str, user_domain: str, base_url: str | None,
    region: str | None, token_file: Path | None, allow_insecure_http: bool | None, ca_bundle: Path | None, debug: bool,
) -> int:
    """Log in, save the tokens, print where; the exit code (a refused login raises LoginError)."""
    import asyncio

    configure_logging(debug=debug)
    if bool(email) == bool(phone):
        raise UsageError("give exactly one of --email or --phone")
    saved = asyncio.run(run_login(
        email=email, phone=phone, international_code=international_code, user_domain=user_domain,
        base_url=base_url, region=region, token_file=token_file, allow_insecure_http=bool(allow_insecure_http),
        ca_bundle=ca_bundle, prompt=_prompt_secret,
    ))
    echo(saved)
    return 0


def _prompt_secret(label: str) -> str:
    import sys

    import click

    if not sys.stdin.isatty():
        raise UsageError(f"{label} is not set in the environment and there is no terminal to ask for it")
    value: str = click.prompt(label, hide_input=True, err=True)
    return value
