"""The Figma hook: the REST calls ProductPilot makes, over httpx, with Figma's failures
translated.

Figma authenticates a personal access token sent as ``X-Figma-Token`` and refuses a bad or
under-scoped one with **403** (``{"status": 403, "err": "Invalid token"}``); it throttles
with 429 and a ``Retry-After`` header in seconds. The hook raises the vendor-neutral errors
of :mod:`productpilot.vendors`. Paths and bodies follow Figma's OpenAPI description
(https://github.com/figma/rest-api-spec).

Figma has no idempotency keys, so the two calls that create something (a comment, a
webhook) ask, before each retry, whether the previous try landed after all.

Example:
    >>> hook = FigmaHook(token="figd_...", credential="the Figma credentials block 'design'")
    >>> [v["label"] for v in hook.file_versions("FILEKEY")]  # doctest: +SKIP
    ['Checkout v2', None, ...]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from integrations.transport import send
from productpilot.vendors import (
    DEFAULT_POLICY,
    RetryPolicy,
    TransientVendorError,
    create_once,
    error_for_status,
    parse_retry_after,
    with_retries,
)

VENDOR = "figma"
FIGMA_API_URL = "https://api.figma.com"
#: How far Figma's clock may be behind ours when we look for a comment we may have posted.
CLOCK_SKEW = timedelta(minutes=5)


class FigmaHook:
    """Talks to Figma's REST API with a personal access token.

    Args:
        token: A personal access token (``figd_...``), sent as ``X-Figma-Token``.
        base_url: Where the API is (a fake's, in tests).
        credential: What to fix when the token is refused, e.g. ``"the Figma credentials
            block 'design'"``.
        timeout: Seconds to wait for each answer.
        policy: How often to retry rate limits and transient failures.
        sleep: Waits between retries (tests pass a recorder).
        clock: The current time, to recognise a comment posted by a try whose answer was lost.

    Example:
        >>> hook = FigmaHook(token="figd_...", credential="the token in FIGMA_TOKEN")
        >>> hook.post_comment("FILEKEY", "Shipped in 2.4")  # doctest: +SKIP
        {'id': '1234', 'message': 'Shipped in 2.4', ...}
    """

    def __init__(
        self,
        token: str,
        base_url: str = FIGMA_API_URL,
        *,
        credential: str = "the Figma access token",
        timeout: float = 10.0,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credential = credential
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        # httpx retries nothing by default; retries=0 says so, so that every retry is ours.
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"X-Figma-Token": token},
            timeout=timeout,
            transport=httpx.HTTPTransport(retries=0),
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __enter__(self) -> FigmaHook:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- files ------------------------------------------------------------------------------

    def file_versions(self, file_key: str, page_size: int = 30) -> list[dict[str, Any]]:
        """The file's most recent versions, newest first (``GET /v1/files/:key/versions``).

        Each is ``{id, created_at, label, description, user: {id, handle, img_url}}``;
        ``label`` is set for named versions only.

        Args:
            file_key: The key in the file's URL (``figma.com/design/<key>/...``).
            page_size: How many (Figma allows up to 50).
        """
        body = self._call(
            "GET", f"/v1/files/{_segment(file_key)}/versions", params={"page_size": page_size}
        )
        return body["versions"]

    def file_meta(self, file_key: str) -> dict[str, Any]:
        """The file's metadata without its document (``GET /v1/files/:key/meta``): ``name``,
        ``last_touched_at``, ``creator``, ``editorType``, ``version``, ``url``..."""
        body = self._call("GET", f"/v1/files/{_segment(file_key)}/meta")
        # Figma answers {"file": {...}} as its reference says; the OpenAPI description
        # (0.37) puts the fields at the top (figma/rest-api-spec#92). Read either.
        return body.get("file", body)

    def file_components(self, file_key: str) -> list[dict[str, Any]]:
        """The components published from the file's library (``GET /v1/files/:key/components``).

        Each is ``{key, file_key, node_id, name, description, created_at, updated_at, user,
        containing_frame...}``; a file whose library was never published has none.

        Args:
            file_key: A main file's key (branches cannot be published).
        """
        body = self._call("GET", f"/v1/files/{_segment(file_key)}/components")
        return body["meta"]["components"]

    # --- comments ---------------------------------------------------------------------------

    def comments(self, file_key: str) -> list[dict[str, Any]]:
        """The file's comments (``GET /v1/files/:key/comments``), with replies."""
        return self._call("GET", f"/v1/files/{_segment(file_key)}/comments")["comments"]

    def post_comment(
        self, file_key: str, message: str, *, reply_to: str | None = None
    ) -> dict[str, Any]:
        """Comment on the file (or reply to the root comment ``reply_to``); the comment."""
        path = f"/v1/files/{_segment(file_key)}/comments"
        body: dict[str, Any] = {"message": message}
        if reply_to is not None:
            body["comment_id"] = reply_to
        started = self._clock()

        def landed() -> dict[str, Any] | None:
            for comment in self._send("GET", path)["comments"]:
                if (
                    comment.get("message") == message
                    and comment.get("parent_id", "") == (reply_to or "")
                    and _posted_since(comment, started - CLOCK_SKEW)
                ):
                    return comment
            return None

        return create_once(
            lambda: self._send("POST", path, json=body), landed, self._policy, sleep=self._sleep
        )

    # --- webhooks (v2) ----------------------------------------------------------------------

    def create_webhook(
        self,
        event_type: str,
        context: str,
        context_id: str,
        endpoint: str,
        passcode: str,
        description: str | None = None,
        *,
        status: str | None = None,
    ) -> dict[str, Any]:
        """Register a webhook (``POST /v2/webhooks``); the webhook, with its ``id``.

        Args:
            event_type: ``FILE_UPDATE``, ``FILE_VERSION_UPDATE``, ``FILE_COMMENT``,
                ``LIBRARY_PUBLISH``, ``FILE_DELETE`` or ``DEV_MODE_STATUS_UPDATE``.
            context: What it watches: ``team``, ``project`` or ``file``.
            context_id: The id of that team, project or file.
            endpoint: Our URL Figma will POST events to.
            passcode: Figma echoes it in every event, to tell its calls from forgeries.
            description: A name for people (up to 150 characters).
            status: ``ACTIVE`` (Figma's default: it sends a ``PING`` at once) or ``PAUSED``.
        """
        body: dict[str, Any] = {
            "event_type": event_type,
            "context": context,
            "context_id": context_id,
            "endpoint": endpoint,
            "passcode": passcode,
        }
        if description is not None:
            body["description"] = description
        if status is not None:
            body["status"] = status

        def landed() -> dict[str, Any] | None:
            listed = self._send(
                "GET", "/v2/webhooks", params={"context": context, "context_id": context_id}
            )
            return next(
                (
                    hook
                    for hook in listed["webhooks"]
                    if hook.get("event_type") == event_type and hook.get("endpoint") == endpoint
                ),
                None,
            )

        return create_once(
            lambda: self._send("POST", "/v2/webhooks", json=body),
            landed,
            self._policy,
            sleep=self._sleep,
        )

    def list_webhooks(
        self,
        context: str | None = None,
        context_id: str | None = None,
        *,
        plan_api_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The webhooks of a context (``context`` and ``context_id``), or of every context
        of a plan (``plan_api_id``, all pages) (``GET /v2/webhooks``).

        Raises:
            ValueError: neither a context nor a plan, or both, were given.
        """
        if (context_id is None) == (plan_api_id is None):
            raise ValueError("list_webhooks needs either context and context_id, or plan_api_id")
        if plan_api_id is None:
            params = {"context": context, "context_id": context_id}
            return self._call("GET", "/v2/webhooks", params=_present(params))["webhooks"]
        webhooks: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = _present({"plan_api_id": plan_api_id, "cursor": cursor})
            page = self._call("GET", "/v2/webhooks", params=params)
            webhooks += page["webhooks"]
            cursor = _cursor(page.get("pagination", {}).get("next_page"))
            if cursor is None:
                return webhooks

    def delete_webhook(self, webhook_id: str) -> dict[str, Any]:
        """Delete a webhook (``DELETE /v2/webhooks/:id``); the webhook as it was."""
        return self._call("DELETE", f"/v2/webhooks/{_segment(webhook_id)}")

    # --- the wire ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One request with retries; the JSON answer."""
        return with_retries(
            lambda: self._send(method, path, **kwargs), self._policy, sleep=self._sleep
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        what = f"{method} {path}"
        response = send(
            VENDOR,
            what,
            self._timeout,
            lambda: self._client.request(method, path, params=params, json=json),
        )
        if response.status_code >= 400:
            raise error_for_status(
                VENDOR,
                response.status_code,
                f"{_detail(response)} ({what})",
                credential=self._credential,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        try:
            body = response.json()
        except ValueError:
            # A proxy's or load balancer's HTML page, not Figma's answer: try again later.
            raise TransientVendorError(VENDOR, f"{what}: an answer that is not JSON") from None
        if not isinstance(body, dict):
            raise TransientVendorError(VENDOR, f"{what}: an answer that is not a JSON object")
        return body


def _detail(response: httpx.Response) -> str:
    """Figma's own words for an error: ``err`` or ``message``, depending on the endpoint."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("err") or body.get("message") or response.reason_phrase)
    return response.reason_phrase


def _segment(value: str) -> str:
    """``value`` as one path segment (keys and ids are plain, but a slash must not escape)."""
    return quote(value, safe="")


def _present(params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


def _cursor(next_page: str | None) -> str | None:
    """The ``cursor`` of Figma's ``next_page`` URL."""
    if not next_page:
        return None
    query = httpx.URL(next_page).params
    return query.get("cursor")


def _posted_since(comment: Mapping[str, Any], since: datetime) -> bool:
    try:
        created = datetime.fromisoformat(str(comment.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return created >= since
