"""Shared fixtures.

Store tests run on SQLite always and on PostgreSQL when ``PRODUCTPILOT_TEST_POSTGRES_URL``
is set (each test gets its own schema, dropped afterwards). Flow tests share one Prefect
test harness per session, because starting one takes seconds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from productpilot.db.engine import create_store_engine
from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.tenants import create_tenant
from tests.embedded_home import embedded_home

POSTGRES_URL = os.environ.get("PRODUCTPILOT_TEST_POSTGRES_URL")
# pytest-xdist's workers inherit COLUMNS=80, which rich reads once, when the CLI's consoles
# are created at import: without it they read the width each CliRunner invocation sets.
os.environ.pop("COLUMNS", None)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not POSTGRES_URL, reason="PRODUCTPILOT_TEST_POSTGRES_URL is not set"
                ),
            ],
        ),
    ]
)
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store with no schema yet, on each database under test."""
    if request.param == "sqlite":
        store = Store.from_url(f"sqlite:///{tmp_path / 'store.db'}")
        yield store
        store.dispose()
        return
    assert POSTGRES_URL is not None
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = Store(
        create_store_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    )
    try:
        yield store
    finally:
        store.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(empty_store: Store) -> Store:
    """A migrated, empty store."""
    empty_store.upgrade()
    return empty_store


@pytest.fixture
def tenant_id(store: Store) -> int:
    tenant, _key = create_tenant(store, "Acme Inc")
    return tenant.id


@pytest.fixture
def product(store: Store, tenant_id: int) -> Product:
    with store.tenant_session(tenant_id) as session:
        return create_product(session, "Web App")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh PRODUCTPILOT_HOME (embedded SQLite store) for code that reads the settings."""
    with embedded_home(tmp_path / "home") as path:
        yield path


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (starting one takes seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
