"""Cache keys: "<method>|<cluster>|<vary values>[&who=h:<hash>]|<hash of the request message>".

The readable parts come first so that a purge by key prefix can target a method, a cluster
or a tenant (`/pkg.S/Get|backend|x-tenant=acme`). Unless its rule is `shareable`, a key also holds
a hash of the caller's identity (mTLS principal and JWT request principal), so one principal's
answer is never served to another.
"""

from __future__ import annotations

import hashlib

from sidecar.core.call import Metadata, MetadataValue

# Credentials never appear in keys in clear: their values are hashed.
SECRET_KEYS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _value(name: str, value: MetadataValue) -> str:
    if name in SECRET_KEYS:
        raw = value.encode() if isinstance(value, str) else value
        return "h:" + hashlib.blake2b(raw, digest_size=8).hexdigest()
    return value.hex() if isinstance(value, bytes) else value


def vary_part(metadata: Metadata, vary: tuple[str, ...]) -> str:
    """The values of the `vary` keys, in rule order; repeated keys keep every value."""
    if not vary:
        return ""
    parts = []
    for name in vary:
        values = [_value(name, v) for k, v in metadata if k == name]
        # A missing key and an empty value differ: "-" marks absence.
        parts.append(f"{name}={','.join(values)}" if values else f"{name}-")
    return "&".join(parts)


def digest(message: bytes) -> str:
    """A 128-bit hash of the request bytes (blake2b: fast, collision-resistant)."""
    return hashlib.blake2b(message, digest_size=16).hexdigest()


def identity(principal: str, request_principal: str) -> str:
    """The caller's identity as a key part ("" when it has none: every anonymous caller shares entries)."""
    if not principal and not request_principal:
        return ""
    raw = f"{principal}\n{request_principal}".encode()
    return "who=h:" + hashlib.blake2b(raw, digest_size=12).hexdigest()


def make(method: str, cluster: str, metadata: Metadata, vary: tuple[str, ...], message: bytes, who: str = "") -> str:
    """The key; `who` is `identity(...)` of the caller, or "" for answers shared by every caller."""
    varied = vary_part(metadata, vary)
    if who:
        varied = f"{varied}&{who}" if varied else who
    return f"{method}|{cluster}|{varied}|{digest(message)}"
