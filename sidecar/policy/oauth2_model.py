"""The validated outbound OAuth2 client-credentials settings of a route (docs/security.md)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REFRESH_BEFORE = 60.0
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class OAuth2:
    """Where and how a route's sidecar obtains access tokens; the secret is a reference, never a value."""

    token_url: str
    client_id: str
    client_secret: dict[str, str]  # {env: NAME} or {file: PATH}
    scopes: tuple[str, ...] = ()
    audience: str = ""
    refresh_before: float = DEFAULT_REFRESH_BEFORE
    timeout: float = DEFAULT_TIMEOUT

    def __hash__(self) -> int:  # dict fields: hash what identifies the settings
        return hash((self.token_url, self.client_id, tuple(sorted(self.client_secret.items())), self.scopes))
