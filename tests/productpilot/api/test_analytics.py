"""GET /api/v1/products/{id}/analytics: insights over the product's own data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from productpilot.analytics.lifecycle import lifecycle
from productpilot.analytics.retention import retention
from productpilot.analytics.rollup import fold_events
from productpilot.analytics.stickiness import stickiness
from productpilot.db.models import UserActivityDaily
from productpilot.db.store import Store
from productpilot.ingest.importer import import_events
from productpilot.products import get_product
from productpilot.synthetic import SyntheticConfig, generate
from tests.productpilot.api.conftest import Caller

START, DAYS = date(2026, 6, 1), 70
RANGE = {"from": "2026-07-06", "to": "2026-08-09"}  # Monday to Sunday, five weeks


@pytest.fixture
def loaded(store: Store, acme: Caller, tmp_path: Path) -> Caller:
    """Ten weeks of synthetic usage, imported and rolled up."""
    config = SyntheticConfig(seed=4, users=400, days=DAYS, start=START, anomalies=0)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate(config).events()))
    with store.tenant_session(acme.tenant_id) as session:
        product = get_product(session, acme.product_id)
    assert import_events(store, product, path, now=datetime(2026, 9, 1, tzinfo=UTC)).rejected == 0
    fold_events(store, acme.tenant_id, acme.product_id, now=datetime(2030, 1, 1, tzinfo=UTC))
    return acme


def insight(client: TestClient, caller: Caller, name: str, **params: object):
    return client.get(
        f"/api/v1/products/{caller.product_id}/analytics",
        params={"insight": name, **RANGE, **params},
        headers=caller.headers,
    )


def full_history(store: Store, caller: Caller) -> pd.DataFrame:
    with store.tenant_session(caller.tenant_id) as session:
        rows = session.execute(select(UserActivityDaily.day, UserActivityDaily.distinct_id)).all()
    return pd.DataFrame(rows, columns=["day", "distinct_id"])


def test_the_signup_funnel_is_non_increasing_and_converts(
    client: TestClient, loaded: Caller
) -> None:
    response = insight(client, loaded, "funnel", steps=["signup", "activate", "convert"])
    assert response.status_code == 200
    steps = response.json()["result"]["steps"]
    users = [step["users"] for step in steps]
    assert users[0] >= users[1] >= users[2] > 0
    assert response.json()["from"] == RANGE["from"]


@pytest.mark.parametrize(
    ("name", "params", "compute"),
    [
        ("retention", {"period": "week", "horizon": 4},
         lambda a, s, e: retention(a, start=s, end=e, period="week", horizon=4).to_dict()),
        ("stickiness", {}, lambda a, s, e: stickiness(a, start=s, end=e).to_dict()),
        ("lifecycle", {"period": "month"},
         lambda a, s, e: {"period": "month", "periods": [
             p.to_dict() for p in lifecycle(a, start=s, end=e, period="month")]}),
    ],
)  # fmt: skip
def test_bounded_loading_answers_as_the_full_history_would(
    client: TestClient, store: Store, loaded: Caller, name: str, params: dict, compute
) -> None:
    response = insight(client, loaded, name, **params)
    assert response.status_code == 200
    expected = compute(
        full_history(store, loaded),
        date.fromisoformat(RANGE["from"]),
        date.fromisoformat(RANGE["to"]),
    )
    assert response.json()["result"] == orjson.loads(orjson.dumps(expected))


def test_growing_usage_shows_as_an_increasing_trend(client: TestClient, loaded: Caller) -> None:
    # Everyone in the generator signs up during the period, so the active base grows.
    response = insight(client, loaded, "trends", metric="active_users", **{"from": "2026-06-01"})
    result = response.json()["result"]
    assert result["n"] == 70
    assert result["direction"] == "increasing"
    assert result["slope_per_day"] > 0


@pytest.mark.parametrize(
    "params",
    [
        {"insight": "funnel", "steps": ["signup"]},
        {"insight": "funnel", "steps": ["a", "b"], "from": "2026-01-01", "to": "2026-06-01"},
        {"insight": "retention", "period": "month"},
        {"insight": "lifecycle", "from": "2026-08-09", "to": "2026-07-06"},
        {"insight": "vibes"},
        {"insight": "trends", "metric": "no spaces allowed"},
        {"insight": "funnel", "steps": ["a", "b"], "window_days": 0},
    ],
)
def test_bad_questions_are_422(client: TestClient, acme: Caller, params: dict) -> None:
    response = client.get(
        f"/api/v1/products/{acme.product_id}/analytics",
        params={**RANGE, **params},
        headers=acme.headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_an_empty_product_gets_empty_insights_not_errors(client: TestClient, acme: Caller) -> None:
    for name in ("trends", "retention", "stickiness", "lifecycle"):
        assert insight(client, acme, name).status_code == 200, name
    assert insight(client, acme, "funnel", steps=["a", "b"]).status_code == 200


def test_ancient_ranges_are_422_not_an_overflow(client: TestClient, acme: Caller) -> None:
    response = client.get(
        f"/api/v1/products/{acme.product_id}/analytics",
        params={"insight": "lifecycle", "from": "0001-01-01", "to": "0002-01-01"},
        headers=acme.headers,
    )
    assert response.status_code == 422
