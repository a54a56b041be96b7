"""The token endpoint call: an RFC 6749 client-credentials request (client_secret_basic), its answer parsed.

Blocking urllib in a worker thread: a token request is rare (once per token lifetime per route),
and urllib speaks HTTPS with the system's trust store, with no dependency to add.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from sidecar.policy.oauth2_model import OAuth2

MAX_ANSWER = 64 * 1024


class TokenError(Exception):
    """Why no token was obtained; names the endpoint and the OAuth2 error, never a secret."""


@dataclass(frozen=True, slots=True)
class Answer:
    access_token: str
    expires_in: float | None


def request_body(settings: OAuth2) -> bytes:
    form = {"grant_type": "client_credentials"}
    if settings.scopes:
        form["scope"] = " ".join(settings.scopes)
    if settings.audience:
        form["audience"] = settings.audience
    return urllib.parse.urlencode(form).encode()


def basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: both form-urlencoded, then HTTP Basic."""
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def parse_answer(status: int, body: bytes, url: str) -> Answer:
    """The token from a 200 answer; TokenError naming the OAuth2 error otherwise."""
    try:
        data = json.loads(body.decode("utf-8")) if body else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if status != 200:
        if isinstance(data, dict) and "error" in data:
            detail = str(data["error"])[:100]
            if data.get("error_description"):
                detail += f" ({str(data['error_description'])[:200]})"
        else:
            detail = "no OAuth2 error in the answer"
        raise TokenError(f"token endpoint {url} answered HTTP {status}: {detail}")
    if not isinstance(data, dict):
        raise TokenError(f"token endpoint {url} answered 200 without a JSON object")
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenError(f"token endpoint {url} answered 200 without access_token")
    kind = str(data.get("token_type", "Bearer"))
    if kind.lower() != "bearer":
        raise TokenError(f"token endpoint {url} gave a {kind!r} token; only Bearer tokens are supported")
    expires = data.get("expires_in")
    if expires is not None:
        try:
            expires = float(expires)
        except (TypeError, ValueError):
            raise TokenError(f"token endpoint {url}: expires_in {expires!r} is not a number") from None
        if expires <= 0:
            raise TokenError(f"token endpoint {url}: expires_in {expires} is not positive")
    return Answer(token, expires)


def fetch(settings: OAuth2, secret: str) -> Answer:
    """One token request (blocking: run it in a thread)."""
    url = settings.token_url
    request = urllib.request.Request(
        url,
        data=request_body(settings),
        method="POST",
        headers={
            "Authorization": basic_auth(settings.client_id, secret),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as answer:
            return parse_answer(answer.status, answer.read(MAX_ANSWER), url)
    except urllib.error.HTTPError as exc:
        return parse_answer(exc.code, exc.read(MAX_ANSWER), url)
    except TimeoutError:
        raise TokenError(f"token endpoint {url} did not answer within {settings.timeout:g}s") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TokenError(f"cannot reach token endpoint {url}: {reason}") from None
