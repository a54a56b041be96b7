import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WeightedCluster(_message.Message):
    __slots__ = ("cluster", "weight")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    weight: int
    def __init__(self, cluster: _Optional[str] = ..., weight: _Optional[int] = ...) -> None: ...

class ClusterOverride(_message.Message):
    __slots__ = ("header", "exact", "present", "cluster")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    header: str
    exact: str
    present: bool
    cluster: str
    def __init__(self, header: _Optional[str] = ..., exact: _Optional[str] = ..., present: _Optional[bool] = ..., cluster: _Optional[str] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "retry_on", "backoff_base", "backoff_max", "per_try_timeout", "idempotent_methods", "retry_non_idempotent", "budget")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RETRY_ON_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_BASE_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_MAX_FIELD_NUMBER: _ClassVar[int]
    PER_TRY_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    RETRY_NON_IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    retry_on: _containers.RepeatedScalarFieldContainer[str]
    backoff_base: _duration_pb2.Duration
    backoff_max: _duration_pb2.Duration
    per_try_timeout: _duration_pb2.Duration
    idempotent_methods: _containers.RepeatedScalarFieldContainer[str]
    retry_non_idempotent: bool
    budget: RetryBudget
    def __init__(self, max_attempts: _Optional[int] = ..., retry_on: _Optional[_Iterable[str]] = ..., backoff_base: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., backoff_max: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., per_try_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., idempotent_methods: _Optional[_Iterable[str]] = ..., retry_non_idempotent: _Optional[bool] = ..., budget: _Optional[_Union[RetryBudget, _Mapping]] = ...) -> None: ...

class RetryBudget(_message.Message):
    __slots__ = ("retry_percent", "min_retries_per_second", "ttl", "enforced")
    RETRY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MIN_RETRIES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    retry_percent: float
    min_retries_per_second: float
    ttl: _duration_pb2.Duration
    enforced: bool
    def __init__(self, retry_percent: _Optional[float] = ..., min_retries_per_second: _Optional[float] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., enforced: _Optional[bool] = ...) -> None: ...

class RateLimit(_message.Message):
    __slots__ = ("requests_per_second", "burst", "per_header", "max_callers", "enforced")
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    BURST_FIELD_NUMBER: _ClassVar[int]
    PER_HEADER_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLERS_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    requests_per_second: float
    burst: int
    per_header: str
    max_callers: int
    enforced: bool
    def __init__(self, requests_per_second: _Optional[float] = ..., burst: _Optional[int] = ..., per_header: _Optional[str] = ..., max_callers: _Optional[int] = ..., enforced: _Optional[bool] = ...) -> None: ...

class Fault(_message.Message):
    __slots__ = ("delay", "abort")
    class Delay(_message.Message):
        __slots__ = ("percent", "duration")
        PERCENT_FIELD_NUMBER: _ClassVar[int]
        DURATION_FIELD_NUMBER: _ClassVar[int]
        percent: float
        duration: _duration_pb2.Duration
        def __init__(self, percent: _Optional[float] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class Abort(_message.Message):
        __slots__ = ("percent", "code")
        PERCENT_FIELD_NUMBER: _ClassVar[int]
        CODE_FIELD_NUMBER: _ClassVar[int]
        percent: float
        code: str
        def __init__(self, percent: _Optional[float] = ..., code: _Optional[str] = ...) -> None: ...
    DELAY_FIELD_NUMBER: _ClassVar[int]
    ABORT_FIELD_NUMBER: _ClassVar[int]
    delay: Fault.Delay
    abort: Fault.Abort
    def __init__(self, delay: _Optional[_Union[Fault.Delay, _Mapping]] = ..., abort: _Optional[_Union[Fault.Abort, _Mapping]] = ...) -> None: ...

class RouteDefaults(_message.Message):
    __slots__ = ("random_seed",)
    RANDOM_SEED_FIELD_NUMBER: _ClassVar[int]
    random_seed: int
    def __init__(self, random_seed: _Optional[int] = ...) -> None: ...

class GetRouteDecisionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RouteDecisions(_message.Message):
    __slots__ = ("routes", "policy_version")
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    routes: _containers.RepeatedCompositeFieldContainer[RouteDecisionCounters]
    policy_version: str
    def __init__(self, routes: _Optional[_Iterable[_Union[RouteDecisionCounters, _Mapping]]] = ..., policy_version: _Optional[str] = ...) -> None: ...

class RouteDecisionCounters(_message.Message):
    __slots__ = ("listener", "route", "split", "header_overrides", "fallbacks", "timeouts", "requests", "retries", "retries_succeeded", "budget_exhausted", "budget_would_exhaust", "not_retried_committed", "not_retried_non_idempotent", "rate_limited", "rate_limited_shadow", "fault_delays", "fault_aborts", "per_try_timeouts")
    class SplitEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LISTENER_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    HEADER_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUTS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    RETRIES_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    BUDGET_EXHAUSTED_FIELD_NUMBER: _ClassVar[int]
    BUDGET_WOULD_EXHAUST_FIELD_NUMBER: _ClassVar[int]
    NOT_RETRIED_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    NOT_RETRIED_NON_IDEMPOTENT_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_SHADOW_FIELD_NUMBER: _ClassVar[int]
    FAULT_DELAYS_FIELD_NUMBER: _ClassVar[int]
    FAULT_ABORTS_FIELD_NUMBER: _ClassVar[int]
    PER_TRY_TIMEOUTS_FIELD_NUMBER: _ClassVar[int]
    listener: str
    route: str
    split: _containers.ScalarMap[str, int]
    header_overrides: int
    fallbacks: int
    timeouts: int
    requests: int
    retries: int
    retries_succeeded: int
    budget_exhausted: int
    budget_would_exhaust: int
    not_retried_committed: int
    not_retried_non_idempotent: int
    rate_limited: int
    rate_limited_shadow: int
    fault_delays: int
    fault_aborts: int
    per_try_timeouts: int
    def __init__(self, listener: _Optional[str] = ..., route: _Optional[str] = ..., split: _Optional[_Mapping[str, int]] = ..., header_overrides: _Optional[int] = ..., fallbacks: _Optional[int] = ..., timeouts: _Optional[int] = ..., requests: _Optional[int] = ..., retries: _Optional[int] = ..., retries_succeeded: _Optional[int] = ..., budget_exhausted: _Optional[int] = ..., budget_would_exhaust: _Optional[int] = ..., not_retried_committed: _Optional[int] = ..., not_retried_non_idempotent: _Optional[int] = ..., rate_limited: _Optional[int] = ..., rate_limited_shadow: _Optional[int] = ..., fault_delays: _Optional[int] = ..., fault_aborts: _Optional[int] = ..., per_try_timeouts: _Optional[int] = ...) -> None: ...
