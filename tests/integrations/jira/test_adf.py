"""Messages as Atlassian Document Format: what Jira REST v3 takes for descriptions and comments.

Every document is also checked with the fake's ADF rules, the ones the fake Jira refuses a
request by.
"""

from __future__ import annotations

from typing import Any

import pytest

from integrations.jira.adf import inline, paragraphs, to_adf
from productpilot.notify.message import Message, MessageItem
from tests.integrations.jira.fake import adf_problems

STRONG = [{"type": "strong"}]
REPORT = "https://pp.example/reports/1"


def message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "subject": "Signups dropped 40%",
        "text": "Signups fell below the expected band.",
        "severity": "critical",
        "kind": "productpilot.anomaly.detected",
        "idempotency_key": "k1",
        "product": "Checkout",
    }
    return Message(**(fields | changes))


def plain(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def linked(value: str, href: str) -> dict[str, Any]:
    return {"type": "text", "text": value, "marks": [{"type": "link", "attrs": {"href": href}}]}


def of_type(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [node for node in document["content"] if node["type"] == kind]


def test_a_message_is_a_version_1_doc_starting_with_severity_product_and_kind() -> None:
    document = to_adf(message())

    assert (document["type"], document["version"]) == ("doc", 1)
    assert document["content"][0] == {
        "type": "paragraph",
        "content": [
            {"type": "text", "text": "Critical", "marks": STRONG},
            plain(" · Checkout · productpilot.anomaly.detected"),
        ],
    }
    assert document["content"][1] == {
        "type": "paragraph",
        "content": [plain("Signups fell below the expected band.")],
    }
    assert adf_problems(document) == []


def test_a_comment_starts_with_the_subject_in_bold() -> None:
    document = to_adf(message(), with_subject=True)

    assert document["content"][0] == {
        "type": "paragraph",
        "content": [{"type": "text", "text": "Signups dropped 40%", "marks": STRONG}],
    }


def test_blank_lines_start_paragraphs_and_line_breaks_are_kept() -> None:
    assert paragraphs("First line\nsecond line\n\n\nNext paragraph\n") == [
        {
            "type": "paragraph",
            "content": [plain("First line"), {"type": "hardBreak"}, plain("second line")],
        },
        {"type": "paragraph", "content": [plain("Next paragraph")]},
    ]


def test_bold_text_is_marked_strong_but_lone_asterisks_stay_text() -> None:
    assert inline("fell *40%* below") == [
        plain("fell "),
        {"type": "text", "text": "40%", "marks": STRONG},
        plain(" below"),
    ]
    assert inline("2 * 3 * 4") == [plain("2 * 3 * 4")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (f"see <{REPORT}|the report>", [plain("see "), linked("the report", REPORT)]),
        (f"see [the report]({REPORT})", [plain("see "), linked("the report", REPORT)]),
        (f"see <{REPORT}>", [plain("see "), linked(REPORT, REPORT)]),
        (f"see {REPORT}.", [plain("see "), linked(REPORT, REPORT), plain(".")]),
    ],
    ids=["slack-style", "markdown", "angle-brackets", "bare-address"],
)
def test_links_in_the_text_become_link_marks(source: str, expected: list[dict[str, Any]]) -> None:
    assert inline(source) == expected


def test_facts_become_a_table_with_the_labels_as_header_cells() -> None:
    document = to_adf(message(facts=(("metric", "signups"), ("value", "*612*"), ("note", ""))))

    (table,) = of_type(document, "table")
    rows = [[cell["type"] for cell in row["content"]] for row in table["content"]]
    assert rows == [["tableHeader", "tableCell"]] * 3
    first_row = table["content"][0]["content"]
    assert first_row[0]["content"] == [{"type": "paragraph", "content": [plain("metric")]}]
    assert first_row[1]["content"] == [{"type": "paragraph", "content": [plain("signups")]}]
    assert table["content"][1]["content"][1]["content"][0]["content"] == [
        {"type": "text", "text": "612", "marks": STRONG}
    ]
    assert table["content"][2]["content"][1]["content"] == [{"type": "paragraph", "content": []}]
    assert adf_problems(document) == []


def test_a_digest_lists_its_findings_with_severity_and_linked_subjects() -> None:
    items = (
        MessageItem(
            "Latency up", "warning", "k", text="p95 at 900 ms", link="https://pp.example/a"
        ),
        MessageItem("Churn up", "info", "k", occurred_at="2026-12-01T08:00:00Z"),
    )
    document = to_adf(message(kind="digest", severity="warning", items=items, text=""))

    (bullets,) = of_type(document, "bulletList")
    entries = [item["content"][0]["content"] for item in bullets["content"]]
    assert entries == [
        [
            {"type": "text", "text": "Warning", "marks": STRONG},
            plain(" "),
            linked("Latency up", "https://pp.example/a"),
            plain(" — "),
            plain("p95 at 900 ms"),
        ],
        [
            {"type": "text", "text": "Info", "marks": STRONG},
            plain(" "),
            plain("Churn up"),
            plain(" (2026-12-01T08:00:00Z)"),
        ],
    ]
    assert adf_problems(document) == []


def test_the_link_ends_the_document() -> None:
    document = to_adf(message(link=REPORT))

    assert document["content"][-1] == {
        "type": "paragraph",
        "content": [plain("Details: "), linked(REPORT, REPORT)],
    }


@pytest.mark.parametrize(
    "odd",
    [
        message(text="", product="", kind=""),
        message(subject="", text="   \n\n  "),
        message(text="**", facts=(("", ""),)),
        message(text="*unclosed bold and <https://x.example|unclosed link"),
        message(kind="digest", items=(MessageItem("", "critical", "k", text="\n"),)),
    ],
    ids=["nothing-but-severity", "blank-text", "empty-fact", "unclosed-markup", "empty-item"],
)
def test_odd_messages_still_render_valid_adf_without_empty_text_nodes(odd: Message) -> None:
    assert adf_problems(to_adf(odd, with_subject=True)) == []


def test_the_adf_check_refuses_what_jira_refuses() -> None:
    assert adf_problems("just a string") != []
    assert adf_problems({"type": "doc", "content": []}) == ["the doc's version must be 1"]
    empty_text = {"type": "paragraph", "content": [{"type": "text", "text": ""}]}
    assert adf_problems({"type": "doc", "version": 1, "content": [empty_text]}) == [
        "content/0/content/0: a text node's text must be a non-empty string"
    ]
    loose_text = {"type": "text", "text": "outside any paragraph"}
    assert adf_problems({"type": "doc", "version": 1, "content": [loose_text]}) == [
        "content/0: 'text' cannot be inside 'doc'"
    ]
