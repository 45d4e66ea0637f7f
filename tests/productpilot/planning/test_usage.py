"""Reach from live usage: the users who touched each feature in the window."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.ingest.importer import import_events
from productpilot.planning.usage import reach_by_feature


def test_reach_counts_distinct_users_of_each_feature_inside_the_window_only(
    store: Store, tenant_id: int, product: Product, tmp_path: Path
) -> None:
    events = [
        ("u1", "alerts", "2026-11-30"),
        ("u1", "alerts", "2026-11-29"),  # the same user again
        ("u2", "alerts", "2026-11-10"),
        ("u3", "reports", "2026-11-30"),
        ("u4", "reports", "2026-10-01"),  # outside the 30 days
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"\n".join(
            orjson.dumps(
                {
                    "event": "feature_used",
                    "distinct_id": user,
                    "timestamp": f"{day}T12:00:00Z",
                    "properties": {"feature": feature},
                }
            )
            for user, feature, day in events
        )
    )
    with store.tenant_session(tenant_id) as session:
        import_events(store, session.get(Product, product.id), path)
    with store.tenant_session(tenant_id) as session:
        assert reach_by_feature(session, product.id, date(2026, 11, 30)) == {
            "alerts": 2,
            "reports": 1,
        }
        assert reach_by_feature(session, product.id, date(2026, 11, 30), window_days=7) == {
            "alerts": 1,
            "reports": 1,
        }
        assert reach_by_feature(session, product.id, date(2025, 1, 1)) == {}
