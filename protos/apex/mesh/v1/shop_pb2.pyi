from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ViewItemRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class ItemPage(_message.Message):
    __slots__ = ("item", "price")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    item: Item
    price: Price
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ..., price: _Optional[_Union[Price, _Mapping]] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("item_id", "name", "served_by")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    name: str
    served_by: str
    def __init__(self, item_id: _Optional[str] = ..., name: _Optional[str] = ..., served_by: _Optional[str] = ...) -> None: ...

class QuoteRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("item_id", "cents", "currency")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    cents: int
    currency: str
    def __init__(self, item_id: _Optional[str] = ..., cents: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...
