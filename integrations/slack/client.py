"""The Slack Web API, as ProductPilot calls it: post, update and find messages, look up people.

:class:`SlackHook` wraps ``slack_sdk``'s synchronous :class:`~slack_sdk.WebClient` with the
SDK's own retries switched off: every call runs through
:func:`productpilot.vendors.with_retries`, and every failure leaves as a
:mod:`productpilot.vendors` error, so the outbox decides about Slack exactly as about any
other vendor.

Slack answers most API errors with HTTP 200 and ``{"ok": false, "error": "<code>"}``; only
rate limits (429 with ``Retry-After``) and outages (5xx) use the status. The translation:

* ``invalid_auth``, ``not_authed``, ``account_inactive``, ``token_revoked``,
  ``token_expired``, ``missing_scope``, HTTP 401/403: :class:`~productpilot.vendors.CredentialError`
  naming the credentials block to fix;
* HTTP 429: :class:`~productpilot.vendors.RateLimitedError` with Slack's ``Retry-After``;
* HTTP 5xx, ``ratelimited`` without a 429, timeouts, refused or dropped connections:
  :class:`~productpilot.vendors.TransientVendorError`;
* any other error code (``channel_not_found``, ``invalid_blocks``, ...):
  :class:`~productpilot.vendors.RejectedRequestError`.

Example:
    >>> hook = SlackHook.from_credentials(SlackCredentials(token="xoxb-1"), block_name="ops")
    >>> hook.client.base_url
    'https://slack.com/api/'
"""

from __future__ import annotations

import functools
import http.client
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from prefect_slack import SlackCredentials
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.metadata import Metadata
from slack_sdk.web import SlackResponse

from productpilot.vendors import (
    DEFAULT_POLICY,
    CredentialError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
    VendorError,
    error_for_status,
    parse_retry_after,
    with_retries,
)

VENDOR = "slack"
SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Items per page of history, replies and channel lists: Slack recommends no more than 200.
PAGE_SIZE = 200

#: Error codes that mean the token, not the request, is wrong.
CREDENTIAL_ERROR_CODES = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
    }
)
#: Error codes Slack sends with HTTP 200 for conditions the next attempt may not meet.
TRANSIENT_ERROR_CODES = frozenset(
    {"ratelimited", "rate_limited", "service_unavailable", "internal_error", "fatal_error"}
)
#: What a request that never got an answer raises (urllib wraps connect failures in URLError).
CONNECTION_ERRORS = (TimeoutError, URLError, ConnectionError, http.client.HTTPException)


@dataclass(frozen=True)
class PostedMessage:
    """A message in Slack: the conversation it is in and its ``ts`` (Slack's message id).

    Example:
        >>> PostedMessage("C0ALERTS01", "1785000000.000100").external_id
        'C0ALERTS01:1785000000.000100'
    """

    channel_id: str
    ts: str

    @property
    def external_id(self) -> str:
        """``<channel id>:<ts>``, the one string that finds the message again."""
        return f"{self.channel_id}:{self.ts}"


class SlackHook:
    """A Slack Web API client whose failures are :mod:`productpilot.vendors` errors.

    Args:
        token: A bot token (``xoxb-...``).
        credential: What to fix when Slack refuses the token, as named in the error
            (``from_credentials`` names the block).
        base_url: The Web API root; tests point it at a fake.
        timeout: Seconds to wait for each answer.
        policy: How often and how patiently to retry.
        sleep: Waits between retries (tests inject a recorder).

    Example:
        >>> hook = SlackHook("xoxb-1", base_url="http://127.0.0.1:9/api/", timeout=5)
        >>> hook.client.timeout
        5
    """

    def __init__(
        self,
        token: str,
        *,
        credential: str = "the Slack bot token",
        base_url: str = SLACK_API_URL,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # retry_handlers=[]: slack-sdk would otherwise retry connection errors itself, out of
        # sight of the policy and the injected sleep.
        self._client = WebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=[],
        )
        self._credential = credential
        self._policy = policy
        self._sleep = sleep

    @classmethod
    def from_credentials(
        cls,
        credentials: SlackCredentials,
        *,
        block_name: str = "slack",
        base_url: str = SLACK_API_URL,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SlackHook:
        """A hook using the token of a ``prefect_slack`` credentials block.

        Args:
            credentials: The loaded block.
            block_name: The name it was saved under, for the error when Slack refuses it.
            base_url: The Web API root.
            timeout: Seconds to wait for each answer.
            policy: How often and how patiently to retry.
            sleep: Waits between retries.

        Example:
            >>> credentials = SlackCredentials(token="xoxb-1")  # or SlackCredentials.load("slack")
            >>> hook = SlackHook.from_credentials(credentials, block_name="slack")
        """
        return cls(
            credentials.token.get_secret_value(),
            credential=f"the Slack credentials block {block_name!r}",
            base_url=base_url,
            timeout=timeout,
            policy=policy,
            sleep=sleep,
        )

    @property
    def client(self) -> WebClient:
        """The underlying ``slack_sdk`` client (its own retries are off)."""
        return self._client

    # --- messages ---------------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]],
        *,
        thread_ts: str | None = None,
        metadata: Metadata | None = None,
    ) -> PostedMessage:
        """Post a message (chat.postMessage).

        Args:
            channel: A conversation id, a channel name, or a user id (Slack then posts in
                the app's direct message with that user).
            text: The plain fallback, shown in notifications.
            blocks: The Block Kit layout.
            thread_ts: Reply in the thread of this message.
            metadata: Machine-readable metadata, searchable with
                :meth:`find_message_by_metadata`.

        Returns:
            Where it landed: Slack answers with the conversation id even for a name.

        Example:
            >>> hook.post_message("#alerts", "Signups dropped", [])  # doctest: +SKIP
            PostedMessage(channel_id='C0ALERTS01', ts='1785000000.000100')
        """
        response = self._call(
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=list(blocks),
                thread_ts=thread_ts,
                metadata=metadata,
                # An alert's link would otherwise unfurl into a preview larger than the alert.
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        return PostedMessage(channel_id=response["channel"], ts=response["ts"])

    def update_message(
        self, channel_id: str, ts: str, text: str, blocks: Sequence[Mapping[str, Any]]
    ) -> None:
        """Replace a message's text and blocks (chat.update); its metadata is kept.

        Example:
            >>> hook.update_message(  # doctest: +SKIP
            ...     "C0ALERTS01", "1785000000.000100", "Resolved", [])
        """
        self._call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=channel_id, ts=ts, text=text, blocks=list(blocks)
            ),
        )

    def find_message_by_metadata(
        self,
        channel: str,
        event_type: str,
        key: str,
        value: str,
        oldest: float | None = None,
    ) -> PostedMessage | None:
        """The newest top-level message in ``channel`` whose metadata payload has
        ``key == value`` (conversations.history with ``include_all_metadata``).

        Args:
            channel: A conversation id (Slack's history does not take names).
            event_type: The metadata ``event_type`` to match.
            key: The ``event_payload`` field to compare.
            value: Its expected value.
            oldest: Only messages after this Unix time; bounds the pages read.

        Example:
            >>> hook.find_message_by_metadata(  # doctest: +SKIP
            ...     "C0ALERTS01", "productpilot_notification", "idempotency_key", "k1")
            PostedMessage(channel_id='C0ALERTS01', ts='1785000000.000100')
        """
        pages = self._pages(
            "conversations.history",
            lambda cursor: self._client.conversations_history(
                channel=channel,
                include_all_metadata=True,
                oldest=None if oldest is None else f"{oldest:.6f}",
                limit=PAGE_SIZE,
                cursor=cursor,
            ),
        )
        return _first_with_metadata(channel, pages, event_type, key, value)

    def find_reply_by_metadata(
        self, channel_id: str, thread_ts: str, event_type: str, key: str, value: str
    ) -> PostedMessage | None:
        """Like :meth:`find_message_by_metadata`, among the replies in one thread
        (conversations.replies): replies are not part of a channel's history.

        Example:
            >>> hook.find_reply_by_metadata(  # doctest: +SKIP
            ...     "C0ALERTS01", "1785000000.000100", "productpilot_notification",
            ...     "idempotency_key", "k2")
        """
        pages = self._pages(
            "conversations.replies",
            lambda cursor: self._client.conversations_replies(
                channel=channel_id,
                ts=thread_ts,
                include_all_metadata=True,
                limit=PAGE_SIZE,
                cursor=cursor,
            ),
        )
        # conversations.replies lists the thread's first message too; it is no reply.
        return _first_with_metadata(channel_id, pages, event_type, key, value, skip_ts=thread_ts)

    # --- people and conversations -----------------------------------------------------------

    def lookup_user_by_email(self, email: str) -> str:
        """The id of the workspace member with this e-mail address (users.lookupByEmail).

        Raises:
            RejectedRequestError: ``users_not_found``.

        Example:
            >>> hook.lookup_user_by_email("ada@example.com")  # doctest: +SKIP
            'U0ADA00001'
        """
        response = self._call(
            "users.lookupByEmail", lambda: self._client.users_lookupByEmail(email=email)
        )
        return response["user"]["id"]

    def open_direct_message(self, user_id: str) -> str:
        """The id of the app's direct-message conversation with a user (conversations.open).

        Example:
            >>> hook.open_direct_message("U0ADA00001")  # doctest: +SKIP
            'D0ADA00001'
        """
        response = self._call(
            "conversations.open", lambda: self._client.conversations_open(users=[user_id])
        )
        return response["channel"]["id"]

    def find_channel_id(self, name: str) -> str | None:
        """The id of the public or private channel called ``name`` (with or without ``#``),
        paging through conversations.list; ``None`` when there is none.

        Example:
            >>> hook.find_channel_id("#alerts")  # doctest: +SKIP
            'C0ALERTS01'
        """
        wanted = name.removeprefix("#")
        pages = self._pages(
            "conversations.list",
            lambda cursor: self._client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=PAGE_SIZE,
                cursor=cursor,
            ),
        )
        for page in pages:
            for channel in page.get("channels", []):
                if channel.get("name") == wanted:
                    return channel["id"]
        return None

    # --- calling ----------------------------------------------------------------------------

    def _call(self, method: str, call: Callable[[], SlackResponse]) -> SlackResponse:
        """Run one Web API call under the retry policy, its failures translated."""

        def attempt() -> SlackResponse:
            try:
                return call()
            except SlackApiError as error:
                raise self._translate(method, error.response) from error
            except CONNECTION_ERRORS as error:
                raise TransientVendorError(VENDOR, f"{method}: {error}") from error

        return with_retries(attempt, self._policy, sleep=self._sleep)

    def _pages(
        self, method: str, call: Callable[[str | None], SlackResponse]
    ) -> Iterator[SlackResponse]:
        """Follow ``response_metadata.next_cursor``, each page its own retried call, lazily
        so a search can stop at the first match."""
        cursor: str | None = None
        while True:
            page = self._call(method, functools.partial(call, cursor))
            yield page
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return

    def _translate(self, method: str, response: SlackResponse) -> VendorError:
        data = response.data if isinstance(response.data, dict) else {}
        code = str(data.get("error") or "")
        status = response.status_code
        if code in CREDENTIAL_ERROR_CODES:
            needed = f" (needs {data['needed']})" if data.get("needed") else ""
            return CredentialError(VENDOR, f"{code} on {method}{needed}: check {self._credential}")
        if status != 200:
            return error_for_status(
                VENDOR,
                status,
                f"on {method}",
                credential=self._credential,
                retry_after=parse_retry_after(_header(response.headers, "Retry-After")),
            )
        if code in TRANSIENT_ERROR_CODES:
            return TransientVendorError(
                VENDOR,
                f"{code} on {method}",
                retry_after=parse_retry_after(_header(response.headers, "Retry-After")),
            )
        return RejectedRequestError(VENDOR, f"{code or 'unknown error'} on {method}")


def _first_with_metadata(
    channel_id: str,
    pages: Iterator[SlackResponse],
    event_type: str,
    key: str,
    value: str,
    *,
    skip_ts: str | None = None,
) -> PostedMessage | None:
    for page in pages:
        for message in page.get("messages", []):
            if message.get("ts") == skip_ts:
                continue
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and payload.get(key) == value:
                return PostedMessage(channel_id=channel_id, ts=message["ts"])
    return None


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    """A response header by name, whatever case the server (or urllib) gave it."""
    for candidate, value in headers.items():
        if candidate.lower() == name.lower():
            return value[0] if isinstance(value, list) else str(value)
    return None
