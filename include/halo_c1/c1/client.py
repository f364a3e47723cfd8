"""The BatonService client: one TLS gRPC channel, a bearer token per call, halo-c1's user agent.

    with BatonClient(settings) as c1:
        c1.hello()
        polled = c1.get_task()

An UNAUTHENTICATED answer drops the cached token and retries the call once with a new one; a second
UNAUTHENTICATED is a `C1AuthError`. UNAVAILABLE and other transient codes become
`C1UnavailableError`, except an UNAVAILABLE because C1's certificate was refused (untrusted CA, other
host name): that is a `C1CertificateError`, never retried. There is no insecure mode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2

from halo_c1.c1.errors import (
    CERTIFICATE_HINT,
    C1AuthError,
    C1CertificateError,
    C1Error,
    C1UnavailableError,
    grpc_certificate_problem,
)
from halo_c1.c1.hello import hello_request
from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2, baton_pb2_grpc
from halo_c1.c1.settings import ServiceSettings
from halo_c1.c1.token import TokenSource
from halo_c1.c1.version import USER_AGENT_PRODUCT

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 30
UPLOAD_CHUNK_BYTES = 512 * 1024
UPLOAD_ATTEMPTS = 3
UPLOAD_WAITS_S = (0.0, 1.0)
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)
Req = TypeVar("Req")


class UploadCancelled(C1Error):
    """The upload stopped because C1 cancelled the task."""


@dataclass(frozen=True)
class Polled:
    """One GetTask answer: the task (None when there is none) and the cadence C1 asks for."""

    task: baton_pb2.Task | None
    next_poll_s: float
    next_heartbeat_s: float


class _BearerAuth(grpc.AuthMetadataPlugin):
    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    def __call__(self, context: Any, callback: Any) -> None:
        try:
            callback((("authorization", f"Bearer {self._tokens.token()}"),), None)
        except Exception as exc:
            callback(None, exc)


def _seconds(duration: Any) -> float:
    return duration.seconds + duration.nanos / 1e9


def _translate(method: str, error: grpc.RpcError, target: str) -> C1Error:
    code = error.code()
    text = f"C1 {method} failed: {code.name}: {error.details()}"
    if code == grpc.StatusCode.UNAVAILABLE and (problem := grpc_certificate_problem(error.details())):
        return C1CertificateError(
            f"C1 {method} to {target}: TLS certificate not accepted ({problem}); {CERTIFICATE_HINT}"
        )
    if code in TRANSIENT:
        return C1UnavailableError(text)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return C1AuthError(text)
    return C1Error(text)


class BatonClient:
    """A BatonService client for one host id."""

    def __init__(
        self,
        settings: ServiceSettings,
        tokens: TokenSource | None = None,
        *,
        timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.tokens = tokens or TokenSource(settings)
        self.timeout_s = timeout_s
        credentials = grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(root_certificates=settings.grpc_root_certificates()),
            grpc.metadata_call_credentials(_BearerAuth(self.tokens), name="c1-bearer"),
        )
        agent = f"{settings.credentials.client_id.name} {USER_AGENT_PRODUCT}"
        self._channel = grpc.secure_channel(
            settings.grpc_target, credentials, options=[("grpc.primary_user_agent", agent)]
        )
        self._stub = baton_pb2_grpc.BatonServiceStub(self._channel)

    def __enter__(self) -> BatonClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: str, invoke: Callable[[], Any]) -> Any:
        """Run one RPC; on UNAUTHENTICATED renew the token once and try again."""
        for attempt in (1, 2):
            self.tokens.token()  # auth errors surface here as C1AuthError, not as a plugin failure
            try:
                return invoke()
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.UNAUTHENTICATED and attempt == 1:
                    log.warning("C1 %s: token not accepted (UNAUTHENTICATED); renewing it once", method)
                    self.tokens.invalidate()
                    continue
                if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                    raise C1AuthError(
                        f"C1 {method} refused a freshly issued token (UNAUTHENTICATED): {error.details()}"
                    ) from None
                raise _translate(method, error, self.settings.grpc_target) from None
        raise AssertionError("unreachable")

    def hello(self, task_id: str = "") -> None:
        request = hello_request(
            host_id=self.settings.host_id, task_id=task_id, provisioning=self.settings.provisioning
        )
        self._call("Hello", lambda: self._stub.Hello(request, timeout=self.timeout_s))
        log.info(
            "Said Hello to C1 as host %s%s", self.settings.host_id, f" for task {task_id}" if task_id else ""
        )

    def get_task(self) -> Polled:
        request = baton_pb2.BatonServiceGetTaskRequest(host_id=self.settings.host_id)
        response = self._call("GetTask", lambda: self._stub.GetTask(request, timeout=self.timeout_s))
        task = response.task if response.HasField("task") and response.task.id else None
        if task is not None and task.WhichOneof("task_type") == "none":
            task = None
        return Polled(task, _seconds(response.next_poll), _seconds(response.next_heartbeat))

    def heartbeat(self, task_id: str) -> tuple[bool, float]:
        """(cancelled, next_heartbeat_s) for a task being worked on."""
        request = baton_pb2.BatonServiceHeartbeatRequest(host_id=self.settings.host_id, task_id=task_id)
        response = self._call("Heartbeat", lambda: self._stub.Heartbeat(request, timeout=self.timeout_s))
        return response.cancelled, _seconds(response.next_heartbeat)

    def upload(
        self,
        task_id: str,
        path: Path,
        *,
        chunk_size: int = UPLOAD_CHUNK_BYTES,
        cancelled: threading.Event | None = None,
    ) -> str:
        """Stream a file as the task's asset (metadata, ≤512 KiB chunks, SHA-256 EOF); its hex digest.

        A transient failure retries the whole stream, up to 3 attempts in all.
        """
        from halo_c1.lake import copy_hashing  # pyarrow: not for the triggerer, which opens clients too

        with path.open("rb") as handle:
            digest = copy_hashing(handle).digest
        checksum = digest.digest()
        request_type = baton_pb2.BatonServiceUploadAssetRequest

        def stream() -> Iterator[baton_pb2.BatonServiceUploadAssetRequest]:
            yield request_type(
                metadata=request_type.UploadMetadata(host_id=self.settings.host_id, task_id=task_id)
            )
            with path.open("rb") as handle:
                while chunk := handle.read(chunk_size):
                    if cancelled is not None and cancelled.is_set():
                        raise UploadCancelled(f"task {task_id} was cancelled by C1 during the upload")
                    yield request_type(data=request_type.UploadData(data=chunk))
            yield request_type(eof=request_type.UploadEOF(sha256_checksum=checksum))

        size = path.stat().st_size
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                self._call(
                    "UploadAsset", lambda: self._stub.UploadAsset(stream(), timeout=max(self.timeout_s, 300))
                )
            except C1UnavailableError as error:
                if cancelled is not None and cancelled.is_set():
                    raise UploadCancelled(f"task {task_id} was cancelled by C1 during the upload") from None
                if attempt == UPLOAD_ATTEMPTS:
                    raise
                wait = UPLOAD_WAITS_S[min(attempt - 1, len(UPLOAD_WAITS_S) - 1)]
                log.warning(
                    "Upload attempt %d of %d failed (%s); retrying the whole stream",
                    attempt,
                    UPLOAD_ATTEMPTS,
                    error,
                )
                time.sleep(wait)
                continue
            log.info("Uploaded %d bytes for task %s (sha256 %s)", size, task_id, digest.hexdigest())
            return digest.hexdigest()
        raise AssertionError("unreachable")

    def finish_success(
        self, task_id: str, *, annotations: Sequence[any_pb2.Any] = (), response: any_pb2.Any | None = None
    ) -> None:
        request_type = baton_pb2.BatonServiceFinishTaskRequest
        success = request_type.Success(annotations=list(annotations))
        if response is not None:
            success.response.CopyFrom(response)
        request = request_type(host_id=self.settings.host_id, task_id=task_id, success=success)
        self._call("FinishTask", lambda: self._stub.FinishTask(request, timeout=self.timeout_s))
        log.info("Finished task %s: success", task_id)

    def finish_error(
        self,
        task_id: str,
        code: str,
        message: str,
        *,
        non_retryable: bool,
        annotations: Sequence[any_pb2.Any] = (),
    ) -> None:
        """FinishTask with a google.rpc.Status; `code` is a gRPC status name (e.g. "UNIMPLEMENTED")."""
        request_type = baton_pb2.BatonServiceFinishTaskRequest
        status = status_pb2.Status(code=grpc.StatusCode[code].value[0], message=message)
        request = request_type(
            host_id=self.settings.host_id,
            task_id=task_id,
            status=status,
            error=request_type.Error(non_retryable=non_retryable, annotations=list(annotations)),
        )
        self._call("FinishTask", lambda: self._stub.FinishTask(request, timeout=self.timeout_s))
        log.info("Finished task %s: %s (%s, non_retryable=%s)", task_id, code, message, non_retryable)
