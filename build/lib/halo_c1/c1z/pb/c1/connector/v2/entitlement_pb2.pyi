from . import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entitlement(_message.Message):
    __slots__ = ("resource", "id", "display_name", "description", "grantable_to", "annotations", "purpose", "slug")
    class PurposeValue(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PURPOSE_VALUE_UNSPECIFIED: _ClassVar[Entitlement.PurposeValue]
        PURPOSE_VALUE_ASSIGNMENT: _ClassVar[Entitlement.PurposeValue]
        PURPOSE_VALUE_PERMISSION: _ClassVar[Entitlement.PurposeValue]
        PURPOSE_VALUE_OWNERSHIP: _ClassVar[Entitlement.PurposeValue]
    PURPOSE_VALUE_UNSPECIFIED: Entitlement.PurposeValue
    PURPOSE_VALUE_ASSIGNMENT: Entitlement.PurposeValue
    PURPOSE_VALUE_PERMISSION: Entitlement.PurposeValue
    PURPOSE_VALUE_OWNERSHIP: Entitlement.PurposeValue
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GRANTABLE_TO_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    resource: _resource_pb2.Resource
    id: str
    display_name: str
    description: str
    grantable_to: _containers.RepeatedCompositeFieldContainer[_resource_pb2.ResourceType]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    purpose: Entitlement.PurposeValue
    slug: str
    def __init__(self, resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., grantable_to: _Optional[_Iterable[_Union[_resource_pb2.ResourceType, _Mapping]]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., purpose: _Optional[_Union[Entitlement.PurposeValue, str]] = ..., slug: _Optional[str] = ...) -> None: ...
