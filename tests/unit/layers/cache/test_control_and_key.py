"""cache-control parsing, bypass metadata and cache keys (vary values)."""

from __future__ import annotations

from sidecar.layers.cache import control
from sidecar.layers.cache import key as keys


def test_response_ttl_honours_cache_control_over_policy() -> None:
    assert control.response_ttl((), 30.0) == 30.0
    assert control.response_ttl((("cache-control", "max-age=5"),), 30.0) == 5.0
    assert control.response_ttl((("cache-control", "public, max-age=120"),), 30.0) == 120.0
    assert control.response_ttl((("cache-control", "max-age=60, s-maxage=7"),), 30.0) == 7.0
    assert control.response_ttl((("cache-control", "no-store"),), 30.0) == 0.0
    assert control.response_ttl((("cache-control", "no-cache"),), 30.0) == 0.0
    assert control.response_ttl((("cache-control", "private, max-age=60"),), 30.0) == 0.0
    assert control.response_ttl((("cache-control", "max-age=0"),), 30.0) == 0.0


def test_malformed_directives_are_ignored() -> None:
    assert control.response_ttl((("cache-control", "max-age=soon"),), 30.0) == 30.0
    assert control.response_ttl((("cache-control", "max-age=-3"),), 30.0) == 30.0
    assert control.response_ttl((("cache-control", b"max-age=4"),), 30.0) == 4.0
    assert control.parse(['max-age="9", foo=bar']).max_age == 9.0


def test_request_bypass() -> None:
    assert control.request_bypass((("cache-control", "no-cache"),))
    assert control.request_bypass((("cache-control", "max-age=0"),))
    assert control.request_bypass((("x-apex-cache", "bypass"),))
    assert control.request_bypass((("x-apex-cache", "BYPASS "),))
    assert not control.request_bypass((("x-apex-cache", "hit"),))
    assert not control.request_bypass((("cache-control", "max-age=10"), ("x-other", "no-cache")))


def test_key_varies_on_configured_metadata_only() -> None:
    vary = ("x-tenant",)
    a = keys.make("/s.S/M", "c", (("x-tenant", "a"), ("x-trace", "1")), vary, b"req")
    a2 = keys.make("/s.S/M", "c", (("x-trace", "2"), ("x-tenant", "a")), vary, b"req")
    b = keys.make("/s.S/M", "c", (("x-tenant", "b"),), vary, b"req")
    absent = keys.make("/s.S/M", "c", (), vary, b"req")
    empty = keys.make("/s.S/M", "c", (("x-tenant", ""),), vary, b"req")
    assert a == a2
    assert len({a, b, absent, empty}) == 4
    assert a.startswith("/s.S/M|c|x-tenant=a|")


def test_key_differs_by_request_bytes_method_and_cluster() -> None:
    base = keys.make("/s.S/M", "c", (), (), b"req")
    assert base != keys.make("/s.S/M", "c", (), (), b"req2")
    assert base != keys.make("/s.S/N", "c", (), (), b"req")
    assert base != keys.make("/s.S/M", "d", (), (), b"req")


def test_credentials_are_hashed_in_keys() -> None:
    k1 = keys.make("/s.S/M", "c", (("authorization", "Bearer secret-1"),), ("authorization",), b"")
    k2 = keys.make("/s.S/M", "c", (("authorization", "Bearer secret-2"),), ("authorization",), b"")
    assert k1 != k2
    assert "secret" not in k1 and "authorization=h:" in k1


def test_binary_metadata_values_key_as_hex() -> None:
    k = keys.make("/s.S/M", "c", (("x-id-bin", b"\x01\xff"),), ("x-id-bin",), b"")
    assert "x-id-bin=01ff" in k
