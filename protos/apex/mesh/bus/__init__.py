"""The public event bus on `apex:events:{service}`: publish and subscribe to apex.mesh.v1.Event.

    from apex.mesh.bus import EventPublisher, EventSubscriber, Priority

    pub = EventPublisher(client, service="checkout", instance="checkout-1")
    await pub.publish("service.health_degraded", priority=Priority.HIGH, message="p99 over 2s")

    sub = EventSubscriber(client, group="pager", consumer="pager-1", services=["checkout"],
                          min_priority=Priority.HIGH, max_deliveries=5)
    for delivery in await sub.fetch():
        ...                        # handle delivery.event
        await sub.ack(delivery)    # unacked: redelivered after claim_idle_ms, dead-lettered after N

See docs/events.md. Usable by sidecars, engines and services alike: it imports only redis-py,
the generated protos and apex.mesh.contract.
"""

from apex.mesh.bus.buffer import OfflineBuffer
from apex.mesh.bus.events import Priority, decode, encode, new_event, parse_priority, priority_name
from apex.mesh.bus.publisher import EventPublisher, PublisherStats
from apex.mesh.bus.subscriber import Delivery, EventSubscriber, SubscriberStats

__all__ = [
    "Delivery",
    "EventPublisher",
    "EventSubscriber",
    "OfflineBuffer",
    "Priority",
    "PublisherStats",
    "SubscriberStats",
    "decode",
    "encode",
    "new_event",
    "parse_priority",
    "priority_name",
]
