"""Anomaly detection in the daily analysis: found once, stored with its band, announced."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from productpilot.db.models import Anomaly, EventCountDaily
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tasks.analytics import detect_anomalies

START = date(2026, 6, 1)
SPIKE = START + timedelta(days=45)
LAST = START + timedelta(days=59)


def seed_counts(spike: bool) -> tuple[int, int]:
    """Sixty days of a growing, weekly-seasonal event count (and one spike if asked)."""
    store = open_store()
    tenant, _ = create_tenant(store, "Spiky")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Spiky")
        for offset in range(60):
            day = START + timedelta(days=offset)
            count = (400 + 5 * offset) * (0.6 if day.weekday() >= 5 else 1.0)
            count += (offset * 37) % 23  # deterministic wobble
            if spike and day == SPIKE:
                count *= 2.5
            session.add(
                EventCountDaily(product_id=product.id, day=day, event="pageview", count=int(count))
            )
    return tenant.id, product.id


def stored(tenant_id: int) -> list[Anomaly]:
    with open_store().tenant_session(tenant_id) as session:
        return list(session.scalars(select(Anomaly).where(Anomaly.metric == "events")))


def test_a_spike_is_stored_with_its_band_and_announced_once(home: Path) -> None:
    tenant_id, product_id = seed_counts(spike=True)

    findings = detect_anomalies.fn([product_id], LAST, recent_days=60)
    again = detect_anomalies.fn([product_id], LAST, recent_days=60)

    [anomaly] = stored(tenant_id)
    assert anomaly.at.date() == SPIKE
    assert anomaly.lower < anomaly.expected < anomaly.upper < anomaly.value
    assert [f["payload"]["at"][:10] for f in findings if f["payload"]["metric"] == "events"] == [
        SPIKE.isoformat()
    ]
    assert findings[0]["name"] == "productpilot.anomaly.detected"
    assert again == []  # recorded and announced once


def test_growth_and_weekends_alone_are_not_anomalies(home: Path) -> None:
    tenant_id, product_id = seed_counts(spike=False)
    detect_anomalies.fn([product_id], LAST, recent_days=60)
    assert stored(tenant_id) == []
