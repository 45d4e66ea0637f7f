"""Tenants and their API keys.

An API key is shown once, when issued; the store keeps its SHA-256 and a public prefix
to find the row. SHA-256 (not a slow password hash) is right here because the key is 32
random bytes: there is nothing to brute-force, and every API call verifies one.

Example:
    >>> tenant, key = create_tenant(store, "Acme Inc")  # doctest: +SKIP
    >>> authenticate(store, key) == tenant.id  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select

from productpilot.db.models import ApiKey, Tenant
from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.errors import ConflictError, NotFoundError, ValidationError

KEY_PREFIX = "pp"
LAST_USED_RESOLUTION = timedelta(minutes=1)
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


def slugify(name: str) -> str:
    """A URL-safe slug for ``name``: lowercase letters, digits and single dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].rstrip("-")
    if not slug:
        raise ValidationError(f"cannot make a slug from {name!r}; pass one explicitly")
    return slug


def validate_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ValidationError(
            f"invalid slug {slug!r}: use 1-63 lowercase letters, digits and inner dashes"
        )
    return slug


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def validate_region(region: str) -> str:
    """A region name as work queue names carry it: 1-32 lowercase letters, digits, dashes.

    Example:
        >>> validate_region("eu-west")
        'eu-west'
    """
    if not _REGION.match(region):
        raise ValidationError(
            f"invalid region {region!r}: use 1-32 lowercase letters, digits and inner dashes"
        )
    return region


def regional_queue(queue: str, region: str) -> str:
    """The name of work queue ``queue``'s copy for the workers of ``region``.

    Example:
        >>> regional_queue("critical", "eu")
        'critical-eu'
    """
    return f"{queue}-{region}"


def create_tenant(
    store: Store, name: str, slug: str | None = None, region: str | None = None
) -> tuple[Tenant, str]:
    """Create a tenant with a first API key; returns the tenant and the key (shown once).

    ``region`` pins the tenant's runs to that region's work queues.
    """
    name = name.strip()
    if not name:
        raise ValidationError("a tenant needs a name")
    slug = validate_slug(slug) if slug else slugify(name)
    region = validate_region(region) if region else None
    with store.system_session() as session:
        if session.scalar(select(Tenant).where(Tenant.slug == slug)) is not None:
            raise ConflictError(f"tenant {slug!r} already exists")
        tenant = Tenant(slug=slug, name=name, region=region)
        session.add(tenant)
        session.flush()
    return tenant, issue_api_key(store, tenant.id, name="default")


def issue_api_key(store: Store, tenant_id: int, name: str) -> str:
    """Issue another API key for ``tenant_id``; the returned key is not stored anywhere."""
    prefix, key = _new_key()
    with store.tenant_session(tenant_id) as session:
        session.add(ApiKey(name=name, prefix=prefix, key_hash=hash_key(key)))
    return key


def list_tenants(store: Store) -> list[Tenant]:
    with store.system_session() as session:
        return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def get_tenant(store: Store, ref: str | int) -> Tenant:
    """Find a tenant by id or slug."""
    with store.system_session() as session:
        column = Tenant.id if isinstance(ref, int) or str(ref).isdigit() else Tenant.slug
        value = int(ref) if column is Tenant.id else ref
        tenant = session.scalar(select(Tenant).where(column == value))
    if tenant is None:
        raise NotFoundError(f"no tenant {ref!r}")
    return tenant


def authenticate(store: Store, key: str) -> int:
    """The tenant id an API key belongs to; raises NotFoundError for unknown or revoked keys."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise NotFoundError("unknown API key")
    with store.system_session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
        if (
            row is None
            or row.revoked_at is not None
            or not hmac.compare_digest(row.key_hash, hash_key(key))
        ):
            raise NotFoundError("unknown API key")
        now = utcnow()
        # Record use at most once a minute: a write per request would serialise the API.
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            row.last_used_at = now
        return row.tenant_id


def pin_region(store: Store, ref: str | int, region: str | None) -> Tenant:
    """Pin the tenant ``ref`` (id or slug) to ``region``, or unpin it (``None``).

    Runs already queued stay where they are; the next ones go to the region's queues.
    """
    region = validate_region(region) if region else None
    tenant = get_tenant(store, ref)
    with store.system_session() as session:
        row = session.get(Tenant, tenant.id)
        row.region = region
        session.flush()
        session.expunge(row)
    return row


def region_of(store: Store, tenant_id: int) -> str | None:
    """The region tenant ``tenant_id`` is pinned to, if any."""
    with store.system_session() as session:
        return session.scalar(select(Tenant.region).where(Tenant.id == tenant_id))
