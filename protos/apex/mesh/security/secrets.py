"""Secret references: configuration names where a secret is (`{env: NAME}`, `{file: PATH}`, or the
strings `env:NAME` / `file:PATH`) and the value is read at the edge, then redacted wherever printed."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

REDACTED = "<redacted>"


class SecretError(ValueError):
    """A reference that cannot be resolved; the message names it, never a value."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    env: str = ""
    file: str = ""

    def __str__(self) -> str:
        return f"env:{self.env}" if self.env else f"file:{self.file}"

    @classmethod
    def parse(cls, value: str | Mapping[str, str]) -> SecretRef:
        """`env:NAME`, `file:PATH`, `{env: NAME}` or `{file: PATH}`; anything else is refused (a
        literal secret in configuration is exactly what this exists to prevent)."""
        if isinstance(value, Mapping):
            keys = set(value)
            if keys == {"env"}:
                return cls(env=str(value["env"]))
            if keys == {"file"}:
                return cls(file=str(value["file"]))
            raise SecretError(f"a secret reference is {{env: NAME}} or {{file: PATH}}, not keys {sorted(keys)}")
        kind, sep, rest = value.partition(":")
        if sep and kind == "env" and rest:
            return cls(env=rest)
        if sep and kind == "file" and rest:
            return cls(file=rest)
        raise SecretError("a secret must be given by reference (env:NAME or file:PATH), not inline")

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        if self.env:
            value = (os.environ if environ is None else environ).get(self.env)
            if not value:
                raise SecretError(f"secret {self}: environment variable {self.env} is not set")
            return value
        try:
            with open(self.file, encoding="utf-8") as f:
                value = f.read().strip()
        except OSError as exc:
            raise SecretError(f"secret {self}: {exc.strerror}") from None
        if not value:
            raise SecretError(f"secret {self}: the file is empty")
        return value


_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@/\s]+)(?P<tail>@)", re.IGNORECASE)


_BEARER = re.compile(r"(?P<head>\bBearer\s+)(?P<token>[A-Za-z0-9\-._~+/]{8,}=*)")


def redact_url(url: str) -> str:
    """`redis://user:pw@host` → `redis://user:<redacted>@host`."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}{m['tail']}", url)


def redact_bearer(text: str) -> str:
    """`Bearer eyJhbGciOi...` → `Bearer <redacted>` (an access token printed by accident)."""
    return _BEARER.sub(lambda m: f"{m['head']}{REDACTED}", text)


class Redactor(logging.Filter):
    """Knows the secret values this process resolved; scrubs them (and URL passwords) from any
    text, and from every log record at any level when installed as a handler filter."""

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()

    def add(self, value: str) -> str:
        if len(value) >= 4:  # shorter values would redact ordinary text
            self._values.add(value)
        return value

    def discard(self, value: str) -> None:
        """Forget a value that is no longer used (a replaced access token), so the set stays small."""
        self._values.discard(value)

    def scrub(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return redact_bearer(redact_url(text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        return True


REDACTOR = Redactor()


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Put the process-wide Redactor on every handler of `logger` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)


def resolve(value: str | Mapping[str, str], environ: Mapping[str, str] | None = None) -> str:
    """Resolve a reference and remember its value for redaction."""
    return REDACTOR.add(SecretRef.parse(value).resolve(environ))


TOKEN_ENV = "APEX_TOKEN"  # an operator's or engine's control-plane token (or a reference: file:PATH)
TOKEN_FILE_ENV = "APEX_TOKEN_FILE"


def client_token(environ: Mapping[str, str] | None = None) -> str:
    """The bearer token operators' CLIs and engines send: $APEX_TOKEN_FILE's content, else
    $APEX_TOKEN (a value or an env:/file: reference); "" when neither is set."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN_FILE_ENV):
        return resolve({"file": env[TOKEN_FILE_ENV]}, env)
    value = env.get(TOKEN_ENV, "")
    if value.startswith(("env:", "file:")):
        return resolve(value, env)
    return REDACTOR.add(value) if value else ""


def bearer(token: str) -> tuple[tuple[str, str], ...] | None:
    """gRPC call metadata carrying `token` (None without one)."""
    return (("authorization", f"Bearer {token}"),) if token else None
