"""Parse `cache-control` metadata (RFC 9111 directives that matter to a shared gRPC cache)."""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.core.call import Metadata, MetadataValue

BYPASS_KEY = "x-apex-cache"  # request metadata: "bypass" skips the lookup and refreshes the entry
STATUS_KEY = "x-apex-cache"  # trailing metadata of answers from the cache: "hit" or "stale"


@dataclass(frozen=True, slots=True)
class Directives:
    no_store: bool = False  # do not store (no-store, no-cache and private on a response)
    no_cache: bool = False  # request: skip the lookup, refresh the entry
    max_age: float | None = None  # s-maxage wins over max-age (we are a shared cache)


NONE = Directives()


def _text(value: MetadataValue) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def parse(values: list[str]) -> Directives:
    """Directives from the comma-separated `cache-control` values; unknown ones are ignored."""
    no_store = no_cache = False
    max_age: float | None = None
    s_maxage: float | None = None
    for value in values:
        for part in value.split(","):
            name, _, arg = part.strip().partition("=")
            name = name.strip().lower()
            if name in ("no-store", "private"):
                no_store = True
            elif name == "no-cache":
                no_cache = True
            elif name in ("max-age", "s-maxage"):
                try:
                    seconds = float(int(arg.strip().strip('"')))
                except ValueError:
                    continue  # a malformed age is ignored, as RFC 9111 asks
                if seconds < 0:
                    continue
                if name == "max-age":
                    max_age = seconds if max_age is None else min(max_age, seconds)
                else:
                    s_maxage = seconds
    return Directives(no_store=no_store, no_cache=no_cache, max_age=s_maxage if s_maxage is not None else max_age)


def of(metadata: Metadata) -> Directives:
    """The directives carried by `metadata` (NONE when it has no cache-control)."""
    values = [_text(v) for k, v in metadata if k == "cache-control"]
    return parse(values) if values else NONE


def request_bypass(metadata: Metadata) -> bool:
    """True when the caller asks to skip the cache lookup and refresh the entry."""
    for key, value in metadata:
        if key == BYPASS_KEY and _text(value).strip().lower() == "bypass":
            return True
        if key == "cache-control":
            directives = parse([_text(value)])
            if directives.no_cache or directives.max_age == 0:
                return True
    return False


def response_ttl(metadata: Metadata, policy_ttl: float) -> float:
    """How long a response may be stored: 0 for no-store/no-cache/private, else max-age or the policy TTL."""
    directives = of(metadata)
    if directives.no_store or directives.no_cache:
        return 0.0
    return policy_ttl if directives.max_age is None else directives.max_age
