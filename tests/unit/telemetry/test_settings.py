"""Observability settings: defaults and errors naming the field."""

from __future__ import annotations

import pytest

from sidecar.config.bootstrap import parse_yaml
from sidecar.policy.errors import ConfigError
from sidecar.telemetry.settings import observability


def settings(text: str):  # type: ignore[no-untyped-def]
    return observability(parse_yaml(text, "test.yaml"))


def test_defaults_and_values() -> None:
    s = settings("{}")
    assert not s.tracing.enabled and s.tracing.sampling_percent == 1.0 and not s.measuring
    assert s.log_level == "INFO" and s.log_json and s.telemetry.window == 1.0
    s = settings(
        "tracing: {enabled: true, sampling_percent: 0, otlp_endpoint: 'collector:4317'}\n"
        "metrics: {address: '0.0.0.0:9102', token: {env: T}}\nlogging: {level: warn, format: TEXT}\n"
        "telemetry: {redis_url: 'rediss://:secret@redis:6380/0', window: 250ms, stream_maxlen: 500}\n"
    )
    assert s.tracing.enabled and s.tracing.sampling_percent == 0.0 and s.tracing.otlp_endpoint == "collector:4317"
    assert s.metrics_address == "0.0.0.0:9102" and s.log_level == "WARNING" and not s.log_json
    assert s.telemetry.window == 0.25 and s.telemetry.stream_maxlen == 500 and s.measuring


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("tracing: {sampling_percent: 150}", "tracing.sampling_percent", "0..100"),
        ("tracing: {otlp_endpoint: 'nope'}", "tracing.otlp_endpoint", ""),
        ("tracing: {max_queue_size: 10, max_export_batch_size: 20}", "tracing.max_export_batch_size", "exceeds"),
        ("telemetry: {redis_url: 'http://x:1'}", "telemetry.redis_url", "redis://"),
        ("telemetry: {redis_url: 'redis://x:1', window: 1ms}", "telemetry.window", "at least"),
        ("logging: {level: loud}", "logging.level", "unknown log level"),
        ("metrics: {address: 'nope'}", "metrics.address", ""),
        ("metrics: {address: '0.0.0.0:9102'}", "metrics.address", "(not loopback) without authentication"),
        ("metrics: {address: '10.1.2.3:9102'}", "metrics.address", "set metrics.token"),
        ("metrics: {address: '0.0.0.0:9102', token: {}}", "metrics.token", "exactly one of env or file"),
        ("metrics: {address: '0.0.0.0:9102', mtls: strict}", "metrics.mtls", "needs a `security` section"),
        ("metrics: {address: '0.0.0.0:9102', mtls: permissive, token: {env: T}}", "metrics.mtls", "one of disable"),
        (
            "metrics: {address: '127.0.0.1:9102', allowed_principals: ['spiffe://x/*']}",
            "metrics.allowed_principals",
            "under `mtls: strict` only",
        ),
        ("metrics: {token: {env: T}}", "metrics.address", "without an address"),
    ],
)
def test_bad_settings_name_the_field(text: str, field: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings(text)
    assert err.value.field == field and reason in err.value.reason


def test_the_metrics_listener_follows_the_admin_rule() -> None:
    """Loopback is open; anything else needs a token or mTLS (docs/security.md, "The metrics listener")."""
    assert settings("metrics: {address: '127.0.0.1:0'}").metrics_access.open
    assert settings("metrics: {address: ':9102'}").metrics_address == "127.0.0.1:9102"  # a port alone: loopback
    token = settings("metrics: {address: '0.0.0.0:9102', token: {file: /run/t}}").metrics_access
    assert token.token == {"file": "/run/t"} and not token.mtls
    mtls = settings(
        "security: {certificate_files: {certificate: c, private_key: k, trust_bundle: b}}\n"
        "metrics: {address: '0.0.0.0:9102', mtls: strict, allowed_principals: ['spiffe://cluster.local/ns/ops/*']}"
    ).metrics_access
    assert mtls.mtls and mtls.token is None and mtls.allowed_principals == ("spiffe://cluster.local/ns/ops/*",)
