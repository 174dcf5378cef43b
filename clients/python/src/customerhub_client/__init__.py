"""Python client for the customerhub gRPC API.

The generated modules live in ``customerhub_client.customerhub.v1``
(``*_pb2`` messages, ``*_pb2_grpc`` stubs, with mypy-protobuf type stubs);
regenerate them with ``./scripts/generate-clients`` at the repository top.

Helpers:

- :func:`connect` - a channel with typed stubs for every service and the
  ``authorization: Bearer`` header (API key, or HUB session for ``HubService``);
- :func:`subscribe_resumable` - ``HubService.Subscribe`` that survives dropped
  connections without gaps or repeats;
- :func:`field_violations` - the ``google.rpc.BadRequest`` details of an error.
"""

from customerhub_client.clients import Clients, connect
from customerhub_client.customerhub.v1 import (
    common_pb2,
    customer_service_pb2,
    hub_service_pb2,
    notification_service_pb2,
    punch_card_service_pb2,
    reminder_service_pb2,
    timesheet_service_pb2,
    workspace_service_pb2,
)
from customerhub_client.errors import field_violations, precondition_violations
from customerhub_client.subscribe import ResumableSubscription, subscribe_resumable

__all__ = [
    "Clients",
    "ResumableSubscription",
    "common_pb2",
    "connect",
    "customer_service_pb2",
    "field_violations",
    "hub_service_pb2",
    "notification_service_pb2",
    "precondition_violations",
    "punch_card_service_pb2",
    "reminder_service_pb2",
    "subscribe_resumable",
    "timesheet_service_pb2",
    "workspace_service_pb2",
]
