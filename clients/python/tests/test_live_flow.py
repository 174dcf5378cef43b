"""The Python client against the real server: welcome mail, HUB activation,
live punch-card messages, resuming without gaps or repeats, error details."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from support import DroppingProxy, RunningServer, activation_token

from customerhub_client import (
    ResumableSubscription,
    common_pb2,
    connect,
    customer_service_pb2,
    field_violations,
    hub_service_pb2,
    notification_service_pb2,
    punch_card_service_pb2,
    subscribe_resumable,
    workspace_service_pb2,
)

InboxMessage = notification_service_pb2.InboxMessage


class Collector:
    """Pumps a subscription into a list on a thread, so a test can wait for
    counts and for silence."""

    def __init__(self, subscription: ResumableSubscription) -> None:
        self.subscription = subscription
        self.messages: list[InboxMessage] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for message in self.subscription:
                self.messages.append(message)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    @property
    def sequences(self) -> list[int]:
        return [m.sequence for m in self.messages]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[InboxMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise AssertionError(f"got {len(self.messages)} of {count} messages: {self.sequences}")
            time.sleep(0.02)
        return self.messages

    def stop(self) -> None:
        self.subscription.cancel()
        self._thread.join(10)
        assert not self._thread.is_alive(), "subscription did not stop"


def test_welcome_activation_live_messages_and_resume(server: RunningServer) -> None:
    staff = connect(server.address, api_key=server.api_key)
    created = staff.customers.CreateCustomer(
        customer_service_pb2.CreateCustomerRequest(
            customer=customer_service_pb2.Customer(
                kind=customer_service_pb2.CUSTOMER_KIND_COMPANY,
                company_name="Bager Hansen ApS",
                hub_access=True,
                modules=[common_pb2.MODULE_PUNCH_CARDS],
                locale=common_pb2.LOCALE_DA,
            ),
            contacts=[
                customer_service_pb2.ContactInput(first_name="Anna", last_name="Jensen", email="anna@bager.example.dk")
            ],
            send_welcome_mail=True,
            request_id="py-create-bager",
        )
    ).customer
    assert len(created.contacts) == 1

    # The welcome mail arrives over SMTP; its link's token activates the HUB login.
    mail = server.mail.wait_for_mail_to("anna@bager.example.dk", lambda m: "activate?token=" in m.text)
    with connect(server.address) as anonymous:
        activated = anonymous.hub.ActivateAccount(
            hub_service_pb2.ActivateAccountRequest(token=activation_token(mail), password="kanelsnegl-2026")
        )
    assert activated.session_token.startswith("hub_")
    assert activated.profile.email == "anna@bager.example.dk"
    assert list(activated.profile.modules) == [common_pb2.MODULE_PUNCH_CARDS]

    hub_clients = connect(server.address, hub_token=activated.session_token)
    hub = hub_clients.hub
    assert hub.GetProfile(hub_service_pb2.GetProfileRequest()).profile.customer_name == "Bager Hansen ApS"

    # Live: a card and a punch each become a HUB message on the open stream.
    live = Collector(subscribe_resumable(hub, after_sequence=0))
    card = staff.punch_cards.CreatePunchCard(
        punch_card_service_pb2.CreatePunchCardRequest(
            punch_card=punch_card_service_pb2.PunchCard(
                customer_id=created.id,
                name="Vinduespudsning 2026",
                unit=punch_card_service_pb2.PUNCH_CARD_UNIT_PUNCHES,
                total=10,
                start_date="2026-01-01",
            )
        )
    ).punch_card

    def punch() -> None:
        staff.punch_cards.RegisterPunch(
            punch_card_service_pb2.RegisterPunchRequest(punch_card_id=card.id, description="Vinduespudsning", amount=1)
        )

    punch()
    received = live.wait_for(2)
    assert live.sequences == [1, 2]
    assert [m.kind for m in received] == [
        notification_service_pb2.NOTIFICATION_KIND_CARD_CREATED,
        notification_service_pb2.NOTIFICATION_KIND_PUNCH_REGISTERED,
    ]
    assert all(m.customer_id == created.id and m.title for m in received)

    # Drop the stream, miss a message, resume from the last sequence.
    live.stop()
    assert live.error is None
    last = live.subscription.last_sequence
    assert last == 2
    punch()
    resumed = Collector(subscribe_resumable(hub, after_sequence=last))
    resumed.wait_for(1)
    time.sleep(1.5)  # three heartbeats: anything more would show up
    assert resumed.sequences == [3], "exactly the missed message, once"
    assert resumed.messages[0].kind == notification_service_pb2.NOTIFICATION_KIND_PUNCH_REGISTERED
    resumed.stop()

    # A dropped connection under a running subscription: it re-subscribes by itself.
    proxy = DroppingProxy(server.host, server.port)
    try:
        via_proxy = connect(proxy.address, hub_token=activated.session_token)
        retries: list[int] = []
        auto = Collector(
            subscribe_resumable(
                via_proxy.hub,
                after_sequence=3,
                initial_backoff=0.05,
                on_retry=lambda error, attempt, after: retries.append(after),
            )
        )
        punch()
        auto.wait_for(1)
        assert auto.sequences == [4]
        assert proxy.drop_all() > 0, "the stream ran through the proxy"
        punch()
        punch()
        auto.wait_for(3)
        time.sleep(1.5)
        assert auto.sequences == [4, 5, 6], "missed messages once, in order"
        assert retries and all(after == 4 for after in retries), retries
        auto.stop()
        assert auto.error is None
        via_proxy.close()
    finally:
        proxy.stop()

    # The inbox agrees.
    inbox = hub.ListMessages(hub_service_pb2.ListMessagesRequest(page_size=10))
    assert [m.sequence for m in inbox.messages] == [6, 5, 4, 3, 2, 1]
    hub_clients.close()
    staff.close()


def test_invalid_argument_carries_field_violations(server: RunningServer) -> None:
    with connect(server.address, api_key=server.api_key) as staff:
        with pytest.raises(grpc.RpcError) as raised:
            staff.customers.CreateCustomer(
                customer_service_pb2.CreateCustomerRequest(
                    customer=customer_service_pb2.Customer(
                        kind=customer_service_pb2.CUSTOMER_KIND_COMPANY,
                        company_name="Fejl ApS",
                        email="not-an-email",
                    )
                )
            )
    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(error)
    assert "customer.email" in [v.field for v in violations], violations
    assert all(v.description for v in violations)


def test_unauthenticated_without_key_and_hub_errors_are_not_retried(server: RunningServer) -> None:
    with connect(server.address) as anonymous:
        with pytest.raises(grpc.RpcError) as raised:
            anonymous.workspace.GetWorkspace(workspace_service_pb2.GetWorkspaceRequest())
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # A subscription without a session fails at once instead of retrying.
        with pytest.raises(grpc.RpcError) as raised:
            next(subscribe_resumable(anonymous.hub))
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with connect(server.address, api_key=server.api_key) as staff:
        workspace = staff.workspace.GetWorkspace(workspace_service_pb2.GetWorkspaceRequest()).workspace
        assert workspace.name == "Rengøring A/S"
