"""API fixtures: an app on the test store, and tenants with API keys and products."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from productpilot.api.app import create_app
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.settings import Settings
from productpilot.tenants import create_tenant


@dataclass(frozen=True)
class Caller:
    """A tenant as the API sees it: its key (as headers) and one product."""

    tenant_id: int
    key: str
    product_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_caller(store: Store, name: str, configuration: dict | None = None) -> Caller:
    tenant, key = create_tenant(store, name)
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, f"{name} App", configuration=configuration)
    return Caller(tenant.id, key, product.id)


@pytest.fixture
def app(store: Store, tmp_path: Path) -> FastAPI:
    return create_app(store, settings=Settings(home=tmp_path / "home"))


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def acme(store: Store) -> Caller:
    return make_caller(store, "Acme")


@pytest.fixture
def globex(store: Store) -> Caller:
    return make_caller(store, "Globex")
