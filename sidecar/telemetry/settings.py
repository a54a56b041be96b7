"""Observability settings from Bootstrap fields 20-23, validated into frozen dataclasses."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from apex.mesh.security.secrets import REDACTOR, SecretError, redact_url, resolve
from apex.mesh.v1 import config_pb2, telemetry_pb2

from sidecar.policy.address import parse_address
from sidecar.policy.errors import ConfigError
from sidecar.policy.security_convert import listener_access
from sidecar.policy.security_model import AdminAccess

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class Tracing:
    enabled: bool = False
    sampling_percent: float = 1.0
    otlp_endpoint: str = "127.0.0.1:4317"
    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    schedule_delay: float = 1.0
    id_seed: int = 0


@dataclass(frozen=True, slots=True)
class Telemetry:
    redis_url: str = ""
    window: float = 1.0
    stream_maxlen: int = 10_000
    buffer_windows: int = 300
    buffer_events: int = 1000


@dataclass(frozen=True, slots=True)
class Observability:
    tracing: Tracing = Tracing()
    metrics_address: str = ""
    metrics_access: AdminAccess = field(default_factory=AdminAccess)  # who may scrape (as the admin)
    log_level: str = "INFO"
    log_json: bool = True
    telemetry: Telemetry = Telemetry()

    @property
    def measuring(self) -> bool:
        """Whether the metrics layers are needed (a /metrics server or telemetry publishing)."""
        return bool(self.metrics_address or self.telemetry.redis_url)


def level_name(text: str, path: str) -> str:
    level = text.strip().upper() or "INFO"
    if level == "WARN":
        level = "WARNING"
    if level not in LEVELS or not isinstance(logging.getLevelName(level), int):
        raise ConfigError(path, f"unknown log level {text!r} (use one of {', '.join(LEVELS)})")
    return level


def _seconds(msg: object, field: str, default: float, path: str, minimum: float) -> float:
    if not msg.HasField(field):  # type: ignore[attr-defined]
        return default
    value = float(getattr(msg, field).ToNanoseconds() / 1e9)
    if value < minimum:
        raise ConfigError(f"{path}.{field}", f"must be at least {minimum}s, got {value}s")
    return value


def tracing(msg: telemetry_pb2.TracingConfig, path: str = "tracing") -> Tracing:
    percent = msg.sampling_percent if msg.HasField("sampling_percent") else 1.0
    if not math.isfinite(percent) or not 0.0 <= percent <= 100.0:
        raise ConfigError(f"{path}.sampling_percent", f"must be within 0..100, got {percent}")
    endpoint = msg.otlp_endpoint or "127.0.0.1:4317"
    if not endpoint.startswith(("http://", "https://")):
        try:
            parse_address(endpoint)
        except ValueError as exc:
            raise ConfigError(f"{path}.otlp_endpoint", str(exc)) from None
    queue = msg.max_queue_size or 2048
    batch = msg.max_export_batch_size or min(512, queue)
    if batch > queue:
        raise ConfigError(f"{path}.max_export_batch_size", f"{batch} exceeds max_queue_size {queue}")
    return Tracing(
        enabled=msg.enabled,
        sampling_percent=percent,
        otlp_endpoint=endpoint,
        max_queue_size=queue,
        max_export_batch_size=batch,
        schedule_delay=_seconds(msg, "schedule_delay", 1.0, path, 0.001),
        id_seed=msg.id_seed,
    )


def telemetry(msg: telemetry_pb2.TelemetryConfig, path: str = "telemetry") -> Telemetry:
    url = msg.redis_url
    if url.startswith(("env:", "file:")):  # a reference: the URL (with its password) is read here, at the edge
        try:
            url = resolve(url)
        except SecretError as exc:
            raise ConfigError(f"{path}.redis_url", str(exc)) from None
    if url:
        parts = urlsplit(url)
        shown = redact_url(url)
        if parts.scheme not in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
            expected = "redis://, rediss://, unix:// or (a Redis Cluster node) redis+cluster://"
            raise ConfigError(f"{path}.redis_url", f"expected {expected}, got {shown!r}")
        if parts.scheme != "unix" and not parts.hostname:
            raise ConfigError(f"{path}.redis_url", f"no host in {shown!r}")
        if parts.password:
            REDACTOR.add(parts.password)  # never printed by this process, whatever the log level
    return Telemetry(
        redis_url=url,
        window=_seconds(msg, "window", 1.0, path, 0.01),
        stream_maxlen=msg.stream_maxlen or 10_000,
        buffer_windows=msg.buffer_windows or 300,
        buffer_events=msg.buffer_events or 1000,
    )


def observability(config: config_pb2.Bootstrap) -> Observability:
    """The observability settings of a bootstrap; ConfigError names the bad field."""
    metrics = config.metrics.address
    access = AdminAccess()
    if metrics:
        if metrics.startswith(":"):  # a port alone: loopback, as the admin listener
            metrics = "127.0.0.1" + metrics
        try:
            address = parse_address(metrics, allow_port_zero=True)
        except ValueError as exc:
            raise ConfigError("metrics.address", str(exc)) from None
        access = listener_access(config.metrics, config.HasField("security"), address, "metrics")
    elif config.HasField("metrics") and (config.metrics.HasField("token") or config.metrics.mtls):
        raise ConfigError("metrics.address", "a token or mtls without an address: set metrics.address")
    return Observability(
        tracing=tracing(config.tracing),
        metrics_address=metrics,
        metrics_access=access,
        log_level=level_name(config.logging.level, "logging.level"),
        log_json=config.logging.format != telemetry_pb2.LoggingConfig.TEXT,
        telemetry=telemetry(config.telemetry),
    )
