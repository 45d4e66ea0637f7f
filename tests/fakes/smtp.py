"""A real SMTP server (aiosmtpd) on loopback that records what it accepts and refuses on cue."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from prefect_email import EmailServerCredentials


@dataclass(frozen=True)
class Received:
    """One e-mail the server accepted: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps what it accepts and can refuse on cue.

    ``data_replies`` answer the next DATA commands instead of accepting; ``refused``
    answers RCPT for those addresses; ``stall_seconds`` holds every DATA answer back.
    """

    received: list[Received] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 0.0
    data_attempts: int = 0
    rcpt_attempts: int = 0

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: Any
    ) -> str:
        self.rcpt_attempts += 1
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        self.data_attempts += 1
        if self.stall_seconds:
            await asyncio.sleep(self.stall_seconds)
        if self.data_replies:
            return self.data_replies.pop(0)
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@dataclass
class Authenticator:
    """Accepts one login and counts the attempts."""

    login: bytes
    password: bytes
    attempts: int = 0

    def __call__(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        self.attempts += 1
        valid = isinstance(data, LoginPassword) and data == (self.login, self.password)
        # handled=False: aiosmtpd itself answers a refusal with 535.
        return AuthResult(success=valid, handled=False)


@dataclass
class SmtpServer:
    port: int
    handler: RecordingHandler

    def credentials(self, **login: Any) -> EmailServerCredentials:
        return EmailServerCredentials(
            smtp_server="127.0.0.1", smtp_port=self.port, smtp_type="INSECURE", **login
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_smtp(**smtp_parameters: Any) -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_parameters)
    controller.start()
    try:
        yield SmtpServer(port, handler)
    finally:
        controller.stop()
