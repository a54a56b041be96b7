"""What the engines published, read from Redis for the dashboard: the events streams of the demo's
services (read without a consumer group, like `apex events tail`) and the forecaster's show-state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from apex.mesh.bus import decode, priority_name
from apex.mesh.contract import forecast as keys
from apex.mesh.contract import streams
from apex.mesh.contract.entries import EntryError

from sidecar.demo.panels import EngineLog, Item


@dataclass
class EnginesView:
    client: aioredis.Redis
    services: tuple[str, ...]
    log: EngineLog = field(default_factory=EngineLog)
    forecasts: dict[str, dict[str, Any]] = field(default_factory=dict)  # service -> FORECAST document
    unreadable: int = 0  # entries on an events stream that are not Events
    _last: dict[str, str] = field(default_factory=dict)  # stream -> last entry id read

    async def refresh(self) -> None:
        for service in self.services:
            key = streams.events_key(service)
            found: Any = await self.client.xread({key: self._last.get(key, "0-0")}, count=500)
            for _, batch in found or ():
                for raw_id, fields in batch:
                    self._last[key] = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    try:
                        event = decode(fields)
                    except EntryError:
                        self.unreadable += 1
                        continue
                    self.log.add([Item(event.time.ToNanoseconds() / 1e9, event.service or service, event.kind,
                                       priority_name(event.priority), event.message, event.correlation_id,
                                       dict(event.attributes), event.instance)])  # fmt: skip
            doc: Any = await self.client.hget(keys.state_key(service), keys.FORECAST)
            if doc:
                self.forecasts[service] = json.loads(doc)
