"""GET /api/v1/products/{id}/metrics: series from rollups and stored metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from productpilot.db.models import EventCountDaily, MetricValue, UserActivityDaily
from productpilot.db.store import Store
from tests.productpilot.api.conftest import Caller

START = date(2026, 8, 3)  # a Monday


@pytest.fixture
def rollups(store: Store, acme: Caller) -> None:
    """Two weeks: 'signup' 10/day; user u1 active every day, u2 on the first Monday only."""
    with store.tenant_session(acme.tenant_id) as session:
        for offset in range(14):
            day = START + timedelta(days=offset)
            session.add(
                EventCountDaily(product_id=acme.product_id, day=day, event="signup", count=10)
            )
            session.add(
                EventCountDaily(product_id=acme.product_id, day=day, event="login", count=1)
            )
            session.add(
                UserActivityDaily(
                    product_id=acme.product_id, day=day, distinct_id="u1", event_count=3
                )
            )
        session.add(
            UserActivityDaily(
                product_id=acme.product_id, day=START, distinct_id="u2", event_count=1
            )
        )
        session.add(
            MetricValue(
                product_id=acme.product_id, metric="activation_rate", granularity="week",
                period_start=datetime(2026, 8, 3, tzinfo=UTC), value=0.42,
            )
        )  # fmt: skip


def metrics(client: TestClient, caller: Caller, **params: object):
    return client.get(
        f"/api/v1/products/{caller.product_id}/metrics", params=params, headers=caller.headers
    )


def values(response, metric: str) -> list[tuple[str, float]]:
    [series] = [s for s in response.json()["series"] if s["metric"] == metric]
    return [(p["period"], p["value"]) for p in series["points"]]


def test_daily_counts_are_zero_filled_outside_the_data(
    client: TestClient, acme: Caller, rollups: None
) -> None:
    response = metrics(
        client, acme, **{"from": "2026-08-15", "to": "2026-08-18"}, metric="events:signup"
    )
    assert response.status_code == 200
    assert values(response, "events:signup") == [
        ("2026-08-15", 10.0), ("2026-08-16", 10.0), ("2026-08-17", 0.0), ("2026-08-18", 0.0),
    ]  # fmt: skip


def test_weekly_buckets_start_on_monday_and_count_distinct_users(
    client: TestClient, acme: Caller, rollups: None
) -> None:
    response = metrics(
        client, acme, **{"from": "2026-08-05", "to": "2026-08-16"},
        metric=["events", "active_users"], granularity="week",
    )  # fmt: skip
    assert values(response, "events") == [("2026-08-03", 55.0), ("2026-08-10", 77.0)]
    assert values(response, "active_users") == [("2026-08-03", 1.0), ("2026-08-10", 1.0)]
    monday = metrics(client, acme, **{"from": "2026-08-03", "to": "2026-08-09"},
                     metric="active_users", granularity="week")  # fmt: skip
    assert values(monday, "active_users") == [("2026-08-03", 2.0)]


def test_monthly_buckets_start_on_the_first(
    client: TestClient, acme: Caller, rollups: None
) -> None:
    response = metrics(
        client, acme, **{"from": "2026-07-20", "to": "2026-09-02"}, metric="events:login",
        granularity="month",
    )  # fmt: skip
    assert values(response, "events:login") == [
        ("2026-07-01", 0.0), ("2026-08-01", 14.0), ("2026-09-01", 0.0),
    ]  # fmt: skip


def test_stored_metrics_come_back_at_their_granularity_only(
    client: TestClient, acme: Caller, rollups: None
) -> None:
    weekly = metrics(client, acme, **{"from": "2026-08-01", "to": "2026-08-31"},
                     metric="activation_rate", granularity="week")  # fmt: skip
    assert values(weekly, "activation_rate") == [("2026-08-03", 0.42)]
    daily = metrics(client, acme, **{"from": "2026-08-01", "to": "2026-08-31"},
                    metric="activation_rate")  # fmt: skip
    assert values(daily, "activation_rate") == []


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-08-10", "to": "2026-08-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "yesterday", "to": "2026-08-01"},
        {"from": "2026-08-01", "to": "2026-08-02", "granularity": "hour"},
        {"from": "2026-08-01", "to": "2026-08-02", "metric": "bad name!"},
        {"to": "2026-08-02"},
    ],
)
def test_bad_queries_are_422_problems(client: TestClient, acme: Caller, params: dict) -> None:
    response = metrics(client, acme, **params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_another_tenants_metrics_are_404(
    client: TestClient, acme: Caller, globex: Caller, rollups: None
) -> None:
    response = client.get(
        f"/api/v1/products/{acme.product_id}/metrics",
        params={"from": "2026-08-03", "to": "2026-08-04"},
        headers=globex.headers,
    )
    assert response.status_code == 404


def test_dates_outside_the_stores_years_are_422(client: TestClient, acme: Caller) -> None:
    response = metrics(client, acme, **{"from": "0001-01-01", "to": "0002-01-01"})
    assert response.status_code == 422
    assert "between 2000-01-01" in response.json()["detail"]
