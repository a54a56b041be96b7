"""W3C traceparent / B3 parsing and injection."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from sidecar.telemetry.tracing import extract, inject, parse_b3, parse_traceparent

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_traceparent_valid_and_invalid() -> None:
    assert parse_traceparent(TP) == (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, 1)
    for bad in (
        "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # missing flags
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  # not hex
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 has 4 parts
    ):  # fmt: skip
        assert parse_traceparent(bad) is None, bad


def test_b3_single_and_multi_headers() -> None:
    assert parse_b3((("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),)) == (
        0x80F198EE56343BA864FE8B2A57D3EFF7, 0xE457B5A2E4D86BD1, 1,
    )  # fmt: skip
    multi = (("x-b3-traceid", "e457b5a2e4d86bd1"), ("x-b3-spanid", "05e3ac9a4f6e3b90"), ("x-b3-sampled", "0"))
    assert parse_b3(multi) == (0xE457B5A2E4D86BD1, 0x05E3AC9A4F6E3B90, 0)  # 64-bit trace id, left-padded
    assert parse_b3((("b3", "0"),)) is None  # "deny" carries no ids
    assert parse_b3((("x-b3-traceid", "nothex"), ("x-b3-spanid", "05e3ac9a4f6e3b90"))) is None


def test_extract_prefers_w3c_and_keeps_tracestate() -> None:
    context = extract((("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), ("traceparent", TP),
                       ("tracestate", "a=1,b=2")))  # fmt: skip
    assert context is not None
    parent = trace.get_current_span(context).get_span_context()
    assert parent.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736 and parent.is_remote
    assert parent.trace_state.to_header() == "a=1,b=2"
    assert extract((("x-other", "1"),)) is None
    b3_only = extract((("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"),))
    assert b3_only is not None and not trace.get_current_span(b3_only).get_span_context().trace_flags.sampled


def test_inject_replaces_every_propagation_header() -> None:
    ctx = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1), trace_state=TraceState([("k", "v")]))
    md = inject((("traceparent", TP), ("b3", "x"), ("x-b3-traceid", "y"), ("keep", "me")), ctx)
    assert md == (
        ("keep", "me"),
        ("traceparent", f"00-{0xABC:032x}-{0xDEF:016x}-01"),
        ("tracestate", "k=v"),
    )
