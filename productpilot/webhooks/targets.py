"""The product a webhook is addressed to, and what its configuration says about webhooks."""

from __future__ import annotations

from dataclasses import dataclass

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.errors import NotFoundError
from productpilot.products import current_configuration, get_product
from productpilot.products.configuration import IntegrationMapping


@dataclass(frozen=True)
class WebhookTarget:
    """A product as a webhook receiver sees it.

    Attributes:
        secret: The vendor's webhook secret from the current configuration, ``None`` when
            none is configured (every delivery is then refused).
        integrations: Where the product lives in its tools (see :mod:`.scope`).
    """

    tenant_id: int
    product_id: int
    secret: str | None
    integrations: IntegrationMapping


def webhook_target(store: Store, product_id: int, vendor: str) -> WebhookTarget | None:
    """The product with this global id, or ``None`` when there is none.

    A system session, because the webhook URL names the product but no tenant: the
    product's own tenant scopes everything done with the delivery afterwards.

    Example:
        >>> target = webhook_target(store, 42, "github")  # doctest: +SKIP
        >>> target.secret is None  # no GitHub secret configured  # doctest: +SKIP
        True
    """
    with store.system_session() as session:
        product = session.get(Product, product_id)
        if product is None:
            return None
        configuration = current_configuration(session, product)
    secret = configuration.webhook_secrets.get(vendor)
    return WebhookTarget(
        tenant_id=product.tenant_id,
        product_id=product.id,
        secret=secret.get_secret_value() if secret is not None else None,
        integrations=configuration.integrations,
    )


def product_integrations(
    store: Store, tenant_id: int, product_id: int | None
) -> IntegrationMapping:
    """A product's current integration mapping, read in its tenant (empty if it is gone)."""
    if product_id is None:
        return IntegrationMapping()
    with store.tenant_session(tenant_id) as session:
        try:
            product = get_product(session, product_id)
        except NotFoundError:
            return IntegrationMapping()
        return current_configuration(session, product).integrations
