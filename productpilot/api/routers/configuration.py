"""``/api/v1/products/{id}/configuration``: read and replace a product's configuration.

Replacing is optimistic: ``PUT`` must carry ``If-Match`` with the ``ETag`` of the version it
was based on (``*`` to overwrite whatever is there). A stale tag answers 412 and changes
nothing; a missing one answers 428. Webhook secrets are write-only (see
:class:`~productpilot.products.configuration.ConfigurationUpdate`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel

from productpilot.api.deps import ProductDep, SessionDep
from productpilot.api.problems import PROBLEM_RESPONSE, ApiError
from productpilot.db.models import Product
from productpilot.errors import ConflictError
from productpilot.products import current_configuration, update_configuration
from productpilot.products.configuration import ConfigurationUpdate, PublicConfiguration

router = APIRouter(prefix="/api/v1/products/{product_id}", tags=["configuration"])


class ConfigurationOut(BaseModel):
    product_id: int
    version: int
    configuration: PublicConfiguration


def etag(version: int) -> str:
    return f'"{version}"'


def _matches(if_match: str, version: int) -> bool:
    """RFC 9110 If-Match against the current version (weak tags compared by value)."""
    if if_match.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in if_match.split(","))
    return etag(version) in candidates


def _view(session: SessionDep, product: Product, response: Response) -> ConfigurationOut:
    response.headers["ETag"] = etag(product.config_version)
    configuration = current_configuration(session, product)
    return ConfigurationOut(
        product_id=product.id,
        version=product.config_version,
        configuration=PublicConfiguration.model_validate(configuration.public_view()),
    )


@router.get(
    "/configuration",
    summary="Read the current configuration",
    response_model=ConfigurationOut,
    responses={401: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE},
)
def get_configuration(
    session: SessionDep, product: ProductDep, response: Response
) -> ConfigurationOut:
    """The current configuration (secrets omitted) and its version as ``ETag``."""
    return _view(session, product, response)


@router.put(
    "/configuration",
    summary="Replace the configuration",
    response_model=ConfigurationOut,
    responses={
        401: PROBLEM_RESPONSE,
        404: PROBLEM_RESPONSE,
        412: PROBLEM_RESPONSE,
        422: PROBLEM_RESPONSE,
        428: PROBLEM_RESPONSE,
    },
)
def put_configuration(
    update: ConfigurationUpdate,
    session: SessionDep,
    product: ProductDep,
    response: Response,
    if_match: Annotated[
        str | None, Header(description="The ETag this change is based on, or *.")
    ] = None,
) -> ConfigurationOut:
    """Validate and store a new configuration version; answers it with its new ``ETag``."""
    if if_match is None:
        raise ApiError(
            428, "send If-Match with the ETag you read (or * to overwrite)", kind="no-if-match"
        )
    if not _matches(if_match, product.config_version):
        raise ApiError(
            412,
            f"the configuration changed: it is at version {product.config_version}",
            kind="stale",
            current_etag=etag(product.config_version),
        )
    document = update.merged_document(current_configuration(session, product))
    try:
        update_configuration(session, product, document, actor="api")
    except ConflictError as exc:  # a concurrent writer won between our read and write
        raise ApiError(412, str(exc), kind="stale") from None
    return _view(session, product, response)
