from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetSecurityRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SecurityStatus(_message.Message):
    __slots__ = ("identity", "certificate", "listeners", "outbound_handshake_failures", "jwks", "oauth2")
    class OutboundHandshakeFailuresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    OUTBOUND_HANDSHAKE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    JWKS_FIELD_NUMBER: _ClassVar[int]
    OAUTH2_FIELD_NUMBER: _ClassVar[int]
    identity: str
    certificate: WorkloadCertificate
    listeners: _containers.RepeatedCompositeFieldContainer[ListenerSecurity]
    outbound_handshake_failures: _containers.ScalarMap[str, int]
    jwks: _containers.RepeatedCompositeFieldContainer[JwksProvider]
    oauth2: _containers.RepeatedCompositeFieldContainer[OAuth2Route]
    def __init__(self, identity: _Optional[str] = ..., certificate: _Optional[_Union[WorkloadCertificate, _Mapping]] = ..., listeners: _Optional[_Iterable[_Union[ListenerSecurity, _Mapping]]] = ..., outbound_handshake_failures: _Optional[_Mapping[str, int]] = ..., jwks: _Optional[_Iterable[_Union[JwksProvider, _Mapping]]] = ..., oauth2: _Optional[_Iterable[_Union[OAuth2Route, _Mapping]]] = ...) -> None: ...

class JwksProvider(_message.Message):
    __slots__ = ("provider", "keys", "counters")
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    keys: int
    counters: _containers.ScalarMap[str, int]
    def __init__(self, provider: _Optional[str] = ..., keys: _Optional[int] = ..., counters: _Optional[_Mapping[str, int]] = ...) -> None: ...

class OAuth2Route(_message.Message):
    __slots__ = ("listener", "route", "counters", "token_expires_at")
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LISTENER_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    listener: str
    route: str
    counters: _containers.ScalarMap[str, int]
    token_expires_at: float
    def __init__(self, listener: _Optional[str] = ..., route: _Optional[str] = ..., counters: _Optional[_Mapping[str, int]] = ..., token_expires_at: _Optional[float] = ...) -> None: ...

class WorkloadCertificate(_message.Message):
    __slots__ = ("identity", "serial", "not_before", "not_after", "renew_at", "generation")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    RENEW_AT_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    identity: str
    serial: str
    not_before: float
    not_after: float
    renew_at: float
    generation: int
    def __init__(self, identity: _Optional[str] = ..., serial: _Optional[str] = ..., not_before: _Optional[float] = ..., not_after: _Optional[float] = ..., renew_at: _Optional[float] = ..., generation: _Optional[int] = ...) -> None: ...

class ListenerSecurity(_message.Message):
    __slots__ = ("name", "mode", "accepted", "principals", "rejected", "handshake_failures")
    class AcceptedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class PrincipalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RejectedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class HandshakeFailuresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    HANDSHAKE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    name: str
    mode: str
    accepted: _containers.ScalarMap[str, int]
    principals: _containers.ScalarMap[str, int]
    rejected: _containers.ScalarMap[str, int]
    handshake_failures: _containers.ScalarMap[str, int]
    def __init__(self, name: _Optional[str] = ..., mode: _Optional[str] = ..., accepted: _Optional[_Mapping[str, int]] = ..., principals: _Optional[_Mapping[str, int]] = ..., rejected: _Optional[_Mapping[str, int]] = ..., handshake_failures: _Optional[_Mapping[str, int]] = ...) -> None: ...
