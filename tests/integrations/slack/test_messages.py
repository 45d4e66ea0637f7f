"""Rendering a Message to Block Kit: the layout, mrkdwn escaping, and Slack's limits (checked by
the fake Slack's own Block Kit rules, which are what it refuses with ``invalid_blocks``)."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.slack.messages import (
    MAX_BLOCKS,
    MAX_FIELDS_PER_SECTION,
    MAX_HEADER_CHARS,
    MAX_TEXT_CHARS,
    MAX_TEXT_SECTIONS,
    UPDATED_NOTE,
    fallback_text,
    mrkdwn,
    render,
    render_blocks,
    split_text,
    truncate,
)
from productpilot.notify.message import Message, MessageItem
from tests.integrations.slack.fake import block_kit_problems


def alert(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "subject": "Signups 40% below expected",
        "text": "Signups fell below the expected band on 2026-11-30.",
        "severity": "critical",
        "kind": "productpilot.anomaly.detected",
        "idempotency_key": "k1",
        "facts": (("metric", "signups"), ("value", "412"), ("expected", "650-720")),
        "link": "https://productpilot.example/reports/7",
        "dedupe_key": "anomaly:signups",
        "product": "Acme",
    }
    return Message(**{**fields, **changes})


def digest(count: int) -> Message:
    items = tuple(
        MessageItem(
            subject=f"Finding {n}",
            severity="warning",
            kind="productpilot.kpi.changed",
            text=f"Details of finding {n}.",
            link=f"https://productpilot.example/findings/{n}",
        )
        for n in range(count)
    )
    return alert(subject="Daily digest", kind="digest", severity="warning", items=items, facts=())


def texts(block: dict[str, Any]) -> list[str]:
    """Every text a block shows."""
    if "text" in block:
        return [block["text"]["text"]]
    return [element["text"] for element in block.get("fields", block.get("elements", []))]


# --- layout ------------------------------------------------------------------------------------


def test_an_alert_is_a_header_the_text_its_facts_and_a_context_line() -> None:
    blocks = render_blocks(alert())

    assert [block["type"] for block in blocks] == ["header", "section", "section", "context"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": ":rotating_light: Signups 40% below expected",
        "emoji": True,
    }
    assert blocks[1]["text"] == {
        "type": "mrkdwn",
        "text": "Signups fell below the expected band on 2026-11-30.",
    }
    assert texts(blocks[2]) == ["*metric*\nsignups", "*value*\n412", "*expected*\n650-720"]


def test_the_context_line_carries_severity_product_and_link() -> None:
    context = render_blocks(alert())[-1]

    assert texts(context) == [
        "*Critical*",
        "Product: *Acme*",
        "<https://productpilot.example/reports/7|View in ProductPilot>",
    ]


@pytest.mark.parametrize(
    ("severity", "emoji", "label"),
    [
        ("info", ":information_source:", "Info"),
        ("warning", ":warning:", "Warning"),
        ("critical", ":rotating_light:", "Critical"),
    ],
)
def test_each_severity_has_its_emoji_and_label(severity: str, emoji: str, label: str) -> None:
    blocks = render_blocks(alert(severity=severity))

    assert blocks[0]["text"]["text"].startswith(f"{emoji} ")
    assert texts(blocks[-1])[0] == f"*{label}*"


def test_a_message_without_text_facts_product_or_link_is_a_header_and_severity() -> None:
    blocks = render_blocks(alert(text="", facts=(), product="", link=None))

    assert [block["type"] for block in blocks] == ["header", "context"]
    assert texts(blocks[-1]) == ["*Critical*"]


def test_a_message_without_a_subject_still_has_a_header() -> None:
    header = render_blocks(alert(subject=""))[0]

    assert header["text"]["text"] == ":rotating_light: ProductPilot notification"


def test_the_updated_original_of_a_thread_says_the_history_is_in_the_thread() -> None:
    assert UPDATED_NOTE not in texts(render_blocks(alert())[-1])
    assert texts(render_blocks(alert(), updated=True)[-1])[-1] == UPDATED_NOTE


# --- mrkdwn ------------------------------------------------------------------------------------


def test_text_cannot_ping_the_channel_or_forge_a_link() -> None:
    section = render_blocks(alert(text="Fix <!channel> & <https://evil.example|your bank>"))[1]

    assert texts(section) == ["Fix &lt;!channel&gt; &amp; &lt;https://evil.example|your bank&gt;"]


def test_markdown_links_become_slack_links() -> None:
    assert mrkdwn("See [the report](https://pp.example/r?a=1&b=2).") == (
        "See <https://pp.example/r?a=1&amp;b=2|the report>."
    )


def test_fact_labels_and_values_are_escaped() -> None:
    fields = render_blocks(alert(facts=(("p<50>", "a & b"),)))[2]

    assert texts(fields) == ["*p&lt;50&gt;*\na &amp; b"]


# --- Slack's limits ----------------------------------------------------------------------------


def test_a_long_subject_is_cut_to_the_header_limit_with_an_ellipsis() -> None:
    header = render_blocks(alert(subject="s" * 400))[0]["text"]["text"]

    assert len(header) == MAX_HEADER_CHARS
    assert header.endswith("s…")


def test_long_text_is_split_between_words_into_sections_of_at_most_3000_characters() -> None:
    words = [f"word{n}" for n in range(1000)]  # 7,889 characters

    sections = render_blocks(alert(text=" ".join(words), facts=()))[1:-1]

    assert len(sections) == 3
    assert all(len(texts(s)[0]) <= MAX_TEXT_CHARS for s in sections)
    assert " ".join(texts(s)[0] for s in sections).split() == words


def test_text_longer_than_the_sections_allow_ends_in_an_ellipsis() -> None:
    sections = render_blocks(alert(text="word " * 5000, facts=()))[1:-1]

    assert len(sections) == MAX_TEXT_SECTIONS
    assert texts(sections[-1])[0].endswith("…")


def test_facts_are_ten_fields_to_a_section() -> None:
    facts = tuple((f"fact {n}", str(n)) for n in range(25))

    sections = render_blocks(alert(facts=facts, text=""))[1:-1]

    assert [len(s["fields"]) for s in sections] == [10, 10, 5]
    assert all(len(s["fields"]) <= MAX_FIELDS_PER_SECTION for s in sections)
    assert texts(sections[2])[-1] == "*fact 24*\n24"


def test_too_many_facts_end_with_how_many_were_left_out() -> None:
    facts = tuple((f"fact {n}", str(n)) for n in range(60))

    sections = render_blocks(alert(facts=facts, text=""))[1:-1]

    shown = [text for section in sections for text in texts(section)]
    assert shown[-1] == "_…and 11 more_"
    assert len(shown) - 1 + 11 == 60


def test_a_digest_has_one_section_per_finding_oldest_first() -> None:
    blocks = render_blocks(digest(3))

    kinds = [block["type"] for block in blocks]
    assert kinds == ["header", "section", "section", "section", "section", "context"]
    assert texts(blocks[2]) == [
        ":warning: *<https://productpilot.example/findings/0|Finding 0>*\nDetails of finding 0."
    ]


def test_a_digest_too_long_for_fifty_blocks_ends_with_how_many_more() -> None:
    blocks = render_blocks(digest(80))

    assert len(blocks) == MAX_BLOCKS
    findings = [b for b in blocks if b["type"] == "section" and "Finding" in texts(b)[0]]
    more = blocks[-2]
    assert texts(more) == [f"_…and {80 - len(findings)} more_"]
    assert blocks[-1]["type"] == "context"


def test_a_digest_that_fits_exactly_needs_no_more_line() -> None:
    room = MAX_BLOCKS - 3  # header, text, context
    blocks = render_blocks(digest(room))

    assert len(blocks) == MAX_BLOCKS
    assert not any("more_" in texts(b)[0] for b in blocks if b["type"] == "section")


def test_a_finding_with_a_long_text_is_cut_to_the_section_limit() -> None:
    item = MessageItem(subject="Huge", severity="info", kind="k", text="x" * 5000)
    blocks = render_blocks(alert(kind="digest", items=(item,), facts=()))

    assert len(texts(blocks[2])[0]) == MAX_TEXT_CHARS


@pytest.mark.parametrize(
    "message",
    [
        alert(),
        alert(subject="s" * 400, text="w" * 20_000, product="p" * 5000),
        alert(facts=tuple(("l" * 3000, "v" * 3000) for _ in range(70))),
        digest(500),
        alert(text="&" * 4000),
        alert(subject="", text="", facts=(), link=None, product=""),
    ],
    ids=["alert", "long-everything", "many-long-facts", "huge-digest", "escapes", "bare"],
)
def test_every_rendering_is_within_slacks_block_kit_limits(message: Message) -> None:
    for updated in (False, True):
        assert block_kit_problems(render_blocks(message, updated=updated)) == []


# --- fallback text -----------------------------------------------------------------------------


def test_the_fallback_text_names_severity_subject_product_and_the_text() -> None:
    assert fallback_text(alert()) == (
        "Critical: Signups 40% below expected (Acme)\n"
        "Signups fell below the expected band on 2026-11-30."
    )


def test_the_fallback_text_of_a_digest_counts_its_findings() -> None:
    assert fallback_text(digest(3)).startswith("Warning: Daily digest (Acme): 3 findings")


def test_the_fallback_text_is_escaped_and_bounded() -> None:
    text = fallback_text(alert(subject="<!here>", text="x" * 10_000))

    assert text.startswith("Critical: &lt;!here&gt;")
    assert len(text) == MAX_TEXT_CHARS


def test_render_pairs_the_fallback_text_with_the_blocks() -> None:
    rendered = render(alert(), updated=True)

    assert rendered.text == fallback_text(alert())
    assert rendered.blocks == render_blocks(alert(), updated=True)


# --- text helpers ------------------------------------------------------------------------------


def test_truncate_never_leaves_half_an_escape() -> None:
    assert truncate("ab &amp; cd", 6) == "ab …"


def test_split_text_cuts_a_word_longer_than_the_limit() -> None:
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]
