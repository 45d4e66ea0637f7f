"""The e-mail channel against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from prefect_email import EmailServerCredentials

from integrations.email.channel import EmailChannel
from productpilot.notify.channels import Channel, Delivery, RecoverableChannel
from productpilot.notify.message import Message
from productpilot.vendors import (
    CredentialError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
)
from tests.fakes.smtp import Authenticator, SmtpServer, free_port, running_smtp

# A hung connection must fail the test, not the whole run.
pytestmark = pytest.mark.timeout(20)

SENDER = "ProductPilot <alerts@productpilot.example>"
RECIPIENT = "pm@example.com"
NOW = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
POLICY = RetryPolicy(attempts=3, base_seconds=1.0, max_seconds=30.0, jitter=0.5)
MESSAGE = Message(
    subject="Signups dropped 40%",
    text="Signups fell <below> the expected band.",
    severity="critical",
    kind="productpilot.anomaly.detected",
    idempotency_key="outbox-12",
    facts=(("metric", "signups"),),
    link="https://productpilot.example/reports/12",
)


class Sleeps(list[float]):
    """Records the waits asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def channel_for(sleeps: Sleeps) -> Callable[..., EmailChannel]:
    def make(
        credentials: EmailServerCredentials, *, policy: RetryPolicy = POLICY, timeout: float = 5.0
    ) -> EmailChannel:
        return EmailChannel(
            credentials,
            SENDER,
            block_name="ops-mail",
            policy=policy,
            sleep=sleeps,
            timeout=timeout,
            clock=lambda: NOW,
        )

    return make


ChannelFactory = Callable[..., EmailChannel]


# --- sending -----------------------------------------------------------------------------


def test_send_delivers_one_e_mail_with_its_headers(
    smtp: SmtpServer, channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    delivery = channel_for(smtp.credentials()).send(RECIPIENT, MESSAGE)

    [received] = smtp.handler.received
    assert received.mail_from == "alerts@productpilot.example"
    assert received.rcpt_tos == [RECIPIENT]
    mail = received.message
    assert mail["From"] == SENDER
    assert mail["To"] == RECIPIENT
    assert mail["Subject"] == "[critical] Signups dropped 40%"
    assert mail["Date"].datetime == NOW
    assert mail["Message-ID"] == "<outbox-12@productpilot.example>"
    assert mail["In-Reply-To"] is None
    assert delivery == Delivery(
        external_id="<outbox-12@productpilot.example>",
        thread_id="<outbox-12@productpilot.example>",
    )
    assert sleeps == []


def test_the_e_mail_arrives_with_a_plain_text_and_an_escaped_html_part(
    smtp: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel_for(smtp.credentials()).send(RECIPIENT, MESSAGE)

    mail = smtp.handler.received[0].message
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert "Signups fell <below> the expected band." in plain.get_content()
    assert "Signups fell &lt;below&gt; the expected band." in html.get_content()
    assert "<below>" not in html.get_content()


def test_a_follow_up_replies_in_the_thread_of_the_first_e_mail(
    smtp: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(smtp.credentials())
    first = channel.send(RECIPIENT, MESSAGE)
    later = Message(
        subject="Signups still low",
        text="",
        severity="warning",
        kind=MESSAGE.kind,
        idempotency_key="outbox-19",
    )

    second = channel.send(RECIPIENT, later, thread=first)

    mail = smtp.handler.received[1].message
    assert mail["Message-ID"] == "<outbox-19@productpilot.example>"
    assert mail["In-Reply-To"] == "<outbox-12@productpilot.example>"
    assert mail["References"] == "<outbox-12@productpilot.example>"
    assert second == Delivery(
        external_id="<outbox-19@productpilot.example>",
        thread_id="<outbox-12@productpilot.example>",
    )


def test_the_channel_is_a_channel_without_find_sent(
    smtp: SmtpServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for(smtp.credentials())

    assert isinstance(channel, Channel)
    assert not isinstance(channel, RecoverableChannel)


def test_a_recipient_that_is_not_an_address_is_rejected_without_connecting(
    smtp: SmtpServer, channel_for: ChannelFactory
) -> None:
    with pytest.raises(RejectedRequestError, match="is not a list of e-mail addresses"):
        channel_for(smtp.credentials()).send("ops team", MESSAGE)

    assert smtp.handler.rcpt_attempts == 0


def test_a_sender_that_is_not_an_address_fails_when_the_channel_is_made(
    smtp: SmtpServer,
) -> None:
    with pytest.raises(ValueError, match="is not one e-mail address"):
        EmailChannel(smtp.credentials(), "ProductPilot")


# --- logging in --------------------------------------------------------------------------


@contextmanager
def smtp_with_login() -> Iterator[tuple[SmtpServer, Authenticator]]:
    authenticator = Authenticator(b"productpilot", b"right")
    # PLAIN only: smtplib would try LOGIN too after a refusal, which is still one send.
    with running_smtp(
        authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"]
    ) as server:
        yield server, authenticator


def test_the_block_s_login_is_used(channel_for: ChannelFactory) -> None:
    with smtp_with_login() as (server, authenticator):
        channel_for(server.credentials(username="productpilot", password="right")).send(
            RECIPIENT, MESSAGE
        )

    assert authenticator.attempts == 1
    assert len(server.handler.received) == 1


def test_a_wrong_password_is_a_credential_error_naming_the_block_after_one_attempt(
    channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    with smtp_with_login() as (server, authenticator):
        channel = channel_for(server.credentials(username="productpilot", password="wrong"))
        with pytest.raises(CredentialError, match="the e-mail credentials block 'ops-mail'"):
            channel.send(RECIPIENT, MESSAGE)

    assert authenticator.attempts == 1
    assert sleeps == []
    assert server.handler.received == []


def test_a_server_offering_no_login_on_this_connection_is_a_credential_error(
    channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    # aiosmtpd's default: AUTH only after STARTTLS, so an INSECURE block cannot log in.
    with running_smtp(authenticator=Authenticator(b"a", b"b")) as server:
        channel = channel_for(server.credentials(username="a", password="b"))
        with pytest.raises(CredentialError, match="AUTH extension not supported"):
            channel.send(RECIPIENT, MESSAGE)

    assert sleeps == []


# --- the server's bad days ---------------------------------------------------------------


def test_a_421_try_later_is_retried_and_the_e_mail_delivered_once(
    smtp: SmtpServer, channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    smtp.handler.data_replies.append("421 try later")

    delivery = channel_for(smtp.credentials()).send(RECIPIENT, MESSAGE)

    assert smtp.handler.data_attempts == 2
    assert [r.message["Message-ID"] for r in smtp.handler.received] == [delivery.external_id]
    assert len(sleeps) == 1
    assert 0.5 <= sleeps[0] <= 1.0


def test_a_greylisting_451_that_outlasts_the_retries_is_transient(
    smtp: SmtpServer, channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    smtp.handler.data_replies += ["451 4.7.1 greylisted, come back later"] * 3

    with pytest.raises(TransientVendorError, match="451"):
        channel_for(smtp.credentials()).send(RECIPIENT, MESSAGE)

    assert smtp.handler.data_attempts == 3
    assert len(sleeps) == 2


def test_an_unknown_recipient_is_rejected_after_one_attempt(
    smtp: SmtpServer, channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    smtp.handler.refused[RECIPIENT] = "550 no such user"

    with pytest.raises(RejectedRequestError, match="550 no such user"):
        channel_for(smtp.credentials()).send(RECIPIENT, MESSAGE)

    assert smtp.handler.rcpt_attempts == 1
    assert sleeps == []


def test_a_message_refused_with_a_5xx_is_rejected_after_one_attempt(
    smtp: SmtpServer, channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    smtp.handler.data_replies.append("554 5.7.1 message refused as spam")

    with pytest.raises(RejectedRequestError, match="554"):
        channel_for(smtp.credentials()).send(RECIPIENT, MESSAGE)

    assert smtp.handler.data_attempts == 1
    assert sleeps == []


def test_a_refused_connection_is_transient_and_retried(
    channel_for: ChannelFactory, sleeps: Sleeps
) -> None:
    nobody = EmailServerCredentials(
        smtp_server="127.0.0.1", smtp_port=free_port(), smtp_type="INSECURE"
    )

    with pytest.raises(TransientVendorError, match="ConnectionRefusedError"):
        channel_for(nobody).send(RECIPIENT, MESSAGE)

    assert len(sleeps) == POLICY.attempts - 1


def test_a_server_that_stops_answering_mid_send_is_transient(
    smtp: SmtpServer, channel_for: ChannelFactory
) -> None:
    smtp.handler.stall_seconds = 0.5

    with pytest.raises(TransientVendorError, match="timed out"):
        channel_for(smtp.credentials(), policy=RetryPolicy(attempts=1), timeout=0.1).send(
            RECIPIENT, MESSAGE
        )
