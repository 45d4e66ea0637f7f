"""The Teams hook: posts Adaptive Cards to one Teams webhook URL over HTTP.

Two kinds of URL post into a channel the same way: a classic incoming webhook (answers
``200`` with the body ``1``) and a Power Automate "Workflows" URL, which replaces it (answers
``202``). Their failures become :mod:`productpilot.vendors` errors:

* 401/403: the URL's signature is no longer accepted; 404/410: the webhook or workflow was
  deleted. Either way the URL in the block must be replaced, so both are a
  :class:`~productpilot.vendors.CredentialError` naming the block.
* 429: :class:`~productpilot.vendors.RateLimitedError`, with the ``Retry-After``.
* 5xx, timeouts, refused or dropped connections:
  :class:`~productpilot.vendors.TransientVendorError`.
* Any other 4xx (a card Teams cannot render, a request over the size limit):
  :class:`~productpilot.vendors.RejectedRequestError`.

Classic incoming webhooks may also answer ``200`` with a body such as "Webhook message
delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 ..." (Microsoft
documents that its connectors do not return 429 themselves); such an answer is the error it
names, not a success.

The URL is a secret (its query carries the signature): it appears in no message or ``repr``.

Example:
    >>> hook = TeamsHook("https://example.webhook.office.com/webhookb2/...", block_name="ops")
    >>> hook
    TeamsHook(block_name='ops')
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from integrations.teams.cards import MAX_PAYLOAD_BYTES, encode_payload, envelope
from integrations.transport import send
from productpilot.vendors import (
    DEFAULT_POLICY,
    CredentialError,
    RejectedRequestError,
    RetryPolicy,
    error_for_status,
    parse_retry_after,
    with_retries,
)

VENDOR = "teams"
DEFAULT_TIMEOUT_SECONDS = 10.0
#: How a classic connector reports, inside a 200 answer, the error it met downstream.
CONNECTOR_FAILURE = re.compile(r"Microsoft Teams endpoint returned HTTP error (\d{3})")
#: Statuses that mean the URL itself is gone: only a new URL in the block helps.
GONE_STATUSES = (404, 410)
MAX_DETAIL_CHARS = 200


class TeamsHook:
    """Posts Adaptive Cards to one Teams webhook.

    Args:
        url: The incoming-webhook or Workflows URL.
        block_name: The name of the :class:`~integrations.teams.credentials.TeamsWebhook`
            block holding ``url``, named in credential errors.
        client: The HTTP client to post with; by default one of the hook's own (closed by
            :meth:`close`). httpx retries nothing by itself, so every retry is
            ``policy``'s.
        timeout: Seconds to wait for Teams, per attempt.
        policy: How often and how patiently to retry.
        sleep: Waits between attempts (tests pass a recorder).

    Example:
        ```python
        from integrations.teams.cards import render_card

        with TeamsWebhook.load("ops-alerts").get_hook() as hook:
            hook.post_card(render_card(message))
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        block_name: str = "teams",
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.block_name = block_name
        self._credential = f"the Teams webhook block '{block_name}'"
        if not _is_http_url(url):
            raise CredentialError(
                VENDOR, f"the webhook URL is not an http(s) URL: check {self._credential}"
            )
        self._url = url
        self._owns_client = client is None
        self._client = client or httpx.Client()
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"TeamsHook(block_name={self.block_name!r})"

    def __enter__(self) -> TeamsHook:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client, if the hook made it."""
        if self._owns_client:
            self._client.close()

    def post_card(self, card: dict[str, Any]) -> None:
        """Post ``card`` (an Adaptive Card) into the webhook's channel.

        Args:
            card: The card, e.g. from :func:`integrations.teams.cards.render_card`.

        Raises:
            productpilot.vendors.VendorError: Teams refused the card or could not be
                reached, after the retries ``policy`` allows.

        Example:
            ```python
            hook.post_card(render_card(message))
            ```
        """
        payload = encode_payload(envelope(card))
        if len(payload) > MAX_PAYLOAD_BYTES:
            # Teams would answer 413 every time; refusing here spares the round trips.
            raise RejectedRequestError(
                VENDOR,
                f"the card is {len(payload)} bytes; Teams webhooks take at most "
                f"{MAX_PAYLOAD_BYTES}",
            )
        with_retries(lambda: self._post(payload), self._policy, sleep=self._sleep)

    def _post(self, payload: bytes) -> None:
        response = send(
            VENDOR,
            "posting the card",
            self._timeout,
            lambda: self._client.post(
                self._url,
                content=payload,
                # The charset is stated: without one, classic connectors have been seen to
                # count the body as UTF-16, halving the size they accept.
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self._timeout,
            ),
            target="the webhook",
        )
        self._raise_for_answer(response)

    def _raise_for_answer(self, response: httpx.Response) -> None:
        status = response.status_code
        detail = response.text.strip()[:MAX_DETAIL_CHARS] or response.reason_phrase
        if response.is_success:
            failure = CONNECTOR_FAILURE.search(response.text)
            if failure is None:
                return
            status = int(failure.group(1))
        if status in GONE_STATUSES:
            raise CredentialError(
                VENDOR,
                f"HTTP {status} {detail}: the webhook no longer exists (deleted, or its "
                f"connector retired); put a new URL in {self._credential}",
            )
        raise error_for_status(
            VENDOR,
            status,
            detail,
            credential=self._credential,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


def _is_http_url(url: str) -> bool:
    try:
        return httpx.URL(url).scheme in ("http", "https")
    except httpx.InvalidURL:
        return False
