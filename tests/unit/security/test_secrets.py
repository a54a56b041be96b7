"""Secret references: parsed, resolved at the edge, refused inline, and redacted once resolved."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from apex.mesh.security.secrets import REDACTED, Redactor, SecretError, SecretRef, client_token, redact_url, resolve


def test_references_resolve_from_env_and_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret-from-file\n")
    assert resolve({"env": "TOKEN"}, {"TOKEN": "s3cret-from-env"}) == "s3cret-from-env"
    assert resolve("env:TOKEN", {"TOKEN": "s3cret-from-env"}) == "s3cret-from-env"
    assert resolve({"file": str(tmp_path / "token")}) == "s3cret-from-file"
    assert str(SecretRef.parse("file:/x")) == "file:/x"


def test_bad_references_say_why_and_never_show_a_value(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="by reference"):
        SecretRef.parse("hunter2-literal")
    with pytest.raises(SecretError, match="MISSING is not set"):
        resolve("env:MISSING", {})
    with pytest.raises(SecretError, match="not keys"):
        SecretRef.parse({"env": "A", "file": "B"})
    (tmp_path / "empty").write_text("")
    with pytest.raises(SecretError, match="empty"):
        resolve({"file": str(tmp_path / "empty")})


def test_url_passwords_and_resolved_values_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    assert redact_url("redis://user:pw-123@host:6379/0") == f"redis://user:{REDACTED}@host:6379/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
    redactor = Redactor()
    redactor.add("tok-abcdef")
    logger = logging.getLogger("test.redaction")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(redactor)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.debug("token is %s, url %s", "tok-abcdef", "redis://:pw-9@h:1/0")
    assert records == [f"token is {REDACTED}, url redis://:{REDACTED}@h:1/0"]


def test_cli_token_from_file_or_env(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("from-file-token\n")
    assert client_token({"APEX_TOKEN_FILE": str(tmp_path / "t")}) == "from-file-token"
    assert client_token({"APEX_TOKEN": "plain-token-value"}) == "plain-token-value"
    assert client_token({}) == ""
