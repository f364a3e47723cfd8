"""The fake C1's gRPC side: BatonService over TLS with a scripted task queue, recording every call.

Implements the checklist of spec §5.1: bearer auth on every RPC, Hello validation, GetTask from a
queue (with injected UNAVAILABLE), Heartbeat counting with cancellation after N beats, UploadAsset
framing and SHA-256 checks (with an injected mid-stream drop), FinishTask bookkeeping (one final
state, issued task, never twice, hello tasks never finished).
"""

from __future__ import annotations

import hashlib
import secrets
import string
import threading
import time
from collections import deque
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import duration_pb2

from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2, baton_pb2_grpc
from tests.fake_c1.token_server import TokenState

MAX_CHUNK = 1024 * 1024
_ALNUM = string.ascii_letters + string.digits


def new_task_id() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(27))


def _duration(seconds: float) -> duration_pb2.Duration:
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=int((seconds - whole) * 1e9))


@dataclass
class Call:
    method: str
    request: Any
    at: float
    metadata: dict[str, str]


@dataclass
class BatonState:
    """The queue, the switches and the records of the fake BatonService."""

    tokens: TokenState
    queue: deque[baton_pb2.Task] = field(default_factory=deque)
    issued: dict[str, baton_pb2.Task] = field(default_factory=dict)
    next_poll_s: float = 1.0
    next_heartbeat_s: float = 1.0
    get_task_errors: int = 0  # the next N GetTask calls answer UNAVAILABLE
    cancel_after_beats: dict[str, int] = field(default_factory=dict)
    drop_uploads: int = 0  # the next N upload streams are dropped (UNAVAILABLE) after their first chunk
    calls: list[Call] = field(default_factory=list)
    heartbeats: dict[str, int] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    upload_attempts: dict[str, int] = field(default_factory=dict)
    upload_chunk_sizes: dict[str, list[int]] = field(default_factory=dict)
    finished: dict[str, baton_pb2.BatonServiceFinishTaskRequest] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]


class FakeBatonService(baton_pb2_grpc.BatonServiceServicer):
    def __init__(self, state: BatonState) -> None:
        self.state = state

    def _enter(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        metadata = {key: value for key, value in context.invocation_metadata()}
        self.state.calls.append(Call(method, request, time.time(), metadata))
        token = metadata.get("authorization", "")
        if not token.startswith("Bearer ") or not self.state.tokens.token_valid(
            token.removeprefix("Bearer ")
        ):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing, unknown or expired bearer token")

    def _violation(self, context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> None:
        self.state.violations.append(message)
        context.abort(code, message)

    def Hello(self, request, context):
        self._enter("Hello", request, context)
        if not 1 <= len(request.host_id) <= 256:
            self._violation(context, grpc.StatusCode.INVALID_ARGUMENT, "Hello: host_id must be 1..256 chars")
        if not request.connector_metadata.display_name:
            self._violation(
                context, grpc.StatusCode.INVALID_ARGUMENT, "Hello: connector_metadata.display_name"
            )
        empty = [f.name for f in request.os_info.DESCRIPTOR.fields if not getattr(request.os_info, f.name)]
        if empty:
            self._violation(context, grpc.StatusCode.INVALID_ARGUMENT, f"Hello: empty os_info fields {empty}")
        if request.task_id and request.task_id not in self.state.issued:
            self._violation(context, grpc.StatusCode.NOT_FOUND, f"Hello: unknown task_id {request.task_id}")
        return baton_pb2.BatonServiceHelloResponse()

    def GetTask(self, request, context):
        self._enter("GetTask", request, context)
        with self.state.lock:
            if self.state.get_task_errors > 0:
                self.state.get_task_errors -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "fake C1: injected UNAVAILABLE")
            task = self.state.queue.popleft() if self.state.queue else None
        response = baton_pb2.BatonServiceGetTaskResponse(
            next_poll=_duration(self.state.next_poll_s), next_heartbeat=_duration(self.state.next_heartbeat_s)
        )
        if task is not None:
            response.task.CopyFrom(task)
        return response

    def Heartbeat(self, request, context):
        self._enter("Heartbeat", request, context)
        if request.task_id not in self.state.issued:
            self._violation(
                context, grpc.StatusCode.NOT_FOUND, f"Heartbeat: unknown task {request.task_id!r}"
            )
        with self.state.lock:
            beats = self.state.heartbeats.get(request.task_id, 0) + 1
            self.state.heartbeats[request.task_id] = beats
        limit = self.state.cancel_after_beats.get(request.task_id)
        return baton_pb2.BatonServiceHeartbeatResponse(
            next_heartbeat=_duration(self.state.next_heartbeat_s),
            cancelled=limit is not None and beats >= limit,
        )

    def UploadAsset(self, request_iterator, context):
        self._enter("UploadAsset", None, context)
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("msg") != "metadata":
            self._violation(
                context, grpc.StatusCode.INVALID_ARGUMENT, "UploadAsset: first message must be metadata"
            )
        task_id = first.metadata.task_id
        if task_id not in self.state.issued:
            self._violation(context, grpc.StatusCode.NOT_FOUND, f"UploadAsset: unknown task {task_id!r}")
        with self.state.lock:
            self.state.upload_attempts[task_id] = self.state.upload_attempts.get(task_id, 0) + 1
            drop = self.state.drop_uploads > 0
            if drop:
                self.state.drop_uploads -= 1
        data, sizes, checksum = bytearray(), [], None
        for message in request_iterator:
            kind = message.WhichOneof("msg")
            if kind == "data":
                size = len(message.data.data)
                if not 1 <= size <= MAX_CHUNK or checksum is not None:
                    self._violation(
                        context, grpc.StatusCode.INVALID_ARGUMENT, f"UploadAsset: bad chunk of {size} bytes"
                    )
                data += message.data.data
                sizes.append(size)
                if drop:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "fake C1: injected stream drop")
            elif kind == "eof":
                if checksum is not None:
                    self._violation(context, grpc.StatusCode.INVALID_ARGUMENT, "UploadAsset: two EOFs")
                checksum = message.eof.sha256_checksum
            else:
                self._violation(context, grpc.StatusCode.INVALID_ARGUMENT, f"UploadAsset: unexpected {kind}")
        if checksum is None:
            self._violation(context, grpc.StatusCode.INVALID_ARGUMENT, "UploadAsset: no EOF")
        if hashlib.sha256(data).digest() != checksum:
            self._violation(context, grpc.StatusCode.DATA_LOSS, "UploadAsset: SHA-256 mismatch")
        with self.state.lock:
            self.state.uploads[task_id] = bytes(data)
            self.state.upload_chunk_sizes[task_id] = sizes
        return baton_pb2.BatonServiceUploadAssetResponse()

    def FinishTask(self, request, context):
        self._enter("FinishTask", request, context)
        task = self.state.issued.get(request.task_id)
        if task is None:
            self._violation(
                context, grpc.StatusCode.NOT_FOUND, f"FinishTask: unknown task {request.task_id!r}"
            )
        if task.WhichOneof("task_type") == "hello":
            self._violation(
                context, grpc.StatusCode.FAILED_PRECONDITION, "FinishTask: a hello task is never finished"
            )
        if request.WhichOneof("final_state") is None:
            self._violation(context, grpc.StatusCode.INVALID_ARGUMENT, "FinishTask: no success or error")
        with self.state.lock:
            if request.task_id in self.state.finished:
                self._violation(context, grpc.StatusCode.FAILED_PRECONDITION, "FinishTask: finished twice")
            self.state.finished[request.task_id] = request
        return baton_pb2.BatonServiceFinishTaskResponse()


class BatonServer:
    """BatonService over TLS on 127.0.0.1, a free port."""

    def __init__(self, state: BatonState, cert_pem: bytes, key_pem: bytes) -> None:
        self.state = state
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        baton_pb2_grpc.add_BatonServiceServicer_to_server(FakeBatonService(state), self._server)
        credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
        self.port = self._server.add_secure_port("127.0.0.1:0", credentials)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=1).wait(5)
