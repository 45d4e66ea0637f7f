"""The backlog in the store: items mirrored from a source (or local), with dependencies.

Upserts are keyed by ``(source, external_key)``, so syncing the same backlog twice, from
the demo generator or from Jira, updates rows instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, select

from productpilot.db.models import BacklogDependency, BacklogItem, Product
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError

_FIELDS = (
    "title",
    "description",
    "item_type",
    "status",
    "feature",
    "team",
    "story_points",
    "estimate_days",
)


@dataclass(frozen=True, slots=True)
class BacklogSync:
    created: int
    updated: int
    dependencies: int


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def upsert_backlog(
    session: StoreSession, product: Product, items: Iterable[Mapping[str, Any]], source: str
) -> BacklogSync:
    """Create or update ``items`` (dicts with ``key``, ``title`` and optional fields such as
    ``depends_on`` keys) and replace their dependency edges."""
    items = list(items)
    keys = {str(item["key"]) for item in items}
    existing = {
        row.external_key: row
        for row in session.scalars(
            select(BacklogItem).where(
                BacklogItem.product_id == product.id, BacklogItem.source == source
            )
        )
    }
    created = updated = 0
    for item in items:
        key = str(item["key"])
        row = existing.get(key)
        if row is None:
            row = BacklogItem(product_id=product.id, source=source, external_key=key)
            session.add(row)
            existing[key] = row
            created += 1
        else:
            updated += 1
        for name in _FIELDS:
            if name in item:
                setattr(row, name, item[name])
        row.labels = [str(label) for label in item.get("labels", [])]
        row.created_at = _instant(item.get("created_at")) or row.created_at or datetime.now(UTC)
        row.started_at = _instant(item.get("started_at"))
        row.completed_at = _instant(item.get("completed_at"))
        row.deadline = _day(item.get("deadline"))
    session.flush()

    ids = [existing[key].id for key in keys]
    session.execute(delete(BacklogDependency).where(BacklogDependency.item_id.in_(ids)))
    edges = 0
    for item in items:
        for needed in item.get("depends_on", []):
            if needed not in existing:
                raise ValidationError(f"{item['key']} depends on unknown item {needed}")
            session.add(
                BacklogDependency(
                    item_id=existing[item["key"]].id, depends_on_id=existing[needed].id
                )
            )
            edges += 1
    session.flush()
    return BacklogSync(created=created, updated=updated, dependencies=edges)
