"""Tenant isolation is a property of the session, not of each query's author."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from productpilot.db.models import (
    Base,
    Event,
    Product,
    ProductConfiguration,
    TenantOwned,
)
from productpilot.db.store import Store
from productpilot.errors import NotFoundError, TenantScopeError
from productpilot.products import create_product, get_product
from productpilot.tenants import create_tenant


@pytest.fixture
def two_tenants(store: Store) -> dict[str, tuple[int, int]]:
    """Two tenants with one product each, and one event in each product."""
    owners = {}
    for name in ("Acme", "Globex"):
        tenant, _ = create_tenant(store, name)
        with store.tenant_session(tenant.id) as session:
            product = create_product(session, f"{name} App", slug="app")
            session.add(
                Event(
                    product_id=product.id,
                    idempotency_key="e1",
                    event="signup",
                    distinct_id="u1",
                    timestamp=datetime(2026, 8, 1, tzinfo=UTC),
                )
            )
        owners[name] = (tenant.id, product.id)
    return owners


def test_every_table_but_tenants_carries_a_tenant() -> None:
    unscoped = {
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if not issubclass(mapper.class_, TenantOwned)
    }
    assert unscoped == {"tenants"}
    for table in Base.metadata.tables.values():
        if table.name != "tenants":
            assert "tenant_id" in table.columns, table.name


def test_a_tenant_session_sees_only_its_own_rows(store: Store, two_tenants) -> None:
    acme = two_tenants["Acme"]
    with store.tenant_session(acme[0]) as session:
        assert [p.id for p in session.scalars(select(Product))] == [acme[1]]
        assert session.scalar(select(func.count()).select_from(Event)) == 1
        assert session.scalar(select(func.count(ProductConfiguration.id))) == 1


def test_joins_and_relationship_loads_are_scoped_too(store: Store, two_tenants) -> None:
    acme = two_tenants["Acme"]
    with store.tenant_session(acme[0]) as session:
        rows = session.execute(select(Event, Product).join(Product)).all()
        assert {product.id for _, product in rows} == {acme[1]}
        product = session.scalars(select(Product)).one()
        assert {c.tenant_id for c in product.configurations} == {acme[0]}


def test_another_tenants_product_is_not_found_by_id_or_slug(store: Store, two_tenants) -> None:
    acme, globex = two_tenants["Acme"], two_tenants["Globex"]
    with store.tenant_session(acme[0]) as session:
        assert session.get(Product, globex[1]) is None
        with pytest.raises(NotFoundError):
            get_product(session, globex[1])
        assert get_product(session, "app").id == acme[1]


def test_bulk_updates_cannot_reach_another_tenant(store: Store, two_tenants) -> None:
    acme, globex = two_tenants["Acme"], two_tenants["Globex"]
    with store.tenant_session(acme[0]) as session:
        session.execute(update(Product).values(name="renamed"))
    with store.tenant_session(globex[0]) as session:
        assert session.scalars(select(Product.name)).one() == "Globex App"


def test_new_rows_are_stamped_with_the_session_tenant(store: Store, two_tenants) -> None:
    acme = two_tenants["Acme"]
    with store.tenant_session(acme[0]) as session:
        event = Event(
            product_id=acme[1],
            idempotency_key="e2",
            event="login",
            distinct_id="u1",
            timestamp=datetime(2026, 8, 2, tzinfo=UTC),
        )
        session.add(event)
        session.flush()
        assert event.tenant_id == acme[0]


def test_writing_a_row_of_another_tenant_is_refused(store: Store, two_tenants) -> None:
    acme, globex = two_tenants["Acme"], two_tenants["Globex"]
    with store.tenant_session(acme[0]) as session:
        session.add(
            Event(
                tenant_id=globex[0],
                product_id=globex[1],
                idempotency_key="x",
                event="login",
                distinct_id="u1",
                timestamp=datetime(2026, 8, 2, tzinfo=UTC),
            )
        )
        with pytest.raises(TenantScopeError):
            session.flush()
        session.rollback()


def test_moving_a_row_to_another_tenant_is_refused(store: Store, two_tenants) -> None:
    acme, globex = two_tenants["Acme"], two_tenants["Globex"]
    with store.tenant_session(acme[0]) as session:
        product = session.scalars(select(Product)).one()
        product.tenant_id = globex[0]
        with pytest.raises(TenantScopeError):
            session.flush()
        session.rollback()


def test_tenant_data_cannot_be_read_without_a_scope(store: Store, two_tenants) -> None:
    from productpilot.db.tenancy import StoreSession

    with StoreSession(store.engine) as session, pytest.raises(TenantScopeError):
        session.scalars(select(Product)).all()


def test_a_system_session_is_the_explicit_way_across_tenants(store: Store, two_tenants) -> None:
    with store.system_session() as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 2


def test_plain_sqlalchemy_sessions_are_unaffected(store: Store, two_tenants) -> None:
    # Migrations and the bulk loader use the engine directly; scoping lives in StoreSession.
    with Session(store.engine) as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 2
