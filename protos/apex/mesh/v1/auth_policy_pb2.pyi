import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestAuthentication(_message.Message):
    __slots__ = ("providers", "rules")
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[JwtProvider]
    rules: _containers.RepeatedCompositeFieldContainer[JwtRule]
    def __init__(self, providers: _Optional[_Iterable[_Union[JwtProvider, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[JwtRule, _Mapping]]] = ...) -> None: ...

class JwtProvider(_message.Message):
    __slots__ = ("name", "issuer", "audiences", "jwks_file", "jwks_uri", "jwks", "jwks_ca_file", "algorithms", "clock_skew", "refresh_interval", "min_refresh_interval", "header", "forward_claims", "forward_token")
    class ForwardClaimsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    JWKS_FILE_FIELD_NUMBER: _ClassVar[int]
    JWKS_URI_FIELD_NUMBER: _ClassVar[int]
    JWKS_FIELD_NUMBER: _ClassVar[int]
    JWKS_CA_FILE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_SKEW_FIELD_NUMBER: _ClassVar[int]
    REFRESH_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MIN_REFRESH_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FORWARD_CLAIMS_FIELD_NUMBER: _ClassVar[int]
    FORWARD_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    issuer: str
    audiences: _containers.RepeatedScalarFieldContainer[str]
    jwks_file: str
    jwks_uri: str
    jwks: str
    jwks_ca_file: str
    algorithms: _containers.RepeatedScalarFieldContainer[str]
    clock_skew: _duration_pb2.Duration
    refresh_interval: _duration_pb2.Duration
    min_refresh_interval: _duration_pb2.Duration
    header: str
    forward_claims: _containers.ScalarMap[str, str]
    forward_token: bool
    def __init__(self, name: _Optional[str] = ..., issuer: _Optional[str] = ..., audiences: _Optional[_Iterable[str]] = ..., jwks_file: _Optional[str] = ..., jwks_uri: _Optional[str] = ..., jwks: _Optional[str] = ..., jwks_ca_file: _Optional[str] = ..., algorithms: _Optional[_Iterable[str]] = ..., clock_skew: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refresh_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., min_refresh_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., header: _Optional[str] = ..., forward_claims: _Optional[_Mapping[str, str]] = ..., forward_token: _Optional[bool] = ...) -> None: ...

class JwtRule(_message.Message):
    __slots__ = ("name", "providers", "listeners", "routes", "required")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    name: str
    providers: _containers.RepeatedScalarFieldContainer[str]
    listeners: _containers.RepeatedScalarFieldContainer[str]
    routes: _containers.RepeatedScalarFieldContainer[str]
    required: bool
    def __init__(self, name: _Optional[str] = ..., providers: _Optional[_Iterable[str]] = ..., listeners: _Optional[_Iterable[str]] = ..., routes: _Optional[_Iterable[str]] = ..., required: _Optional[bool] = ...) -> None: ...

class AuthorizationPolicy(_message.Message):
    __slots__ = ("name", "action", "listeners", "routes", "rules", "dry_run")
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTION_UNSPECIFIED: _ClassVar[AuthorizationPolicy.Action]
        ALLOW: _ClassVar[AuthorizationPolicy.Action]
        DENY: _ClassVar[AuthorizationPolicy.Action]
    ACTION_UNSPECIFIED: AuthorizationPolicy.Action
    ALLOW: AuthorizationPolicy.Action
    DENY: AuthorizationPolicy.Action
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    name: str
    action: AuthorizationPolicy.Action
    listeners: _containers.RepeatedScalarFieldContainer[str]
    routes: _containers.RepeatedScalarFieldContainer[str]
    rules: _containers.RepeatedCompositeFieldContainer[AuthorizationRule]
    dry_run: bool
    def __init__(self, name: _Optional[str] = ..., action: _Optional[_Union[AuthorizationPolicy.Action, str]] = ..., listeners: _Optional[_Iterable[str]] = ..., routes: _Optional[_Iterable[str]] = ..., rules: _Optional[_Iterable[_Union[AuthorizationRule, _Mapping]]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class AuthorizationRule(_message.Message):
    __slots__ = ("source", "to", "when")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    source: AuthorizationSource
    to: AuthorizationOperation
    when: _containers.RepeatedCompositeFieldContainer[AuthorizationCondition]
    def __init__(self, source: _Optional[_Union[AuthorizationSource, _Mapping]] = ..., to: _Optional[_Union[AuthorizationOperation, _Mapping]] = ..., when: _Optional[_Iterable[_Union[AuthorizationCondition, _Mapping]]] = ...) -> None: ...

class AuthorizationSource(_message.Message):
    __slots__ = ("principals", "namespaces", "request_principals", "not_principals")
    PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    NOT_PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    principals: _containers.RepeatedScalarFieldContainer[str]
    namespaces: _containers.RepeatedScalarFieldContainer[str]
    request_principals: _containers.RepeatedScalarFieldContainer[str]
    not_principals: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, principals: _Optional[_Iterable[str]] = ..., namespaces: _Optional[_Iterable[str]] = ..., request_principals: _Optional[_Iterable[str]] = ..., not_principals: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthorizationOperation(_message.Message):
    __slots__ = ("services", "methods")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[str]
    methods: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, services: _Optional[_Iterable[str]] = ..., methods: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthorizationCondition(_message.Message):
    __slots__ = ("key", "values", "not_values")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NOT_VALUES_FIELD_NUMBER: _ClassVar[int]
    key: str
    values: _containers.RepeatedScalarFieldContainer[str]
    not_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ..., not_values: _Optional[_Iterable[str]] = ...) -> None: ...
