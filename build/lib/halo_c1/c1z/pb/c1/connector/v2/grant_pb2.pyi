from . import entitlement_pb2 as _entitlement_pb2
from . import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GrantSources(_message.Message):
    __slots__ = ("sources",)
    class GrantSource(_message.Message):
        __slots__ = ("is_direct",)
        IS_DIRECT_FIELD_NUMBER: _ClassVar[int]
        is_direct: bool
        def __init__(self, is_direct: _Optional[bool] = ...) -> None: ...
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: GrantSources.GrantSource
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[GrantSources.GrantSource, _Mapping]] = ...) -> None: ...
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.MessageMap[str, GrantSources.GrantSource]
    def __init__(self, sources: _Optional[_Mapping[str, GrantSources.GrantSource]] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("entitlement", "principal", "id", "annotations", "sources")
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    entitlement: _entitlement_pb2.Entitlement
    principal: _resource_pb2.Resource
    id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    sources: GrantSources
    def __init__(self, entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., principal: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., sources: _Optional[_Union[GrantSources, _Mapping]] = ...) -> None: ...
