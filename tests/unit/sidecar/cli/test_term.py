"""Control characters from remote data are escaped before they reach a terminal (issue 10.f)."""

from __future__ import annotations

import logging

from apex.mesh.v1 import control_pb2

from sidecar.cli import policy_view as view
from sidecar.cli.term import SafeFormatter, safe, safe_lines


def test_safe_escapes_every_control_character() -> None:
    assert safe("a\x1b[31mb\nc\td\re\x00f\x7fg\x9bh") == "a\\x1b[31mb\\nc\\td\\re\\x00f\\x7fg\\x9bh"
    assert safe("plain.name-1_ünï") == "plain.name-1_ünï"


def test_safe_lines_keeps_line_breaks_only() -> None:
    assert safe_lines("one\x1b[2J\ntwo\r") == "one\\x1b[2J\ntwo\\r"


def test_tables_escape_their_cells() -> None:
    status = control_pb2.InstanceStatus(service="echo", instance="i\x1b[31m\nx", last_nack_reason="bad\x07")
    text = view.instances_table([status])
    assert "\x1b" not in text and "\x07" not in text
    assert len(text.splitlines()) == 2 and "i\\x1b[31m\\nx" in text


def test_the_safe_formatter_escapes_log_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "service %s", ("a\x1b[2Jb",), None)
    assert SafeFormatter("%(message)s").format(record) == "service a\\x1b[2Jb"


def test_bidi_controls_are_escaped_too() -> None:
    assert safe("abc\u202edef") == "abc\\u202edef"
