"""Typed stubs for every service over one channel, with bearer credentials."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, NamedTuple, Sequence

import grpc

from customerhub_client.customerhub.v1 import (
    customer_service_pb2_grpc,
    hub_service_pb2_grpc,
    notification_service_pb2_grpc,
    punch_card_service_pb2_grpc,
    reminder_service_pb2_grpc,
    timesheet_service_pb2_grpc,
    workspace_service_pb2_grpc,
)

_HUB_PREFIX = "/customerhub.v1.HubService/"


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str | bytes]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>``: the HUB session token for
    ``HubService`` calls, the API key for all others. A call with no token for
    its service goes without the header (HUB activation and login need none)."""

    def __init__(self, api_key: str | None = None, hub_token: str | None = None) -> None:
        self.api_key = api_key
        self.hub_token = hub_token

    def _with_token(self, details: Any) -> Any:
        token = self.hub_token if details.method.startswith(_HUB_PREFIX) else self.api_key
        if not token:
            return details
        metadata = [(k, v) for k, v in (details.metadata or []) if k != "authorization"]
        metadata.append(("authorization", f"Bearer {token}"))
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any], client_call_details: Any, request: Any) -> Any:
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], client_call_details: Any, request: Any) -> Any:
        return continuation(self._with_token(client_call_details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request_iterator)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._with_token(client_call_details), request_iterator)


@dataclass
class Clients:
    """One typed stub per service, sharing one channel. Close it (or use
    ``with connect(...) as clients:``) when done."""

    channel: grpc.Channel
    workspace: workspace_service_pb2_grpc.WorkspaceServiceStub
    customers: customer_service_pb2_grpc.CustomerServiceStub
    hub: hub_service_pb2_grpc.HubServiceStub
    notifications: notification_service_pb2_grpc.NotificationServiceStub
    punch_cards: punch_card_service_pb2_grpc.PunchCardServiceStub
    reminders: reminder_service_pb2_grpc.ReminderServiceStub
    timesheets: timesheet_service_pb2_grpc.TimesheetServiceStub

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Clients:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    address: str,
    api_key: str | None = None,
    hub_token: str | None = None,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] | None = None,
) -> Clients:
    """Opens a channel to ``address`` (``host:port``; plaintext unless
    ``credentials`` are given) and returns typed stubs for every service,
    sending ``api_key`` to the staff services and ``hub_token`` to ``HubService``."""
    opts = list(options or [])
    base = (
        grpc.secure_channel(address, credentials, options=opts)
        if credentials is not None
        else grpc.insecure_channel(address, options=opts)
    )
    channel = grpc.intercept_channel(base, BearerInterceptor(api_key, hub_token))
    return Clients(
        channel=channel,
        workspace=workspace_service_pb2_grpc.WorkspaceServiceStub(channel),
        customers=customer_service_pb2_grpc.CustomerServiceStub(channel),
        hub=hub_service_pb2_grpc.HubServiceStub(channel),
        notifications=notification_service_pb2_grpc.NotificationServiceStub(channel),
        punch_cards=punch_card_service_pb2_grpc.PunchCardServiceStub(channel),
        reminders=reminder_service_pb2_grpc.ReminderServiceStub(channel),
        timesheets=timesheet_service_pb2_grpc.TimesheetServiceStub(channel),
    )
