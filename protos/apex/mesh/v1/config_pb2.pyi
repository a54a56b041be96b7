import datetime

from apex.mesh.v1 import cache_pb2 as _cache_pb2
from apex.mesh.v1 import telemetry_pb2 as _telemetry_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from apex.mesh.v1 import route_policy_pb2 as _route_policy_pb2
from apex.mesh.v1 import cluster_policy_pb2 as _cluster_policy_pb2
from apex.mesh.v1 import auth_policy_pb2 as _auth_policy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Bootstrap(_message.Message):
    __slots__ = ("node", "admin", "listeners", "policy", "cache", "tracing", "metrics", "logging", "telemetry", "control_plane", "last_good_policy_file", "heartbeat_interval", "security")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    TRACING_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    LOGGING_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    CONTROL_PLANE_FIELD_NUMBER: _ClassVar[int]
    LAST_GOOD_POLICY_FILE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FIELD_NUMBER: _ClassVar[int]
    node: Node
    admin: AdminListener
    listeners: _containers.RepeatedCompositeFieldContainer[Listener]
    policy: Policy
    cache: _cache_pb2.CacheBounds
    tracing: _telemetry_pb2.TracingConfig
    metrics: MetricsConfig
    logging: _telemetry_pb2.LoggingConfig
    telemetry: _telemetry_pb2.TelemetryConfig
    control_plane: str
    last_good_policy_file: str
    heartbeat_interval: _duration_pb2.Duration
    security: Security
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ..., admin: _Optional[_Union[AdminListener, _Mapping]] = ..., listeners: _Optional[_Iterable[_Union[Listener, _Mapping]]] = ..., policy: _Optional[_Union[Policy, _Mapping]] = ..., cache: _Optional[_Union[_cache_pb2.CacheBounds, _Mapping]] = ..., tracing: _Optional[_Union[_telemetry_pb2.TracingConfig, _Mapping]] = ..., metrics: _Optional[_Union[MetricsConfig, _Mapping]] = ..., logging: _Optional[_Union[_telemetry_pb2.LoggingConfig, _Mapping]] = ..., telemetry: _Optional[_Union[_telemetry_pb2.TelemetryConfig, _Mapping]] = ..., control_plane: _Optional[str] = ..., last_good_policy_file: _Optional[str] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., security: _Optional[_Union[Security, _Mapping]] = ...) -> None: ...

class Security(_message.Message):
    __slots__ = ("trust_domain", "namespace", "certificate_files", "certificate_ttl", "join_token")
    TRUST_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FILES_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_TTL_FIELD_NUMBER: _ClassVar[int]
    JOIN_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trust_domain: str
    namespace: str
    certificate_files: CertificateFiles
    certificate_ttl: _duration_pb2.Duration
    join_token: SecretRef
    def __init__(self, trust_domain: _Optional[str] = ..., namespace: _Optional[str] = ..., certificate_files: _Optional[_Union[CertificateFiles, _Mapping]] = ..., certificate_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., join_token: _Optional[_Union[SecretRef, _Mapping]] = ...) -> None: ...

class SecretRef(_message.Message):
    __slots__ = ("env", "file")
    ENV_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    env: str
    file: str
    def __init__(self, env: _Optional[str] = ..., file: _Optional[str] = ...) -> None: ...

class CertificateFiles(_message.Message):
    __slots__ = ("certificate", "private_key", "trust_bundle", "poll_interval")
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_KEY_FIELD_NUMBER: _ClassVar[int]
    TRUST_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    POLL_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    certificate: str
    private_key: str
    trust_bundle: str
    poll_interval: _duration_pb2.Duration
    def __init__(self, certificate: _Optional[str] = ..., private_key: _Optional[str] = ..., trust_bundle: _Optional[str] = ..., poll_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("service", "instance", "zone", "labels", "address")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance: str
    zone: str
    labels: _containers.ScalarMap[str, str]
    address: str
    def __init__(self, service: _Optional[str] = ..., instance: _Optional[str] = ..., zone: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., address: _Optional[str] = ...) -> None: ...

class AdminListener(_message.Message):
    __slots__ = ("address", "token", "mtls", "allowed_principals")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MTLS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    address: str
    token: SecretRef
    mtls: str
    allowed_principals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, address: _Optional[str] = ..., token: _Optional[_Union[SecretRef, _Mapping]] = ..., mtls: _Optional[str] = ..., allowed_principals: _Optional[_Iterable[str]] = ...) -> None: ...

class MetricsConfig(_message.Message):
    __slots__ = ("address", "token", "mtls", "allowed_principals")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MTLS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    address: str
    token: SecretRef
    mtls: str
    allowed_principals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, address: _Optional[str] = ..., token: _Optional[_Union[SecretRef, _Mapping]] = ..., mtls: _Optional[str] = ..., allowed_principals: _Optional[_Iterable[str]] = ...) -> None: ...

class Listener(_message.Message):
    __slots__ = ("name", "address", "direction", "route_table", "default_authority", "transport", "limits", "mtls", "allowed_principals", "h2")
    class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DIRECTION_UNSPECIFIED: _ClassVar[Listener.Direction]
        INBOUND: _ClassVar[Listener.Direction]
        OUTBOUND: _ClassVar[Listener.Direction]
    DIRECTION_UNSPECIFIED: Listener.Direction
    INBOUND: Listener.Direction
    OUTBOUND: Listener.Direction
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    ROUTE_TABLE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    MTLS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    H2_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    direction: Listener.Direction
    route_table: str
    default_authority: str
    transport: str
    limits: WireLimits
    mtls: str
    allowed_principals: _containers.RepeatedScalarFieldContainer[str]
    h2: Http2Settings
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., direction: _Optional[_Union[Listener.Direction, str]] = ..., route_table: _Optional[str] = ..., default_authority: _Optional[str] = ..., transport: _Optional[str] = ..., limits: _Optional[_Union[WireLimits, _Mapping]] = ..., mtls: _Optional[str] = ..., allowed_principals: _Optional[_Iterable[str]] = ..., h2: _Optional[_Union[Http2Settings, _Mapping]] = ...) -> None: ...

class Http2Settings(_message.Message):
    __slots__ = ("header_timeout", "idle_timeout", "connect_timeout", "keepalive_interval", "stream_window_bytes", "connection_window_bytes")
    HEADER_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    STREAM_WINDOW_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_WINDOW_BYTES_FIELD_NUMBER: _ClassVar[int]
    header_timeout: _duration_pb2.Duration
    idle_timeout: _duration_pb2.Duration
    connect_timeout: _duration_pb2.Duration
    keepalive_interval: _duration_pb2.Duration
    stream_window_bytes: int
    connection_window_bytes: int
    def __init__(self, header_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., idle_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., connect_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., keepalive_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stream_window_bytes: _Optional[int] = ..., connection_window_bytes: _Optional[int] = ...) -> None: ...

class WireLimits(_message.Message):
    __slots__ = ("max_message_bytes", "max_metadata_bytes", "max_concurrent_streams")
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_METADATA_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    max_message_bytes: int
    max_metadata_bytes: int
    max_concurrent_streams: int
    def __init__(self, max_message_bytes: _Optional[int] = ..., max_metadata_bytes: _Optional[int] = ..., max_concurrent_streams: _Optional[int] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("version", "route_tables", "clusters", "route_defaults", "cache", "jwt", "authorization")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUTE_TABLES_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    JWT_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    version: str
    route_tables: _containers.RepeatedCompositeFieldContainer[RouteTable]
    clusters: _containers.RepeatedCompositeFieldContainer[Cluster]
    route_defaults: _route_policy_pb2.RouteDefaults
    cache: _containers.RepeatedCompositeFieldContainer[_cache_pb2.CacheRule]
    jwt: _auth_policy_pb2.RequestAuthentication
    authorization: _containers.RepeatedCompositeFieldContainer[_auth_policy_pb2.AuthorizationPolicy]
    def __init__(self, version: _Optional[str] = ..., route_tables: _Optional[_Iterable[_Union[RouteTable, _Mapping]]] = ..., clusters: _Optional[_Iterable[_Union[Cluster, _Mapping]]] = ..., route_defaults: _Optional[_Union[_route_policy_pb2.RouteDefaults, _Mapping]] = ..., cache: _Optional[_Iterable[_Union[_cache_pb2.CacheRule, _Mapping]]] = ..., jwt: _Optional[_Union[_auth_policy_pb2.RequestAuthentication, _Mapping]] = ..., authorization: _Optional[_Iterable[_Union[_auth_policy_pb2.AuthorizationPolicy, _Mapping]]] = ...) -> None: ...

class RouteTable(_message.Message):
    __slots__ = ("name", "routes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    routes: _containers.RepeatedCompositeFieldContainer[Route]
    def __init__(self, name: _Optional[str] = ..., routes: _Optional[_Iterable[_Union[Route, _Mapping]]] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("name", "match", "cluster", "clusters", "overrides", "fallback_cluster", "timeout", "retry", "rate_limit", "fault", "oauth2")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    FAULT_FIELD_NUMBER: _ClassVar[int]
    OAUTH2_FIELD_NUMBER: _ClassVar[int]
    name: str
    match: RouteMatch
    cluster: str
    clusters: _containers.RepeatedCompositeFieldContainer[_route_policy_pb2.WeightedCluster]
    overrides: _containers.RepeatedCompositeFieldContainer[_route_policy_pb2.ClusterOverride]
    fallback_cluster: str
    timeout: _duration_pb2.Duration
    retry: _route_policy_pb2.RetryPolicy
    rate_limit: _route_policy_pb2.RateLimit
    fault: _route_policy_pb2.Fault
    oauth2: OAuth2ClientCredentials
    def __init__(self, name: _Optional[str] = ..., match: _Optional[_Union[RouteMatch, _Mapping]] = ..., cluster: _Optional[str] = ..., clusters: _Optional[_Iterable[_Union[_route_policy_pb2.WeightedCluster, _Mapping]]] = ..., overrides: _Optional[_Iterable[_Union[_route_policy_pb2.ClusterOverride, _Mapping]]] = ..., fallback_cluster: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry: _Optional[_Union[_route_policy_pb2.RetryPolicy, _Mapping]] = ..., rate_limit: _Optional[_Union[_route_policy_pb2.RateLimit, _Mapping]] = ..., fault: _Optional[_Union[_route_policy_pb2.Fault, _Mapping]] = ..., oauth2: _Optional[_Union[OAuth2ClientCredentials, _Mapping]] = ...) -> None: ...

class OAuth2ClientCredentials(_message.Message):
    __slots__ = ("token_url", "client_id", "client_secret", "scopes", "audience", "refresh_before", "timeout")
    TOKEN_URL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    REFRESH_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    token_url: str
    client_id: str
    client_secret: SecretRef
    scopes: _containers.RepeatedScalarFieldContainer[str]
    audience: str
    refresh_before: _duration_pb2.Duration
    timeout: _duration_pb2.Duration
    def __init__(self, token_url: _Optional[str] = ..., client_id: _Optional[str] = ..., client_secret: _Optional[_Union[SecretRef, _Mapping]] = ..., scopes: _Optional[_Iterable[str]] = ..., audience: _Optional[str] = ..., refresh_before: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RouteMatch(_message.Message):
    __slots__ = ("authority", "method", "prefix", "service", "headers")
    AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    authority: str
    method: str
    prefix: str
    service: str
    headers: _containers.RepeatedCompositeFieldContainer[HeaderMatch]
    def __init__(self, authority: _Optional[str] = ..., method: _Optional[str] = ..., prefix: _Optional[str] = ..., service: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[HeaderMatch, _Mapping]]] = ...) -> None: ...

class HeaderMatch(_message.Message):
    __slots__ = ("name", "exact", "prefix", "present", "invert")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    INVERT_FIELD_NUMBER: _ClassVar[int]
    name: str
    exact: str
    prefix: str
    present: bool
    invert: bool
    def __init__(self, name: _Optional[str] = ..., exact: _Optional[str] = ..., prefix: _Optional[str] = ..., present: _Optional[bool] = ..., invert: _Optional[bool] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("name", "endpoints", "dns_refresh", "authority", "transport", "mtls", "h2", "mtls_server_identity", "load_balancer", "limits", "outlier_detection", "health_check", "adaptive_concurrency", "discover")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    DNS_REFRESH_FIELD_NUMBER: _ClassVar[int]
    AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    MTLS_FIELD_NUMBER: _ClassVar[int]
    H2_FIELD_NUMBER: _ClassVar[int]
    MTLS_SERVER_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCER_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    OUTLIER_DETECTION_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    DISCOVER_FIELD_NUMBER: _ClassVar[int]
    name: str
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    dns_refresh: _duration_pb2.Duration
    authority: str
    transport: str
    mtls: bool
    h2: Http2Settings
    mtls_server_identity: str
    load_balancer: _cluster_policy_pb2.LoadBalancer
    limits: _cluster_policy_pb2.ConcurrencyLimits
    outlier_detection: _cluster_policy_pb2.OutlierDetection
    health_check: _cluster_policy_pb2.HealthCheck
    adaptive_concurrency: _cluster_policy_pb2.AdaptiveConcurrency
    discover: str
    def __init__(self, name: _Optional[str] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., dns_refresh: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., authority: _Optional[str] = ..., transport: _Optional[str] = ..., mtls: _Optional[bool] = ..., h2: _Optional[_Union[Http2Settings, _Mapping]] = ..., mtls_server_identity: _Optional[str] = ..., load_balancer: _Optional[_Union[_cluster_policy_pb2.LoadBalancer, _Mapping]] = ..., limits: _Optional[_Union[_cluster_policy_pb2.ConcurrencyLimits, _Mapping]] = ..., outlier_detection: _Optional[_Union[_cluster_policy_pb2.OutlierDetection, _Mapping]] = ..., health_check: _Optional[_Union[_cluster_policy_pb2.HealthCheck, _Mapping]] = ..., adaptive_concurrency: _Optional[_Union[_cluster_policy_pb2.AdaptiveConcurrency, _Mapping]] = ..., discover: _Optional[str] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("address", "weight")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    address: str
    weight: int
    def __init__(self, address: _Optional[str] = ..., weight: _Optional[int] = ...) -> None: ...
