"""Curated rows → c1.connector.v2 protobuf messages, serialised the way the SDK stores them.

Resource types, resources and entitlements are built as messages. Grants are millions, so their bytes
are assembled from pre-serialised parts instead (`grant_bytes`): deterministic serialisation writes
fields in field-number order, so `entitlement (1) + principal (2) + id (3) + annotations (4) +
sources (5)` concatenated is exactly `Grant.SerializeToString(deterministic=True)`; the tests check
that byte for byte. `grant_bytes_array` does the same for a whole batch in Arrow, without a Python
step per grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import any_pb2
from google.protobuf.message import Message

from halo_c1 import model
from halo_c1.c1z.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    annotation_resource_tree_pb2,
    annotation_trait_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

ResourceType = resource_pb2.ResourceType
Resource = resource_pb2.Resource
Entitlement = entitlement_pb2.Entitlement
Grant = grant_pb2.Grant
UserTrait = annotation_trait_pb2.UserTrait

TRAITS: Final = {
    model.TRAIT_USER: ResourceType.TRAIT_USER,
    model.TRAIT_GROUP: ResourceType.TRAIT_GROUP,
    model.TRAIT_ROLE: ResourceType.TRAIT_ROLE,
}
RESOURCE_STATUSES: Final = {
    model.STATUS_ENABLED: resource_pb2.Status.RESOURCE_STATUS_ENABLED,
    model.STATUS_DISABLED: resource_pb2.Status.RESOURCE_STATUS_DISABLED,
    model.STATUS_UNSPECIFIED: resource_pb2.Status.RESOURCE_STATUS_UNSPECIFIED,
}
USER_STATUSES: Final = {
    model.STATUS_ENABLED: UserTrait.Status.STATUS_ENABLED,
    model.STATUS_DISABLED: UserTrait.Status.STATUS_DISABLED,
    model.STATUS_UNSPECIFIED: UserTrait.Status.STATUS_UNSPECIFIED,
}
ACCOUNT_TYPES: Final = {
    model.ACCOUNT_HUMAN: UserTrait.ACCOUNT_TYPE_HUMAN,
    model.ACCOUNT_SERVICE: UserTrait.ACCOUNT_TYPE_SERVICE,
    model.ACCOUNT_UNSPECIFIED: UserTrait.ACCOUNT_TYPE_UNSPECIFIED,
}
PURPOSES: Final = {
    model.PURPOSE_ASSIGNMENT: Entitlement.PURPOSE_VALUE_ASSIGNMENT,
    "PERMISSION": Entitlement.PURPOSE_VALUE_PERMISSION,
    "OWNERSHIP": Entitlement.PURPOSE_VALUE_OWNERSHIP,
}


def serialize(message: Message) -> bytes:
    """The SDK writes `data` with deterministic marshalling ("required for sync diffs")."""
    return message.SerializeToString(deterministic=True)


def pack(message: Message) -> any_pb2.Any:
    """An Any with the default `type.googleapis.com/<full name>` URL, as the SDK packs annotations."""
    packed = any_pb2.Any()
    packed.Pack(message, deterministic=True)
    return packed


def resource_type(
    type_id: str, display_name: str, trait: str, description: str | None, child_type_ids: Sequence[str]
) -> ResourceType:
    """A ResourceType; each child type is announced with a ChildResourceType annotation."""
    message = ResourceType(id=type_id, display_name=display_name, traits=[TRAITS[trait]])
    if description:
        message.description = description
    for child in child_type_ids:
        message.annotations.append(
            pack(annotation_resource_tree_pb2.ChildResourceType(resource_type_id=child))
        )
    return message


def user_trait(
    *,
    status: str,
    account_type: str,
    email: str | None,
    login: str | None,
    given_name: str | None,
    family_name: str | None,
    last_login_us: int | None,
) -> annotation_trait_pb2.UserTrait:
    """A UserTrait with status and account type always set explicitly (the SDK would default them);
    UNSPECIFIED (an unreadable HaloITSM value) is proto3's default, so it is set but not serialised."""
    trait = UserTrait(
        status=UserTrait.Status(status=USER_STATUSES[status]), account_type=ACCOUNT_TYPES[account_type]
    )
    if email:
        trait.emails.append(UserTrait.Email(address=email, is_primary=True))
    if login:
        trait.login = login
    if last_login_us is not None:
        seconds, micros = divmod(last_login_us, 1_000_000)
        trait.last_login.seconds = seconds
        trait.last_login.nanos = micros * 1000
    if given_name or family_name:
        trait.structured_name.given_name = given_name or ""
        trait.structured_name.family_name = family_name or ""
    return trait


def resource(
    *,
    type_id: str,
    resource_id: str,
    display_name: str,
    description: str | None,
    parent: tuple[str, str] | None,
    status: str,
    trait: Message,
) -> Resource:
    """A Resource with its trait annotation; status is on the resource for every type."""
    message = Resource(display_name=display_name)
    message.id.resource_type = type_id
    message.id.resource = resource_id
    if parent is not None:
        message.parent_resource_id.resource_type = parent[0]
        message.parent_resource_id.resource = parent[1]
    if description:
        message.description = description
    message.annotations.append(pack(trait))
    message.status.status = RESOURCE_STATUSES[status]
    return message


def group_trait() -> annotation_trait_pb2.GroupTrait:
    return annotation_trait_pb2.GroupTrait()


def role_trait() -> annotation_trait_pb2.RoleTrait:
    return annotation_trait_pb2.RoleTrait()


def entitlement(
    *,
    entitlement_id: str,
    resource_bytes: bytes,
    slug: str,
    display_name: str,
    description: str | None,
    purpose: str,
    grantable_to: Iterable[ResourceType],
) -> Entitlement:
    """An Entitlement embedding its full resource and the full ResourceTypes it is grantable to."""
    message = Entitlement(id=entitlement_id, display_name=display_name, slug=slug, purpose=PURPOSES[purpose])
    message.resource.MergeFromString(resource_bytes)
    if description:
        message.description = description
    message.grantable_to.extend(grantable_to)
    return message


def grant_tail(own_entitlement_id: str, is_direct: bool, source_entitlement_ids: Sequence[str]) -> bytes:
    """Fields 4 (annotations) and 5 (sources) of a Grant.

    `sources` is keyed by entitlement id, as the SDK's grant expansion does: the grant's own
    entitlement id with `is_direct=true` when Halo reports the membership directly, and the
    `role:<id>:assigned` entitlement of every role it is inherited from with `is_direct=false`.
    A grant inherited only through roles also carries GrantImmutable (source_id = its first source
    entitlement id): it cannot be removed directly in Halo.
    """
    message = Grant()
    if is_direct:
        message.sources.sources[own_entitlement_id].is_direct = True
    for source in source_entitlement_ids:
        message.sources.sources[source].SetInParent()
    if not is_direct:
        message.annotations.append(
            pack(annotation_grant_pb2.GrantImmutable(source_id=source_entitlement_ids[0]))
        )
    return serialize(message)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(tag: int, payload: bytes) -> bytes:
    """One length-delimited field (`tag` is the field number) of the protobuf wire format."""
    return _varint(tag << 3 | 2) + _varint(len(payload)) + payload


GRANT_ENTITLEMENT_FIELD: Final = 1
GRANT_PRINCIPAL_FIELD: Final = 2
GRANT_ID_FIELD: Final = 3


def grant_bytes(entitlement_field: bytes, principal_field: bytes, grant_id: bytes, tail: bytes) -> bytes:
    """`Grant.SerializeToString(deterministic=True)` from its parts (see the module docstring)."""
    return b"".join((entitlement_field, principal_field, length_delimited(GRANT_ID_FIELD, grant_id), tail))


_MAX_GRANT_ID_HEADER: Final = 1024
# `_GRANT_ID_HEADERS[n]` is the tag and length varint of a grant id field of n bytes.
_GRANT_ID_HEADERS: Final = pa.array(
    [_varint(GRANT_ID_FIELD << 3 | 2) + _varint(n) for n in range(_MAX_GRANT_ID_HEADER + 1)], pa.binary()
)


def grant_bytes_array(
    entitlement_fields: pa.Array, principal_fields: pa.Array, grant_ids: pa.Array, tails: pa.Array
) -> pa.Array:
    """`grant_bytes` element-wise over equal-length arrays; grant ids must be 0..1024 UTF-8 bytes."""
    ids = grant_ids.cast(pa.binary())
    headers = _GRANT_ID_HEADERS.take(pc.binary_length(ids))
    return pc.binary_join_element_wise(entitlement_fields, principal_fields, headers, ids, tails, b"")


# ---------------------------------------------------------------------------------------------
# User resources in Arrow: the bytes `serialize(resource(..., trait=user_trait(...)))` gives, for a
# whole batch at once. A tenant's users are nearly all its resources (1M at the largest reported
# size), and building a message per user was most of the c1z's Python time. Deterministic
# serialisation writes set fields in field-number order and leaves out empty strings and unset
# messages, so each message is the concatenation of its present fields; the tests compare these
# bytes with the message path's for every kind of row.
# ---------------------------------------------------------------------------------------------

_USER_TRAIT_TYPE_URL: Final = "type.googleapis.com/" + UserTrait.DESCRIPTOR.full_name


def varint_array(values: np.ndarray) -> pa.Array:
    """The protobuf varint of each int64 (negative ones as their 10-byte two's complement)."""
    unsigned = values.astype(np.int64).view(np.uint64)
    groups = np.empty((len(unsigned), 10), np.uint8)
    sizes = np.ones(len(unsigned), np.int64)
    rest = unsigned.copy()
    for position in range(10):
        groups[:, position] = (rest & np.uint64(0x7F)).astype(np.uint8)
        rest >>= np.uint64(7)
        more = rest > 0
        groups[more, position] |= 0x80
        sizes += more
    keep = np.arange(10) < sizes[:, None]
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int32)
    return pa.Array.from_buffers(
        pa.binary(), len(unsigned), [None, pa.py_buffer(offsets), pa.py_buffer(groups[keep].tobytes())]
    )


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited_array(field: int, payloads: pa.Array) -> pa.Array:
    """`length_delimited(field, p)` per element; null payloads stay null (the field is absent)."""
    lengths = pc.binary_length(payloads).fill_null(0).to_numpy(zero_copy_only=False)
    return pc.binary_join_element_wise(_key(field, 2), varint_array(lengths), payloads, b"")


def _string_field(field: int, values: pa.Array) -> pa.Array:
    """A proto3 string field per element: absent (empty bytes) when null or empty."""
    values = values.cast(pa.binary())
    present = pc.greater(pc.binary_length(values).fill_null(0), 0)
    return pc.if_else(present, _length_delimited_array(field, values), b"")


def _enum(field: int, code: int) -> bytes:
    """A proto3 enum field: absent when it is the zero value."""
    return _key(field, 0) + _varint(code) if code else b""


def _lookup(values: pa.Array, encoded: dict[str, bytes]) -> pa.Array | None:
    """`encoded[value]` per element; None when a value is not a key."""
    index = pc.index_in(values, value_set=pa.array(list(encoded), pa.string()))
    if index.null_count:
        return None
    return pa.array(list(encoded.values()), pa.binary()).take(index)


def user_resource_bytes_array(columns: dict[str, pa.Array]) -> pa.Array | None:
    """`serialize(resource(..., trait=user_trait(...)))` per row of a batch of user-trait resources.

    `columns` holds the curated resource columns with display_name and description already fitted
    to C1's limits and `last_login` as int64 microseconds. None when a status or account type is
    not one `user_trait` knows (the caller's row path then raises the exact error).
    """
    statuses = columns["status"]
    resource_status = _lookup(
        statuses, {k: length_delimited(11, _enum(1, v)) for k, v in RESOURCE_STATUSES.items()}
    )
    user_status = _lookup(statuses, {k: length_delimited(2, _enum(1, v)) for k, v in USER_STATUSES.items()})
    account = _lookup(columns["account_type"], {k: _enum(5, v) for k, v in ACCOUNT_TYPES.items()})
    if resource_status is None or user_status is None or account is None:
        return None
    email = columns["email"].cast(pa.binary())
    has_email = pc.greater(pc.binary_length(email).fill_null(0), 0)
    emails = pc.if_else(
        has_email,
        _length_delimited_array(
            1, pc.binary_join_element_wise(_string_field(1, email), _key(2, 0) + b"\x01", b"")
        ),
        b"",
    )
    last_login = columns["last_login"]
    micros = last_login.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    seconds, remainder = np.divmod(micros, 1_000_000)
    nanos = remainder * 1000
    timestamp = pc.binary_join_element_wise(
        pc.if_else(
            pa.array(seconds != 0), pc.binary_join_element_wise(_key(1, 0), varint_array(seconds), b""), b""
        ),
        pc.if_else(
            pa.array(nanos != 0), pc.binary_join_element_wise(_key(2, 0), varint_array(nanos), b""), b""
        ),
        b"",
    )
    last_login_field = pc.if_else(pc.is_valid(last_login), _length_delimited_array(9, timestamp), b"")
    name = pc.binary_join_element_wise(
        _string_field(1, columns["given_name"]), _string_field(2, columns["family_name"]), b""
    )
    name_field = pc.if_else(pc.greater(pc.binary_length(name), 0), _length_delimited_array(12, name), b"")
    trait = pc.binary_join_element_wise(
        emails, user_status, account, _string_field(6, columns["login"]), last_login_field, name_field, b""
    )
    annotation = _length_delimited_array(
        4,
        pc.binary_join_element_wise(
            length_delimited(1, _USER_TRAIT_TYPE_URL.encode()), _length_delimited_array(2, trait), b""
        ),
    )
    resource_id = _length_delimited_array(
        1,
        pc.binary_join_element_wise(
            _string_field(1, columns["resource_type_id"]), _string_field(2, columns["resource_id"]), b""
        ),
    )
    parent_id = pc.binary_join_element_wise(
        _string_field(1, columns["parent_resource_type_id"]),
        _string_field(2, columns["parent_resource_id"]),
        b"",
    )
    parent = pc.if_else(
        pc.is_valid(columns["parent_resource_id"]), _length_delimited_array(2, parent_id), b""
    )
    return pc.binary_join_element_wise(
        resource_id,
        parent,
        _string_field(3, columns["display_name"]),
        annotation,
        _string_field(5, columns["description"]),
        resource_status,
        b"",
    )
