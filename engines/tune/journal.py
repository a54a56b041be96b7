"""The tuner's decisions out (I/O): each one logged, kept (newest last), pushed on the service's decisions list
(`apex.mesh.contract.tune.decisions_key`, the newest `RECENT`) and published on its event stream."""

from __future__ import annotations

import json
import logging
from typing import Any

from apex.mesh.bus import EventPublisher
from apex.mesh.contract import tune as keys

from engines.tune.decisions import INSTANCE, Doc

log = logging.getLogger("engines.tune.runner")
EVENTS_MAXLEN = 10_000


class Journal:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.decisions: list[Doc] = []  # this process's, newest last (tests, status)
        self.publishers: dict[str, EventPublisher] = {}

    async def record(self, doc: Doc) -> None:
        self.decisions.append(doc)
        log.log(logging.INFO if doc.shadow else logging.WARNING, "%s", doc.reason())
        key = keys.decisions_key(doc.service)
        await self.redis.lpush(key, json.dumps(doc.as_dict()))
        await self.redis.ltrim(key, 0, keys.RECENT - 1)
        pub = self.publishers.get(doc.service)
        if pub is None:
            pub = self.publishers[doc.service] = EventPublisher(self.redis, doc.service, INSTANCE,
                                                                maxlen=EVENTS_MAXLEN)  # fmt: skip
        kind, priority, cid, message, attributes = doc.event()
        await pub.publish(kind, priority=priority, correlation_id=cid, message=message, attributes=attributes)
