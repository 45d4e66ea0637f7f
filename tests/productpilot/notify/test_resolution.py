"""Follow-ups that close a problem, and issue moves through the outbox.

A resolution (``Finding.resolves``) is never folded into the alert it resolves: it goes at once
into the alert's thread, comments on the open ticket, reaches only those who were told, and
makes the next failure a new alert again. A workflow transition is an outbox row the
dispatcher makes through the tracker, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy import select

from productpilot.db.models import Notification, Product
from productpilot.db.store import Store
from productpilot.notify.dispatch import deliver_due
from productpilot.notify.router import route
from productpilot.quality.transitions import (
    DevelopmentEvent,
    IssueKeyPatterns,
    WorkflowRule,
    plan_transitions,
)
from productpilot.quality.workflow import record_transitions
from tests.productpilot.notify.conftest import NOW, finding
from tests.productpilot.notify.fakes import RecordingChannel, RecordingTracker

SLACK = {"channel": "slack", "recipients": ["#alerts"], "group_wait_minutes": 0}
JIRA = {"channel": "jira", "recipients": ["OPS"]}


@dataclass
class MovingTracker(RecordingTracker):
    moves: list[tuple[str, str]] = field(default_factory=list)

    def transition(self, key: str, status: str) -> None:
        self.moves.append((key, status))


def resolver(**targets):
    return lambda _product_id, channel: targets.get(channel)


def happen(store: Store, tenant_id: int, product: Product, *findings, now=NOW) -> None:
    with store.tenant_session(tenant_id) as session:
        route(session, session.get(Product, product.id), list(findings), now=now)


def test_a_resolution_goes_into_the_alerts_thread_and_onto_its_ticket(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK, JIRA)
    slack, jira = RecordingChannel(), RecordingTracker()
    failed = finding("Gate failed on PR #2", key="gate:pr:2", product_id=product.id)
    happen(store, tenant_id, product, failed)
    deliver_due(store, tenant_id, resolver(slack=slack, jira=jira), now=NOW)

    later = NOW + timedelta(minutes=5)  # inside the 60-minute dedupe window
    passed = replace(failed, subject="Gate passes again on PR #2", severity="info", resolves=True)
    happen(store, tenant_id, product, passed, now=later)
    deliver_due(store, tenant_id, resolver(slack=slack, jira=jira), now=later)

    [_alert, (_, follow_up, thread)] = slack.sent
    assert follow_up.subject == "Gate passes again on PR #2"
    assert thread is not None
    assert thread.external_id == "#alerts:1"  # replied to the alert, not posted anew
    [(ticket, comment)] = jira.comments
    assert (ticket, comment.subject) == ("OPS-1", "Gate passes again on PR #2")
    assert len(jira.tickets) == 1


def test_a_resolution_reaches_only_those_who_were_told_and_only_once(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    passed = finding("Gate passes again", key="gate:pr:3", product_id=product.id)
    passed = replace(passed, resolves=True)
    happen(store, tenant_id, product, passed)  # nobody heard of a problem
    with store.tenant_session(tenant_id) as session:
        assert session.scalars(select(Notification)).all() == []

    failed = replace(passed, subject="Gate failed", resolves=False)
    happen(store, tenant_id, product, failed)
    happen(store, tenant_id, product, passed, now=NOW + timedelta(minutes=1))
    happen(store, tenant_id, product, passed, now=NOW + timedelta(minutes=2))  # said already
    with store.tenant_session(tenant_id) as session:
        subjects = [n.subject for n in session.scalars(select(Notification))]
    assert subjects == ["Gate failed", "Gate passes again"]


def test_after_a_resolution_the_next_failure_is_told_again(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(SLACK)
    failed = finding("Gate failed", key="gate:pr:4", product_id=product.id)
    passed = replace(failed, subject="Gate passes again", resolves=True)
    happen(store, tenant_id, product, failed)
    happen(store, tenant_id, product, passed, now=NOW + timedelta(minutes=1))
    happen(store, tenant_id, product, failed, now=NOW + timedelta(minutes=2))
    with store.tenant_session(tenant_id) as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
    assert [(r.subject, r.suppressed) for r in rows] == [
        ("Gate failed", 0),
        ("Gate passes again", 0),
        ("Gate failed", 0),
    ]


def test_a_transition_is_recorded_once_and_made_through_the_tracker(
    store: Store, tenant_id: int, product: Product
) -> None:
    rules = [WorkflowRule(event="pr_merged", targets={"jira": "Done", "github": "closed"})]
    event = DevelopmentEvent(
        "pr_merged", "github:acme/app:pull/7:pr_merged:abc", texts=("PAY-12: refunds (#3)",)
    )
    patterns = IssueKeyPatterns(jira_projects=("PAY",), github_repository="acme/app")
    transitions = plan_transitions(event, rules, patterns)
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        first = record_transitions(session, owned, transitions, now=NOW)
        again = record_transitions(session, owned, transitions, now=NOW)  # a redelivery
    assert (first.recorded, first.skipped) == (1, ["github:acme/app#3"])
    assert (again.recorded, again.duplicates) == (0, 1)

    jira = MovingTracker()
    assert deliver_due(store, tenant_id, resolver(jira=jira), now=NOW).sent == 1
    assert jira.moves == [("PAY-12", "Done")]
    assert jira.tickets == {}  # a move opens no ticket


def test_a_tracker_that_cannot_move_issues_fails_the_transition_saying_so(
    store: Store, tenant_id: int, product: Product
) -> None:
    rules = [WorkflowRule(event="pr_opened", targets={"jira": "In Review"})]
    event = DevelopmentEvent("pr_opened", "github:a/b:pull/1:pr_opened:t", texts=("PAY-1",))
    transitions = plan_transitions(event, rules, IssueKeyPatterns(jira_projects=("PAY",)))
    with store.tenant_session(tenant_id) as session:
        record_transitions(session, session.get(Product, product.id), transitions, now=NOW)
    assert deliver_due(store, tenant_id, resolver(jira=RecordingTracker()), now=NOW).failed == 1
    with store.tenant_session(tenant_id) as session:
        [row] = session.scalars(select(Notification))
    assert row.last_error.endswith("the jira tracker cannot move issues")
