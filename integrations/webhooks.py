"""Inbound webhooks, vendor-neutral: the request, signature checks, safe reading of untrusted
payloads, and the event a delivery becomes.

Each vendor package (``integrations/<vendor>/webhooks.py``) builds on this module and exposes
one :class:`WebhookReceiver` named ``RECEIVER``; :func:`receiver_for` finds it by vendor name.
A receiver does three pure things, in this order:

1. ``verify(secret, request)`` raises :class:`SignatureError` unless the request was signed
   with the product's secret (answered 401);
2. ``read(request)`` parses the body into an :class:`Envelope` (delivery id, vendor kind,
   payload with any in-body secret removed, the headers worth keeping), raising
   :class:`PayloadError` for a malformed body (answered 400);
3. ``normalise(kind, payload)`` turns the stored envelope into a :class:`NormalisedEvent`, or
   ``None`` for a kind ProductPilot does not handle. It must be deterministic: the reconciler
   normalises stored deliveries again when it re-emits them.

Example:
    >>> request = WebhookRequest.build({"X-Event": "ping"}, b"{}", datetime(2026, 1, 1, tzinfo=UTC))
    >>> request.header("x-event")
    'ping'
    >>> event_name("linear", "IssueLabel", "create")
    'productpilot.linear.issue_label.create'
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

#: The vendors with a receiver, i.e. the keys of a product's ``webhook_secrets``.
VENDORS: tuple[str, ...] = ("github", "jira", "linear", "figma", "slack")

#: Limits of the ``webhook_deliveries`` columns the envelope is stored in.
MAX_DELIVERY_ID_LENGTH = 200
MAX_KIND_LENGTH = 100

#: Real webhook payloads nest about a dozen levels; far deeper documents are refused because
#: storing them would exhaust the JSON encoder's recursion limit.
MAX_PAYLOAD_DEPTH = 64


class SignatureError(Exception):
    """The request is not signed with the configured secret (or the signature is stale)."""


class PayloadError(Exception):
    """The body of an authentic request cannot be read (not a JSON object, too deep)."""


# --- the request and what it becomes ------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook request as received: headers (names lower-cased), raw body, arrival time.

    ``received_at`` doubles as "now" for freshness checks, so tests fix the clock by
    building the request with the instant they want.
    """

    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    @classmethod
    def build(
        cls,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        received_at: datetime,
    ) -> WebhookRequest:
        """A request whose header names are lower-cased (HTTP names are case-insensitive)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls({name.lower(): value for name, value in pairs}, body, received_at)

    def header(self, name: str) -> str | None:
        """The header's value, or ``None`` when it is absent."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Envelope:
    """What is stored of a delivery: its id, the vendor's kind, the payload, some headers."""

    delivery_id: str
    kind: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NormalisedEvent:
    """A delivery as a ProductPilot event.

    Attributes:
        name: ``productpilot.<vendor>.<kind>[.<action>]``, e.g.
            ``productpilot.github.pull_request.opened``.
        payload: The fields later flows need, with ProductPilot's names (docs/webhooks.md).
            ``repository``, ``project_key``, ``team_key``/``team_id`` and ``file_key`` also
            tell whether the event is about the product (``productpilot.webhooks.scope``).
    """

    name: str
    payload: dict[str, Any]


def no_handshake(_envelope: Envelope) -> None:
    """For vendors whose every request is a delivery."""


@dataclass(frozen=True)
class WebhookReceiver:
    """One vendor's inbound webhook scheme (see the module docstring for the contract).

    ``handshake`` answers requests that are part of setting a webhook up rather than
    deliveries (Slack's URL verification): it returns the response body, and the request is
    neither stored nor emitted. ``None`` means "a delivery".
    """

    vendor: str
    verify: Callable[[str, WebhookRequest], None]
    read: Callable[[WebhookRequest], Envelope]
    normalise: Callable[[str, dict[str, Any]], NormalisedEvent | None]
    handshake: Callable[[Envelope], dict[str, Any] | None] = no_handshake


def receiver_for(vendor: str) -> WebhookReceiver:
    """The receiver of ``vendor``.

    Vendor modules import this one, so they are looked up lazily rather than imported here.

    Example:
        >>> receiver_for("github").vendor
        'github'

    Raises:
        KeyError: ``vendor`` has no receiver.
    """
    if vendor not in VENDORS:
        raise KeyError(f"no webhook receiver for {vendor!r}")
    module = importlib.import_module(f"integrations.{vendor}.webhooks")
    return module.RECEIVER


def normalise_delivery(vendor: str, kind: str, payload: dict[str, Any]) -> NormalisedEvent | None:
    """Normalise a stored delivery of any vendor (what the reconciler calls).

    Example:
        >>> normalise_delivery("github", "label", {}) is None
        True
    """
    return receiver_for(vendor).normalise(kind, payload)


# --- signatures -----------------------------------------------------------------------------------


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """The hex HMAC-SHA256 of ``message`` keyed with ``secret`` (UTF-8).

    Example:
        >>> hmac_sha256_hex("It's a Secret to Everybody", b"Hello, World!")[:16]
        '757107ea0eb2509f'
    """
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def constant_time_equal(given: str, expected: str) -> bool:
    """Compare two secrets in time independent of where they differ.

    Encoded first: ``hmac.compare_digest`` refuses non-ASCII ``str``, and a header may
    contain anything.

    Example:
        >>> constant_time_equal("abc", "abc"), constant_time_equal("abc", "abd")
        (True, False)
    """
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def require_hmac_sha256(
    secret: str, message: bytes, signature: str | None, *, prefix: str = ""
) -> None:
    """Check a hex HMAC-SHA256 signature such as GitHub's ``sha256=<hex>``.

    Example:
        >>> signature = "sha256=" + hmac_sha256_hex("s", b"{}")
        >>> require_hmac_sha256("s", b"{}", signature, prefix="sha256=")

    Raises:
        SignatureError: the signature is missing, malformed or does not match.
    """
    if not signature:
        raise SignatureError("the request is not signed")
    if not signature.startswith(prefix):
        raise SignatureError(f"the signature does not start with {prefix!r}")
    # Hex digests are case-insensitive; the vendors send lower case, a proxy might not.
    given = signature[len(prefix) :].strip().lower()
    if not constant_time_equal(given, hmac_sha256_hex(secret, message)):
        raise SignatureError("the signature does not match")


# --- reading bodies -------------------------------------------------------------------------------


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a webhook body that must be a JSON object, ready to store on any database.

    NUL characters (which PostgreSQL cannot store in text or JSONB) are replaced by U+FFFD;
    documents nested deeper than :data:`MAX_PAYLOAD_DEPTH` are refused.

    Example:
        >>> parse_json_object(b'{"a": "x\\\\u0000y"}') == {"a": "x\\ufffdy"}
        True

    Raises:
        PayloadError: the body is not a JSON object, or is nested too deeply.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object")
    _check_depth(payload)
    if b"\\u0000" in body:
        payload = _without_nul(payload)
    return payload


def _check_depth(payload: dict[str, Any]) -> None:
    # Iterative, so checking a deep document cannot itself hit the recursion limit.
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_PAYLOAD_DEPTH:
            raise PayloadError(f"the body is nested more than {MAX_PAYLOAD_DEPTH} levels deep")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _without_nul(value: Any) -> Any:
    # Depth is already bounded by _check_depth, so recursion is safe here.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def body_digest(body: bytes) -> str:
    """A delivery id for vendors that send none: the SHA-256 of the body.

    Example:
        >>> body_digest(b"{}")[:15]
        'sha256:44136fa3'
    """
    return "sha256:" + hashlib.sha256(body).hexdigest()


def delivery_key(value: str | None, body: bytes) -> str:
    """The id a delivery is stored under: the vendor's own id when it sent one.

    Missing ids fall back to the body's digest; ids too long for the column are hashed
    (stable, so a redelivery still maps to the same key).

    Example:
        >>> delivery_key("72d3162e-cc78-11e3-81ab-4c9367dc0958", b"{}")
        '72d3162e-cc78-11e3-81ab-4c9367dc0958'
    """
    value = (value or "").strip()
    if not value:
        return body_digest(body)
    if len(value) > MAX_DELIVERY_ID_LENGTH:
        return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    return value


def stored_kind(value: Any) -> str:
    """The vendor's kind as stored: a string, cut to the column's length, ``unknown`` if absent.

    Example:
        >>> stored_kind("pull_request"), stored_kind(None)
        ('pull_request', 'unknown')
    """
    if not isinstance(value, str) or not value.strip():
        return "unknown"
    return value.strip()[:MAX_KIND_LENGTH]


def pick_headers(request: WebhookRequest, names: Iterable[str]) -> dict[str, str]:
    """The headers worth storing with a delivery (never its signature)."""
    wanted = ("content-type", "user-agent", *names)
    return {name: request.headers[name] for name in wanted if name in request.headers}


def without_keys(payload: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``payload`` minus top-level ``keys``: in-body secrets are never stored."""
    return {key: value for key, value in payload.items() if key not in keys}


def parse_timestamp(value: str | None) -> datetime | None:
    """A Unix timestamp in seconds (as a header sends it), or ``None`` if it is not one."""
    if value is None or not re.fullmatch(r"\s*\d{1,12}\s*", value):
        return None
    return datetime.fromtimestamp(int(value), UTC)


# --- naming events --------------------------------------------------------------------------------

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def name_part(value: str) -> str:
    """One dot-separated part of an event name: snake_case, ``[a-z0-9_]``, at most 64 chars.

    Example:
        >>> name_part("ProjectUpdate"), name_part("FILE_UPDATE"), name_part("closed by user")
        ('project_update', 'file_update', 'closed_by_user')
    """
    snake = _CAMEL_BOUNDARY.sub("_", value.strip()).lower()
    return _NOT_NAME.sub("_", snake).strip("_")[:64]


def event_name(vendor: str, *parts: str | None) -> str:
    """``productpilot.<vendor>.<part>...``; empty parts (a missing action) are left out.

    Example:
        >>> event_name("github", "push", None)
        'productpilot.github.push'
    """
    cleaned = [name_part(part) for part in parts if part]
    return ".".join(["productpilot", vendor, *[part for part in cleaned if part]])


# --- reading untrusted payloads -------------------------------------------------------------------
# Normalisers read JSON that anyone holding the secret can shape: a field may be missing, null or
# of another type. These accessors answer "absent" instead of raising, so no payload makes a
# normaliser fail.


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one.

    Example:
        >>> obj({"a": 1}), obj("x"), obj(None)
        ({'a': 1}, {}, {})
    """
    return value if isinstance(value, dict) else {}


def dig(value: Any, *path: str) -> Any:
    """The value at ``path`` inside nested objects, or ``None``.

    Example:
        >>> dig({"pull_request": {"head": {"sha": "abc"}}}, "pull_request", "head", "sha")
        'abc'
    """
    for key in path:
        value = obj(value).get(key)
    return value


def text(value: Any, limit: int = 1000) -> str | None:
    """``value`` if it is a string (cut to ``limit`` characters), else ``None``.

    Example:
        >>> text("hello", limit=4), text(42)
        ('hell', None)
    """
    return value[:limit] if isinstance(value, str) else None


def ident(value: Any) -> str | None:
    """An identifier sent as a string or an integer, as a string.

    Example:
        >>> ident(10656), ident("AB-1"), ident(True)
        ('10656', 'AB-1', None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return text(value, 200)


def integer(value: Any) -> int | None:
    """``value`` if it is an integer (not a boolean), else ``None``.

    Example:
        >>> integer(3), integer(3.0), integer("3")
        (3, 3, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def number(value: Any) -> float | int | None:
    """``value`` if it is a number (not a boolean), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def flag(value: Any) -> bool | None:
    """``value`` if it is a boolean, else ``None``."""
    return value if isinstance(value, bool) else None


def strings(value: Any, limit: int = 100) -> list[str]:
    """The strings in a list (others dropped), at most ``limit`` of them.

    Example:
        >>> strings(["a", 1, "b"])
        ['a', 'b']
    """
    if not isinstance(value, list):
        return []
    return [item[:200] for item in value if isinstance(item, str)][:limit]


def names(value: Any, key: str = "name", limit: int = 100) -> list[str]:
    """``key`` of each object in a list, e.g. the names of GitHub labels.

    Example:
        >>> names([{"name": "bug"}, {"name": 3}, "x"])
        ['bug']
    """
    if not isinstance(value, list):
        return []
    found = (text(obj(item).get(key), 200) for item in value)
    return [item for item in found if item is not None][:limit]
