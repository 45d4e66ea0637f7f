"""A webhook URL's product, found across tenants, with its vendor secret."""

from __future__ import annotations

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.tenants import create_tenant
from productpilot.webhooks import product_integrations, webhook_target


def test_the_target_carries_the_tenant_the_vendor_secret_and_the_mapping(store: Store) -> None:
    tenant, _key = create_tenant(store, "Acme")
    configuration = {
        "webhook_secrets": {"github": "gh-secret"},
        "integrations": {"github_repository": "acme/web"},
    }
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Web", configuration=configuration)

    target = webhook_target(store, product.id, "github")

    assert target is not None
    assert (target.tenant_id, target.product_id, target.secret) == (
        tenant.id,
        product.id,
        "gh-secret",
    )
    assert target.integrations.github_repository == "acme/web"


def test_a_vendor_without_a_secret_has_none(store: Store, product: Product) -> None:
    target = webhook_target(store, product.id, "slack")
    assert target is not None
    assert target.secret is None


def test_an_unknown_product_has_no_target(store: Store) -> None:
    assert webhook_target(store, 424242, "github") is None


def test_integrations_are_read_in_the_products_own_tenant(store: Store, product: Product) -> None:
    other, _key = create_tenant(store, "Globex")
    assert product_integrations(store, product.tenant_id, product.id).github_repository is None
    # Another tenant cannot read this product's configuration: it gets an empty mapping.
    assert product_integrations(store, other.id, product.id).github_repository is None
    assert product_integrations(store, product.tenant_id, None).figma_files == []
