"""``productpilot outbox``: what was sent, would have been sent, or is waiting for a person."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from productpilot.cli import app
from productpilot.db.models import Product
from productpilot.notify.dispatch import deliver_due
from productpilot.notify.message import Finding
from productpilot.notify.router import route
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant

runner = CliRunner()
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ROUTES = [
    {"channel": "outbox", "recipients": ["#product"], "group_wait_minutes": 0},
    {"channel": "slack", "recipients": ["#alerts"], "severities": ["critical"]},
]


def run(*args: str) -> tuple[int, str, str]:
    # Wide enough that rich does not wrap the table's cells.
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def routed(home: Path) -> int:
    """A product whose critical finding went to the outbox and is held for Slack."""
    store = open_store()
    tenant, _ = create_tenant(store, "Acme Inc")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Web App", configuration={"notification_routes": ROUTES})
        finding = Finding(
            kind="productpilot.anomaly.detected",
            severity="critical",
            product_id=product.id,
            subject="Signups fell to 30",
            text="Signups are below their band.",
            facts=(("metric", "signups"),),
        )
        route(session, session.get(Product, product.id), [finding], now=NOW)
    deliver_due(store, tenant.id, lambda _p, _c: None, now=NOW)
    return tenant.id


def test_list_shows_each_notification_with_its_status(routed: int) -> None:
    code, out, _ = run("outbox", "list")
    assert code == 0
    assert "#product" in out
    assert "sent" in out
    assert "held" in out
    assert "Signups fell to 30" in out


def test_show_prints_the_message_and_why_it_was_not_sent(routed: int) -> None:
    code, out, _ = run("outbox", "list", "--status", "held")
    assert "#alerts" in out
    assert "#product" not in out
    code, out, _ = run("outbox", "show", "2")
    assert code == 0
    assert "Signups are below their band." in out
    assert "metric: signups" in out
    assert "no slack credentials" in out


def test_retry_queues_a_held_notification_again(routed: int) -> None:
    code, out, _ = run("outbox", "retry", "2")
    assert code == 0
    assert "Queued 1" in out
    code, _, err = run("outbox", "retry", "1")
    assert code == 1
    assert "only held or failed ones are retried" in err


def test_ack_marks_a_notification_seen(routed: int) -> None:
    code, out, _ = run("outbox", "ack", "1")
    assert (code, out.strip()) == (0, "Acknowledged notification 1.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["outbox", "list", "--status", "lost"], "unknown status 'lost'"),
        (["outbox", "show", "99"], "no notification 99"),
        (["outbox", "retry"], "name the notifications to retry, or pass --all"),
        (["outbox", "list", "--tenant", "nobody"], "nobody"),
    ],
)
def test_mistakes_are_one_line_errors(routed: int, args: list[str], message: str) -> None:
    code, _out, err = run(*args)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
