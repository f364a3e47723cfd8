from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GrantExpandable(_message.Message):
    __slots__ = ("entitlement_ids", "shallow", "resource_type_ids")
    ENTITLEMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    SHALLOW_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_IDS_FIELD_NUMBER: _ClassVar[int]
    entitlement_ids: _containers.RepeatedScalarFieldContainer[str]
    shallow: bool
    resource_type_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, entitlement_ids: _Optional[_Iterable[str]] = ..., shallow: _Optional[bool] = ..., resource_type_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GrantMetadata(_message.Message):
    __slots__ = ("metadata",)
    METADATA_FIELD_NUMBER: _ClassVar[int]
    metadata: _struct_pb2.Struct
    def __init__(self, metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GrantImmutable(_message.Message):
    __slots__ = ("source_id", "metadata")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    metadata: _struct_pb2.Struct
    def __init__(self, source_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
