"""The store as tasks see it: one engine per worker process, from the environment."""

from __future__ import annotations

from sqlalchemy import select

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.runtime import open_store


def task_store() -> Store:
    """The store named by ``PRODUCTPILOT_DATABASE_URL`` (or the embedded default)."""
    return open_store()


def products_in_scope(store: Store, product_ids: list[int] | None) -> list[Product]:
    """The products a run works on: the given ids, or every product (a system-wide read,
    since scheduled runs serve all tenants; each product is then worked on in its tenant's
    session)."""
    with store.system_session() as session:
        query = select(Product).order_by(Product.id)
        if product_ids is not None:
            query = query.where(Product.id.in_(product_ids))
        return list(session.scalars(query))
