"""Tenant scoping, enforced by the session rather than by every query's author.

A :class:`StoreSession` is opened either for one tenant or as a system session. In a
tenant session every ORM statement that touches a tenant-owned table is given
``WHERE tenant_id = :tenant`` (relationship loads included), new rows are stamped with
the tenant, and a row claiming another tenant is refused at flush. A session opened for
neither refuses to touch tenant-owned tables at all. So a cross-tenant read needs an
explicit system session: it cannot happen by forgetting a filter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, with_loader_criteria

from productpilot.db.models import TenantOwned
from productpilot.errors import TenantScopeError

TENANT_KEY = "tenant_id"
SYSTEM_KEY = "system"


class StoreSession(Session):
    """A session that knows whose data it may see."""

    @property
    def tenant_id(self) -> int | None:
        return self.info.get(TENANT_KEY)

    @property
    def is_system(self) -> bool:
        return bool(self.info.get(SYSTEM_KEY))

    def require_tenant(self) -> int:
        if self.tenant_id is None:
            raise TenantScopeError("this operation needs a tenant session")
        return self.tenant_id


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


@event.listens_for(StoreSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    session = state.session
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is None:
        if not session.info.get(SYSTEM_KEY) and _touches_tenant_data(state):
            raise TenantScopeError("tenant-owned data queried outside a tenant session")
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(
                TenantOwned,
                lambda cls: cls.tenant_id == tenant_id,
                include_aliases=True,
            )
        )


@event.listens_for(StoreSession, "before_flush")
def _stamp_and_check(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    system = session.info.get(SYSTEM_KEY)
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantOwned):
            continue
        if tenant_id is None:
            if not system:
                raise TenantScopeError("tenant-owned row written outside a tenant session")
            if obj.tenant_id is None:
                raise TenantScopeError(f"{type(obj).__name__} written without a tenant")
            continue
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantScopeError(
                f"{type(obj).__name__} of tenant {obj.tenant_id} written in tenant "
                f"{tenant_id}'s session"
            )
