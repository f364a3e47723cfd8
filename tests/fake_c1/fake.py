"""The fake C1: both servers, their shared state, and helpers to script tasks and read results."""

from __future__ import annotations

import json
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf import any_pb2

from halo_c1.c1.pb.c1.connector.v2 import connector_pb2
from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2
from halo_c1.c1.settings import ServiceSettings
from halo_c1.c1z.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from tests.fake_c1.baton_server import BatonServer, BatonState, new_task_id
from tests.fake_c1.creds import TestCredentials, make_credentials
from tests.fake_c1.tls import make_pki
from tests.fake_c1.token_server import TokenServer, TokenState

Task = baton_pb2.Task


def _unknown_field(field_number: int) -> bytes:
    """An empty length-delimited field: how a task type we do not model arrives."""
    tag, out = (field_number << 3) | 2, bytearray()
    while tag > 0x7F:
        out.append((tag & 0x7F) | 0x80)
        tag >>= 7
    out.append(tag)
    return bytes(out) + b"\x00"


class FakeC1:
    """The running fake: both servers, their shared state, and helpers to script and read tasks."""

    def __init__(
        self, folder: Path, credentials: TestCredentials, server_names: tuple[str, ...] | None = None
    ) -> None:
        pki = make_pki(server_names=server_names) if server_names else make_pki()
        self.credentials = credentials
        self.ca_file = pki.write_ca(folder)
        cert_file, key_file = pki.write_server(folder)
        self.tokens = TokenState(
            client_id=credentials.client_id,
            public_key=credentials.public_key,
            audience=credentials.client_id.split("@", 1)[1].split("/", 1)[0].split(":")[0],
        )
        self.baton = BatonState(tokens=self.tokens)
        self._token_server = TokenServer(self.tokens, str(cert_file), str(key_file))
        self._baton_server = BatonServer(self.baton, pki.cert_pem, pki.key_pem)

    def start(self) -> None:
        self._token_server.start()
        self._baton_server.start()

    def stop(self) -> None:
        self._baton_server.stop()
        self._token_server.stop()

    # --- configuration for the connector under test
    @property
    def api_host(self) -> str:
        return self._baton_server.address

    @property
    def token_url(self) -> str:
        return f"{self._token_server.base_url}/auth/v1/token"

    def extra(self, **overrides: Any) -> dict[str, Any]:
        extra = {
            "api_host": self.api_host,
            "token_url": self.token_url,
            "ca_bundle": str(self.ca_file),
            "host_id": "halo-c1-test-host",
        }
        extra.update(overrides)
        return extra

    def connection(self, **extra: Any) -> str:
        """The `conductorone_default` connection as AIRFLOW_CONN_* JSON."""
        return json.dumps(
            {
                "conn_type": "generic",
                "login": self.credentials.client_id,
                "password": self.credentials.client_secret,
                "extra": self.extra(**extra),
            }
        )

    def settings(self, **extra: Any) -> ServiceSettings:
        return ServiceSettings.from_connection_fields(
            login=self.credentials.client_id,
            password=self.credentials.client_secret,
            extra=self.extra(**extra),
            env={},
        )

    # --- scripting the queue
    def enqueue(self, task: baton_pb2.Task) -> str:
        """Queue any Task (set `id`, or one is made); returns its id."""
        if not task.id:
            task.id = new_task_id()
        self.baton.issued[task.id] = task
        self.baton.queue.append(task)
        return task.id

    def enqueue_hello(self) -> str:
        return self.enqueue(Task(hello=Task.HelloTask()))

    def enqueue_sync_full(self, **flags: Any) -> str:
        return self.enqueue(Task(sync_full=Task.SyncFullTask(**flags)))

    def enqueue_unknown(self, field_number: int = 117) -> str:
        """A task of a type outside our proto subset (117 = action_invoke)."""
        task_id = new_task_id()
        return self.enqueue(
            Task.FromString(Task(id=task_id).SerializeToString() + _unknown_field(field_number))
        )

    @staticmethod
    def entitlement(entitlement_id: str) -> entitlement_pb2.Entitlement:
        """An Entitlement as C1 sends it back from our c1z: `team:3:member` → resource team/3, slug member."""
        resource_type, resource_id, slug = entitlement_id.split(":", 2)
        resource = resource_pb2.Resource(
            id=resource_pb2.ResourceId(resource_type=resource_type, resource=resource_id)
        )
        return entitlement_pb2.Entitlement(id=entitlement_id, resource=resource, slug=slug)

    @staticmethod
    def principal(principal_id: str, principal_type: str = "agent") -> resource_pb2.Resource:
        return resource_pb2.Resource(
            id=resource_pb2.ResourceId(resource_type=principal_type, resource=principal_id)
        )

    def enqueue_grant(self, entitlement_id: str, principal_id: str, principal_type: str = "agent") -> str:
        grant = Task.GrantTask(
            entitlement=self.entitlement(entitlement_id),
            principal=self.principal(principal_id, principal_type),
        )
        return self.enqueue(Task(grant=grant))

    def enqueue_revoke(self, entitlement_id: str, principal_id: str, principal_type: str = "agent") -> str:
        grant = grant_pb2.Grant(
            id=f"{entitlement_id}:{principal_type}:{principal_id}",
            entitlement=self.entitlement(entitlement_id),
            principal=self.principal(principal_id, principal_type),
        )
        return self.enqueue(Task(revoke=Task.RevokeTask(grant=grant)))

    # --- reading what C1 received
    def finished(self, task_id: str) -> baton_pb2.BatonServiceFinishTaskRequest:
        return self.baton.finished[task_id]

    def grant_response(self, task_id: str) -> connector_pb2.GrantManagerServiceGrantResponse:
        response = connector_pb2.GrantManagerServiceGrantResponse()
        if not self.finished(task_id).success.response.Unpack(response):
            raise AssertionError(
                f"task {task_id}: success.response is not a GrantManagerServiceGrantResponse"
            )
        return response

    def revoke_response(self, task_id: str) -> connector_pb2.GrantManagerServiceRevokeResponse:
        response = connector_pb2.GrantManagerServiceRevokeResponse()
        if not self.finished(task_id).success.response.Unpack(response):
            raise AssertionError(
                f"task {task_id}: success.response is not a GrantManagerServiceRevokeResponse"
            )
        return response

    def annotation_names(self, task_id: str) -> list[str]:
        """Short type names of the FinishTask annotations (success or error)."""
        finish = self.finished(task_id)
        state = getattr(finish, finish.WhichOneof("final_state"))
        return [_short(annotation) for annotation in state.annotations]


def _short(annotation: any_pb2.Any) -> str:
    return annotation.type_url.rsplit(".", 1)[-1]


@contextmanager
def running_fake_c1(
    folder: Path, credentials: TestCredentials | None = None, server_names: tuple[str, ...] | None = None
) -> Generator[FakeC1, None, None]:
    """Start both servers on 127.0.0.1 (free ports); stop them on exit. `server_names` gives the
    servers a certificate for other host names (the default names localhost and 127.0.0.1)."""
    fake = FakeC1(folder, credentials or make_credentials(), server_names)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
