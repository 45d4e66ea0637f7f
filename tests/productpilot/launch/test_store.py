"""Specification of a product's flags in the store: versions, audit trail, document, events."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select

from productpilot.db.models import Flag, Product
from productpilot.db.store import Store
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.eventbus import TENANT_LABEL
from productpilot.launch.flags import evaluate
from productpilot.launch.store import (
    FLAG_CHANGED_EVENT,
    FLAG_LABEL,
    StaleFlagError,
    announce,
    create_flag,
    delete_flag,
    flag_history,
    get_flag,
    list_flags,
    product_document,
    update_flag,
)
from productpilot.products import create_product
from productpilot.tenants import create_tenant
from tests.productpilot.webhooks.fakes import RecordingEmitter

CHECKOUT = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
BANNER = {
    "state": "ENABLED",
    "variants": {"plain": "Welcome", "staff": "Hello, colleague"},
    "defaultVariant": "plain",
    "targeting": {"if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "staff", None]},
}
ROLLOUT = {
    "state": "ENABLED",
    "variants": {"on": True, "off": False},
    "defaultVariant": "off",
    "targeting": {"fractional": [["on", 50], ["off", 50]]},
}


def changed(definition: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(definition), **fields}


# --- create, read, update, delete ------------------------------------------------------------


def test_a_created_flag_is_at_version_1_with_its_normalised_definition(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        change = create_flag(session, product, "new-checkout", CHECKOUT, "ann", "JIRA-12")
    assert (change.action, change.version, change.key) == ("created", 1, "new-checkout")
    assert [item.describe() for item in change.changes] == ["flag 'new-checkout' added"]
    with store.tenant_session(tenant_id) as session:
        flag = get_flag(session, product, "new-checkout")
    assert (flag.version, flag.kind, flag.state) == (1, "boolean", "ENABLED")
    assert flag.definition == CHECKOUT
    assert flag.created_at == flag.updated_at == change.changed_at


def test_a_bad_definition_is_refused_naming_the_flag_and_the_problem(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        with pytest.raises(ValidationError, match="flag 'x': defaultVariant 'blue' is not a"):
            create_flag(session, product, "x", changed(CHECKOUT, defaultVariant="blue"), "ann")
        with pytest.raises(ValidationError, match=r"flag 'x': \$ref 'beta' names no entry"):
            create_flag(session, product, "x", changed(CHECKOUT, targeting={"$ref": "beta"}), "a")
        with pytest.raises(ValidationError, match="invalid flag key 'two words'"):
            create_flag(session, product, "two words", CHECKOUT, "ann")
        with pytest.raises(ValidationError, match="needs an actor"):
            create_flag(session, product, "x", CHECKOUT, "  ")
    with store.tenant_session(tenant_id) as session:
        assert list_flags(session, product) == []


def test_a_key_exists_once_per_product(store: Store, tenant_id: int, product: Product) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
        other = create_product(session, "Mobile App")
        assert create_flag(session, other, "f", BANNER, "ann").version == 1
    with store.tenant_session(tenant_id) as session:
        with pytest.raises(ConflictError, match="flag 'f' already exists"):
            create_flag(session, product, "f", BANNER, "bob")
        assert [flag.kind for flag in list_flags(session, product)] == ["boolean"]


def test_an_update_adds_a_version_and_an_audit_entry_with_who_when_why_and_what(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann", "new checkout behind a flag")
    with store.tenant_session(tenant_id) as session:
        change = update_flag(
            session, product, "f", changed(CHECKOUT, state="DISABLED"), "bob", "incident 7"
        )
    assert (change.action, change.version) == ("updated", 2)
    with store.tenant_session(tenant_id) as session:
        history = flag_history(session, product, "f")
    assert [(e.version, e.action, e.actor, e.reason) for e in history] == [
        (2, "updated", "bob", "incident 7"),
        (1, "created", "ann", "new checkout behind a flag"),
    ]
    assert [c.describe() for c in history[0].changes] == [
        'flag \'f\': state changed from "ENABLED" to "DISABLED"'
    ]
    assert history[0].changed_at == change.changed_at >= history[1].changed_at
    assert history[0].definition == changed(CHECKOUT, state="DISABLED")
    assert history[1].definition == CHECKOUT


def test_an_update_based_on_a_stale_version_is_refused_and_changes_nothing(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
        update_flag(session, product, "f", changed(CHECKOUT, defaultVariant="on"), "ann")
    with (
        store.tenant_session(tenant_id) as session,
        pytest.raises(StaleFlagError, match="at version 2, not 1") as raised,
    ):
        update_flag(session, product, "f", CHECKOUT, "bob", expected_version=1)
    assert raised.value.current_version == 2
    assert isinstance(raised.value, ConflictError)
    with store.tenant_session(tenant_id) as session:
        assert get_flag(session, product, "f").definition["defaultVariant"] == "on"
        assert len(flag_history(session, product, "f")) == 2


def test_a_concurrent_writer_wins_and_the_other_write_is_stale(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
    with store.tenant_session(tenant_id) as slow:
        # the slow writer has read version 1 (its session holds the row as it read it)...
        held = slow.scalar(select(Flag).where(Flag.key == "f"))
        assert held is not None
        assert held.version == 1
        with store.tenant_session(tenant_id) as fast:  # ...while another writer commits 2
            update_flag(fast, product, "f", changed(CHECKOUT, state="DISABLED"), "bob")
        with pytest.raises(StaleFlagError, match="at version 2"):
            update_flag(slow, product, "f", changed(CHECKOUT, defaultVariant="on"), "ann")
    with store.tenant_session(tenant_id) as session:
        flag = get_flag(session, product, "f")
        assert (flag.version, flag.state, flag.definition["defaultVariant"]) == (
            2,
            "DISABLED",
            "off",
        )


def test_an_update_that_changes_nothing_keeps_the_version_and_the_history(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
        change = update_flag(session, product, "f", dict(CHECKOUT), "bob", expected_version=1)
        assert (change.action, change.version, change.is_change) == ("unchanged", 1, False)
        assert len(flag_history(session, product, "f")) == 1


def test_a_deleted_flag_leaves_the_document_but_keeps_its_history(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
        create_flag(session, product, "g", BANNER, "ann")
    with store.tenant_session(tenant_id) as session:
        with pytest.raises(StaleFlagError):
            delete_flag(session, product, "f", "bob", "shipped", expected_version=7)
        change = delete_flag(session, product, "f", "bob", "shipped", expected_version=1)
    assert (change.action, change.version, change.flag) == ("deleted", 2, None)
    with store.tenant_session(tenant_id) as session:
        with pytest.raises(NotFoundError, match="no flag 'f'"):
            get_flag(session, product, "f")
        with pytest.raises(NotFoundError):
            update_flag(session, product, "f", CHECKOUT, "bob")
        with pytest.raises(NotFoundError):
            delete_flag(session, product, "f", "bob")
        assert [flag.key for flag in list_flags(session, product)] == ["g"]
        assert list(product_document(session, product)[0].flags) == ["g"]
        history = flag_history(session, product, "f")
    assert [(e.version, e.action, e.reason, e.definition) for e in history] == [
        (2, "deleted", "shipped", None),
        (1, "created", "", CHECKOUT),
    ]
    assert [c.describe() for c in history[0].changes] == ["flag 'f' removed"]


def test_a_deleted_key_created_again_continues_its_versions(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
        delete_flag(session, product, "f", "ann")
        again = create_flag(session, product, "f", BANNER, "bob", "back as a string flag")
        assert (again.action, again.version) == ("created", 3)
        assert get_flag(session, product, "f").kind == "string"
        assert [e.action for e in flag_history(session, product, "f")] == [
            "created",
            "deleted",
            "created",
        ]


def test_history_of_a_key_never_used_is_not_found(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session, pytest.raises(NotFoundError):
        flag_history(session, product, "never")


def test_another_tenant_sees_none_of_the_flags(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
    other, _key = create_tenant(store, "Globex")
    with store.tenant_session(other.id) as session:
        # even handed the product itself, the other tenant's session filters its flags out
        assert list_flags(session, product) == []
        with pytest.raises(NotFoundError):
            get_flag(session, product, "f")
        with pytest.raises(NotFoundError):
            flag_history(session, product, "f")
        assert product_document(session, product)[0].flags == {}


# --- the product's document --------------------------------------------------------------------


def test_the_document_holds_every_live_flag_and_answers_as_evaluate_does(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        for key, definition in (("checkout", CHECKOUT), ("banner", BANNER), ("fast", ROLLOUT)):
            create_flag(session, product, key, definition, "ann")
        document, token = product_document(session, product)
    assert list(document.flags) == ["banner", "checkout", "fast"]
    assert document.metadata == {"flagSetId": product.slug, "version": token}
    staff = evaluate(document, "banner", {"targetingKey": "u", "email": "a@acme.com"})
    assert (staff.value, staff.reason) == ("Hello, colleague", "TARGETING_MATCH")
    served = {evaluate(document, "fast", {"targetingKey": f"u{i}"}).value for i in range(20)}
    assert served == {True, False}
    alone = {"flags": {"fast": ROLLOUT}}
    assert all(
        evaluate(document, "fast", {"targetingKey": f"u{i}"}).value
        == evaluate(alone, "fast", {"targetingKey": f"u{i}"}).value
        for i in range(20)
    )


def test_the_version_token_changes_with_every_change_and_never_comes_back(
    store: Store, tenant_id: int, product: Product
) -> None:
    tokens = []
    with store.tenant_session(tenant_id) as session:
        tokens.append(product_document(session, product)[1])
        create_flag(session, product, "f", CHECKOUT, "ann")
        tokens.append(product_document(session, product)[1])
        update_flag(session, product, "f", changed(CHECKOUT, state="DISABLED"), "ann")
        tokens.append(product_document(session, product)[1])
        update_flag(session, product, "f", CHECKOUT, "ann")  # back to the first content
        tokens.append(product_document(session, product)[1])
        delete_flag(session, product, "f", "ann")
        tokens.append(product_document(session, product)[1])
        create_flag(session, product, "f", CHECKOUT, "ann")  # the same flag again
        tokens.append(product_document(session, product)[1])
        update_flag(session, product, "f", CHECKOUT, "ann")  # no change
        tokens.append(product_document(session, product)[1])
    assert len(set(tokens[:-1])) == len(tokens) - 1
    assert tokens[-1] == tokens[-2]


def test_an_unchanged_document_is_served_from_the_cache(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        create_flag(session, product, "f", CHECKOUT, "ann")
        first, token = product_document(session, product)
    with store.tenant_session(tenant_id) as session:
        again, same = product_document(session, product)
    assert (again, same) == (first, token)
    assert again is first  # flagd-core loaded the flags once


# --- announcing ----------------------------------------------------------------------------


def test_a_change_is_announced_about_the_product_with_a_stable_event_id(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        created = create_flag(session, product, "f", CHECKOUT, "ann", "launch")
        updated = update_flag(session, product, "f", changed(CHECKOUT, state="DISABLED"), "bob")
    emitter = RecordingEmitter()
    assert announce(emitter, created)
    assert announce(emitter, updated)
    first, second = emitter.events
    assert (first.name, first.resource_id) == (
        FLAG_CHANGED_EVENT,
        f"productpilot.product.{product.id}",
    )
    assert first.labels == {TENANT_LABEL: str(tenant_id), FLAG_LABEL: "f"}
    assert first.occurred == created.changed_at
    assert first.payload["action"] == "created"
    assert (first.payload["actor"], first.payload["reason"]) == ("ann", "launch")
    assert second.payload["version"] == 2
    assert second.payload["changes"][0]["field"] == "state"
    assert second.payload["changes"][0]["after"] == "DISABLED"
    assert first.event_id != second.event_id == updated.event_id


def test_announcing_never_raises_and_skips_what_is_not_a_change(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        created = create_flag(session, product, "f", CHECKOUT, "ann")
        unchanged = update_flag(session, product, "f", CHECKOUT, "ann")
    assert announce(RecordingEmitter(failing=True), created) is False
    assert announce(None, created) is False
    quiet = RecordingEmitter()
    assert announce(quiet, unchanged) is False
    assert quiet.events == []
