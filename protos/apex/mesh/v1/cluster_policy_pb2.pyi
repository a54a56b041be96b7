import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoadBalancer(_message.Message):
    __slots__ = ("round_robin", "least_request", "peak_ewma", "panic_threshold")
    ROUND_ROBIN_FIELD_NUMBER: _ClassVar[int]
    LEAST_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PEAK_EWMA_FIELD_NUMBER: _ClassVar[int]
    PANIC_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    round_robin: RoundRobin
    least_request: LeastRequest
    peak_ewma: PeakEwma
    panic_threshold: float
    def __init__(self, round_robin: _Optional[_Union[RoundRobin, _Mapping]] = ..., least_request: _Optional[_Union[LeastRequest, _Mapping]] = ..., peak_ewma: _Optional[_Union[PeakEwma, _Mapping]] = ..., panic_threshold: _Optional[float] = ...) -> None: ...

class RoundRobin(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LeastRequest(_message.Message):
    __slots__ = ("choice_count",)
    CHOICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    choice_count: int
    def __init__(self, choice_count: _Optional[int] = ...) -> None: ...

class PeakEwma(_message.Message):
    __slots__ = ("decay", "default_rtt")
    DECAY_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RTT_FIELD_NUMBER: _ClassVar[int]
    decay: _duration_pb2.Duration
    default_rtt: _duration_pb2.Duration
    def __init__(self, decay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., default_rtt: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ConcurrencyLimits(_message.Message):
    __slots__ = ("max_requests", "max_pending", "max_retries", "pending_timeout", "reject_code", "enforced")
    MAX_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MAX_PENDING_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    PENDING_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    REJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    max_requests: int
    max_pending: int
    max_retries: int
    pending_timeout: _duration_pb2.Duration
    reject_code: str
    enforced: bool
    def __init__(self, max_requests: _Optional[int] = ..., max_pending: _Optional[int] = ..., max_retries: _Optional[int] = ..., pending_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., reject_code: _Optional[str] = ..., enforced: _Optional[bool] = ...) -> None: ...

class AdaptiveConcurrency(_message.Message):
    __slots__ = ("min_limit", "max_limit", "initial_limit", "sample_window", "baseline_window", "smoothing", "tolerance", "reject_code", "enforced")
    MIN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_LIMIT_FIELD_NUMBER: _ClassVar[int]
    INITIAL_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_WINDOW_FIELD_NUMBER: _ClassVar[int]
    BASELINE_WINDOW_FIELD_NUMBER: _ClassVar[int]
    SMOOTHING_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    REJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    min_limit: int
    max_limit: int
    initial_limit: int
    sample_window: _duration_pb2.Duration
    baseline_window: _duration_pb2.Duration
    smoothing: float
    tolerance: float
    reject_code: str
    enforced: bool
    def __init__(self, min_limit: _Optional[int] = ..., max_limit: _Optional[int] = ..., initial_limit: _Optional[int] = ..., sample_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., baseline_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., smoothing: _Optional[float] = ..., tolerance: _Optional[float] = ..., reject_code: _Optional[str] = ..., enforced: _Optional[bool] = ...) -> None: ...

class OutlierDetection(_message.Message):
    __slots__ = ("consecutive_failures", "interval", "window", "base_ejection_time", "max_ejection_time", "max_ejection_percent", "half_open_probes", "success_rate", "failure_percentage", "failure_codes", "connect_failures", "enforced")
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    BASE_EJECTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_EJECTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_EJECTION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    HALF_OPEN_PROBES_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODES_FIELD_NUMBER: _ClassVar[int]
    CONNECT_FAILURES_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    consecutive_failures: int
    interval: _duration_pb2.Duration
    window: _duration_pb2.Duration
    base_ejection_time: _duration_pb2.Duration
    max_ejection_time: _duration_pb2.Duration
    max_ejection_percent: float
    half_open_probes: int
    success_rate: SuccessRate
    failure_percentage: FailurePercentage
    failure_codes: _containers.RepeatedScalarFieldContainer[str]
    connect_failures: bool
    enforced: bool
    def __init__(self, consecutive_failures: _Optional[int] = ..., interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., base_ejection_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_ejection_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_ejection_percent: _Optional[float] = ..., half_open_probes: _Optional[int] = ..., success_rate: _Optional[_Union[SuccessRate, _Mapping]] = ..., failure_percentage: _Optional[_Union[FailurePercentage, _Mapping]] = ..., failure_codes: _Optional[_Iterable[str]] = ..., connect_failures: _Optional[bool] = ..., enforced: _Optional[bool] = ...) -> None: ...

class SuccessRate(_message.Message):
    __slots__ = ("stdev_factor", "minimum_hosts", "request_volume")
    STDEV_FACTOR_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_HOSTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_VOLUME_FIELD_NUMBER: _ClassVar[int]
    stdev_factor: float
    minimum_hosts: int
    request_volume: int
    def __init__(self, stdev_factor: _Optional[float] = ..., minimum_hosts: _Optional[int] = ..., request_volume: _Optional[int] = ...) -> None: ...

class FailurePercentage(_message.Message):
    __slots__ = ("threshold", "minimum_hosts", "request_volume")
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_HOSTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_VOLUME_FIELD_NUMBER: _ClassVar[int]
    threshold: float
    minimum_hosts: int
    request_volume: int
    def __init__(self, threshold: _Optional[float] = ..., minimum_hosts: _Optional[int] = ..., request_volume: _Optional[int] = ...) -> None: ...

class HealthCheck(_message.Message):
    __slots__ = ("interval", "timeout", "unhealthy_threshold", "healthy_threshold", "service", "enforced")
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    UNHEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    interval: _duration_pb2.Duration
    timeout: _duration_pb2.Duration
    unhealthy_threshold: int
    healthy_threshold: int
    service: str
    enforced: bool
    def __init__(self, interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., unhealthy_threshold: _Optional[int] = ..., healthy_threshold: _Optional[int] = ..., service: _Optional[str] = ..., enforced: _Optional[bool] = ...) -> None: ...

class GetClustersRequest(_message.Message):
    __slots__ = ("cluster",)
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    def __init__(self, cluster: _Optional[str] = ...) -> None: ...

class ClustersState(_message.Message):
    __slots__ = ("clusters", "policy_version")
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterStatus]
    policy_version: str
    def __init__(self, clusters: _Optional[_Iterable[_Union[ClusterStatus, _Mapping]]] = ..., policy_version: _Optional[str] = ...) -> None: ...

class ClusterStatus(_message.Message):
    __slots__ = ("name", "load_balancer", "healthy", "panic", "in_flight", "pending", "retries_in_flight", "limits", "outlier_enforced", "health_check_enforced", "counters", "endpoints", "adaptive_limit", "adaptive_in_flight", "adaptive_enforced")
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    PANIC_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    RETRIES_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    OUTLIER_ENFORCED_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_ENFORCED_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_ENFORCED_FIELD_NUMBER: _ClassVar[int]
    name: str
    load_balancer: str
    healthy: bool
    panic: bool
    in_flight: int
    pending: int
    retries_in_flight: int
    limits: ConcurrencyLimits
    outlier_enforced: bool
    health_check_enforced: bool
    counters: _containers.ScalarMap[str, int]
    endpoints: _containers.RepeatedCompositeFieldContainer[EndpointStatus]
    adaptive_limit: int
    adaptive_in_flight: int
    adaptive_enforced: bool
    def __init__(self, name: _Optional[str] = ..., load_balancer: _Optional[str] = ..., healthy: _Optional[bool] = ..., panic: _Optional[bool] = ..., in_flight: _Optional[int] = ..., pending: _Optional[int] = ..., retries_in_flight: _Optional[int] = ..., limits: _Optional[_Union[ConcurrencyLimits, _Mapping]] = ..., outlier_enforced: _Optional[bool] = ..., health_check_enforced: _Optional[bool] = ..., counters: _Optional[_Mapping[str, int]] = ..., endpoints: _Optional[_Iterable[_Union[EndpointStatus, _Mapping]]] = ..., adaptive_limit: _Optional[int] = ..., adaptive_in_flight: _Optional[int] = ..., adaptive_enforced: _Optional[bool] = ...) -> None: ...

class EndpointStatus(_message.Message):
    __slots__ = ("address", "origin", "weight", "state", "ejected_for_seconds", "times_ejected", "ewma_ms", "in_flight", "health", "probes_in_flight", "counters", "shadow_state")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[EndpointStatus.State]
        ACTIVE: _ClassVar[EndpointStatus.State]
        EJECTED: _ClassVar[EndpointStatus.State]
        HALF_OPEN: _ClassVar[EndpointStatus.State]
    STATE_UNSPECIFIED: EndpointStatus.State
    ACTIVE: EndpointStatus.State
    EJECTED: EndpointStatus.State
    HALF_OPEN: EndpointStatus.State
    class Health(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        HEALTH_UNSPECIFIED: _ClassVar[EndpointStatus.Health]
        UNKNOWN: _ClassVar[EndpointStatus.Health]
        SERVING: _ClassVar[EndpointStatus.Health]
        NOT_SERVING: _ClassVar[EndpointStatus.Health]
    HEALTH_UNSPECIFIED: EndpointStatus.Health
    UNKNOWN: EndpointStatus.Health
    SERVING: EndpointStatus.Health
    NOT_SERVING: EndpointStatus.Health
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EJECTED_FOR_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIMES_EJECTED_FIELD_NUMBER: _ClassVar[int]
    EWMA_MS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    PROBES_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_STATE_FIELD_NUMBER: _ClassVar[int]
    address: str
    origin: str
    weight: int
    state: EndpointStatus.State
    ejected_for_seconds: float
    times_ejected: int
    ewma_ms: float
    in_flight: int
    health: EndpointStatus.Health
    probes_in_flight: int
    counters: _containers.ScalarMap[str, int]
    shadow_state: EndpointStatus.State
    def __init__(self, address: _Optional[str] = ..., origin: _Optional[str] = ..., weight: _Optional[int] = ..., state: _Optional[_Union[EndpointStatus.State, str]] = ..., ejected_for_seconds: _Optional[float] = ..., times_ejected: _Optional[int] = ..., ewma_ms: _Optional[float] = ..., in_flight: _Optional[int] = ..., health: _Optional[_Union[EndpointStatus.Health, str]] = ..., probes_in_flight: _Optional[int] = ..., counters: _Optional[_Mapping[str, int]] = ..., shadow_state: _Optional[_Union[EndpointStatus.State, str]] = ...) -> None: ...
