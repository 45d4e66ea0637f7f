"""Products and their versioned configuration, always inside a tenant session."""

from __future__ import annotations

from typing import Any

import pydantic
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from productpilot.db.models import Product, ProductConfiguration
from productpilot.db.store import Store
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.products.configuration import ProductConfiguration as ConfigDocument
from productpilot.products.configuration import validate_timezone
from productpilot.tenants import get_tenant, slugify, validate_slug


def parse_configuration(document: dict[str, Any]) -> ConfigDocument:
    """Validate a configuration document; errors name the offending field."""
    try:
        return ConfigDocument.model_validate(document)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "configuration"
        raise ValidationError(f"invalid configuration at {where}: {first['msg']}") from None


def create_product(
    session: StoreSession,
    name: str,
    *,
    slug: str | None = None,
    timezone: str = "UTC",
    configuration: dict[str, Any] | None = None,
) -> Product:
    """Create a product in the session's tenant, with configuration version 1."""
    session.require_tenant()
    name = name.strip()
    if not name:
        raise ValidationError("a product needs a name")
    slug = validate_slug(slug) if slug else slugify(name)
    try:
        validate_timezone(timezone)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if session.scalar(select(Product.id).where(Product.slug == slug)) is not None:
        raise ConflictError(f"product {slug!r} already exists")
    product = Product(name=name, slug=slug, timezone=timezone)
    session.add(product)
    session.flush()
    update_configuration(session, product, configuration or {}, actor="system", comment="created")
    return product


def list_products(session: StoreSession) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.id)))


def get_product(session: StoreSession, ref: int | str) -> Product:
    """Find a product of the session's tenant by id or slug; another tenant's is not found."""
    if isinstance(ref, int) or str(ref).isdigit():
        product = session.get(Product, int(ref))
        # session.get may answer from the identity map without a query; check the owner.
        if product is not None and product.tenant_id != session.tenant_id:
            product = None
    else:
        product = session.scalar(select(Product).where(Product.slug == ref))
    if product is None:
        raise NotFoundError(f"no product {ref!r}")
    return product


def current_configuration(session: StoreSession, product: Product) -> ConfigDocument:
    row = session.scalar(
        select(ProductConfiguration).where(
            ProductConfiguration.product_id == product.id,
            ProductConfiguration.version == product.config_version,
        )
    )
    return parse_configuration(row.document if row else {})


def update_configuration(
    session: StoreSession,
    product: Product,
    document: dict[str, Any],
    *,
    actor: str,
    expected_version: int | None = None,
    comment: str = "",
) -> ProductConfiguration:
    """Store a new configuration version.

    Args:
        expected_version: The version the caller last read; a different current version
            means someone else changed it meanwhile (optimistic concurrency).

    Raises:
        ConflictError: ``expected_version`` is not the current version.
        ValidationError: the document is invalid.
    """
    config = parse_configuration(document)
    if expected_version is not None and expected_version != product.config_version:
        raise ConflictError(
            f"configuration is at version {product.config_version}, not {expected_version}"
        )
    product.config_version += 1
    row = ProductConfiguration(
        product_id=product.id,
        version=product.config_version,
        document=config.to_document(),
        created_by=actor,
        comment=comment,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # Another writer stored this version number first; the unique key decided.
        raise ConflictError("the configuration was changed concurrently; read it again") from None
    return row


def locate_product(store: Store, ref: int | str, tenant: int | str | None = None) -> Product:
    """Find a product for an operator command.

    With ``tenant``, ``ref`` is looked up in that tenant only (id or slug). Without one,
    ``ref`` must be a numeric id, which is unique across tenants; the product's own tenant
    then scopes everything done with it.
    """
    if tenant is not None:
        owner = get_tenant(store, tenant)
        with store.tenant_session(owner.id) as session:
            return get_product(session, ref)
    if not (isinstance(ref, int) or str(ref).isdigit()):
        raise ValidationError(f"product {ref!r} is a slug: give its tenant too (--tenant)")
    with store.system_session() as session:
        product = session.get(Product, int(ref))
    if product is None:
        raise NotFoundError(f"no product {ref!r}")
    return product
