import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    LOW: _ClassVar[Priority]
    MEDIUM: _ClassVar[Priority]
    HIGH: _ClassVar[Priority]
    CRITICAL: _ClassVar[Priority]
PRIORITY_UNSPECIFIED: Priority
LOW: Priority
MEDIUM: Priority
HIGH: Priority
CRITICAL: Priority

class TracingConfig(_message.Message):
    __slots__ = ("enabled", "sampling_percent", "otlp_endpoint", "max_queue_size", "max_export_batch_size", "schedule_delay", "id_seed")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_PERCENT_FIELD_NUMBER: _ClassVar[int]
    OTLP_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_EXPORT_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_DELAY_FIELD_NUMBER: _ClassVar[int]
    ID_SEED_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    sampling_percent: float
    otlp_endpoint: str
    max_queue_size: int
    max_export_batch_size: int
    schedule_delay: _duration_pb2.Duration
    id_seed: int
    def __init__(self, enabled: _Optional[bool] = ..., sampling_percent: _Optional[float] = ..., otlp_endpoint: _Optional[str] = ..., max_queue_size: _Optional[int] = ..., max_export_batch_size: _Optional[int] = ..., schedule_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., id_seed: _Optional[int] = ...) -> None: ...

class LoggingConfig(_message.Message):
    __slots__ = ("level", "format")
    class Format(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        FORMAT_UNSPECIFIED: _ClassVar[LoggingConfig.Format]
        JSON: _ClassVar[LoggingConfig.Format]
        TEXT: _ClassVar[LoggingConfig.Format]
    FORMAT_UNSPECIFIED: LoggingConfig.Format
    JSON: LoggingConfig.Format
    TEXT: LoggingConfig.Format
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    level: str
    format: LoggingConfig.Format
    def __init__(self, level: _Optional[str] = ..., format: _Optional[_Union[LoggingConfig.Format, str]] = ...) -> None: ...

class TelemetryConfig(_message.Message):
    __slots__ = ("redis_url", "window", "stream_maxlen", "buffer_windows", "buffer_events")
    REDIS_URL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    STREAM_MAXLEN_FIELD_NUMBER: _ClassVar[int]
    BUFFER_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    BUFFER_EVENTS_FIELD_NUMBER: _ClassVar[int]
    redis_url: str
    window: _duration_pb2.Duration
    stream_maxlen: int
    buffer_windows: int
    buffer_events: int
    def __init__(self, redis_url: _Optional[str] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stream_maxlen: _Optional[int] = ..., buffer_windows: _Optional[int] = ..., buffer_events: _Optional[int] = ...) -> None: ...

class LatencyHistogram(_message.Message):
    __slots__ = ("scheme", "offset", "counts", "count", "sum_seconds", "max_seconds")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUM_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    scheme: int
    offset: int
    counts: _containers.RepeatedScalarFieldContainer[int]
    count: int
    sum_seconds: float
    max_seconds: float
    def __init__(self, scheme: _Optional[int] = ..., offset: _Optional[int] = ..., counts: _Optional[_Iterable[int]] = ..., count: _Optional[int] = ..., sum_seconds: _Optional[float] = ..., max_seconds: _Optional[float] = ...) -> None: ...

class Aggregate(_message.Message):
    __slots__ = ("calls", "errors", "status_codes", "latency", "in_flight", "in_flight_peak", "request_bytes", "response_bytes", "counters", "started")
    class StatusCodesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CALLS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_PEAK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_BYTES_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    calls: int
    errors: int
    status_codes: _containers.ScalarMap[str, int]
    latency: LatencyHistogram
    in_flight: int
    in_flight_peak: int
    request_bytes: int
    response_bytes: int
    counters: _containers.ScalarMap[str, int]
    started: int
    def __init__(self, calls: _Optional[int] = ..., errors: _Optional[int] = ..., status_codes: _Optional[_Mapping[str, int]] = ..., latency: _Optional[_Union[LatencyHistogram, _Mapping]] = ..., in_flight: _Optional[int] = ..., in_flight_peak: _Optional[int] = ..., request_bytes: _Optional[int] = ..., response_bytes: _Optional[int] = ..., counters: _Optional[_Mapping[str, int]] = ..., started: _Optional[int] = ...) -> None: ...

class RouteAggregate(_message.Message):
    __slots__ = ("listener", "route", "cluster", "stats", "slowest", "failed", "methods")
    LISTENER_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    SLOWEST_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    listener: str
    route: str
    cluster: str
    stats: Aggregate
    slowest: Exemplar
    failed: _containers.RepeatedCompositeFieldContainer[Exemplar]
    methods: _containers.RepeatedCompositeFieldContainer[MethodAggregate]
    def __init__(self, listener: _Optional[str] = ..., route: _Optional[str] = ..., cluster: _Optional[str] = ..., stats: _Optional[_Union[Aggregate, _Mapping]] = ..., slowest: _Optional[_Union[Exemplar, _Mapping]] = ..., failed: _Optional[_Iterable[_Union[Exemplar, _Mapping]]] = ..., methods: _Optional[_Iterable[_Union[MethodAggregate, _Mapping]]] = ...) -> None: ...

class MethodAggregate(_message.Message):
    __slots__ = ("method", "stats")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    method: str
    stats: Aggregate
    def __init__(self, method: _Optional[str] = ..., stats: _Optional[_Union[Aggregate, _Mapping]] = ...) -> None: ...

class Exemplar(_message.Message):
    __slots__ = ("trace_id", "span_id", "method", "code", "seconds", "time")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    span_id: str
    method: str
    code: str
    seconds: float
    time: _timestamp_pb2.Timestamp
    def __init__(self, trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., method: _Optional[str] = ..., code: _Optional[str] = ..., seconds: _Optional[float] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClusterAggregate(_message.Message):
    __slots__ = ("name", "stats", "states")
    class StatesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    name: str
    stats: Aggregate
    states: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., stats: _Optional[_Union[Aggregate, _Mapping]] = ..., states: _Optional[_Mapping[str, str]] = ...) -> None: ...

class EndpointAggregate(_message.Message):
    __slots__ = ("cluster", "address", "stats", "states")
    class StatesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    address: str
    stats: Aggregate
    states: _containers.ScalarMap[str, str]
    def __init__(self, cluster: _Optional[str] = ..., address: _Optional[str] = ..., stats: _Optional[_Union[Aggregate, _Mapping]] = ..., states: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TelemetryWindow(_message.Message):
    __slots__ = ("service", "instance", "zone", "window_start", "window", "sequence", "policy_version", "routes", "clusters", "endpoints", "unrouted", "dropped_windows")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    UNROUTED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance: str
    zone: str
    window_start: _timestamp_pb2.Timestamp
    window: _duration_pb2.Duration
    sequence: int
    policy_version: str
    routes: _containers.RepeatedCompositeFieldContainer[RouteAggregate]
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterAggregate]
    endpoints: _containers.RepeatedCompositeFieldContainer[EndpointAggregate]
    unrouted: int
    dropped_windows: int
    def __init__(self, service: _Optional[str] = ..., instance: _Optional[str] = ..., zone: _Optional[str] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., sequence: _Optional[int] = ..., policy_version: _Optional[str] = ..., routes: _Optional[_Iterable[_Union[RouteAggregate, _Mapping]]] = ..., clusters: _Optional[_Iterable[_Union[ClusterAggregate, _Mapping]]] = ..., endpoints: _Optional[_Iterable[_Union[EndpointAggregate, _Mapping]]] = ..., unrouted: _Optional[int] = ..., dropped_windows: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("kind", "priority", "correlation_id", "time", "service", "instance", "route", "cluster", "endpoint", "message", "attributes", "sequence")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    priority: Priority
    correlation_id: str
    time: _timestamp_pb2.Timestamp
    service: str
    instance: str
    route: str
    cluster: str
    endpoint: str
    message: str
    attributes: _containers.ScalarMap[str, str]
    sequence: int
    def __init__(self, kind: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., correlation_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., service: _Optional[str] = ..., instance: _Optional[str] = ..., route: _Optional[str] = ..., cluster: _Optional[str] = ..., endpoint: _Optional[str] = ..., message: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., sequence: _Optional[int] = ...) -> None: ...

class GetLogLevelRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogLevel(_message.Message):
    __slots__ = ("level",)
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    level: str
    def __init__(self, level: _Optional[str] = ...) -> None: ...

class GetTelemetryStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TelemetryStats(_message.Message):
    __slots__ = ("publishing", "connected", "windows_published", "windows_dropped", "windows_buffered", "events_published", "events_dropped", "publish_errors", "reconnects", "tracing", "spans_dropped", "spans_ended")
    PUBLISHING_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_BUFFERED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_ERRORS_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    TRACING_FIELD_NUMBER: _ClassVar[int]
    SPANS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    SPANS_ENDED_FIELD_NUMBER: _ClassVar[int]
    publishing: bool
    connected: bool
    windows_published: int
    windows_dropped: int
    windows_buffered: int
    events_published: int
    events_dropped: int
    publish_errors: int
    reconnects: int
    tracing: bool
    spans_dropped: int
    spans_ended: int
    def __init__(self, publishing: _Optional[bool] = ..., connected: _Optional[bool] = ..., windows_published: _Optional[int] = ..., windows_dropped: _Optional[int] = ..., windows_buffered: _Optional[int] = ..., events_published: _Optional[int] = ..., events_dropped: _Optional[int] = ..., publish_errors: _Optional[int] = ..., reconnects: _Optional[int] = ..., tracing: _Optional[bool] = ..., spans_dropped: _Optional[int] = ..., spans_ended: _Optional[int] = ...) -> None: ...
