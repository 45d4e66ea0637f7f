"""Rendering messages as Adaptive Cards for Teams webhooks."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.teams.cards import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    ADAPTIVE_CARD_SCHEMA,
    MAX_PAYLOAD_BYTES,
    encode_payload,
    envelope,
    payload_size,
    render_card,
)
from productpilot.notify.message import Message, MessageItem
from tests.integrations.teams.fake import card_problems, envelope_problems


def a_message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "subject": "Checkout error rate 4.2%",
        "text": "The error rate is above the 1% release gate.",
        "severity": "critical",
        "kind": "productpilot.gate.failed",
        "idempotency_key": "outbox-7",
        "facts": (("gate", "error rate"), ("value", "4.2%"), ("threshold", "1%")),
        "link": "https://productpilot.example/reports/7",
        "product": "Checkout",
    }
    return Message(**(fields | changes))


def a_digest(count: int, *, text: str = "A finding worth a look.") -> Message:
    items = tuple(
        MessageItem(
            subject=f"Finding {number}",
            severity="warning",
            kind="productpilot.anomaly.detected",
            text=text,
            link=f"https://productpilot.example/findings/{number}",
            occurred_at="2026-11-30T09:00:00Z",
        )
        for number in range(count)
    )
    return a_message(subject=f"{count} findings", kind="digest", severity="warning", items=items)


def texts(elements: list[dict[str, Any]]) -> list[str]:
    """Every TextBlock text, depth first."""
    found = []
    for element in elements:
        if element["type"] == "TextBlock":
            found.append(element["text"])
        found += texts(element.get("items", []))
    return found


def test_a_card_is_an_adaptive_card_1_4_with_its_schema() -> None:
    card = render_card(a_message())

    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["$schema"] == ADAPTIVE_CARD_SCHEMA


def test_the_title_is_large_bold_and_coloured_by_severity() -> None:
    colors = {
        severity: render_card(a_message(severity=severity))["body"][1]
        for severity in ("info", "warning", "critical")
    }

    assert {severity: title["color"] for severity, title in colors.items()} == {
        "info": "default",
        "warning": "warning",
        "critical": "attention",
    }
    title = colors["critical"]
    assert (title["text"], title["size"], title["weight"]) == (
        "Checkout error rate 4.2%",
        "Large",
        "Bolder",
    )


def test_the_severity_and_product_head_the_card() -> None:
    assert render_card(a_message())["body"][0]["text"] == "Critical · Checkout"
    assert render_card(a_message(product=""))["body"][0]["text"] == "Critical"


def test_the_text_is_a_wrapping_text_block() -> None:
    text = render_card(a_message())["body"][2]

    assert text == {
        "type": "TextBlock",
        "text": "The error rate is above the 1% release gate.",
        "wrap": True,
    }


def test_facts_become_a_fact_set() -> None:
    fact_sets = [e for e in render_card(a_message())["body"] if e["type"] == "FactSet"]

    assert fact_sets == [
        {
            "type": "FactSet",
            "facts": [
                {"title": "gate", "value": "error rate"},
                {"title": "value", "value": "4.2%"},
                {"title": "threshold", "value": "1%"},
            ],
        }
    ]


def test_a_message_without_text_or_facts_has_no_empty_blocks() -> None:
    body = render_card(a_message(text="", facts=()))["body"]

    assert [element["type"] for element in body] == ["TextBlock", "TextBlock"]


def test_the_link_is_an_open_url_action() -> None:
    card = render_card(a_message())

    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "View details",
            "url": "https://productpilot.example/reports/7",
        }
    ]


@pytest.mark.parametrize("link", [None, "", "javascript:alert(1)", "file:///etc/passwd"])
def test_no_button_is_made_for_a_missing_or_non_web_link(link: str | None) -> None:
    assert "actions" not in render_card(a_message(link=link))


def test_each_digest_item_is_a_clickable_container() -> None:
    containers = [e for e in render_card(a_digest(2))["body"] if e["type"] == "Container"]

    assert len(containers) == 2
    first = containers[0]
    assert texts(first["items"]) == [
        "Finding 0",
        "Warning · productpilot.anomaly.detected · 2026-11-30T09:00:00Z",
        "A finding worth a look.",
    ]
    assert first["items"][0]["color"] == "warning"
    assert first["selectAction"] == {
        "type": "Action.OpenUrl",
        "title": "Open",
        "url": "https://productpilot.example/findings/0",
    }


def test_the_envelope_is_a_message_with_one_adaptive_card_attachment() -> None:
    card = render_card(a_message())

    assert envelope(card) == {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


def test_a_digest_too_large_for_a_webhook_shows_its_first_items_and_how_many_more() -> None:
    digest = a_digest(400)
    assert payload_size(render_card(digest, max_bytes=10**9)) > MAX_PAYLOAD_BYTES

    card = render_card(digest)

    shown = [e for e in card["body"] if e["type"] == "Container"]
    assert 10 < len(shown) < 400
    assert texts(shown[0]["items"])[0] == "Finding 0"
    assert texts(shown[-1]["items"])[0] == f"Finding {len(shown) - 1}"
    assert card["body"][-1]["text"] == f"…and {400 - len(shown)} more"
    assert payload_size(card) <= MAX_PAYLOAD_BYTES


def test_the_item_cut_keeps_as_many_items_as_fit() -> None:
    card = render_card(a_digest(400))
    shown = sum(1 for e in card["body"] if e["type"] == "Container")

    one_more = render_card(a_digest(shown + 1), max_bytes=10**9)

    assert payload_size(one_more) > MAX_PAYLOAD_BYTES


def test_an_oversized_text_is_shortened_to_fit_and_marked_and_the_facts_stay() -> None:
    card = render_card(a_message(text="é" * 40_000))

    text = card["body"][2]["text"]
    assert text.endswith("…")
    assert 5_000 < len(text) < 40_000
    assert card["body"][3]["type"] == "FactSet"
    assert len(card["body"][3]["facts"]) == 3
    assert payload_size(card) <= MAX_PAYLOAD_BYTES


def test_too_many_facts_are_cut_after_the_items_and_text() -> None:
    facts = tuple((f"fact {n}", "x" * 400) for n in range(200))

    card = render_card(a_message(text="short", facts=facts))

    fact_set = next(e for e in card["body"] if e["type"] == "FactSet")
    assert card["body"][2]["text"] == "short"
    assert fact_set["facts"][-1]["title"] == "…"
    assert fact_set["facts"][-1]["value"] == f"{200 - (len(fact_set['facts']) - 1)} more"
    assert payload_size(card) <= MAX_PAYLOAD_BYTES


def test_the_size_counts_encoded_bytes_not_characters() -> None:
    card = render_card(a_message(text="€" * 100))

    assert payload_size(card) == len(encode_payload(envelope(card)))
    assert "€" * 100 in encode_payload(envelope(card)).decode()


@pytest.mark.parametrize(
    "message",
    [
        a_message(),
        a_message(severity="info", facts=(), link=None, product=""),
        a_digest(3),
        a_digest(400),
        a_message(text="x" * 50_000),
        a_message(facts=tuple((f"f{n}", "v" * 500) for n in range(300))),
    ],
    ids=["alert", "bare", "digest", "long digest", "long text", "many facts"],
)
def test_every_rendered_card_keeps_the_teams_webhook_rules(message: Message) -> None:
    card = render_card(message)

    assert card_problems(card) == []
    assert envelope_problems(envelope(card)) == []
    assert payload_size(card) <= MAX_PAYLOAD_BYTES


# --- the fake's hand-written rules catch what Teams refuses -----------------------------


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        ({"version": "2.0"}, "version '2.0'"),
        ({"$schema": None}, "$schema"),
        ({"type": "MessageCard"}, "not 'AdaptiveCard'"),
        ({"body": [{"type": "RichTextBlock"}]}, "'RichTextBlock' is not an element"),
        ({"body": [{"type": "TextBlock"}]}, "needs a string 'text'"),
        ({"body": [{"type": "TextBlock", "text": "x", "color": "red"}]}, "color 'red'"),
        ({"body": [{"type": "FactSet", "facts": [{"title": "a", "value": 1}]}]}, "'value'"),
        ({"actions": [{"type": "Action.OpenUrl", "title": "x"}]}, "needs an http(s) 'url'"),
        ({"actions": [{"type": "Action.Submit", "title": "x"}]}, "needs a bot"),
    ],
)
def test_the_fake_rejects_cards_teams_would_not_render(
    breakage: dict[str, Any], problem: str
) -> None:
    card = render_card(a_message()) | breakage

    assert any(problem in found for found in card_problems(card))
