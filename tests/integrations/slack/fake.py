"""A fake Slack Web API for the real ``slack_sdk`` to call: stateful, and as strict as Slack.

:class:`FakeSlack` is a :class:`~tests.fakes.server.FakeServer` on ``/api`` that checks
every request against Slack's published OpenAPI description and then plays the methods
ProductPilot uses: chat.postMessage, chat.update, conversations.history, .replies, .list and
.open, users.lookupByEmail. Posted messages are kept with their metadata and threads, so
history shows what was posted. Like Slack, API errors are HTTP 200 with
``{"ok": false, "error": "<code>"}``; a token other than the fake's is ``invalid_auth``;
Block Kit over Slack's limits is ``invalid_blocks``.

Two gaps between the description and Slack are bridged before validation, since both are
Slack's documented behaviour and the description predates them:

* the description omits message metadata (``metadata`` on chat.postMessage / chat.update,
  ``include_all_metadata`` on conversations.history / .replies); they are added to it;
* slack-sdk POSTs every method, read methods included (form-encoded, which Slack accepts for
  all methods), while the description lists those as GET with query parameters; such a POST
  is checked as the GET it stands for.

Example:
    >>> with serving(FakeSlack()) as slack:
    ...     WebClient(token=TOKEN, base_url=slack.base_url).chat_postMessage(
    ...         channel="#product-alerts", text="hi")["channel"]
    'C0ALERTS01'
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from slack_sdk import WebClient  # noqa: F401 (used by the doctest)

from tests.fakes.openapi import OpenAPIDescription
from tests.fakes.server import FakeServer, Recorded, Reply, Validator, serving
from tests.integrations.shared_data import shared_dir

SPEC = "slack_web_openapi_v2.json"
TOKEN = "xoxb-fake-productpilot-token"
BOT_ID = "B0PPILOT01"
BOT_USER_ID = "U0PPILOT01"
#: A workspace with two channels and two people.
CHANNELS = {"product-alerts": "C0ALERTS01", "general": "C0GENERAL1"}
USERS = {"ada@example.com": "U0ADA00001", "grace@example.com": "U0GRACE001"}

#: Block Kit limits Slack enforces (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_TEXT_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_CHARS = 40_000
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_]+$")

Params = dict[str, Any]


# --- the description, as Slack really behaves ---------------------------------------------------


@cache
def _description() -> OpenAPIDescription:
    """Slack's description with message metadata, which it predates, added."""
    document = copy.deepcopy(OpenAPIDescription.load(shared_dir("api-specs") / SPEC).document)
    paths = document["paths"]
    for path in ("/chat.postMessage", "/chat.update"):
        paths[path]["post"]["parameters"].append(
            {
                "in": "formData",
                "name": "metadata",
                "type": "string",
                "description": "JSON object with event_type and event_payload fields.",
            }
        )
    for path in ("/conversations.history", "/conversations.replies"):
        paths[path]["get"]["parameters"].append(
            {"in": "query", "name": "include_all_metadata", "type": "boolean"}
        )
    return OpenAPIDescription(document, f"{SPEC} (with message metadata)")


def slack_validator() -> Validator:
    """Checks a request against Slack's description, a POSTed read method as its GET."""
    description = _description()
    check = description.validator(base_path="/api", auth_params=frozenset({"token"}))

    def validate(request: Recorded) -> list[str]:
        return check(_as_described(description, request))

    return validate


def _as_described(description: OpenAPIDescription, request: Recorded) -> Recorded:
    described_as_get = (
        request.method == "POST"
        and description.operation("POST", request.path) is None
        and description.operation("GET", request.path) is not None
    )
    if not described_as_get:
        return request
    query = {name: list(values) for name, values in request.query.items()}
    if request.content_type == "application/x-www-form-urlencoded":
        for name, values in parse_qs(request.body.decode(), keep_blank_values=True).items():
            query.setdefault(name, []).extend(values)
    headers = {k: v for k, v in request.headers.items() if k != "content-type"}
    return Recorded("GET", request.path, query, headers, b"")


# --- state ---------------------------------------------------------------------------------


@dataclass
class StoredMessage:
    """A message the fake holds: top-level, or a reply in a thread."""

    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None
    replies: list[StoredMessage] = field(default_factory=list)

    def as_slack(self, *, include_metadata: bool) -> dict[str, Any]:
        """The message as Slack's history and replies list it."""
        shown: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "ts": self.ts,
            "text": self.text,
            "bot_id": BOT_ID,
            "user": BOT_USER_ID,
        }
        if self.blocks:
            shown["blocks"] = self.blocks
        if self.thread_ts:
            shown["thread_ts"] = self.thread_ts
        if self.replies:
            shown.update(
                thread_ts=self.ts, reply_count=len(self.replies), latest_reply=self.replies[-1].ts
            )
        if include_metadata and self.metadata is not None:
            shown["metadata"] = self.metadata
        return shown


class SlackError(Exception):
    """An ``ok: false`` answer, with Slack's error code and any extra fields."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


class FakeSlack(FakeServer):
    """Slack's Web API on loopback, for ``SlackHook(..., base_url=fake.base_url)``.

    Args:
        token: The one bot token it accepts.
        channels: Channel name to id.
        users: E-mail address to user id.
        page_size: The most items a page holds whatever ``limit`` asks (Slack "may return
            fewer than the requested number"): small values make clients page.
    """

    def __init__(
        self,
        *,
        token: str = TOKEN,
        channels: Mapping[str, str] = CHANNELS,
        users: Mapping[str, str] = USERS,
        page_size: int = 1000,
    ) -> None:
        super().__init__(self._answer_method, validator=slack_validator(), prefix="/api")
        self.token = token
        self.channels = dict(channels)
        self.users = dict(users)
        self.page_size = page_size
        #: Conversation id to its messages, oldest first (top-level only; replies nest).
        self.conversations: dict[str, list[StoredMessage]] = {id_: [] for id_ in channels.values()}
        self.direct_messages: dict[str, str] = {}  # user id -> DM conversation id
        self._state = threading.Lock()
        self._last_ts = 0.0
        self._methods: dict[str, Callable[[Params], dict[str, Any]]] = {
            "/chat.postMessage": self._post_message,
            "/chat.update": self._update_message,
            "/conversations.history": self._history,
            "/conversations.replies": self._replies,
            "/conversations.list": self._list_channels,
            "/conversations.open": self._open,
            "/users.lookupByEmail": self._lookup_by_email,
        }

    @property
    def base_url(self) -> str:
        """The Web API root, as slack-sdk's ``base_url`` takes it."""
        return f"{self.url}/"

    def messages(self, channel_id: str) -> list[StoredMessage]:
        """The top-level messages of a conversation, oldest first."""
        return list(self.conversations[channel_id])

    def dm_with(self, email: str) -> str:
        """The id of the app's direct-message conversation with a person (opened if new)."""
        with self._state:
            return self._dm(self.users[email])

    def seed_message(
        self, channel_id: str, text: str, *, metadata: dict[str, Any] | None = None, ts: str
    ) -> StoredMessage:
        """Put a message into history as if it had been posted at ``ts``."""
        message = StoredMessage(ts=ts, text=text, metadata=metadata)
        with self._state:
            self.conversations[channel_id].append(message)
            self.conversations[channel_id].sort(key=lambda m: float(m.ts))
        return message

    # --- dispatch ---------------------------------------------------------------------------

    def _answer_method(self, request: Recorded) -> Reply:
        method = self._methods.get(request.path)
        if method is None:
            return Reply(200, {"ok": False, "error": "unknown_method"})
        params = request.params()
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        supplied = supplied or str(params.pop("token", ""))
        if not supplied:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if supplied != self.token:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        try:
            with self._state:
                return Reply(200, {"ok": True, **method(params)})
        except SlackError as error:
            return Reply(200, {"ok": False, "error": error.code, **error.extra})

    # --- chat -------------------------------------------------------------------------------

    def _post_message(self, params: Params) -> dict[str, Any]:
        channel_id = self._conversation_for_posting(str(params["channel"]))
        text = str(params.get("text") or "")
        blocks = _json_param(params.get("blocks")) or []
        if not text and not blocks:
            raise SlackError("no_text")
        self._check_content(text, blocks)
        metadata = _metadata_param(params.get("metadata"))
        message = StoredMessage(ts=self._next_ts(), text=text, blocks=blocks, metadata=metadata)
        thread_ts = params.get("thread_ts")
        if thread_ts:
            parent = self._top_level(channel_id, str(thread_ts), missing="thread_not_found")
            message.thread_ts = parent.ts
            parent.replies.append(message)
        else:
            self.conversations[channel_id].append(message)
        return {
            "channel": channel_id,
            "ts": message.ts,
            "message": message.as_slack(include_metadata=False),
        }

    def _update_message(self, params: Params) -> dict[str, Any]:
        channel_id = str(params["channel"])
        if channel_id not in self.conversations:
            raise SlackError("channel_not_found")
        message = self._any_message(channel_id, str(params["ts"]))
        text = params.get("text")
        blocks = _json_param(params.get("blocks"))
        self._check_content(str(text or ""), blocks or [])
        if text is not None:
            message.text = str(text)
        if blocks is not None:
            message.blocks = blocks
        if params.get("metadata") is not None:
            message.metadata = _metadata_param(params["metadata"])
        return {
            "channel": channel_id,
            "ts": message.ts,
            "text": message.text,
            "message": {"text": message.text, "blocks": message.blocks},
        }

    # --- conversations ----------------------------------------------------------------------

    def _history(self, params: Params) -> dict[str, Any]:
        channel_id = str(params.get("channel") or "")
        if channel_id not in self.conversations:
            raise SlackError("channel_not_found")
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        newest_first = [
            m for m in reversed(self.conversations[channel_id]) if oldest < float(m.ts) < latest
        ]
        page, cursor = self._page(newest_first, params)
        include = _flag(params.get("include_all_metadata"))
        return {
            "messages": [m.as_slack(include_metadata=include) for m in page],
            "has_more": bool(cursor),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _replies(self, params: Params) -> dict[str, Any]:
        channel_id = str(params.get("channel") or "")
        if channel_id not in self.conversations:
            raise SlackError("channel_not_found")
        parent = self._top_level(channel_id, str(params.get("ts")), missing="thread_not_found")
        page, cursor = self._page([parent, *parent.replies], params)
        include = _flag(params.get("include_all_metadata"))
        return {
            "messages": [m.as_slack(include_metadata=include) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _list_channels(self, params: Params) -> dict[str, Any]:
        listed = [
            {"id": id_, "name": name, "is_channel": True, "is_private": False, "is_archived": False}
            for name, id_ in self.channels.items()
        ]
        page, cursor = self._page(listed, params)
        return {"channels": page, "response_metadata": {"next_cursor": cursor}}

    def _open(self, params: Params) -> dict[str, Any]:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("method_not_supported_for_channel_type")
        if users[0] not in self.users.values():
            raise SlackError("user_not_found")
        return {"channel": {"id": self._dm(users[0])}}

    # --- users ------------------------------------------------------------------------------

    def _lookup_by_email(self, params: Params) -> dict[str, Any]:
        email = str(params.get("email") or "")
        if email not in self.users:
            raise SlackError("users_not_found")
        user_id = self.users[email]
        return {
            "user": {
                "id": user_id,
                "name": email.split("@")[0],
                "deleted": False,
                "is_bot": False,
                "profile": {"email": email},
            }
        }

    # --- helpers ----------------------------------------------------------------------------

    def _conversation_for_posting(self, channel: str) -> str:
        """chat.postMessage takes an id, a name (with or without ``#``) or a user id."""
        if channel in self.conversations:
            return channel
        name = channel.removeprefix("#")
        if name in self.channels:
            return self.channels[name]
        if channel in self.users.values():
            return self._dm(channel)
        raise SlackError("channel_not_found")

    def _dm(self, user_id: str) -> str:
        if user_id not in self.direct_messages:
            dm_id = f"D{user_id[1:]}"
            self.direct_messages[user_id] = dm_id
            self.conversations.setdefault(dm_id, [])
        return self.direct_messages[user_id]

    def _top_level(self, channel_id: str, ts: str, *, missing: str) -> StoredMessage:
        for message in self.conversations[channel_id]:
            if message.ts == ts:
                return message
        raise SlackError(missing)

    def _any_message(self, channel_id: str, ts: str) -> StoredMessage:
        for message in self.conversations[channel_id]:
            for candidate in (message, *message.replies):
                if candidate.ts == ts:
                    return candidate
        raise SlackError("message_not_found")

    def _next_ts(self) -> str:
        """A Slack ``ts`` from the wall clock, unique even within one microsecond."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _page(self, items: list[Any], params: Params) -> tuple[list[Any], str]:
        """One page of ``items`` and the cursor to the next ('' at the end)."""
        start = int(base64.b64decode(params["cursor"]).decode()) if params.get("cursor") else 0
        size = min(int(params.get("limit") or 100), self.page_size)
        end = start + size
        cursor = base64.b64encode(str(end).encode()).decode() if end < len(items) else ""
        return items[start:end], cursor

    def _check_content(self, text: str, blocks: list[dict[str, Any]]) -> None:
        if len(text) > MAX_MESSAGE_CHARS:
            raise SlackError("msg_too_long")
        problems = block_kit_problems(blocks)
        if problems:
            raise SlackError("invalid_blocks", errors=problems)


# --- Block Kit --------------------------------------------------------------------------------


def block_kit_problems(blocks: Any) -> list[str]:
    """What Slack would refuse in ``blocks`` (its ``invalid_blocks`` errors), for the block
    types ProductPilot sends."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems = [] if len(blocks) <= MAX_BLOCKS else [f"no more than {MAX_BLOCKS} items allowed"]
    for index, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{index}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            problems += _text_problems(
                block.get("text"), f"{where}/text]", MAX_HEADER_CHARS, plain=True
            )
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"must provide text or fields {where}]")
            if "text" in block:
                problems += _text_problems(block["text"], f"{where}/text]", MAX_TEXT_CHARS)
            fields = block.get("fields", [])
            if "fields" in block and not 1 <= len(fields) <= MAX_FIELDS:
                problems.append(f"must have 1 to {MAX_FIELDS} fields {where}/fields]")
            for n, item in enumerate(fields):
                problems += _text_problems(item, f"{where}/fields/{n}]", MAX_FIELD_CHARS)
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                problems.append(f"must have 1 to {MAX_CONTEXT_ELEMENTS} elements {where}/elements]")
            for n, item in enumerate(elements):
                problems += _text_problems(item, f"{where}/elements/{n}]", MAX_TEXT_CHARS)
        elif kind != "divider":
            problems.append(f"unsupported block type {kind!r} {where}]")
    return problems


def _text_problems(text: Any, where: str, limit: int, *, plain: bool = False) -> list[str]:
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if not isinstance(text, dict) or text.get("type") not in kinds:
        return [f"must be a text object of type {' or '.join(kinds)} {where}"]
    content = text.get("text")
    if not isinstance(content, str) or not content:
        return [f"must be at least 1 character {where}"]
    if len(content) > limit:
        return [f"must be less than {limit + 1} characters {where}"]
    return []


# --- parameters -------------------------------------------------------------------------------


def _json_param(value: Any) -> Any:
    """A "JSON-encoded string" parameter: JSON in a JSON body, a string in a form."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise SlackError("invalid_json") from error
    return value


def _metadata_param(value: Any) -> dict[str, Any] | None:
    metadata = _json_param(value)
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not _EVENT_TYPE.match(metadata["event_type"])
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return metadata


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


@contextmanager
def running_fake_slack(**options: Any) -> Iterator[FakeSlack]:
    """A started :class:`FakeSlack` that fails the test if any request broke Slack's API
    description (``options`` as for the constructor)."""
    slack = FakeSlack(**options)
    with serving(slack):
        yield slack
