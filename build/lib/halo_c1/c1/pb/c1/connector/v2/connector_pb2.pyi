from halo_c1.c1z.pb.c1.connector.v2 import asset_pb2 as _asset_pb2
from halo_c1.c1z.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from halo_c1.c1z.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Capability(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPABILITY_UNSPECIFIED: _ClassVar[Capability]
    CAPABILITY_PROVISION: _ClassVar[Capability]
    CAPABILITY_SYNC: _ClassVar[Capability]
    CAPABILITY_EVENT_FEED: _ClassVar[Capability]
    CAPABILITY_TICKETING: _ClassVar[Capability]
    CAPABILITY_ACCOUNT_PROVISIONING: _ClassVar[Capability]
    CAPABILITY_CREDENTIAL_ROTATION: _ClassVar[Capability]
    CAPABILITY_RESOURCE_CREATE: _ClassVar[Capability]
    CAPABILITY_RESOURCE_DELETE: _ClassVar[Capability]
    CAPABILITY_SYNC_SECRETS: _ClassVar[Capability]
    CAPABILITY_ACTIONS: _ClassVar[Capability]
    CAPABILITY_TARGETED_SYNC: _ClassVar[Capability]
    CAPABILITY_EVENT_FEED_V2: _ClassVar[Capability]
    CAPABILITY_SERVICE_MODE_TARGETED_SYNC: _ClassVar[Capability]
    CAPABILITY_CREDENTIAL_ISSUE: _ClassVar[Capability]
CAPABILITY_UNSPECIFIED: Capability
CAPABILITY_PROVISION: Capability
CAPABILITY_SYNC: Capability
CAPABILITY_EVENT_FEED: Capability
CAPABILITY_TICKETING: Capability
CAPABILITY_ACCOUNT_PROVISIONING: Capability
CAPABILITY_CREDENTIAL_ROTATION: Capability
CAPABILITY_RESOURCE_CREATE: Capability
CAPABILITY_RESOURCE_DELETE: Capability
CAPABILITY_SYNC_SECRETS: Capability
CAPABILITY_ACTIONS: Capability
CAPABILITY_TARGETED_SYNC: Capability
CAPABILITY_EVENT_FEED_V2: Capability
CAPABILITY_SERVICE_MODE_TARGETED_SYNC: Capability
CAPABILITY_CREDENTIAL_ISSUE: Capability

class ConnectorMetadata(_message.Message):
    __slots__ = ("display_name", "help_url", "icon", "logo", "profile", "annotations", "description", "capabilities")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    HELP_URL_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    LOGO_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    help_url: str
    icon: _asset_pb2.AssetRef
    logo: _asset_pb2.AssetRef
    profile: _struct_pb2.Struct
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    description: str
    capabilities: ConnectorCapabilities
    def __init__(self, display_name: _Optional[str] = ..., help_url: _Optional[str] = ..., icon: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., logo: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., description: _Optional[str] = ..., capabilities: _Optional[_Union[ConnectorCapabilities, _Mapping]] = ...) -> None: ...

class ConnectorCapabilities(_message.Message):
    __slots__ = ("resource_type_capabilities", "connector_capabilities")
    RESOURCE_TYPE_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    resource_type_capabilities: _containers.RepeatedCompositeFieldContainer[ResourceTypeCapability]
    connector_capabilities: _containers.RepeatedScalarFieldContainer[Capability]
    def __init__(self, resource_type_capabilities: _Optional[_Iterable[_Union[ResourceTypeCapability, _Mapping]]] = ..., connector_capabilities: _Optional[_Iterable[_Union[Capability, str]]] = ...) -> None: ...

class CapabilityPermission(_message.Message):
    __slots__ = ("permission",)
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    permission: str
    def __init__(self, permission: _Optional[str] = ...) -> None: ...

class CapabilityPermissions(_message.Message):
    __slots__ = ("permissions",)
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    permissions: _containers.RepeatedCompositeFieldContainer[CapabilityPermission]
    def __init__(self, permissions: _Optional[_Iterable[_Union[CapabilityPermission, _Mapping]]] = ...) -> None: ...

class ResourceTypeCapability(_message.Message):
    __slots__ = ("resource_type", "capabilities", "permissions", "opt_in_required", "skip_sync_anomaly_detection")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    OPT_IN_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SKIP_SYNC_ANOMALY_DETECTION_FIELD_NUMBER: _ClassVar[int]
    resource_type: _resource_pb2.ResourceType
    capabilities: _containers.RepeatedScalarFieldContainer[Capability]
    permissions: CapabilityPermissions
    opt_in_required: bool
    skip_sync_anomaly_detection: bool
    def __init__(self, resource_type: _Optional[_Union[_resource_pb2.ResourceType, _Mapping]] = ..., capabilities: _Optional[_Iterable[_Union[Capability, str]]] = ..., permissions: _Optional[_Union[CapabilityPermissions, _Mapping]] = ..., opt_in_required: _Optional[bool] = ..., skip_sync_anomaly_detection: _Optional[bool] = ...) -> None: ...

class GrantManagerServiceGrantResponse(_message.Message):
    __slots__ = ("annotations", "grants")
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    grants: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., grants: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ...) -> None: ...

class GrantManagerServiceRevokeResponse(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantAlreadyExists(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GrantAlreadyRevoked(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EntitlementImmutable(_message.Message):
    __slots__ = ("source_id", "metadata")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    metadata: _struct_pb2.Struct
    def __init__(self, source_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
