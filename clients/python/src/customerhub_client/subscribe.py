"""``HubService.Subscribe`` that resumes after dropped connections."""

from __future__ import annotations

import random
import threading
from types import TracebackType
from typing import Callable, Generator, Iterator, Sequence

import grpc

from customerhub_client.customerhub.v1 import hub_service_pb2, hub_service_pb2_grpc, notification_service_pb2

InboxMessage = notification_service_pb2.InboxMessage

#: Codes after which subscribing again may work: the connection, not the request, failed.
TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class StreamEnded(ConnectionError):
    """The server ended the stream without an error (e.g. it shut down)."""


class ResumableSubscription(Iterator[notification_service_pb2.InboxMessage]):
    """An iterator of the caller's HUB messages, in sequence order, without
    heartbeats. It remembers the last sequence it yielded (``last_sequence``);
    when the stream ends or fails with a transient error it subscribes again
    after that sequence, with exponential backoff and at most ``max_retries``
    times in a row, and it never yields a sequence twice. Errors about the
    request itself (e.g. ``UNAUTHENTICATED``) are raised at once.

    ``cancel()`` (from any thread) ends the iteration quietly.
    """

    def __init__(
        self,
        hub: hub_service_pb2_grpc.HubServiceStub,
        after_sequence: int = 0,
        *,
        max_retries: int = 5,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
        on_retry: Callable[[Exception, int, int], None] | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        self.last_sequence = after_sequence
        self._hub = hub
        self._max_retries = max_retries
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._on_retry = on_retry
        self._metadata = tuple(metadata) if metadata is not None else None
        self._cancelled = threading.Event()
        self._call: grpc.Call | None = None
        self._messages = self._run()

    def __iter__(self) -> ResumableSubscription:
        return self

    def __next__(self) -> notification_service_pb2.InboxMessage:
        return next(self._messages)

    def cancel(self) -> None:
        """Ends the subscription: the open call is cancelled and iteration stops."""
        self._cancelled.set()
        call = self._call
        if call is not None:
            call.cancel()

    close = cancel

    def __enter__(self) -> ResumableSubscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()
        self._messages.close()

    def _run(self) -> Generator[notification_service_pb2.InboxMessage, None, None]:
        failures = 0
        while not self._cancelled.is_set():
            request = hub_service_pb2.SubscribeRequest(after_sequence=self.last_sequence)
            responses = self._hub.Subscribe(request, metadata=self._metadata)
            call: grpc.Call = responses
            self._call = call
            if self._cancelled.is_set():
                call.cancel()
            error: Exception
            try:
                for response in responses:
                    failures = 0
                    if response.WhichOneof("event") != "message":
                        continue  # heartbeat
                    message = response.message
                    if message.sequence <= self.last_sequence:
                        continue  # already yielded
                    self.last_sequence = message.sequence
                    yield message
                error = StreamEnded("the server ended the stream")
            except grpc.RpcError as e:
                if self._cancelled.is_set():
                    return
                code = e.code() if isinstance(e, grpc.Call) else grpc.StatusCode.UNKNOWN
                if code not in TRANSIENT_CODES:
                    raise
                error = e
            finally:
                # Also when the consumer stops iterating (GeneratorExit).
                call.cancel()
                self._call = None
            failures += 1
            if failures > self._max_retries:
                raise error
            if self._on_retry is not None:
                self._on_retry(error, failures, self.last_sequence)
            backoff = min(self._max_backoff, self._initial_backoff * 2 ** (failures - 1))
            if self._cancelled.wait(backoff * random.uniform(0.5, 1.0)):
                return


def subscribe_resumable(
    hub_stub: hub_service_pb2_grpc.HubServiceStub,
    after_sequence: int = 0,
    *,
    max_retries: int = 5,
    initial_backoff: float = 0.2,
    max_backoff: float = 5.0,
    on_retry: Callable[[Exception, int, int], None] | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> ResumableSubscription:
    """Streams the caller's HUB messages after ``after_sequence``, resuming
    after dropped connections without gaps or repeats (see
    :class:`ResumableSubscription`). ``on_retry(error, attempt, last_sequence)``
    is told about each re-subscription."""
    return ResumableSubscription(
        hub_stub,
        after_sequence,
        max_retries=max_retries,
        initial_backoff=initial_backoff,
        max_backoff=max_backoff,
        on_retry=on_retry,
        metadata=metadata,
    )
