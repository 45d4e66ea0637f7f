"""Products and their versioned configuration."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from productpilot.db.models import Product, ProductConfiguration
from productpilot.db.store import Store
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.products import (
    create_product,
    current_configuration,
    get_product,
    list_products,
    locate_product,
    update_configuration,
)
from productpilot.tenants import create_tenant

KPI_CONFIG = {
    "metrics": [{"name": "signups", "kind": "count", "event": "signup"}],
    "kpis": [{"name": "growth", "metric": "signups", "target": 100}],
}


def test_a_product_starts_at_configuration_version_one(store: Store, tenant_id: int) -> None:
    with store.tenant_session(tenant_id) as session:
        product = create_product(session, "Web App", configuration=KPI_CONFIG)
        assert product.config_version == 1
        assert current_configuration(session, product).kpis[0].target == 100


def test_each_update_is_a_new_immutable_version(store: Store, product: Product) -> None:
    with store.tenant_session(product.tenant_id) as session:
        product = get_product(session, product.id)
        update_configuration(session, product, KPI_CONFIG, actor="ana", expected_version=1)
        update_configuration(session, product, {}, actor="bo", expected_version=2)
        versions = session.scalars(
            select(ProductConfiguration.created_by).order_by(ProductConfiguration.version)
        ).all()
        assert versions == ["system", "ana", "bo"]
        assert current_configuration(session, product).kpis == []


def test_a_stale_version_is_a_conflict_and_changes_nothing(store: Store, product: Product) -> None:
    with store.tenant_session(product.tenant_id) as session:
        product = get_product(session, product.id)
        update_configuration(session, product, KPI_CONFIG, actor="ana", expected_version=1)
        with pytest.raises(ConflictError, match="version 2, not 1"):
            update_configuration(session, product, {}, actor="bo", expected_version=1)
        assert product.config_version == 2


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"kpi": []}, "kpi"),
        ({"metrics": [{"name": "r", "kind": "ratio", "event": "a"}]}, "metrics.0"),
        ({"metrics": [{"name": "bad name", "kind": "count", "event": "a"}]}, "metrics.0.name"),
        ({"kpis": [{"name": "a", "metric": "m"}, {"name": "a", "metric": "n"}]}, "kpis"),
        ({"notification_routes": [{"channel": "pager", "recipients": ["x"]}]}, "channel"),
        ({"integrations": {"github_repository": "not a repo"}}, "github_repository"),
    ],
)
def test_an_invalid_configuration_names_the_offending_field(
    store: Store, product: Product, document: dict, where: str
) -> None:
    with store.tenant_session(product.tenant_id) as session:
        product = get_product(session, product.id)
        with pytest.raises(ValidationError, match=f"invalid configuration at .*{where}"):
            update_configuration(session, product, document, actor="ana")
        assert product.config_version == 1


def test_webhook_secrets_are_stored_but_never_shown(store: Store, product: Product) -> None:
    with store.tenant_session(product.tenant_id) as session:
        product = get_product(session, product.id)
        update_configuration(session, product, {"webhook_secrets": {"github": "s3cr3t"}}, actor="a")
        config = current_configuration(session, product)
    assert config.webhook_secrets["github"].get_secret_value() == "s3cr3t"
    assert config.public_view()["webhook_secrets_configured"] == ["github"]
    assert "webhook_secrets" not in config.public_view()
    assert "s3cr3t" not in repr(config)


def test_product_slugs_are_unique_within_a_tenant_only(store: Store, tenant_id: int) -> None:
    other, _ = create_tenant(store, "Globex")
    with store.tenant_session(tenant_id) as session:
        create_product(session, "Web App")
        with pytest.raises(ConflictError):
            create_product(session, "Web App")
    with store.tenant_session(other.id) as session:
        assert create_product(session, "Web App").slug == "web-app"


def test_an_unknown_time_zone_is_refused(store: Store, tenant_id: int) -> None:
    with store.tenant_session(tenant_id) as session, pytest.raises(ValidationError, match="zone"):
        create_product(session, "Web App", timezone="Mars/Olympus")


def test_products_are_listed_in_creation_order(store: Store, tenant_id: int) -> None:
    with store.tenant_session(tenant_id) as session:
        create_product(session, "B")
        create_product(session, "A")
        assert [p.slug for p in list_products(session)] == ["b", "a"]


def test_operators_locate_products_by_id_or_by_tenant_and_slug(
    store: Store, product: Product
) -> None:
    assert locate_product(store, product.id).tenant_id == product.tenant_id
    assert locate_product(store, "web-app", tenant="acme-inc").id == product.id
    with pytest.raises(ValidationError, match="--tenant"):
        locate_product(store, "web-app")
    with pytest.raises(NotFoundError):
        locate_product(store, 999)
