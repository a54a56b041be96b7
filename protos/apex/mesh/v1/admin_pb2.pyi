from apex.mesh.v1 import config_pb2 as _config_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfigDump(_message.Message):
    __slots__ = ("bootstrap", "source", "bound_addresses", "clusters", "method_kinds", "route_stacks")
    class BoundAddressesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MethodKindsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    BOUND_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    METHOD_KINDS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_STACKS_FIELD_NUMBER: _ClassVar[int]
    bootstrap: _config_pb2.Bootstrap
    source: str
    bound_addresses: _containers.ScalarMap[str, str]
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterState]
    method_kinds: _containers.ScalarMap[str, str]
    route_stacks: _containers.RepeatedCompositeFieldContainer[RouteStack]
    def __init__(self, bootstrap: _Optional[_Union[_config_pb2.Bootstrap, _Mapping]] = ..., source: _Optional[str] = ..., bound_addresses: _Optional[_Mapping[str, str]] = ..., clusters: _Optional[_Iterable[_Union[ClusterState, _Mapping]]] = ..., method_kinds: _Optional[_Mapping[str, str]] = ..., route_stacks: _Optional[_Iterable[_Union[RouteStack, _Mapping]]] = ...) -> None: ...

class ClusterState(_message.Message):
    __slots__ = ("name", "resolved_endpoints", "layers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    resolved_endpoints: _containers.RepeatedScalarFieldContainer[str]
    layers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., resolved_endpoints: _Optional[_Iterable[str]] = ..., layers: _Optional[_Iterable[str]] = ...) -> None: ...

class RouteStack(_message.Message):
    __slots__ = ("listener", "route", "layers")
    LISTENER_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    listener: str
    route: str
    layers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, listener: _Optional[str] = ..., route: _Optional[str] = ..., layers: _Optional[_Iterable[str]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Stats(_message.Message):
    __slots__ = ("routes", "unrouted", "policy_version", "transport")
    class TransportEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    UNROUTED_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    routes: _containers.RepeatedCompositeFieldContainer[RouteStats]
    unrouted: int
    policy_version: str
    transport: _containers.ScalarMap[str, int]
    def __init__(self, routes: _Optional[_Iterable[_Union[RouteStats, _Mapping]]] = ..., unrouted: _Optional[int] = ..., policy_version: _Optional[str] = ..., transport: _Optional[_Mapping[str, int]] = ...) -> None: ...

class RouteStats(_message.Message):
    __slots__ = ("listener", "route", "cluster", "calls", "in_flight", "status_codes", "latency_count", "p50_seconds", "p95_seconds", "p99_seconds")
    class StatusCodesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LISTENER_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_COUNT_FIELD_NUMBER: _ClassVar[int]
    P50_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P95_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P99_SECONDS_FIELD_NUMBER: _ClassVar[int]
    listener: str
    route: str
    cluster: str
    calls: int
    in_flight: int
    status_codes: _containers.ScalarMap[str, int]
    latency_count: int
    p50_seconds: float
    p95_seconds: float
    p99_seconds: float
    def __init__(self, listener: _Optional[str] = ..., route: _Optional[str] = ..., cluster: _Optional[str] = ..., calls: _Optional[int] = ..., in_flight: _Optional[int] = ..., status_codes: _Optional[_Mapping[str, int]] = ..., latency_count: _Optional[int] = ..., p50_seconds: _Optional[float] = ..., p95_seconds: _Optional[float] = ..., p99_seconds: _Optional[float] = ...) -> None: ...
