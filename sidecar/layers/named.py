"""Named layers and the stacks built from one ordered list of them (printable at runtime).

A layer is a small object with a `name` that wraps the next service (`layer(inner) -> Service`),
like linkerd2-proxy's `push` chains or starlette's middleware list. A stack is built once from
an ordered list, outermost first; entries that are None (policy not configured) are left out, so
`Stack.names` is exactly the chain a call walks through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sidecar.core.service import Service


class NamedLayer(Protocol):
    """A layer with a name: wraps the next service into another one."""

    @property
    def name(self) -> str: ...

    def __call__(self, inner: Service) -> Service: ...


@dataclass(frozen=True, slots=True)
class Stack:
    """A built stack: the service a call enters, and the names of what it passes, in order."""

    service: Service
    names: tuple[str, ...]


def build(layers: Iterable[NamedLayer | None], target: Service, target_name: str) -> Stack:
    """Wrap `target` in `layers` (the first listed is the outermost), skipping the Nones."""
    present = [layer for layer in layers if layer is not None]
    service = target
    for layer in reversed(present):
        service = layer(service)
    return Stack(service, (*(layer.name for layer in present), target_name))
