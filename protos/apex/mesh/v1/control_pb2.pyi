import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from apex.mesh.v1 import config_pb2 as _config_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_SOURCE_UNSPECIFIED: _ClassVar[ChangeSource]
    OPERATOR: _ClassVar[ChangeSource]
    FORECASTER: _ClassVar[ChangeSource]
    TUNER: _ClassVar[ChangeSource]
CHANGE_SOURCE_UNSPECIFIED: ChangeSource
OPERATOR: ChangeSource
FORECASTER: ChangeSource
TUNER: ChangeSource

class SidecarMessage(_message.Message):
    __slots__ = ("hello", "heartbeat", "ack", "nack", "subscribe", "certificate_request")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    ack: Ack
    nack: Nack
    subscribe: Subscribe
    certificate_request: CertificateRequest
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., nack: _Optional[_Union[Nack, _Mapping]] = ..., subscribe: _Optional[_Union[Subscribe, _Mapping]] = ..., certificate_request: _Optional[_Union[CertificateRequest, _Mapping]] = ...) -> None: ...

class CertificateRequest(_message.Message):
    __slots__ = ("csr", "ttl_seconds")
    CSR_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    csr: bytes
    ttl_seconds: int
    def __init__(self, csr: _Optional[bytes] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("service", "instance", "inbound_address", "zone", "version", "labels", "applied_version")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    INBOUND_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance: str
    inbound_address: str
    zone: str
    version: str
    labels: _containers.ScalarMap[str, str]
    applied_version: str
    def __init__(self, service: _Optional[str] = ..., instance: _Optional[str] = ..., inbound_address: _Optional[str] = ..., zone: _Optional[str] = ..., version: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., applied_version: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("applied_version",)
    APPLIED_VERSION_FIELD_NUMBER: _ClassVar[int]
    applied_version: str
    def __init__(self, applied_version: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("version", "nonce")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    version: str
    nonce: str
    def __init__(self, version: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class Nack(_message.Message):
    __slots__ = ("version", "nonce", "field", "reason")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    version: str
    nonce: str
    field: str
    reason: str
    def __init__(self, version: _Optional[str] = ..., nonce: _Optional[str] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Subscribe(_message.Message):
    __slots__ = ("clusters",)
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[DiscoveredCluster]
    def __init__(self, clusters: _Optional[_Iterable[_Union[DiscoveredCluster, _Mapping]]] = ...) -> None: ...

class DiscoveredCluster(_message.Message):
    __slots__ = ("cluster", "service")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    service: str
    def __init__(self, cluster: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class ControlMessage(_message.Message):
    __slots__ = ("policy", "endpoints", "certificate", "trust_bundle")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    TRUST_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyPush
    endpoints: EndpointPush
    certificate: CertificateIssued
    trust_bundle: TrustBundle
    def __init__(self, policy: _Optional[_Union[PolicyPush, _Mapping]] = ..., endpoints: _Optional[_Union[EndpointPush, _Mapping]] = ..., certificate: _Optional[_Union[CertificateIssued, _Mapping]] = ..., trust_bundle: _Optional[_Union[TrustBundle, _Mapping]] = ...) -> None: ...

class CertificateIssued(_message.Message):
    __slots__ = ("certificate_chain", "trust_bundle", "error", "mtls_address")
    CERTIFICATE_CHAIN_FIELD_NUMBER: _ClassVar[int]
    TRUST_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MTLS_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    certificate_chain: bytes
    trust_bundle: bytes
    error: str
    mtls_address: str
    def __init__(self, certificate_chain: _Optional[bytes] = ..., trust_bundle: _Optional[bytes] = ..., error: _Optional[str] = ..., mtls_address: _Optional[str] = ...) -> None: ...

class TrustBundle(_message.Message):
    __slots__ = ("roots",)
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    roots: bytes
    def __init__(self, roots: _Optional[bytes] = ...) -> None: ...

class PolicyPush(_message.Message):
    __slots__ = ("version", "nonce", "policy")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    version: str
    nonce: str
    policy: _config_pb2.Policy
    def __init__(self, version: _Optional[str] = ..., nonce: _Optional[str] = ..., policy: _Optional[_Union[_config_pb2.Policy, _Mapping]] = ...) -> None: ...

class EndpointPush(_message.Message):
    __slots__ = ("clusters",)
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterEndpoints]
    def __init__(self, clusters: _Optional[_Iterable[_Union[ClusterEndpoints, _Mapping]]] = ...) -> None: ...

class ClusterEndpoints(_message.Message):
    __slots__ = ("cluster", "addresses")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class CaRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CaStatus(_message.Message):
    __slots__ = ("trust_domain", "roots", "workload_ttl_seconds")
    TRUST_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    trust_domain: str
    roots: _containers.RepeatedCompositeFieldContainer[CaRoot]
    workload_ttl_seconds: float
    def __init__(self, trust_domain: _Optional[str] = ..., roots: _Optional[_Iterable[_Union[CaRoot, _Mapping]]] = ..., workload_ttl_seconds: _Optional[float] = ...) -> None: ...

class CaRoot(_message.Message):
    __slots__ = ("subject", "fingerprint_sha256", "not_after")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_SHA256_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    subject: str
    fingerprint_sha256: str
    not_after: _timestamp_pb2.Timestamp
    def __init__(self, subject: _Optional[str] = ..., fingerprint_sha256: _Optional[str] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PolicyRecord(_message.Message):
    __slots__ = ("service", "version", "policy", "author", "reason", "source", "created_at", "diff", "rollout_percent", "rollback_of", "stable_version", "policy_omitted")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DIFF_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    STABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_OMITTED_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: int
    policy: _config_pb2.Policy
    author: str
    reason: str
    source: ChangeSource
    created_at: _timestamp_pb2.Timestamp
    diff: _containers.RepeatedCompositeFieldContainer[FieldChange]
    rollout_percent: float
    rollback_of: int
    stable_version: int
    policy_omitted: bool
    def __init__(self, service: _Optional[str] = ..., version: _Optional[int] = ..., policy: _Optional[_Union[_config_pb2.Policy, _Mapping]] = ..., author: _Optional[str] = ..., reason: _Optional[str] = ..., source: _Optional[_Union[ChangeSource, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., diff: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ..., rollout_percent: _Optional[float] = ..., rollback_of: _Optional[int] = ..., stable_version: _Optional[int] = ..., policy_omitted: _Optional[bool] = ...) -> None: ...

class FieldChange(_message.Message):
    __slots__ = ("path", "kind", "old_value", "new_value")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[FieldChange.Kind]
        ADDED: _ClassVar[FieldChange.Kind]
        REMOVED: _ClassVar[FieldChange.Kind]
        CHANGED: _ClassVar[FieldChange.Kind]
    KIND_UNSPECIFIED: FieldChange.Kind
    ADDED: FieldChange.Kind
    REMOVED: FieldChange.Kind
    CHANGED: FieldChange.Kind
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: FieldChange.Kind
    old_value: str
    new_value: str
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[FieldChange.Kind, str]] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ...) -> None: ...

class Change(_message.Message):
    __slots__ = ("author", "reason", "source", "expected_version", "rollout_percent")
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    author: str
    reason: str
    source: ChangeSource
    expected_version: int
    rollout_percent: float
    def __init__(self, author: _Optional[str] = ..., reason: _Optional[str] = ..., source: _Optional[_Union[ChangeSource, str]] = ..., expected_version: _Optional[int] = ..., rollout_percent: _Optional[float] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ("service", "version")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: int
    def __init__(self, service: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class SetPolicyRequest(_message.Message):
    __slots__ = ("service", "policy", "change")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    service: str
    policy: _config_pb2.Policy
    change: Change
    def __init__(self, service: _Optional[str] = ..., policy: _Optional[_Union[_config_pb2.Policy, _Mapping]] = ..., change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class PatchPolicyRequest(_message.Message):
    __slots__ = ("service", "path", "value", "change")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    service: str
    path: str
    value: str
    change: Change
    def __init__(self, service: _Optional[str] = ..., path: _Optional[str] = ..., value: _Optional[str] = ..., change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class HistoryRequest(_message.Message):
    __slots__ = ("service", "limit", "page_size", "page_token")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    service: str
    limit: int
    page_size: int
    page_token: str
    def __init__(self, service: _Optional[str] = ..., limit: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class HistoryResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[PolicyRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[PolicyRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DiffRequest(_message.Message):
    __slots__ = ("service", "from_version", "to_version")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    service: str
    from_version: int
    to_version: int
    def __init__(self, service: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ...) -> None: ...

class DiffResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[FieldChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[FieldChange, _Mapping]]] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("service", "to_version", "change")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    service: str
    to_version: int
    change: Change
    def __init__(self, service: _Optional[str] = ..., to_version: _Optional[int] = ..., change: _Optional[_Union[Change, _Mapping]] = ...) -> None: ...

class ListInstancesRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class ListInstancesResponse(_message.Message):
    __slots__ = ("instances",)
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[InstanceStatus]
    def __init__(self, instances: _Optional[_Iterable[_Union[InstanceStatus, _Mapping]]] = ...) -> None: ...

class InstanceStatus(_message.Message):
    __slots__ = ("service", "instance", "address", "zone", "sidecar_version", "labels", "connected", "healthy", "last_heartbeat", "applied_version", "pushed_version", "last_nack_version", "last_nack_field", "last_nack_reason", "replica", "updated", "bound_keys", "identity")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PUSHED_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_NACK_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_NACK_FIELD_FIELD_NUMBER: _ClassVar[int]
    LAST_NACK_REASON_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    BOUND_KEYS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance: str
    address: str
    zone: str
    sidecar_version: str
    labels: _containers.ScalarMap[str, str]
    connected: bool
    healthy: bool
    last_heartbeat: _timestamp_pb2.Timestamp
    applied_version: str
    pushed_version: str
    last_nack_version: str
    last_nack_field: str
    last_nack_reason: str
    replica: str
    updated: _timestamp_pb2.Timestamp
    bound_keys: _containers.RepeatedScalarFieldContainer[str]
    identity: str
    def __init__(self, service: _Optional[str] = ..., instance: _Optional[str] = ..., address: _Optional[str] = ..., zone: _Optional[str] = ..., sidecar_version: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., connected: _Optional[bool] = ..., healthy: _Optional[bool] = ..., last_heartbeat: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., applied_version: _Optional[str] = ..., pushed_version: _Optional[str] = ..., last_nack_version: _Optional[str] = ..., last_nack_field: _Optional[str] = ..., last_nack_reason: _Optional[str] = ..., replica: _Optional[str] = ..., updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bound_keys: _Optional[_Iterable[str]] = ..., identity: _Optional[str] = ...) -> None: ...

class GetControlStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SidecarControlStatus(_message.Message):
    __slots__ = ("control_plane", "connected", "connects", "policy_version", "applied", "rejected", "last_nack", "last_good_file", "credential", "address")
    CONTROL_PLANE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    CONNECTS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_NACK_FIELD_NUMBER: _ClassVar[int]
    LAST_GOOD_FILE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    control_plane: str
    connected: bool
    connects: int
    policy_version: str
    applied: int
    rejected: int
    last_nack: str
    last_good_file: str
    credential: str
    address: str
    def __init__(self, control_plane: _Optional[str] = ..., connected: _Optional[bool] = ..., connects: _Optional[int] = ..., policy_version: _Optional[str] = ..., applied: _Optional[int] = ..., rejected: _Optional[int] = ..., last_nack: _Optional[str] = ..., last_good_file: _Optional[str] = ..., credential: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...
