"""Products with notification routes, on each database under test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.notify.message import Finding
from productpilot.products import update_configuration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def configure(store: Store, tenant_id: int, product: Product) -> Callable[..., Product]:
    """Give the product these notification routes (dicts as in the configuration)."""

    def apply(*routes: dict[str, Any]) -> Product:
        with store.tenant_session(tenant_id) as session:
            row = session.get(Product, product.id)
            update_configuration(session, row, {"notification_routes": list(routes)}, actor="test")
            session.flush()
            session.expunge(row)
            return row

    return apply


def finding(
    subject: str = "Signups below expected",
    *,
    severity: str = "warning",
    kind: str = "productpilot.anomaly.detected",
    key: str = "",
    product_id: int = 0,
    occurred: datetime | None = None,
    ticket: bool = True,
) -> Finding:
    return Finding(
        kind=kind,
        severity=severity,  # type: ignore[arg-type]
        product_id=product_id,
        subject=subject,
        text=f"{subject}: details",
        dedupe_key=key,
        facts=(("metric", "signups"),),
        occurred_at=occurred,
        ticket=ticket,
    )
