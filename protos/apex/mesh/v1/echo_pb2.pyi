from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EchoRequest(_message.Message):
    __slots__ = ("payload", "response_size", "response_count", "status", "echo_metadata", "delay_ms", "tag")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_SIZE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ECHO_METADATA_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    response_size: int
    response_count: int
    status: EchoStatus
    echo_metadata: bool
    delay_ms: int
    tag: str
    def __init__(self, payload: _Optional[bytes] = ..., response_size: _Optional[int] = ..., response_count: _Optional[int] = ..., status: _Optional[_Union[EchoStatus, _Mapping]] = ..., echo_metadata: _Optional[bool] = ..., delay_ms: _Optional[int] = ..., tag: _Optional[str] = ...) -> None: ...

class EchoStatus(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class EchoResponse(_message.Message):
    __slots__ = ("payload", "index", "deadline_remaining", "served_by")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_REMAINING_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    index: int
    deadline_remaining: float
    served_by: str
    def __init__(self, payload: _Optional[bytes] = ..., index: _Optional[int] = ..., deadline_remaining: _Optional[float] = ..., served_by: _Optional[str] = ...) -> None: ...
