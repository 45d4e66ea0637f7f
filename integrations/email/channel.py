"""The e-mail channel: delivers outbox messages over SMTP with the official
``prefect_email.EmailServerCredentials`` block.

Each send opens a connection with :meth:`EmailServerCredentials.get_server` (connected and
logged in), sends one message and quits: notifications are rare enough that a pooled
connection would only go stale between them. Failures become :mod:`productpilot.vendors`
errors:

* a refused login (535), or a server that does not offer what the block asks for (no AUTH
  over this connection type, no common mechanism), or a TLS certificate that does not
  verify: :class:`~productpilot.vendors.CredentialError` naming the block;
* a 5xx reply to the sender, the recipients or the data:
  :class:`~productpilot.vendors.RejectedRequestError`;
* a 4xx reply (greylisting, "421 try later", a temporary auth failure), a dropped or
  refused connection, a timeout: :class:`~productpilot.vendors.TransientVendorError`.

The e-mail is built once per send, so every retry carries the same ``Message-ID`` and
``Date``; mail stores that drop duplicate ids then show a retried e-mail once, which is as
close to exactly-once as SMTP gets (a server may accept a message and drop the connection
before saying so).

Example:
    ```python
    from prefect_email import EmailServerCredentials

    channel = EmailChannel(
        EmailServerCredentials.load("ops-mail"), "ProductPilot <alerts@example.com>",
        block_name="ops-mail",
    )
    delivery = channel.send("pm@example.com", message)
    follow_up = channel.send("pm@example.com", later_message, thread=delivery)
    ```
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses

from prefect_email import EmailServerCredentials

from integrations.email.messages import build_email, references_for, sender_domain
from productpilot.notify.channels import Delivery
from productpilot.notify.message import Message
from productpilot.vendors import (
    DEFAULT_POLICY,
    CredentialError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
    VendorError,
    with_retries,
)

VENDOR = "email"
DEFAULT_TIMEOUT_SECONDS = 30.0

logger = logging.getLogger(__name__)


class EmailChannel:
    """Sends messages as e-mails through one SMTP server.

    Args:
        credentials: The server and login.
        sender: The ``From`` address, e.g. ``"ProductPilot <alerts@example.com>"``; its
            domain ends every ``Message-ID``.
        block_name: The name of the credentials block, named in credential errors.
        policy: How often and how patiently to retry.
        sleep: Waits between attempts (tests pass a recorder).
        timeout: Seconds any one read or write on the connection may take. (Connecting
            itself is up to ``get_server``, which sets no timeout: a black-holed host
            fails when the operating system gives up.)
        clock: The time for the ``Date`` header.

    Raises:
        ValueError: ``sender`` is not one e-mail address.

    Example:
        ```python
        channel = EmailChannel(credentials, "alerts@example.com", block_name="ops-mail")
        delivery = channel.send("pm@example.com", message)
        ```
    """

    name = "email"

    def __init__(
        self,
        credentials: EmailServerCredentials,
        sender: str,
        *,
        block_name: str = "email",
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        sender_domain(sender)  # a typo in the sender fails here, not at the first alert
        self._credentials = credentials
        self._sender = sender
        self._credential = f"the e-mail credentials block '{block_name}'"
        self._policy = policy
        self._sleep = sleep
        self._timeout = timeout
        self._clock = clock

    def send(self, recipient: str, message: Message, *, thread: Delivery | None = None) -> Delivery:
        """E-mail ``message`` to ``recipient``, as a reply in ``thread`` if given.

        Args:
            recipient: An address, or several separated by commas.
            message: The notification.
            thread: The delivery of an earlier e-mail about the same problem.

        Returns:
            The delivery: ``external_id`` is the e-mail's ``Message-ID``, ``thread_id`` the
            ``Message-ID`` of the thread's first e-mail (this one, when it starts a thread).

        Raises:
            productpilot.vendors.VendorError: the server refused the e-mail or could not be
                reached, after the retries ``policy`` allows.
        """
        _check_recipients(recipient)
        email = build_email(
            message, sender=self._sender, recipient=recipient, thread=thread, now=self._clock()
        )
        with_retries(lambda: self._deliver(email), self._policy, sleep=self._sleep)
        message_id = str(email["Message-ID"])
        root = references_for(thread)[0] if thread is not None else message_id
        return Delivery(external_id=message_id, thread_id=root)

    def _deliver(self, email: EmailMessage) -> None:
        try:
            server = self._credentials.get_server()
            try:
                if server.sock is not None:
                    server.sock.settimeout(self._timeout)
                refused = server.send_message(email)
            finally:
                _quit(server)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error_for(exc) from exc
        if refused:
            # Others got it: raising would make the outbox send it to them again.
            logger.warning(
                "the SMTP server refused some recipients of %s: %s", email["Message-ID"], refused
            )

    def _error_for(self, exc: smtplib.SMTPException | OSError) -> VendorError:
        """The vendor error an :mod:`smtplib` or socket exception means."""
        if isinstance(exc, smtplib.SMTPAuthenticationError) and not _is_temporary(exc.smtp_code):
            return CredentialError(
                VENDOR, f"login refused: {_reply(exc)}: check {self._credential}"
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            replies = exc.recipients.values()
            detail = "; ".join(f"{code} {_text(text)}" for code, text in replies)
            if any(_is_temporary(code) for code, _ in replies):
                return TransientVendorError(VENDOR, f"recipients deferred: {detail}")
            return RejectedRequestError(VENDOR, f"recipients refused: {detail}")
        if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
            return TransientVendorError(VENDOR, f"connection refused or lost: {_reply(exc)}")
        if isinstance(exc, smtplib.SMTPResponseException):
            if _is_temporary(exc.smtp_code):
                return TransientVendorError(VENDOR, f"deferred: {_reply(exc)}")
            return RejectedRequestError(VENDOR, f"refused: {_reply(exc)}")
        if isinstance(exc, smtplib.SMTPException):
            # What is left is the server not offering what the block asks for: no AUTH on
            # this connection type, no common login mechanism, no STARTTLS.
            return CredentialError(VENDOR, f"{exc}: check {self._credential}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return CredentialError(
                VENDOR,
                f"the server's certificate does not verify ({exc.verify_message}): "
                f"check {self._credential}",
            )
        # Refused, reset, timed out (socket.timeout is TimeoutError), a name not resolving.
        return TransientVendorError(
            VENDOR, f"could not reach the server: {type(exc).__name__}: {exc}"
        )


def _check_recipients(recipient: str) -> None:
    addresses = getaddresses([recipient])
    if not addresses or any("@" not in address for _, address in addresses):
        raise RejectedRequestError(VENDOR, f"{recipient!r} is not a list of e-mail addresses")


def _quit(server: smtplib.SMTP) -> None:
    """Say goodbye; a server that already hung up (after a 421) is just closed."""
    try:
        server.quit()
    except (smtplib.SMTPException, OSError):
        server.close()


def _is_temporary(code: int) -> bool:
    return 400 <= code < 500


def _reply(exc: smtplib.SMTPException | OSError) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
