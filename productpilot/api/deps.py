"""Request dependencies: the store, the caller's tenant, and the caller's product."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from productpilot.api.cache import TtlCache
from productpilot.api.problems import ApiError
from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.db.tenancy import StoreSession
from productpilot.errors import NotFoundError
from productpilot.products import get_product
from productpilot.tenants import authenticate, hash_key, region_of

bearer = HTTPBearer(auto_error=False, description="A tenant API key: `Bearer pp_...`")


def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


def _unauthorized(detail: str) -> ApiError:
    return ApiError(
        401, detail, kind="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )


async def get_tenant_id(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> int:
    """The tenant whose API key authenticated the request (401 otherwise)."""
    if credentials is None:
        raise _unauthorized("an API key is required: 'Authorization: Bearer <key>'")
    cache: TtlCache[int] = request.app.state.key_cache
    key = hash_key(credentials.credentials)  # never keep the key itself in memory
    tenant_id = cache.get(key)
    if tenant_id is not None:
        return tenant_id
    try:
        tenant_id = await run_in_threadpool(authenticate, store, credentials.credentials)
    except NotFoundError:
        raise _unauthorized("unknown or revoked API key") from None
    cache.put(key, tenant_id)
    return tenant_id


TenantId = Annotated[int, Depends(get_tenant_id)]


def get_tenant_region(store: StoreDep, tenant_id: TenantId) -> str | None:
    """The region the caller's tenant is pinned to (its runs go to that region's queues)."""
    return region_of(store, tenant_id)


TenantRegion = Annotated[str | None, Depends(get_tenant_region)]


def get_session(store: StoreDep, tenant_id: TenantId) -> Iterator[StoreSession]:
    """A session scoped to the caller's tenant, committed when the endpoint returns."""
    with store.tenant_session(tenant_id) as session:
        yield session


SessionDep = Annotated[StoreSession, Depends(get_session)]
ProductId = Annotated[int, Path(description="The product's id.", ge=1, le=2**31 - 1)]


def get_owned_product(product_id: ProductId, session: SessionDep) -> Product:
    """The caller's product; another tenant's product is indistinguishable from none (404)."""
    return get_product(session, product_id)


ProductDep = Annotated[Product, Depends(get_owned_product)]
