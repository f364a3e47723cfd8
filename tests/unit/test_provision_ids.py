"""Provisioning ids: one quoted segment per id, canonical numbers only, the object read back must match."""

from __future__ import annotations

from typing import Any

import pytest

from halo_c1.halo.paths import UnsafePathError, api_path, check_path
from halo_c1.provision.operation import _Operation, _Record
from halo_c1.provision.request import ProvisionRequest, Refusal, Target, canonical_number, parse


@pytest.mark.parametrize(
    ("ids", "path"),
    [
        (("Team", 4), "/api/Team/4"),
        (("Roles", "../Team/1"), "/api/Roles/..%2FTeam%2F1"),
        (("Roles", "g?x=1"), "/api/Roles/g%3Fx%3D1"),
        (("Roles", "g#frag"), "/api/Roles/g%23frag"),
        (("Roles", "g/"), "/api/Roles/g%2F"),
        (("Agent", "a b%"), "/api/Agent/a%20b%25"),
    ],
)
def test_api_path_quotes_each_id_as_one_segment(ids, path):
    assert api_path(*ids) == path
    assert check_path(path) == path


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_api_path_refuses_segments_no_quoting_makes_safe(segment):
    with pytest.raises(UnsafePathError, match=repr(segment)):
        api_path("Roles", segment)


@pytest.mark.parametrize(
    "path",
    ["/api/Roles/../Team/1", "/api/Roles/%2E%2E", "/api/Team/1?x=1", "/api/Team/1#f", "/Team/1", "/api//1"],
)
def test_the_client_refuses_a_path_that_is_not_a_plain_api_path(path):
    with pytest.raises(UnsafePathError):
        check_path(path)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("1", True),
        ("40", True),
        ("0", False),
        ("01", False),
        ("\u0661", False),
        ("\u00b2", False),
        ("+1", False),
        ("1 ", False),
        ("", False),
        ("1e3", False),
    ],
)
def test_canonical_numbers_are_ascii_digits_without_a_leading_zero(value, canonical):
    assert canonical_number(value) is canonical


def _request(resource_id: str, principal_id: str = "5", kind: str = "team") -> ProvisionRequest:
    slug = "member" if kind == "team" else "assigned"
    return ProvisionRequest(
        "grant", "t", f"{kind}:{resource_id}:{slug}", kind, resource_id, "agent", principal_id
    )


@pytest.mark.parametrize(
    ("team", "agent"), [("\u00b2", "5"), ("01", "5"), ("\u0661", "5"), ("4", "\u00b2"), ("4", "007")]
)
def test_non_canonical_numbers_are_invalid_argument_naming_the_id_never_internal(team, agent):
    with pytest.raises(Refusal) as refused:
        parse(_request(team, agent))
    named = team if agent == "5" else agent
    assert refused.value.code == "INVALID_ARGUMENT" and repr(named) in refused.value.message


class _Client:
    """Answers every GET with one payload (HaloITSM answering for an object other than the one asked)."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload
        self.paths: list[str] = []

    def get_json(self, path: str, params: Any = None) -> Any:
        self.paths.append(path)
        return self.payload


@pytest.mark.parametrize(
    ("kind", "requested", "payload", "ok"),
    [
        ("team", "4", {"id": 4, "name": "T"}, True),
        ("team", "4", {"id": 1, "name": "Other"}, False),
        ("team", "4", {"name": "no id"}, False),
        ("team", "4", [], False),
        ("role", "ab-cd", {"id": "AB-CD"}, True),
        ("role", "ab-cd", {"id": "ab-ce"}, False),
    ],
)
def test_the_target_read_back_must_carry_the_requested_id(kind, requested, payload, ok):
    target = Target("grant", kind, requested, 5, f"{kind}:{requested}:x", "5")
    client = _Client(payload)
    operation = _Operation(client, target, _Record(), lease=None)  # type: ignore[arg-type]
    if ok:
        assert operation.check_target() == requested
    else:
        with pytest.raises(Refusal) as refused:
            operation.check_target()
        assert refused.value.code == "FAILED_PRECONDITION"
        assert (
            f"not {requested!r}" in refused.value.message and "Nothing was written" in refused.value.message
        )
    assert client.paths == [api_path("Team" if kind == "team" else "Roles", requested)]
