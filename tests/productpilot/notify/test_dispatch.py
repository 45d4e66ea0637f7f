"""Delivering the outbox: claim, send, mark; failures kept; crashes never post twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from productpilot.db.models import Notification, Product
from productpilot.db.store import Store
from productpilot.notify import outbox
from productpilot.notify.dispatch import MAX_ATTEMPTS, deliver_due, escalate
from productpilot.notify.message import Message
from productpilot.notify.router import route
from productpilot.vendors import CredentialError, RateLimitedError, TransientVendorError
from tests.productpilot.notify.conftest import NOW, finding
from tests.productpilot.notify.fakes import (
    RecordingChannel,
    RecordingTracker,
    RecoverableRecordingChannel,
)

SLACK = {"channel": "slack", "recipients": ["#alerts"], "group_wait_minutes": 0}


def send_findings(store: Store, tenant_id: int, product: Product, *findings, now=NOW) -> None:
    with store.tenant_session(tenant_id) as session:
        route(session, session.get(Product, product.id), list(findings), now=now)


def rows(store: Store, tenant_id: int) -> list[Notification]:
    with store.tenant_session(tenant_id) as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def resolver(**targets):
    return lambda _product_id, channel: targets.get(channel)


def test_a_due_notification_is_sent_and_marked(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    slack = RecordingChannel()
    report = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW)
    assert report.sent == 1
    [(recipient, message, thread)] = slack.sent
    assert (recipient, message.subject, thread) == ("#alerts", "Signups below expected", None)
    [row] = rows(store, tenant_id)
    assert (row.status, row.external_id, row.sent_at, row.attempts) == (
        "sent",
        "#alerts:1",
        NOW,
        1,
    )
    assert deliver_due(store, tenant_id, resolver(slack=slack), now=NOW).sent == 0


def test_nothing_is_sent_before_it_is_due(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "group_wait_minutes": 10})
    send_findings(store, tenant_id, product, finding())
    slack = RecordingChannel()
    assert deliver_due(store, tenant_id, resolver(slack=slack), now=NOW).sent == 0
    later = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(minutes=10))
    assert later.sent == 1


def test_without_credentials_the_notification_is_held_in_the_outbox_until_retried(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    assert deliver_due(store, tenant_id, resolver(), now=NOW).held == 1
    [row] = rows(store, tenant_id)
    assert row.status == "held"
    assert "no slack credentials" in row.last_error
    slack = RecordingChannel()
    assert deliver_due(store, tenant_id, resolver(slack=slack), now=NOW).sent == 0
    with store.tenant_session(tenant_id) as session:
        assert outbox.retry_all(session, NOW) == 1
    assert deliver_due(store, tenant_id, resolver(slack=slack), now=NOW).sent == 1


def test_the_outbox_channel_needs_no_credentials(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "channel": "outbox"})
    send_findings(store, tenant_id, product, finding(severity="critical"))
    assert deliver_due(store, tenant_id, resolver(), now=NOW).sent == 1
    [row] = rows(store, tenant_id)
    assert row.external_id.startswith("outbox:")


def test_a_digest_is_sent_once_with_its_findings_and_marks_them(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "group_wait_minutes": 5})
    send_findings(
        store,
        tenant_id,
        product,
        finding("A", key="a"),
        finding("B", key="b"),
        finding("A", key="a"),
        finding("C", severity="info", key="c"),
    )
    slack = RecordingChannel()
    report = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(minutes=5))
    assert report.sent == 1
    [(_, message, _)] = slack.sent
    assert message.is_digest
    assert message.subject == "Web App: 3 updates"
    assert message.severity == "warning"
    assert [item.subject for item in message.items] == ["A (2 times)", "B", "C"]
    assert {r.status for r in rows(store, tenant_id)} == {"sent"}
    digest = next(r for r in rows(store, tenant_id) if r.kind == "digest")
    assert digest.body["items"][0]["subject"] == "A (2 times)"  # what was sent is kept


def test_a_refused_credential_fails_at_once_and_is_kept(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    slack = RecordingChannel(errors=[CredentialError("slack", "check the block 'slack'")])
    assert deliver_due(store, tenant_id, resolver(slack=slack), now=NOW).failed == 1
    [row] = rows(store, tenant_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "check the block 'slack'" in row.last_error
    later = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(hours=1))
    assert later.sent == 0


def test_a_rate_limit_is_retried_after_the_vendors_wait(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    slack = RecordingChannel(errors=[RateLimitedError("slack", "429", retry_after=120)])
    assert deliver_due(store, tenant_id, resolver(slack=slack), now=NOW).retrying == 1
    [row] = rows(store, tenant_id)
    assert (row.status, row.not_before) == ("pending", NOW + timedelta(seconds=120))
    early = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(seconds=60))
    assert early.sent == 0
    on_time = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(seconds=120))
    assert on_time.sent == 1


def test_an_outage_backs_off_and_finally_waits_for_a_person(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    slack = RecordingChannel(errors=[TransientVendorError("slack", "503")] * MAX_ATTEMPTS)
    moment, waits = NOW, []
    for _ in range(MAX_ATTEMPTS):
        deliver_due(store, tenant_id, resolver(slack=slack), now=moment)
        [row] = rows(store, tenant_id)
        if row.status == "failed":
            break
        waits.append((row.not_before - moment).total_seconds())
        moment = row.not_before
    assert row.status == "failed"
    assert row.attempts == MAX_ATTEMPTS
    assert waits == sorted(waits)  # exponential, growing
    assert waits[0] >= 48  # a minute, less at most 20% jitter


def test_a_crash_after_sending_is_recovered_without_posting_twice(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    slack = RecoverableRecordingChannel()
    # A dispatcher claimed it, the vendor posted it, and the process died before marking.
    with store.tenant_session(tenant_id) as session:
        [row] = outbox.due(session, NOW, 10)
        assert outbox.claim(session, row, NOW)
        slack.send(row.recipient, Message.from_dict(row.body))
    assert (
        deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(minutes=1)).sent
        == 0
    )
    report = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(minutes=6))
    assert report.recovered == 1
    assert len(slack.sent) == 1
    [row] = rows(store, tenant_id)
    assert (row.status, row.external_id) == ("sent", "#alerts:1")


def test_a_crash_after_claiming_but_before_sending_sends_it_once_after_the_lease(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    slack = RecoverableRecordingChannel()
    with store.tenant_session(tenant_id) as session:
        [row] = outbox.due(session, NOW, 10)
        assert outbox.claim(session, row, NOW)  # ...and the process died here
    report = deliver_due(store, tenant_id, resolver(slack=slack), now=NOW + timedelta(minutes=6))
    assert (report.sent, report.recovered) == (1, 0)
    assert len(slack.sent) == 1
    [row] = rows(store, tenant_id)
    assert (row.status, row.attempts) == ("sent", 2)


def test_two_dispatchers_never_both_claim_one_notification(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    send_findings(store, tenant_id, product, finding(severity="critical"))
    with store.tenant_session(tenant_id) as first, store.tenant_session(tenant_id) as second:
        [mine] = outbox.due(first, NOW, 10)
        [theirs] = outbox.due(second, NOW, 10)
        assert outbox.claim(first, mine, NOW)
        first.commit()
        assert not outbox.claim(second, theirs, NOW)


def test_a_recurring_problem_replies_in_the_first_alerts_thread(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "dedupe_minutes": 30})
    slack = RecordingChannel()
    send_findings(store, tenant_id, product, finding(severity="critical", key="p"))
    deliver_due(store, tenant_id, resolver(slack=slack), now=NOW)
    later = NOW + timedelta(minutes=45)
    send_findings(store, tenant_id, product, finding(severity="critical", key="p"), now=later)
    deliver_due(store, tenant_id, resolver(slack=slack), now=later)
    [(_, _, first_thread), (_, _, second_thread)] = slack.sent
    assert first_thread is None
    assert second_thread is not None
    assert second_thread.external_id == "#alerts:1"


def test_an_open_ticket_gets_a_comment_not_a_twin(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({"channel": "jira", "recipients": ["OPS"], "dedupe_minutes": 10})
    jira = RecordingTracker()
    for minutes in (0, 30):
        moment = NOW + timedelta(minutes=minutes)
        send_findings(store, tenant_id, product, finding(key="checkout"), now=moment)
        deliver_due(store, tenant_id, resolver(jira=jira), now=moment)
    assert list(jira.tickets) == ["OPS-1"]
    assert [key for key, _ in jira.comments] == ["OPS-1"]
    jira.tickets["OPS-1"]["open"] = False
    moment = NOW + timedelta(minutes=60)
    send_findings(store, tenant_id, product, finding(key="checkout"), now=moment)
    deliver_due(store, tenant_id, resolver(jira=jira), now=moment)
    assert list(jira.tickets) == ["OPS-1", "OPS-2"]
    assert [r.external_id for r in rows(store, tenant_id)] == ["OPS-1", "OPS-1", "OPS-2"]


def test_unacknowledged_critical_alerts_escalate_once(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    escalation = {"after_minutes": 15, "channel": "email", "recipients": ["oncall@acme.test"]}
    product = configure({**SLACK, "escalation": escalation})
    send_findings(store, tenant_id, product, finding(severity="critical"))
    deliver_due(store, tenant_id, resolver(slack=RecordingChannel()), now=NOW)

    def escalate_at(minutes: int) -> int:
        with store.tenant_session(tenant_id) as session:
            return escalate(
                session, session.get(Product, product.id), now=NOW + timedelta(minutes=minutes)
            )

    assert escalate_at(10) == 0
    assert escalate_at(16) == 1
    assert escalate_at(30) == 0
    escalated = rows(store, tenant_id)[-1]
    assert (escalated.channel, escalated.recipient, escalated.status) == (
        "email",
        "oncall@acme.test",
        "pending",
    )
    assert escalated.subject.startswith("Unacknowledged for 15 min: ")


def test_an_acknowledged_alert_does_not_escalate(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    escalation = {"after_minutes": 15, "channel": "email", "recipients": ["oncall@acme.test"]}
    product = configure({**SLACK, "escalation": escalation})
    send_findings(store, tenant_id, product, finding(severity="critical"))
    deliver_due(store, tenant_id, resolver(slack=RecordingChannel()), now=NOW)
    with store.tenant_session(tenant_id) as session:
        assert outbox.acknowledge_delivery(session, "slack", "#alerts:1", NOW) == 1
    with store.tenant_session(tenant_id) as session:
        assert (
            escalate(session, session.get(Product, product.id), now=NOW + timedelta(hours=1)) == 0
        )


def test_a_dispatcher_for_some_channels_leaves_the_others_due(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK, {**SLACK, "channel": "email", "recipients": ["pm@example.com"]})
    send_findings(store, tenant_id, product, finding(severity="critical"))
    slack, email = RecordingChannel(), RecordingChannel()
    targets = resolver(slack=slack, email=email)
    with store.tenant_session(tenant_id) as session:
        assert outbox.due_channels(session, NOW) == {"slack", "email"}
    assert deliver_due(store, tenant_id, targets, now=NOW, channels=["email"]).sent == 1
    assert (len(slack.sent), len(email.sent)) == (0, 1)
    with store.tenant_session(tenant_id) as session:
        assert outbox.due_channels(session, NOW) == {"slack"}
    assert deliver_due(store, tenant_id, targets, now=NOW).sent == 1
    assert len(slack.sent) == 1
