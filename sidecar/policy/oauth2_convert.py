"""Validated conversion of a route's `oauth2` (client credentials) field."""

from __future__ import annotations

import ipaddress
import urllib.parse

from apex.mesh.v1 import config_pb2

from sidecar.policy.errors import ConfigError
from sidecar.policy.fields import positive_seconds
from sidecar.policy.oauth2_model import DEFAULT_REFRESH_BEFORE, DEFAULT_TIMEOUT, OAuth2
from sidecar.policy.security_convert import secret_ref


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def oauth2(msg: config_pb2.OAuth2ClientCredentials, path: str) -> OAuth2:
    url = urllib.parse.urlsplit(msg.token_url)
    if url.scheme not in ("https", "http") or not url.hostname:
        raise ConfigError(f"{path}.token_url", f"{msg.token_url!r} is not an http(s) URL")
    if url.scheme == "http" and not _loopback(url.hostname):
        raise ConfigError(
            f"{path}.token_url", "plain http would send the client secret in clear: use https (http only to loopback)"
        )
    if url.username or url.password:
        raise ConfigError(f"{path}.token_url", "no credentials in the URL: use client_id and client_secret")
    if not msg.client_id:
        raise ConfigError(f"{path}.client_id", "a client id is required")
    if not msg.HasField("client_secret"):
        raise ConfigError(f"{path}.client_secret", "a secret reference is required ({env: NAME} or {file: PATH})")
    for i, scope in enumerate(msg.scopes):
        if not scope or any(c.isspace() for c in scope):
            raise ConfigError(f"{path}.scopes[{i}]", f"{scope!r} is not a scope (no spaces, not empty)")
    return OAuth2(
        token_url=msg.token_url,
        client_id=msg.client_id,
        client_secret=secret_ref(msg.client_secret, f"{path}.client_secret"),
        scopes=tuple(msg.scopes),
        audience=msg.audience,
        refresh_before=positive_seconds(msg, "refresh_before", path, DEFAULT_REFRESH_BEFORE),
        timeout=positive_seconds(msg, "timeout", path, DEFAULT_TIMEOUT),
    )
