"""The one rule for service names, instance ids and policy object names (shared by sidecar and engines).

A name is 1 to 253 characters: letters, digits, `.`, `_` and `-`, starting with a letter or
digit, and never containing `..` — close to a DNS subdomain / Kubernetes object name, so a
pod name or `shop.prod` works, while `*`, spaces, control characters, `/` and path tricks
like `../../etc` do not. Names become Redis keys, metric labels and terminal output.
"""

from __future__ import annotations

import re

NAME_RULE = "1-253 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, no '..'"
MAX_NAME = 253
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")


def name_problem(value: str) -> str | None:
    """Why `value` is not a valid name, or None when it is."""
    if not value:
        return "is empty"
    if len(value) > MAX_NAME:
        return f"is {len(value)} characters long (at most {MAX_NAME})"
    if _NAME.fullmatch(value) is None or ".." in value:
        return f"{value!r} is not a valid name ({NAME_RULE})"
    return None


def is_name(value: str) -> bool:
    return name_problem(value) is None
