"""The pure parts of outbound OAuth2: when to refresh, backoff, the token endpoint's answers, config validation."""

from __future__ import annotations

import base64
import re

import pytest
from apex.mesh.v1 import config_pb2

from sidecar.layers.oauth2.endpoint import TokenError, basic_auth, parse_answer, request_body
from sidecar.layers.oauth2.tokens import MAX_BACKOFF, TokenState
from sidecar.policy.errors import ConfigError
from sidecar.policy.oauth2_convert import oauth2
from sidecar.policy.oauth2_model import OAuth2

URL = "https://auth.example.com/token"


def test_a_token_is_used_until_expiry_and_refreshed_before_it() -> None:
    state = TokenState(refresh_before=60)
    assert state.fetch_due(0) and state.usable(0) is None
    state.installed("t1", 3600, now=1000)
    assert state.usable(1000) == "t1" and state.usable(4599.9) == "t1" and state.usable(4600) is None
    assert state.refresh_at() == 4540
    assert not state.fetch_due(4539) and state.fetch_due(4540)
    state.installed("t2", 30, now=5000)  # short-lived: refreshed at half its life, not continuously
    assert state.refresh_at() == 5015


def test_failed_fetches_back_off_exponentially_up_to_a_cap() -> None:
    state = TokenState(refresh_before=60)
    waits = [state.failed("down", now=100) - 100 for _ in range(8)]
    assert waits == [1, 2, 4, 8, 16, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF]
    assert not state.fetch_due(100 + MAX_BACKOFF - 0.1) and state.fetch_due(100 + MAX_BACKOFF)
    assert state.last_error == "down"
    state.installed("t", None, now=200)  # no expires_in: trusted for a default lifetime
    assert state.failures == 0 and state.usable(200 + 299) == "t" and state.usable(200 + 300) is None


def test_client_authentication_and_form_follow_rfc_6749() -> None:
    header = basic_auth("my client", "s3cr:t&")
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == "my+client:s3cr%3At%26"
    settings = OAuth2(URL, "c", {"env": "X"}, scopes=("read", "write"), audience="api")
    assert request_body(settings) == b"grant_type=client_credentials&scope=read+write&audience=api"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, b'{"error": "invalid_client", "error_description": "bad"}', "HTTP 401: invalid_client (bad)"),
        (500, b"<html>oops</html>", "HTTP 500: no OAuth2 error in the answer"),
        (200, b"[]", "without a JSON object"),
        (200, b'{"token_type": "Bearer"}', "without access_token"),
        (200, b'{"access_token": "a", "token_type": "mac"}', "only Bearer tokens"),
        (200, b'{"access_token": "a", "expires_in": "soon"}', "is not a number"),
        (200, b'{"access_token": "a", "expires_in": 0}', "is not positive"),
    ],
)
def test_bad_answers_give_errors_naming_the_endpoint_and_the_problem(status: int, body: bytes, message: str) -> None:
    with pytest.raises(TokenError, match=re.escape(f"token endpoint {URL}")) as err:
        parse_answer(status, body, URL)
    assert message in str(err.value)


def test_a_good_answer() -> None:
    answer = parse_answer(200, b'{"access_token": "abc", "token_type": "bearer", "expires_in": 120}', URL)
    assert (answer.access_token, answer.expires_in) == ("abc", 120.0)


def _msg(**fields: object) -> config_pb2.OAuth2ClientCredentials:
    base: dict[str, object] = {"token_url": URL, "client_id": "c", "client_secret": {"env": "SECRET"}}
    base.update(fields)
    return config_pb2.OAuth2ClientCredentials(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        ({"token_url": "http://auth.example.com/token"}, "r.oauth2.token_url", "in clear"),
        ({"token_url": "ftp://x/token"}, "r.oauth2.token_url", "not an http(s) URL"),
        ({"token_url": "https://u:p@auth.example.com/t"}, "r.oauth2.token_url", "no credentials in the URL"),
        ({"client_id": ""}, "r.oauth2.client_id", "required"),
        ({"client_secret": None}, "r.oauth2.client_secret", "secret reference is required"),
        ({"client_secret": {"env": "A", "file": "/b"}}, "r.oauth2.client_secret", "exactly one"),
        ({"scopes": ["read write"]}, "r.oauth2.scopes[0]", "not a scope"),
    ],
)
def test_bad_oauth2_config_names_the_field(fields: dict[str, object], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        oauth2(_msg(**fields), "r.oauth2")
    assert err.value.field == path and reason in str(err.value)


def test_plain_http_is_allowed_to_loopback_only() -> None:
    assert oauth2(_msg(token_url="http://127.0.0.1:8080/token"), "r").token_url.startswith("http://127.0.0.1")
    assert oauth2(_msg(token_url="http://localhost:8080/token"), "r").client_secret == {"env": "SECRET"}
