import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CacheRule(_message.Message):
    __slots__ = ("name", "method", "service", "prefix", "ttl", "vary", "stale_while_revalidate", "stale_if_error", "listeners", "enforced", "shareable")
    NAME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    VARY_FIELD_NUMBER: _ClassVar[int]
    STALE_WHILE_REVALIDATE_FIELD_NUMBER: _ClassVar[int]
    STALE_IF_ERROR_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    SHAREABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    method: str
    service: str
    prefix: str
    ttl: _duration_pb2.Duration
    vary: _containers.RepeatedScalarFieldContainer[str]
    stale_while_revalidate: _duration_pb2.Duration
    stale_if_error: _duration_pb2.Duration
    listeners: _containers.RepeatedScalarFieldContainer[str]
    enforced: bool
    shareable: bool
    def __init__(self, name: _Optional[str] = ..., method: _Optional[str] = ..., service: _Optional[str] = ..., prefix: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., vary: _Optional[_Iterable[str]] = ..., stale_while_revalidate: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stale_if_error: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., listeners: _Optional[_Iterable[str]] = ..., enforced: _Optional[bool] = ..., shareable: _Optional[bool] = ...) -> None: ...

class CacheBounds(_message.Message):
    __slots__ = ("max_entries", "max_bytes", "max_entry_bytes")
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRY_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_entries: int
    max_bytes: int
    max_entry_bytes: int
    def __init__(self, max_entries: _Optional[int] = ..., max_bytes: _Optional[int] = ..., max_entry_bytes: _Optional[int] = ...) -> None: ...

class GetCacheStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CacheStats(_message.Message):
    __slots__ = ("methods", "entries", "bytes", "max_entries", "max_bytes")
    METHODS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    methods: _containers.RepeatedCompositeFieldContainer[MethodCacheStats]
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int
    def __init__(self, methods: _Optional[_Iterable[_Union[MethodCacheStats, _Mapping]]] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ..., max_entries: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class MethodCacheStats(_message.Message):
    __slots__ = ("method", "rule", "enforced", "hits", "misses", "coalesced", "stale_while_revalidate", "stale_if_error", "bypasses", "stores", "not_stored", "revalidations", "evictions", "expirations", "purged", "entries", "bytes")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    COALESCED_FIELD_NUMBER: _ClassVar[int]
    STALE_WHILE_REVALIDATE_FIELD_NUMBER: _ClassVar[int]
    STALE_IF_ERROR_FIELD_NUMBER: _ClassVar[int]
    BYPASSES_FIELD_NUMBER: _ClassVar[int]
    STORES_FIELD_NUMBER: _ClassVar[int]
    NOT_STORED_FIELD_NUMBER: _ClassVar[int]
    REVALIDATIONS_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRATIONS_FIELD_NUMBER: _ClassVar[int]
    PURGED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    method: str
    rule: str
    enforced: bool
    hits: int
    misses: int
    coalesced: int
    stale_while_revalidate: int
    stale_if_error: int
    bypasses: int
    stores: int
    not_stored: int
    revalidations: int
    evictions: int
    expirations: int
    purged: int
    entries: int
    bytes: int
    def __init__(self, method: _Optional[str] = ..., rule: _Optional[str] = ..., enforced: _Optional[bool] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., coalesced: _Optional[int] = ..., stale_while_revalidate: _Optional[int] = ..., stale_if_error: _Optional[int] = ..., bypasses: _Optional[int] = ..., stores: _Optional[int] = ..., not_stored: _Optional[int] = ..., revalidations: _Optional[int] = ..., evictions: _Optional[int] = ..., expirations: _Optional[int] = ..., purged: _Optional[int] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class PurgeCacheRequest(_message.Message):
    __slots__ = ("method", "key_prefix", "all")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    method: str
    key_prefix: str
    all: bool
    def __init__(self, method: _Optional[str] = ..., key_prefix: _Optional[str] = ..., all: _Optional[bool] = ...) -> None: ...

class PurgeCacheResponse(_message.Message):
    __slots__ = ("purged",)
    PURGED_FIELD_NUMBER: _ClassVar[int]
    purged: int
    def __init__(self, purged: _Optional[int] = ...) -> None: ...
