"""A fake Teams webhook: a :class:`~tests.fakes.server.FakeServer` that takes Adaptive Cards.

The shared data holds no machine-readable description of Teams webhooks (Microsoft
publishes none for them, and the Adaptive Card JSON schema is not among the shared
specs), so the validator here is written by hand. It checks what makes Teams refuse a card
or show "this card could not be displayed", per the webhook and Adaptive Card
documentation:

* the envelope: a ``message`` with Adaptive Card attachments (``contentType``
  ``application/vnd.microsoft.card.adaptive``, ``contentUrl`` null), sent as JSON, the whole
  request at most 28 KB;
* the card: ``type`` ``AdaptiveCard``, a ``version`` Teams renders (1.0 to 1.5), the
  ``$schema``, a ``body`` list;
* elements: only ``TextBlock`` (with ``text``), ``FactSet`` (facts with string ``title``
  and ``value``), ``Container`` (with ``items``), ``ColumnSet`` (columns of ``Column``),
  ``Image`` (with ``url``) and ``ActionSet``; known values for ``size``, ``weight``,
  ``color`` and ``spacing`` (case-insensitive, as in the Adaptive Cards spec);
* actions: ``Action.OpenUrl`` (with an http(s) ``url``), ``Action.ShowCard``,
  ``Action.ToggleVisibility``; not ``Action.Submit`` or ``Action.Execute``, which need a
  bot to receive them and do nothing through a webhook.

It answers like a classic incoming webhook (``200`` with the body ``1``) or, with
``workflow=True``, like a Power Automate Workflows URL (``202``, no body).

Example:
    ```python
    with serving(FakeTeams()) as teams:
        TeamsHook(teams.webhook_url).post_card(render_card(message))
    assert teams.cards() == [render_card(message)]
    ```
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from integrations.teams.cards import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    ADAPTIVE_CARD_SCHEMA,
    MAX_PAYLOAD_BYTES,
)
from tests.fakes.server import FakeServer, Recorded, Reply

WEBHOOK_PATH = "/webhookb2/0000-team@0000-tenant/IncomingWebhook/0123abcd/0000-owner"
SUPPORTED_VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
ELEMENT_TYPES = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image", "ActionSet"}
ACTION_TYPES = {"Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"}
BOT_ONLY_ACTIONS = {"Action.Submit", "Action.Execute"}
ENUMS = {
    "size": {"default", "small", "medium", "large", "extralarge"},
    "weight": {"default", "lighter", "bolder"},
    "color": {"default", "dark", "light", "accent", "good", "warning", "attention"},
    "spacing": {"default", "none", "small", "medium", "large", "extralarge", "padding"},
}
BOOLEANS = ("wrap", "isSubtle", "separator")


class FakeTeams(FakeServer):
    """One Teams webhook at :attr:`webhook_url`.

    Args:
        workflow: Answer like a Power Automate Workflows URL (202) instead of a classic
            incoming webhook (200, body ``1``).
    """

    def __init__(self, *, workflow: bool = False) -> None:
        super().__init__(self._accept, validate_webhook_request)
        self.workflow = workflow

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    def cards(self) -> list[dict[str, Any]]:
        """The cards of every valid post received, in order, those answered with a scripted
        failure included."""
        return [
            request.json()["attachments"][0]["content"]
            for request in self.calls(WEBHOOK_PATH, "POST")
            if not validate_webhook_request(request)
        ]

    def _accept(self, _request: Recorded) -> Reply:
        if self.workflow:
            return Reply(202, b"")
        return Reply(200, b"1", headers={"Content-Type": "text/plain; charset=utf-8"})


def validate_webhook_request(request: Recorded) -> list[str]:
    """What Teams would refuse in ``request`` (empty: nothing)."""
    if request.method != "POST" or request.path != WEBHOOK_PATH:
        return [f"no webhook at {request.method} {request.path}"]
    if request.content_type != "application/json":
        return [f"Content-Type is {request.content_type!r}, not application/json"]
    problems = []
    if len(request.body) > MAX_PAYLOAD_BYTES:
        problems.append(f"the request is {len(request.body)} bytes (> {MAX_PAYLOAD_BYTES})")
    try:
        payload = json.loads(request.body)
    except ValueError as exc:
        return [*problems, f"the body is not JSON: {exc}"]
    return problems + envelope_problems(payload)


def envelope_problems(payload: Any) -> list[str]:
    """What is wrong with a webhook request body."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return ["the body is not an activity of type 'message'"]
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ["'attachments' is not a non-empty list"]
    problems = []
    for index, attachment in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict):
            problems.append(f"{where} is not an object")
            continue
        if attachment.get("contentType") != ADAPTIVE_CARD_CONTENT_TYPE:
            problems.append(f"{where}.contentType is {attachment.get('contentType')!r}")
        if attachment.get("contentUrl") is not None:
            problems.append(f"{where}.contentUrl must be null")
        problems += card_problems(attachment.get("content"), f"{where}.content")
    return problems


def card_problems(card: Any, where: str = "card") -> list[str]:
    """What is wrong with an Adaptive Card, by the rules listed in the module docstring."""
    if not isinstance(card, dict):
        return [f"{where} is not an object"]
    problems = []
    if card.get("type") != "AdaptiveCard":
        problems.append(f"{where}.type is {card.get('type')!r}, not 'AdaptiveCard'")
    if card.get("version") not in SUPPORTED_VERSIONS:
        problems.append(f"{where}.version {card.get('version')!r} is not one Teams renders")
    if card.get("$schema") != ADAPTIVE_CARD_SCHEMA:
        problems.append(f"{where}.$schema is {card.get('$schema')!r}")
    body = card.get("body")
    if not isinstance(body, list):
        problems.append(f"{where}.body is not a list")
    else:
        problems += _elements_problems(body, f"{where}.body")
    if "actions" in card:
        problems += _actions_problems(card["actions"], f"{where}.actions")
    return problems


def _elements_problems(elements: Any, where: str) -> list[str]:
    if not isinstance(elements, list):
        return [f"{where} is not a list"]
    problems = []
    for index, element in enumerate(elements):
        problems += _element_problems(element, f"{where}[{index}]")
    return problems


def _element_problems(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"{where} is not an object"]
    kind = element.get("type")
    if kind not in ELEMENT_TYPES:
        return [f"{where}.type {kind!r} is not an element Teams webhooks render"]
    problems = _property_problems(element, where)
    if kind == "TextBlock" and not isinstance(element.get("text"), str):
        problems.append(f"{where}: a TextBlock needs a string 'text'")
    elif kind == "FactSet":
        problems += _facts_problems(element.get("facts"), f"{where}.facts")
    elif kind == "Container":
        problems += _elements_problems(element.get("items"), f"{where}.items")
    elif kind == "ColumnSet":
        for index, column in enumerate(element.get("columns") or []):
            column_where = f"{where}.columns[{index}]"
            if not isinstance(column, dict) or column.get("type") != "Column":
                problems.append(f"{column_where} is not a Column")
            else:
                problems += _elements_problems(column.get("items", []), f"{column_where}.items")
    elif kind == "Image" and not isinstance(element.get("url"), str):
        problems.append(f"{where}: an Image needs a string 'url'")
    elif kind == "ActionSet":
        problems += _actions_problems(element.get("actions"), f"{where}.actions")
    if "selectAction" in element:
        problems += _action_problems(element["selectAction"], f"{where}.selectAction")
    return problems


def _property_problems(element: dict[str, Any], where: str) -> list[str]:
    problems = [
        f"{where}.{name} {element[name]!r} is not one of {sorted(allowed)}"
        for name, allowed in ENUMS.items()
        if name in element
        and not (isinstance(element[name], str) and element[name].lower() in allowed)
    ]
    problems += [
        f"{where}.{name} is not a boolean"
        for name in BOOLEANS
        if name in element and not isinstance(element[name], bool)
    ]
    return problems


def _facts_problems(facts: Any, where: str) -> list[str]:
    if not isinstance(facts, list) or not facts:
        return [f"{where} is not a non-empty list"]
    return [
        f"{where}[{index}] needs string 'title' and 'value'"
        for index, fact in enumerate(facts)
        if not (
            isinstance(fact, dict)
            and isinstance(fact.get("title"), str)
            and isinstance(fact.get("value"), str)
        )
    ]


def _actions_problems(actions: Any, where: str) -> list[str]:
    if not isinstance(actions, list):
        return [f"{where} is not a list"]
    problems = []
    for index, action in enumerate(actions):
        problems += _action_problems(action, f"{where}[{index}]")
    return problems


def _action_problems(action: Any, where: str) -> list[str]:
    if not isinstance(action, dict):
        return [f"{where} is not an object"]
    kind = action.get("type")
    if kind in BOT_ONLY_ACTIONS:
        return [f"{where}: {kind} needs a bot; a webhook's card cannot submit"]
    if kind not in ACTION_TYPES:
        return [f"{where}.type {kind!r} is not an action"]
    if kind == "Action.OpenUrl":
        url = action.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            return [f"{where}: Action.OpenUrl needs an http(s) 'url', got {url!r}"]
    return []
