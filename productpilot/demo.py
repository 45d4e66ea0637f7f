"""The embedded demo's tenant and product: what `make demo` sets up before running flows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from productpilot.db.models import Product, Tenant
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.tenants import create_tenant

DEMO_TENANT = "demo"
DEMO_PRODUCT = "demo-app"
#: The repository the demo's recorded pull requests come from. It is not in the product's
#: integrations: offline, nothing is fetched from GitHub or posted to it.
DEMO_REPOSITORY = "demo-company/demo-app"


def demo_configuration() -> dict[str, Any]:
    """A realistic configuration for the synthetic SaaS product's event catalogue."""
    metrics = [
        {"name": "signups", "kind": "count", "event": "signup"},
        {"name": "dau", "kind": "unique_users", "event": "session_start"},
        {
            "name": "activation_rate",
            "kind": "ratio",
            "event": "activate",
            "denominator_event": "signup",
        },
        {
            "name": "conversion_rate",
            "kind": "ratio",
            "event": "convert",
            "denominator_event": "signup",
        },
        {
            "name": "latency_p95",
            "kind": "percentile",
            "event": "api_request",
            "property": "latency_ms",
            "percentile": 95,
        },
        {"name": "error_rate", "kind": "average", "event": "api_request", "property": "error"},
        {"name": "nps", "kind": "nps", "event": "nps_response", "property": "score"},
    ]
    kpis = [
        {"name": "activation", "metric": "activation_rate", "target": 0.45},
        {"name": "conversion", "metric": "conversion_rate", "target": 0.08},
        {"name": "latency", "metric": "latency_p95", "target": 400, "direction": "decrease"},
        {"name": "reliability", "metric": "error_rate", "target": 0.01, "direction": "decrease"},
        {"name": "satisfaction", "metric": "nps", "target": 40},
    ]
    # Offline, the outbox is the channel; the Jira route shows a ticket that waits for
    # credentials ("held") instead of vanishing.
    routes = [
        {"severities": ["critical"], "channel": "outbox", "recipients": ["#incidents"]},
        {"kinds": ["productpilot.anomaly.*"], "channel": "jira", "recipients": ["WEB"]},
        {"channel": "outbox", "recipients": ["#product-updates"], "group_wait_minutes": 0},
    ]
    # The demo's recorded pull requests report CI as workflow runs and carry no coverage
    # report, so the gates are the ones they can decide offline.
    gates = [
        {"name": "checks-green", "kind": "required_checks"},
        {"name": "review", "kind": "approvals", "threshold": 1},
    ]
    return {"metrics": metrics, "kpis": kpis, "notification_routes": routes, "gates": gates}


@dataclass(frozen=True, slots=True)
class DemoProduct:
    tenant_id: int
    product_id: int
    api_key: str | None  # set only when the tenant was created by this call


def ensure_demo_product(store: Store) -> DemoProduct:
    """Create the demo tenant and product unless they exist (so the demo can be re-run)."""
    with store.system_session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == DEMO_TENANT))
    api_key = None
    if tenant is None:
        tenant, api_key = create_tenant(store, "Demo Company", DEMO_TENANT)
    with store.tenant_session(tenant.id) as session:
        product = session.scalar(select(Product).where(Product.slug == DEMO_PRODUCT))
        if product is None:
            product = create_product(
                session,
                "Demo App",
                slug=DEMO_PRODUCT,
                timezone="Europe/Berlin",
                configuration=demo_configuration(),
            )
    return DemoProduct(tenant.id, product.id, api_key)
