"""Shared fixtures: a real Echo server, real sidecar processes, a real Redis server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import RedisServer, external_url
from tests.support.sidecar_proc import SidecarProcess, proxy_config

# Property tests check properties, not speed: no per-example deadline (a loaded 2-core CI machine
# turns hypothesis's 200 ms default into flaky failures; timing belongs in benchmarks/), and
# derandomized, so every run draws the same seeded examples (reproducible, like every other RNG here).
settings.register_profile(
    "apex", deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("apex")


@pytest.fixture(scope="session")
def echo() -> Iterator[BackgroundEcho]:
    server = BackgroundEcho("echo").start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def sidecar(echo: BackgroundEcho) -> Iterator[SidecarProcess]:
    """One sidecar in front of the session's Echo server (inbound and outbound listeners)."""
    with SidecarProcess(proxy_config(echo.address)) as proc:
        yield proc


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis for the session: APEX_REDIS_URL if set, else a redis-server we start."""
    url = external_url()
    if url:
        yield url
        return
    server = RedisServer().start()
    yield server.url
    server.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private Redis server this test may stop and restart (outage tests)."""
    server = RedisServer().start()
    yield server
    server.close()
