"""Tenants and API keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from productpilot.db.models import ApiKey
from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.tenants import (
    authenticate,
    create_tenant,
    get_tenant,
    issue_api_key,
    list_tenants,
    pin_region,
    region_of,
    slugify,
)


def test_a_new_tenant_gets_a_slug_and_a_working_api_key(store: Store) -> None:
    tenant, key = create_tenant(store, "Acme Inc.")
    assert tenant.slug == "acme-inc"
    assert authenticate(store, key) == tenant.id


def test_only_a_hash_of_the_key_is_stored(store: Store) -> None:
    _tenant, key = create_tenant(store, "Acme")
    with store.system_session() as session:
        stored = session.scalars(select(ApiKey)).one()
    assert key not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64


def test_each_tenant_may_have_several_keys(store: Store) -> None:
    tenant, first = create_tenant(store, "Acme")
    second = issue_api_key(store, tenant.id, "ci")
    assert first != second
    assert authenticate(store, second) == tenant.id


@pytest.mark.parametrize(
    "key", ["", "nonsense", "pp_unknown_secret", "pp__", "Bearer pp_x_y", "sk_live_abc"]
)
def test_unknown_keys_are_refused(store: Store, key: str) -> None:
    create_tenant(store, "Acme")
    with pytest.raises(NotFoundError):
        authenticate(store, key)


def test_a_key_with_a_known_prefix_but_wrong_secret_is_refused(store: Store) -> None:
    _, key = create_tenant(store, "Acme")
    with pytest.raises(NotFoundError):
        authenticate(store, key[:-4] + "AAAA")


def test_a_revoked_key_is_refused(store: Store) -> None:
    _, key = create_tenant(store, "Acme")
    with store.system_session() as session:
        session.scalars(select(ApiKey)).one().revoked_at = utcnow()
    with pytest.raises(NotFoundError):
        authenticate(store, key)


def test_tenant_slugs_are_unique(store: Store) -> None:
    create_tenant(store, "Acme")
    with pytest.raises(ConflictError, match="already exists"):
        create_tenant(store, "ACME")


@pytest.mark.parametrize("slug", ["Acme", "-acme", "acme-", "a" * 64, "ac me"])
def test_invalid_slugs_are_refused_with_a_reason(store: Store, slug: str) -> None:
    with pytest.raises(ValidationError, match="invalid slug"):
        create_tenant(store, "Acme", slug)


def test_a_name_without_letters_or_digits_needs_an_explicit_slug() -> None:
    with pytest.raises(ValidationError, match="pass one explicitly"):
        slugify("!!!")


def test_tenants_are_found_by_id_or_slug_and_listed(store: Store) -> None:
    acme, _ = create_tenant(store, "Acme")
    create_tenant(store, "Globex")
    assert get_tenant(store, acme.id).slug == "acme"
    assert get_tenant(store, "acme").id == acme.id
    assert [t.slug for t in list_tenants(store)] == ["acme", "globex"]
    with pytest.raises(NotFoundError):
        get_tenant(store, "initech")


def test_a_tenant_can_be_pinned_to_a_region_and_unpinned(store: Store) -> None:
    tenant, _ = create_tenant(store, "Residency GmbH", region="eu")
    assert region_of(store, tenant.id) == "eu"
    assert pin_region(store, tenant.slug, "eu-west").region == "eu-west"
    assert region_of(store, tenant.id) == "eu-west"
    pin_region(store, tenant.id, None)
    assert region_of(store, tenant.id) is None


@pytest.mark.parametrize("region", ["EU", "eu_west", "-eu", "x" * 33, "eu west"])
def test_a_region_must_fit_a_work_queue_name(store: Store, region: str) -> None:
    with pytest.raises(ValidationError, match="invalid region"):
        create_tenant(store, "Anywhere", region=region)
    assert list_tenants(store) == []
