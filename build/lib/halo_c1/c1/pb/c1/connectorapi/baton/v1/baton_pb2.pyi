import datetime

from halo_c1.c1.pb.c1.connector.v2 import connector_pb2 as _connector_pb2
from halo_c1.c1z.pb.c1.connector.v2 import entitlement_pb2 as _entitlement_pb2
from halo_c1.c1z.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from halo_c1.c1z.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Task(_message.Message):
    __slots__ = ("id", "status", "debug", "none", "hello", "sync_full", "grant", "revoke")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Task.Status]
        STATUS_PENDING: _ClassVar[Task.Status]
        STATUS_SCHEDULED: _ClassVar[Task.Status]
        STATUS_RUNNING: _ClassVar[Task.Status]
        STATUS_FINISHED: _ClassVar[Task.Status]
    STATUS_UNSPECIFIED: Task.Status
    STATUS_PENDING: Task.Status
    STATUS_SCHEDULED: Task.Status
    STATUS_RUNNING: Task.Status
    STATUS_FINISHED: Task.Status
    class NoneTask(_message.Message):
        __slots__ = ("annotations",)
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
    class HelloTask(_message.Message):
        __slots__ = ("annotations",)
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
    class SyncFullTask(_message.Message):
        __slots__ = ("annotations", "skip_expand_grants", "skip_entitlements_and_grants", "targeted_sync_resources", "sync_resource_type_ids", "skip_grants", "storage_engine")
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        SKIP_EXPAND_GRANTS_FIELD_NUMBER: _ClassVar[int]
        SKIP_ENTITLEMENTS_AND_GRANTS_FIELD_NUMBER: _ClassVar[int]
        TARGETED_SYNC_RESOURCES_FIELD_NUMBER: _ClassVar[int]
        SYNC_RESOURCE_TYPE_IDS_FIELD_NUMBER: _ClassVar[int]
        SKIP_GRANTS_FIELD_NUMBER: _ClassVar[int]
        STORAGE_ENGINE_FIELD_NUMBER: _ClassVar[int]
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        skip_expand_grants: bool
        skip_entitlements_and_grants: bool
        targeted_sync_resources: _containers.RepeatedCompositeFieldContainer[_resource_pb2.Resource]
        sync_resource_type_ids: _containers.RepeatedScalarFieldContainer[str]
        skip_grants: bool
        storage_engine: str
        def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., skip_expand_grants: _Optional[bool] = ..., skip_entitlements_and_grants: _Optional[bool] = ..., targeted_sync_resources: _Optional[_Iterable[_Union[_resource_pb2.Resource, _Mapping]]] = ..., sync_resource_type_ids: _Optional[_Iterable[str]] = ..., skip_grants: _Optional[bool] = ..., storage_engine: _Optional[str] = ...) -> None: ...
    class GrantTask(_message.Message):
        __slots__ = ("entitlement", "principal", "annotations", "duration")
        ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
        PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        DURATION_FIELD_NUMBER: _ClassVar[int]
        entitlement: _entitlement_pb2.Entitlement
        principal: _resource_pb2.Resource
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        duration: _duration_pb2.Duration
        def __init__(self, entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., principal: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class RevokeTask(_message.Message):
        __slots__ = ("grant", "annotations")
        GRANT_FIELD_NUMBER: _ClassVar[int]
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        grant: _grant_pb2.Grant
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        def __init__(self, grant: _Optional[_Union[_grant_pb2.Grant, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEBUG_FIELD_NUMBER: _ClassVar[int]
    NONE_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    SYNC_FULL_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: Task.Status
    debug: bool
    none: Task.NoneTask
    hello: Task.HelloTask
    sync_full: Task.SyncFullTask
    grant: Task.GrantTask
    revoke: Task.RevokeTask
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[Task.Status, str]] = ..., debug: _Optional[bool] = ..., none: _Optional[_Union[Task.NoneTask, _Mapping]] = ..., hello: _Optional[_Union[Task.HelloTask, _Mapping]] = ..., sync_full: _Optional[_Union[Task.SyncFullTask, _Mapping]] = ..., grant: _Optional[_Union[Task.GrantTask, _Mapping]] = ..., revoke: _Optional[_Union[Task.RevokeTask, _Mapping]] = ...) -> None: ...

class BatonServiceHelloRequest(_message.Message):
    __slots__ = ("host_id", "task_id", "build_info", "os_info", "connector_metadata", "annotations")
    class BuildInfo(_message.Message):
        __slots__ = ("lang_version", "package", "package_version")
        LANG_VERSION_FIELD_NUMBER: _ClassVar[int]
        PACKAGE_FIELD_NUMBER: _ClassVar[int]
        PACKAGE_VERSION_FIELD_NUMBER: _ClassVar[int]
        lang_version: str
        package: str
        package_version: str
        def __init__(self, lang_version: _Optional[str] = ..., package: _Optional[str] = ..., package_version: _Optional[str] = ...) -> None: ...
    class OSInfo(_message.Message):
        __slots__ = ("hostname", "os", "platform", "platform_version", "platform_family", "kernel_version", "kernel_arch", "virtualization_system")
        HOSTNAME_FIELD_NUMBER: _ClassVar[int]
        OS_FIELD_NUMBER: _ClassVar[int]
        PLATFORM_FIELD_NUMBER: _ClassVar[int]
        PLATFORM_VERSION_FIELD_NUMBER: _ClassVar[int]
        PLATFORM_FAMILY_FIELD_NUMBER: _ClassVar[int]
        KERNEL_VERSION_FIELD_NUMBER: _ClassVar[int]
        KERNEL_ARCH_FIELD_NUMBER: _ClassVar[int]
        VIRTUALIZATION_SYSTEM_FIELD_NUMBER: _ClassVar[int]
        hostname: str
        os: str
        platform: str
        platform_version: str
        platform_family: str
        kernel_version: str
        kernel_arch: str
        virtualization_system: str
        def __init__(self, hostname: _Optional[str] = ..., os: _Optional[str] = ..., platform: _Optional[str] = ..., platform_version: _Optional[str] = ..., platform_family: _Optional[str] = ..., kernel_version: _Optional[str] = ..., kernel_arch: _Optional[str] = ..., virtualization_system: _Optional[str] = ...) -> None: ...
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    BUILD_INFO_FIELD_NUMBER: _ClassVar[int]
    OS_INFO_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_METADATA_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    task_id: str
    build_info: BatonServiceHelloRequest.BuildInfo
    os_info: BatonServiceHelloRequest.OSInfo
    connector_metadata: _connector_pb2.ConnectorMetadata
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, host_id: _Optional[str] = ..., task_id: _Optional[str] = ..., build_info: _Optional[_Union[BatonServiceHelloRequest.BuildInfo, _Mapping]] = ..., os_info: _Optional[_Union[BatonServiceHelloRequest.OSInfo, _Mapping]] = ..., connector_metadata: _Optional[_Union[_connector_pb2.ConnectorMetadata, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class BatonServiceHelloResponse(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class BatonServiceGetTaskRequest(_message.Message):
    __slots__ = ("host_id",)
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    def __init__(self, host_id: _Optional[str] = ...) -> None: ...

class BatonServiceGetTaskResponse(_message.Message):
    __slots__ = ("task", "next_poll", "next_heartbeat", "annotations")
    TASK_FIELD_NUMBER: _ClassVar[int]
    NEXT_POLL_FIELD_NUMBER: _ClassVar[int]
    NEXT_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    task: Task
    next_poll: _duration_pb2.Duration
    next_heartbeat: _duration_pb2.Duration
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., next_poll: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., next_heartbeat: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class BatonServiceHeartbeatRequest(_message.Message):
    __slots__ = ("host_id", "task_id", "annotations")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    task_id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, host_id: _Optional[str] = ..., task_id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class BatonServiceHeartbeatResponse(_message.Message):
    __slots__ = ("next_heartbeat", "cancelled", "annotations")
    NEXT_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    next_heartbeat: _duration_pb2.Duration
    cancelled: bool
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, next_heartbeat: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cancelled: _Optional[bool] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class BatonServiceUploadAssetRequest(_message.Message):
    __slots__ = ("metadata", "data", "eof")
    class UploadMetadata(_message.Message):
        __slots__ = ("host_id", "task_id", "annotations")
        HOST_ID_FIELD_NUMBER: _ClassVar[int]
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        host_id: str
        task_id: str
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        def __init__(self, host_id: _Optional[str] = ..., task_id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
    class UploadData(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: bytes
        def __init__(self, data: _Optional[bytes] = ...) -> None: ...
    class UploadEOF(_message.Message):
        __slots__ = ("sha256_checksum", "annotations")
        SHA256_CHECKSUM_FIELD_NUMBER: _ClassVar[int]
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        sha256_checksum: bytes
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        def __init__(self, sha256_checksum: _Optional[bytes] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    metadata: BatonServiceUploadAssetRequest.UploadMetadata
    data: BatonServiceUploadAssetRequest.UploadData
    eof: BatonServiceUploadAssetRequest.UploadEOF
    def __init__(self, metadata: _Optional[_Union[BatonServiceUploadAssetRequest.UploadMetadata, _Mapping]] = ..., data: _Optional[_Union[BatonServiceUploadAssetRequest.UploadData, _Mapping]] = ..., eof: _Optional[_Union[BatonServiceUploadAssetRequest.UploadEOF, _Mapping]] = ...) -> None: ...

class BatonServiceUploadAssetResponse(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class BatonServiceFinishTaskRequest(_message.Message):
    __slots__ = ("host_id", "task_id", "status", "error", "success")
    class Error(_message.Message):
        __slots__ = ("non_retryable", "annotations", "response")
        NON_RETRYABLE_FIELD_NUMBER: _ClassVar[int]
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        RESPONSE_FIELD_NUMBER: _ClassVar[int]
        non_retryable: bool
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        response: _any_pb2.Any
        def __init__(self, non_retryable: _Optional[bool] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., response: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...
    class Success(_message.Message):
        __slots__ = ("annotations", "response")
        ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
        RESPONSE_FIELD_NUMBER: _ClassVar[int]
        annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        response: _any_pb2.Any
        def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., response: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    task_id: str
    status: _status_pb2.Status
    error: BatonServiceFinishTaskRequest.Error
    success: BatonServiceFinishTaskRequest.Success
    def __init__(self, host_id: _Optional[str] = ..., task_id: _Optional[str] = ..., status: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., error: _Optional[_Union[BatonServiceFinishTaskRequest.Error, _Mapping]] = ..., success: _Optional[_Union[BatonServiceFinishTaskRequest.Success, _Mapping]] = ...) -> None: ...

class BatonServiceFinishTaskResponse(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
