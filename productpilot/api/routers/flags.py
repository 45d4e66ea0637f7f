"""``/api/v1/products/{id}/flags``: a product's feature flags, versioned and audited.

A flag is a flagd flag definition (``{state, variants, defaultVariant, targeting,
metadata}``, see :mod:`productpilot.launch.flags`) under a key. Its ``ETag`` is its version:

* ``PUT /flags/{key}`` must carry ``If-Match`` with the ETag it was based on (``*`` to
  overwrite): a stale tag answers 412 and changes nothing, a missing one 428, as for the
  configuration.
* ``DELETE /flags/{key}`` checks ``If-Match`` when sent; without it, it deletes whatever is
  there. A deleted flag leaves the document but keeps its history.
* ``GET /flags/{key}/history`` lists every version: who (the API key's public prefix),
  when, why (``reason``) and what changed.

Every change is announced as the event ``productpilot.flag.changed`` about the product,
after it committed; when the event bus is down the change still stands (the audit trail
is the record) and the failure is logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from productpilot.api.deps import ProductDep, ProductId, SessionDep, StoreDep, TenantId, bearer
from productpilot.api.problems import PROBLEM_RESPONSE, ApiError
from productpilot.errors import ValidationError
from productpilot.eventbus import EventEmitter
from productpilot.launch.flags import Change
from productpilot.launch.store import (
    FlagChanged,
    FlagHistoryEntry,
    StaleFlagError,
    StoredFlag,
    announce,
    create_flag,
    delete_flag,
    flag_history,
    get_flag,
    list_flags,
    update_flag,
)
from productpilot.products import get_product

router = APIRouter(prefix="/api/v1/products/{product_id}", tags=["flags"])

READ_ERRORS: dict[int | str, dict[str, Any]] = {401: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: PROBLEM_RESPONSE,
    412: PROBLEM_RESPONSE,
    422: PROBLEM_RESPONSE,
    428: PROBLEM_RESPONSE,
}
Reason = Annotated[str, Field(max_length=2000, description="Why: recorded in the history.")]
IfMatch = Annotated[
    str | None, Header(description="The ETag this change is based on, or * for any.")
]


# --- shapes ----------------------------------------------------------------------------


class FlagIn(BaseModel):
    key: str = Field(max_length=200, examples=["new-checkout"])
    definition: dict[str, Any] = Field(
        description="A flagd flag definition: state, variants, defaultVariant, targeting, "
        "metadata.",
        examples=[
            {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
        ],
    )
    reason: Reason = ""


class FlagUpdate(BaseModel):
    definition: dict[str, Any] = Field(description="The new flagd flag definition.")
    reason: Reason = ""


class FlagOut(BaseModel):
    product_id: int
    key: str
    version: int
    kind: str = Field(description="The variants' type: boolean, string, number or object.")
    state: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, flag: StoredFlag) -> FlagOut:
        return cls(
            product_id=flag.product_id,
            key=flag.key,
            version=flag.version,
            kind=flag.kind,
            state=flag.state,
            definition=flag.definition,
            created_at=flag.created_at,
            updated_at=flag.updated_at,
        )


class ChangeOut(BaseModel):
    field: str | None = Field(description="The field changed; null for the whole flag.")
    action: str = Field(description="added, removed or changed.")
    before: Any = None
    after: Any = None
    description: str

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        return cls(
            field=change.field,
            action=change.action,
            before=change.before,
            after=change.after,
            description=change.describe(),
        )


class FlagVersionOut(BaseModel):
    version: int
    action: str = Field(description="created, updated or deleted.")
    actor: str
    reason: str
    changed_at: datetime
    changes: list[ChangeOut]
    definition: dict[str, Any] | None = Field(description="The flag after this change.")

    @classmethod
    def of(cls, entry: FlagHistoryEntry) -> FlagVersionOut:
        return cls(
            version=entry.version,
            action=entry.action,
            actor=entry.actor,
            reason=entry.reason,
            changed_at=entry.changed_at,
            changes=[ChangeOut.of(change) for change in entry.changes],
            definition=entry.definition,
        )


# --- dependencies and helpers ----------------------------------------------------------


def get_actor(
    _tenant_id: TenantId,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Who the history records: the caller's API key by its public prefix (``pp_<prefix>_``)."""
    assert credentials is not None  # TenantId refused the request otherwise
    return f"api-key:{credentials.credentials.split('_', 2)[1]}"


def get_flag_emitter(request: Request) -> EventEmitter | None:
    return getattr(request.app.state, "emitter", None)


def get_owned_product_id(product_id: ProductId, store: StoreDep, tenant_id: TenantId) -> int:
    """The product's id once it is the caller's; a dependency, so another tenant's product
    answers 404 before the body is validated, as on every product endpoint."""
    with store.tenant_session(tenant_id) as session:
        get_product(session, product_id)
    return product_id


Actor = Annotated[str, Depends(get_actor)]
OwnedProductId = Annotated[int, Depends(get_owned_product_id)]
Emitter = Annotated[EventEmitter | None, Depends(get_flag_emitter)]


def etag(version: int) -> str:
    return f'"{version}"'


def _matches(if_match: str, version: int) -> bool:
    """RFC 9110 If-Match against the current version (weak tags compared by value)."""
    if if_match.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in if_match.split(","))
    return etag(version) in candidates


def _stale(key: str, version: int) -> ApiError:
    return ApiError(
        412,
        f"flag '{key}' changed: it is at version {version}",
        kind="stale",
        current_etag=etag(version),
    )


def _invalid(key: str, exc: ValidationError) -> ApiError:
    return ApiError(422, str(exc), kind="invalid-flag", flag=key)


def _written(change: FlagChanged, emitter: EventEmitter | None, response: Response) -> FlagOut:
    """Announce a committed change and answer the flag with its new ETag."""
    announce(emitter, change)
    assert change.flag is not None
    response.headers["ETag"] = etag(change.version)
    return FlagOut.of(change.flag)


# --- operations ------------------------------------------------------------------------


@router.get(
    "/flags",
    summary="List the product's flags",
    response_model=list[FlagOut],
    responses=READ_ERRORS,
)
def get_flags(session: SessionDep, product: ProductDep) -> list[FlagOut]:
    """Every live flag of the product, by key."""
    return [FlagOut.of(flag) for flag in list_flags(session, product)]


@router.post(
    "/flags",
    status_code=201,
    summary="Create a flag",
    response_model=FlagOut,
    responses=WRITE_ERRORS,
)
def post_flag(
    flag: FlagIn,
    product_id: OwnedProductId,
    store: StoreDep,
    tenant_id: TenantId,
    actor: Actor,
    emitter: Emitter,
    response: Response,
) -> FlagOut:
    """Validate and store a new flag at version 1 (409 if the key exists)."""
    # Our own transaction, not the request session: the event goes out after the commit.
    with store.tenant_session(tenant_id) as session:
        product = get_product(session, product_id)
        try:
            change = create_flag(session, product, flag.key, flag.definition, actor, flag.reason)
        except ValidationError as exc:
            raise _invalid(flag.key, exc) from None
    response.headers["Location"] = f"/api/v1/products/{product_id}/flags/{flag.key}"
    return _written(change, emitter, response)


@router.get(
    "/flags/{key}",
    summary="Read a flag",
    response_model=FlagOut,
    responses=READ_ERRORS,
)
def get_one_flag(key: str, session: SessionDep, product: ProductDep, response: Response) -> FlagOut:
    """The flag and its version as ``ETag``."""
    flag = get_flag(session, product, key)
    response.headers["ETag"] = etag(flag.version)
    return FlagOut.of(flag)


@router.put(
    "/flags/{key}",
    summary="Replace a flag",
    response_model=FlagOut,
    responses=WRITE_ERRORS,
)
def put_flag(
    key: str,
    update: FlagUpdate,
    product_id: OwnedProductId,
    store: StoreDep,
    tenant_id: TenantId,
    actor: Actor,
    emitter: Emitter,
    response: Response,
    if_match: IfMatch = None,
) -> FlagOut:
    """Validate and store the next version; an identical definition keeps the version."""
    if if_match is None:
        raise ApiError(
            428, "send If-Match with the ETag you read (or * to overwrite)", kind="no-if-match"
        )
    with store.tenant_session(tenant_id) as session:
        product = get_product(session, product_id)
        current = get_flag(session, product, key)
        if not _matches(if_match, current.version):
            raise _stale(key, current.version)
        try:
            change = update_flag(
                session,
                product,
                key,
                update.definition,
                actor,
                update.reason,
                expected_version=current.version,
            )
        except ValidationError as exc:
            raise _invalid(key, exc) from None
        except StaleFlagError as exc:  # a concurrent writer won between our read and write
            raise _stale(key, exc.current_version) from None
    return _written(change, emitter, response)


@router.delete(
    "/flags/{key}",
    status_code=204,
    summary="Delete a flag",
    response_class=Response,
    responses={**READ_ERRORS, 412: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
def remove_flag(
    key: str,
    product_id: OwnedProductId,
    store: StoreDep,
    tenant_id: TenantId,
    actor: Actor,
    emitter: Emitter,
    reason: Annotated[str, Query(max_length=2000, description="Why: recorded.")] = "",
    if_match: IfMatch = None,
) -> Response:
    """Take the flag out of the product's document; its history stays readable."""
    with store.tenant_session(tenant_id) as session:
        product = get_product(session, product_id)
        current = get_flag(session, product, key)
        if if_match is not None and not _matches(if_match, current.version):
            raise _stale(key, current.version)
        try:
            change = delete_flag(
                session, product, key, actor, reason, expected_version=current.version
            )
        except StaleFlagError as exc:
            raise _stale(key, exc.current_version) from None
    announce(emitter, change)
    return Response(status_code=204)


@router.get(
    "/flags/{key}/history",
    summary="A flag's history",
    response_model=list[FlagVersionOut],
    responses=READ_ERRORS,
)
def get_flag_history(key: str, session: SessionDep, product: ProductDep) -> list[FlagVersionOut]:
    """Every version of the flag, newest first: who, when, why and what changed."""
    return [FlagVersionOut.of(entry) for entry in flag_history(session, product, key)]
