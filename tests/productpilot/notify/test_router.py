"""Routing findings into the outbox: dedupe, digests, quiet hours, hourly limits, tickets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from productpilot.db.models import Notification, Product
from productpilot.db.store import Store
from productpilot.notify.message import Finding
from productpilot.notify.router import RoutingReport, route
from productpilot.products import create_product
from tests.productpilot.notify.conftest import NOW, finding

SLACK = {"channel": "slack", "recipients": ["#alerts"]}


def route_all(
    store: Store, tenant_id: int, product: Product, findings: list[Finding], now: datetime = NOW
) -> RoutingReport:
    with store.tenant_session(tenant_id) as session:
        return route(session, session.get(Product, product.id), findings, now=now)


def rows(store: Store, tenant_id: int) -> list[Notification]:
    with store.tenant_session(tenant_id) as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_a_finding_no_route_matches_is_counted_not_recorded(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "kinds": ["productpilot.gate.*"]})
    report = route_all(store, tenant_id, product, [finding()])
    assert (report.findings, report.unrouted) == (1, 1)
    assert rows(store, tenant_id) == []


def test_a_critical_finding_is_due_at_once_for_every_recipient(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({"channel": "slack", "recipients": ["#alerts", "#oncall"]})
    report = route_all(store, tenant_id, product, [finding(severity="critical")])
    assert report.recorded == 2
    recorded = rows(store, tenant_id)
    assert {(r.recipient, r.status, r.not_before) for r in recorded} == {
        ("#alerts", "pending", NOW),
        ("#oncall", "pending", NOW),
    }
    assert recorded[0].body["subject"] == "Signups below expected"
    assert recorded[0].body["product"] == "Web App"


def test_the_same_problem_within_the_window_is_one_notification(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "dedupe_minutes": 30})
    first = finding(severity="critical", key="signups")
    route_all(store, tenant_id, product, [first, first])
    report = route_all(store, tenant_id, product, [first], NOW + timedelta(minutes=20))
    assert report.suppressed == 1
    [row] = rows(store, tenant_id)
    assert row.suppressed == 2
    later = route_all(store, tenant_id, product, [first], NOW + timedelta(minutes=31))
    assert later.recorded == 1


def test_routing_the_same_findings_again_records_nothing_twice(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    # A retried flow routes its findings again: the idempotency key keeps one row.
    product = configure({**SLACK, "dedupe_minutes": 0})
    one = finding(severity="critical", occurred=NOW - timedelta(hours=1))
    route_all(store, tenant_id, product, [one])
    route_all(store, tenant_id, product, [one], NOW + timedelta(seconds=5))
    assert len(rows(store, tenant_id)) == 1


def test_non_critical_findings_wait_together_in_one_digest(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "group_wait_minutes": 10})
    findings = [finding(f"Finding {i}", key=str(i)) for i in range(5)]
    report = route_all(store, tenant_id, product, findings)
    assert (report.grouped, report.digests) == (5, 1)
    recorded = rows(store, tenant_id)
    [digest] = [r for r in recorded if r.kind == "digest"]
    assert (digest.status, digest.not_before) == ("grouping", NOW + timedelta(minutes=10))
    assert {r.digest_id for r in recorded if r.kind != "digest"} == {digest.id}
    # A finding a minute later joins the same digest.
    route_all(store, tenant_id, product, [finding("Late", key="late")], NOW + timedelta(minutes=1))
    assert sum(1 for r in rows(store, tenant_id) if r.digest_id == digest.id) == 6


def test_the_next_digest_waits_for_the_group_interval(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "group_wait_minutes": 5, "group_interval_minutes": 60})
    route_all(store, tenant_id, product, [finding(key="a")])
    with store.tenant_session(tenant_id) as session:
        digest = session.scalar(select(Notification).where(Notification.kind == "digest"))
        digest.status, digest.sent_at = "sent", NOW + timedelta(minutes=5)
    route_all(store, tenant_id, product, [finding(key="b")], NOW + timedelta(minutes=6))
    newest = [r for r in rows(store, tenant_id) if r.kind == "digest"][-1]
    assert newest.not_before == NOW + timedelta(minutes=65)


@pytest.mark.parametrize(
    ("severity", "critical_too", "expected_hour_utc"),
    [("warning", False, 6), ("critical", False, 12 + 10), ("critical", True, 6)],
)
def test_quiet_hours_defer_but_critical_alerts_go_out_unless_told(
    store: Store,
    tenant_id: int,
    configure: Callable[..., Product],
    severity: str,
    critical_too: bool,
    expected_hour_utc: int,
) -> None:
    quiet = {
        "start": "22:00",
        "end": "07:00",
        "timezone": "Europe/Berlin",
        "critical_too": critical_too,
    }
    product = configure({**SLACK, "group_wait_minutes": 0, "quiet_hours": quiet})
    night = NOW + timedelta(hours=10)  # 22:00 UTC = 23:00 in Berlin
    route_all(store, tenant_id, product, [finding(severity=severity)], night)
    [row] = rows(store, tenant_id)
    assert row.status == "pending"
    expected = (
        (NOW.replace(hour=0) + timedelta(days=1, hours=6)) if expected_hour_utc == 6 else night
    )
    assert row.not_before == expected


def test_over_the_hourly_limit_warnings_join_a_digest(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "group_wait_minutes": 0, "max_per_hour": 2, "dedupe_minutes": 0})
    warnings = [finding(f"w{i}", key=f"w{i}") for i in range(4)]
    report = route_all(store, tenant_id, product, warnings)
    assert (report.recorded, report.grouped, report.digests) == (2, 2, 1)
    digest = next(r for r in rows(store, tenant_id) if r.kind == "digest")
    # The two sends at NOW fill the hour: the digest is the third, an hour later.
    assert digest.not_before == NOW + timedelta(hours=1)


def test_over_the_hourly_limit_critical_alerts_ride_together_at_once(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "max_per_hour": 2, "dedupe_minutes": 0})
    alerts = [finding(f"c{i}", severity="critical", key=f"c{i}") for i in range(5)]
    report = route_all(store, tenant_id, product, alerts)
    assert (report.recorded, report.grouped, report.digests) == (2, 3, 1)
    digest = next(r for r in rows(store, tenant_id) if r.kind == "digest")
    assert digest.not_before == NOW  # not held back
    # A minute later, still over the limit: the next critical alert joins the same digest.
    later = NOW + timedelta(minutes=1)
    route_all(store, tenant_id, product, [finding("c5", severity="critical", key="c5")], later)
    assert sum(1 for r in rows(store, tenant_id) if r.digest_id == digest.id) == 4


def test_a_critical_overflow_pulls_a_waiting_digest_forward(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({**SLACK, "group_wait_minutes": 10, "max_per_hour": 1})
    route_all(store, tenant_id, product, [finding("w", key="w")])
    route_all(store, tenant_id, product, [finding("c", severity="critical", key="c")])
    [digest] = [r for r in rows(store, tenant_id) if r.kind == "digest"]
    assert digest.not_before == NOW
    assert {r.subject for r in rows(store, tenant_id) if r.digest_id == digest.id} == {"w", "c"}


def test_ticket_routes_record_one_ticket_request_per_problem(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure({"channel": "jira", "recipients": ["OPS"], "dedupe_minutes": 60})
    route_all(store, tenant_id, product, [finding(key="k"), finding(key="k")])
    [row] = rows(store, tenant_id)
    assert (row.channel, row.recipient, row.status, row.suppressed) == ("jira", "OPS", "pending", 1)


def test_routes_apply_per_recipient_and_channel(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    product = configure(
        {"channel": "slack", "recipients": ["#alerts"], "severities": ["critical"]},
        {"channel": "email", "recipients": ["pm@acme.test"], "group_wait_minutes": 0},
    )
    route_all(store, tenant_id, product, [finding(severity="critical"), finding("minor", key="m")])
    assert sorted((r.channel, r.subject) for r in rows(store, tenant_id)) == [
        ("email", "Signups below expected"),
        ("email", "minor"),
        ("slack", "Signups below expected"),
    ]


def test_the_same_problem_in_two_products_is_two_notifications(
    store: Store, tenant_id: int, configure: Callable[..., Product]
) -> None:
    first = configure({**SLACK, "dedupe_minutes": 60})
    with store.tenant_session(tenant_id) as session:
        second = create_product(
            session, "Mobile App", configuration={"notification_routes": [{**SLACK}]}
        )
    same = finding(severity="critical", key="anomaly:dau:2026-11-30")
    route_all(store, tenant_id, first, [same])
    report = route_all(store, tenant_id, second, [same])
    assert (report.recorded, report.suppressed) == (1, 0)
    assert {r.dedupe_key for r in rows(store, tenant_id)} == {
        f"{first.id}:anomaly:dau:2026-11-30",
        f"{second.id}:anomaly:dau:2026-11-30",
    }
