"""Building e-mails from messages: headers for dedupe and threading, text and HTML parts."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from integrations.email.messages import (
    build_email,
    message_id_for,
    render_html,
    render_text,
    sender_domain,
    subject_for,
)
from productpilot.notify.channels import Delivery
from productpilot.notify.message import Message, MessageItem

SENDER = "ProductPilot <alerts@productpilot.example>"
NOW = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def a_message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "subject": "Signups dropped 40%",
        "text": "Signups fell below the expected band.",
        "severity": "critical",
        "kind": "productpilot.anomaly.detected",
        "idempotency_key": "outbox-12",
        "facts": (("metric", "signups"), ("expected", "900 to 1,100")),
        "link": "https://productpilot.example/reports/12",
        "product": "Checkout",
    }
    return Message(**(fields | changes))


def built(message: Message, thread: Delivery | None = None) -> EmailMessage:
    """The e-mail as a receiver parses it from the wire."""
    raw = build_email(
        message, sender=SENDER, recipient="pm@example.com", thread=thread, now=NOW
    ).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(mail: EmailMessage, content_type: str) -> str:
    body = mail.get_body(preferencelist=(content_type.split("/")[1],))
    assert body is not None
    assert body.get_content_type() == content_type
    return str(body.get_content())


# --- headers -----------------------------------------------------------------------------


def test_the_headers_name_sender_recipient_subject_and_date() -> None:
    mail = built(a_message())

    assert mail["From"] == SENDER
    assert mail["To"] == "pm@example.com"
    assert mail["Subject"] == "[critical] Checkout: Signups dropped 40%"
    assert mail["Date"].datetime == NOW
    assert mail["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize("severity", ["info", "warning", "critical"])
def test_the_subject_starts_with_the_severity(severity: str) -> None:
    assert subject_for(a_message(severity=severity, product="")).startswith(f"[{severity}] ")


def test_a_line_break_in_a_finding_subject_cannot_reach_the_headers() -> None:
    mail = built(a_message(subject="Signups\r\nBcc: everyone@example.com"))

    assert mail["Subject"] == "[critical] Checkout: Signups Bcc: everyone@example.com"
    assert mail["Bcc"] is None


def test_the_message_id_is_the_idempotency_key_at_the_sender_domain() -> None:
    assert built(a_message())["Message-ID"] == "<outbox-12@productpilot.example>"


def test_a_retry_of_the_same_notification_has_the_same_message_id() -> None:
    first = built(a_message())
    again = built(a_message(text="rendered again"))

    assert first["Message-ID"] == again["Message-ID"]


def test_key_characters_a_message_id_cannot_hold_are_encoded_without_collisions() -> None:
    ids = {
        message_id_for(key, "alerts@example.com")
        for key in ("a:b", "a/b", "a b", "a=3Ab", "a.b", "aéb")
    }

    assert len(ids) == 6
    assert message_id_for("a:b", "alerts@example.com") == "<a=3Ab@example.com>"
    for message_id in ids:
        assert " " not in message_id
        assert message_id.count("@") == 1


@pytest.mark.parametrize(
    ("sender", "domain"),
    [("alerts@example.com", "example.com"), ("PP <alerts@mail.example.org>", "mail.example.org")],
)
def test_the_sender_domain_comes_from_the_address(sender: str, domain: str) -> None:
    assert sender_domain(sender) == domain


@pytest.mark.parametrize("sender", ["alerts", "", "a@example.com, b@example.com"])
def test_a_sender_that_is_not_one_address_is_refused(sender: str) -> None:
    with pytest.raises(ValueError, match="is not one e-mail address"):
        sender_domain(sender)


def test_a_first_e_mail_is_no_reply() -> None:
    mail = built(a_message())

    assert mail["In-Reply-To"] is None
    assert mail["References"] is None


def test_a_follow_up_replies_to_the_thread_so_mail_clients_group_them() -> None:
    root = "<outbox-12@productpilot.example>"
    second = "<outbox-15@productpilot.example>"

    reply_to_root = built(a_message(), thread=Delivery(external_id=root, thread_id=root))
    reply_to_second = built(a_message(), thread=Delivery(external_id=second, thread_id=root))

    assert (reply_to_root["In-Reply-To"], reply_to_root["References"]) == (root, root)
    assert reply_to_second["In-Reply-To"] == second
    assert reply_to_second["References"] == f"{root} {second}"


# --- the body ----------------------------------------------------------------------------


def test_the_body_is_alternative_plain_text_then_html() -> None:
    mail = built(a_message())

    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]


def test_the_plain_text_part_has_the_text_facts_and_link() -> None:
    text = part(built(a_message()), "text/plain")

    assert text.startswith("Critical · Checkout\nSignups dropped 40%\n\n")
    assert "Signups fell below the expected band." in text
    assert "metric    signups\nexpected  900 to 1,100" in text
    assert "View details: https://productpilot.example/reports/12" in text


def test_the_html_part_shows_facts_as_a_table_and_the_link_as_a_button() -> None:
    html = part(built(a_message()), "text/html")

    assert "<h1" in html
    assert ">Signups dropped 40%</h1>" in html
    assert ">metric</th><td" in html
    assert ">signups</td></tr>" in html
    assert '<a href="https://productpilot.example/reports/12"' in html
    assert ">View details</a>" in html


def test_finding_text_is_escaped_in_the_html() -> None:
    hostile = a_message(
        subject="<img src=x onerror=alert(1)>",
        text='<script>alert("x")</script> & more',
        facts=(("<b>label</b>", '"value"'),),
    )

    html = render_html(hostile)

    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;label&lt;/b&gt;" in html


def test_a_link_that_is_not_http_is_not_rendered() -> None:
    message = a_message(link="javascript:alert(1)")

    assert "javascript:" not in render_html(message)
    assert "javascript:" not in render_text(message)


def test_digest_items_are_a_list_in_both_parts() -> None:
    digest = a_message(
        kind="digest",
        subject="2 findings",
        severity="warning",
        items=(
            MessageItem(
                "Latency up",
                "warning",
                "productpilot.anomaly.detected",
                text="p95 at 900 ms",
                link="https://productpilot.example/f/1",
                occurred_at="2026-11-30",
            ),
            MessageItem("Backlog grew", "info", "productpilot.planning.backlog"),
        ),
    )
    mail = built(digest)

    html = part(mail, "text/html")
    assert html.count("<li") == 2
    assert '<a href="https://productpilot.example/f/1"' in html
    assert "productpilot.anomaly.detected · 2026-11-30" in html
    text = part(mail, "text/plain")
    assert "- [warning] Latency up (productpilot.anomaly.detected · 2026-11-30)\n" in text
    assert "  p95 at 900 ms\n  https://productpilot.example/f/1\n" in text
    assert "- [info] Backlog grew (productpilot.planning.backlog)\n" in text


def test_a_message_without_facts_items_or_link_renders_without_them() -> None:
    html = render_html(a_message(facts=(), link=None))

    assert "<table" not in html
    assert "<ul" not in html
    assert "View details" not in html
