"""A product's configured Blocks become real channels and trackers, and the loop closes:
an anomaly becomes one Jira issue, one Slack alert and a digest e-mail; when it recurs, the
issue gets a comment and the alert a reply in its thread, never twins.

Real clients (slack-sdk, jira, smtplib) against the fakes in tests/fakes and the vendors'
own test folders, which check every request against the vendor's API description.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect_slack import SlackCredentials
from sqlalchemy import select

from integrations.channels import ConfiguredTargets
from integrations.email.channel import EmailChannel
from integrations.jira.tracker import JiraTracker
from integrations.slack.channel import SlackChannel
from productpilot.db.models import Notification, Product
from productpilot.db.store import Store
from productpilot.notify.dispatch import deliver_due
from productpilot.notify.message import Finding
from productpilot.notify.router import route
from productpilot.products import update_configuration
from productpilot.vendors import CredentialError
from tests.fakes.smtp import SmtpServer, running_smtp
from tests.integrations.jira.fake import FakeJira
from tests.integrations.slack.fake import CHANNELS, TOKEN, FakeSlack, running_fake_slack

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ALERTS = CHANNELS["product-alerts"]
ROUTES = [
    {
        "severities": ["critical"],
        "channel": "slack",
        "recipients": ["#product-alerts"],
        "dedupe_minutes": 30,
    },
    {
        "kinds": ["productpilot.anomaly.*"],
        "channel": "jira",
        "recipients": ["OPS"],
        "dedupe_minutes": 30,
    },
    {"channel": "email", "recipients": ["pm@acme.test"], "group_wait_minutes": 5},
]
BLOCKS = {"slack": "acme-slack", "jira": "acme-jira", "email": "acme-mail"}


def anomaly(now: datetime) -> Finding:
    return Finding(
        kind="productpilot.anomaly.detected",
        severity="critical",
        product_id=0,
        subject="signups was 30 on 2026-11-30, expected 80 to 120",
        text="signups is below its expected band.",
        dedupe_key="anomaly:signups:2026-11-30",
        facts=(("metric", "signups"), ("value", "30")),
        occurred_at=now,
        ticket=True,
    )


def configure(store: Store, tenant_id: int, product: Product, integrations: dict[str, Any]) -> None:
    with store.tenant_session(tenant_id) as session:
        update_configuration(
            session,
            session.get(Product, product.id),
            {"notification_routes": ROUTES, "integrations": integrations},
            actor="test",
        )


@pytest.fixture
def vendors() -> Iterator[tuple[FakeSlack, FakeJira, SmtpServer]]:
    with running_fake_slack() as slack, FakeJira(("OPS",)) as jira, running_smtp() as smtp:
        yield slack, jira, smtp


def loader_for(slack: FakeSlack, jira: FakeJira, smtp: SmtpServer) -> Any:
    blocks = {
        "acme-slack": SlackCredentials(token=TOKEN),
        "acme-jira": jira.credentials(),
        "acme-mail": smtp.credentials(),
    }

    def load(block_type: type, name: str) -> Any:
        block = blocks[name]
        assert isinstance(block, block_type)
        return block

    return load


def test_configured_blocks_become_the_vendors_channels_and_trackers(
    store: Store, tenant_id: int, product: Product, vendors: tuple[FakeSlack, FakeJira, SmtpServer]
) -> None:
    slack, jira, smtp = vendors
    configure(
        store,
        tenant_id,
        product,
        {
            "blocks": BLOCKS,
            "email_sender": "alerts@acme.test",
            "api_urls": {"slack": slack.base_url},
        },
    )
    loads: list[str] = []
    load = loader_for(slack, jira, smtp)
    targets = ConfiguredTargets(store, lambda t, n: (loads.append(n), load(t, n))[1])
    assert isinstance(targets(product.id, "slack"), SlackChannel)
    assert isinstance(targets(product.id, "jira"), JiraTracker)
    assert isinstance(targets(product.id, "email"), EmailChannel)
    assert targets(product.id, "teams") is None  # none configured: the outbox holds it
    targets(product.id, "slack")
    assert loads == ["acme-slack", "acme-jira", "acme-mail"]  # each Block loaded once


def test_without_blocks_nothing_is_built_and_notifications_are_held(
    store: Store, tenant_id: int, product: Product
) -> None:
    configure(store, tenant_id, product, {})
    targets = ConfiguredTargets(store, lambda *_: pytest.fail("nothing should be loaded"))
    assert [targets(product.id, c) for c in ("slack", "jira", "email", "github")] == [None] * 4


def test_a_block_that_cannot_be_loaded_fails_the_notification_naming_it(
    store: Store, tenant_id: int, product: Product
) -> None:
    configure(store, tenant_id, product, {"blocks": {"slack": "acme-slack"}})

    def load(block_type: type, name: str) -> Any:
        raise CredentialError("slack", f"cannot load the block {name!r}: not found")

    with store.tenant_session(tenant_id) as session:
        route(session, session.get(Product, product.id), [anomaly(NOW)], now=NOW)
    deliver_due(store, tenant_id, ConfiguredTargets(store, load), now=NOW)
    with store.tenant_session(tenant_id) as session:
        alert = session.scalar(select(Notification).where(Notification.channel == "slack"))
    assert alert.status == "failed"
    assert "cannot load the block 'acme-slack'" in alert.last_error


def test_the_loop_closes_once_per_problem_across_slack_jira_and_email(
    store: Store, tenant_id: int, product: Product, vendors: tuple[FakeSlack, FakeJira, SmtpServer]
) -> None:
    slack, jira, smtp = vendors
    configure(
        store,
        tenant_id,
        product,
        {
            "blocks": BLOCKS,
            "email_sender": "alerts@acme.test",
            "api_urls": {"slack": slack.base_url},
        },
    )
    load = loader_for(slack, jira, smtp)

    def happen(at: datetime, *findings: Finding) -> None:
        with store.tenant_session(tenant_id) as session:
            route(session, session.get(Product, product.id), list(findings), now=at)

    def deliver(at: datetime) -> None:
        deliver_due(store, tenant_id, ConfiguredTargets(store, load), now=at)

    gate = Finding(
        kind="productpilot.gate.failed",
        severity="warning",
        product_id=product.id,
        subject="Quality gate failed on PR #42",
        dedupe_key="gate:pr:42",
    )
    happen(NOW, anomaly(NOW), gate)
    deliver(NOW)
    [alert] = slack.messages(ALERTS)
    assert "signups was 30" in alert.text
    [issue] = jira.issues.values()
    assert (issue.project, issue.summary) == (
        "OPS",
        "signups was 30 on 2026-11-30, expected 80 to 120",
    )
    [urgent] = smtp.handler.received  # critical: by e-mail at once too, never in a digest
    assert urgent.message["Subject"].startswith("[critical]")

    deliver(NOW + timedelta(minutes=5))  # the warning waited for the group to fill
    [_, digest] = smtp.handler.received
    assert digest.rcpt_tos == ["pm@acme.test"]
    assert "Quality gate failed on PR #42" in digest.message.get_body(("plain",)).get_content()

    later = NOW + timedelta(minutes=45)  # past the dedupe window: the problem is back
    happen(later, anomaly(later))
    deliver(later)
    [alert] = slack.messages(ALERTS)  # no second top-level alert...
    assert len(alert.replies) == 1  # ...a reply in its thread
    [issue] = jira.issues.values()  # no twin issue...
    assert len(issue.comments) == 1  # ...a comment on the open one
    with store.tenant_session(tenant_id) as session:
        statuses = {row.status for row in session.scalars(select(Notification))}
    assert statuses == {"sent"}
