"""A product's feature flags in the store: versioned CRUD, an audit trail, the flagd document.

Each flag is one row of ``flags`` holding one flagd flag definition (``{state, variants,
defaultVariant, targeting, metadata}``) and a version that grows by one with every change.
Every change also appends a ``flag_changes`` row: who (``actor``), when, why (``reason``),
what (the :func:`~productpilot.launch.flags.diff` of the definition) and the definition
as it stood after the change. All of a product's flags together make the flagd document
that OFREP evaluates and flagd syncs (:func:`product_document`).

Deleting keeps the row as a *tombstone*: its definition becomes ``{}`` (no flag), its
version still grows and its history stays readable. A real delete would cascade away the
audit trail (``flag_changes.flag_id`` deletes with the flag). Creating the key again
revives the row at the next version, so versions (and the document's version token) never
repeat for a key, and an ``If-Match`` from before the deletion can never match again.

Flags here are self-contained: a product has no shared ``$evaluators``, so a targeting
``$ref`` is refused.

Writes never announce themselves: they return a :class:`FlagChanged` that the caller hands
to :func:`announce` once its transaction has committed (an event about a change that then
rolled back would be a lie).

Example:
    >>> with store.tenant_session(tenant_id) as session:  # doctest: +SKIP
    ...     change = create_flag(session, product, "new-checkout", {"state": "ENABLED",
    ...         "variants": {"on": True, "off": False}, "defaultVariant": "off"},
    ...         actor="ann", reason="JIRA-12")
    >>> announce(emitter, change)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError

from productpilot.db.models import Flag, Product
from productpilot.db.models import FlagChange as FlagChangeRow
from productpilot.db.tenancy import StoreSession
from productpilot.db.types import utcnow
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.eventbus import TENANT_LABEL, EventEmitter, product_resource_id
from productpilot.launch.flags import (
    Change,
    FlagDocument,
    diff,
    validate_document,
    value_kind,
)

logger = logging.getLogger("productpilot.launch.store")

FLAG_CHANGED_EVENT = "productpilot.flag.changed"
#: Resource label naming the flag on :data:`FLAG_CHANGED_EVENT`.
FLAG_LABEL = "productpilot.flag"
FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
#: A flag is a few rules, not a data store: this bounds what every evaluation has to load.
MAX_DEFINITION_BYTES = 64 * 1024
#: Keys travel in URL paths (``/flags/{key}``, OFREP's ``/evaluate/flags/{key}``).
FLAG_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
_FLAG_KEY = re.compile(FLAG_KEY_PATTERN)
_EVENT_NAMESPACE = uuid.UUID("0f6f3f0e-4a43-5a52-9a53-70726f647563")  # fixed: ids stay stable
_DOCUMENT_CACHE_SIZE = 256

Action = Literal["created", "updated", "deleted", "unchanged"]


class StaleFlagError(ConflictError):
    """The flag is not at the version the caller based its change on (HTTP: 412).

    Attributes:
        key: the flag.
        current_version: its version now.
    """

    def __init__(self, key: str, current_version: int, expected_version: int) -> None:
        super().__init__(
            f"flag '{key}' is at version {current_version}, not {expected_version}; read it again"
        )
        self.key = key
        self.current_version = current_version


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFlag:
    """A live flag of a product.

    Attributes:
        product_id: the product.
        key: the flag key.
        version: grows by one with every change (``ETag``/``If-Match`` compare it).
        definition: the flagd flag definition (normalised by validation).
        created_at: when the flag was first created.
        updated_at: when it last changed.
    """

    product_id: int
    key: str
    version: int
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def state(self) -> str:
        """``ENABLED`` or ``DISABLED``."""
        return self.definition["state"]

    @property
    def kind(self) -> str:
        """The variants' type: ``boolean``, ``string``, ``number`` or ``object``."""
        return value_kind(next(iter(self.definition["variants"].values()))) or "object"


@dataclass(frozen=True)
class FlagHistoryEntry:
    """One version of a flag in its audit trail.

    Attributes:
        version: the version this change produced.
        action: ``created``, ``updated`` or ``deleted``.
        actor: who made it (an API key's prefix, a CLI user...).
        reason: why, in the actor's words.
        changed_at: when.
        changes: what changed, field by field.
        definition: the flag after the change; ``None`` once deleted.
    """

    version: int
    action: str
    actor: str
    reason: str
    changed_at: datetime
    changes: tuple[Change, ...]
    definition: dict[str, Any] | None


@dataclass(frozen=True)
class FlagChanged:
    """What a write did, for the caller to announce as ``productpilot.flag.changed``.

    Attributes:
        tenant_id: the product's tenant.
        product_id: the product.
        flag_id: the flag's row id (with ``version``, it names the change uniquely).
        key: the flag key.
        version: the flag's version after the write.
        action: ``created``, ``updated``, ``deleted``, or ``unchanged`` for an update
            that changed nothing (no new version, no audit row, nothing to announce).
        actor: who.
        reason: why.
        changed_at: when.
        changes: what changed, field by field.
        flag: the flag after the write; ``None`` when deleted.
    """

    tenant_id: int
    product_id: int
    flag_id: int
    key: str
    version: int
    action: Action
    actor: str
    reason: str
    changed_at: datetime
    changes: tuple[Change, ...]
    flag: StoredFlag | None

    @property
    def is_change(self) -> bool:
        """False for an update that left the flag as it was."""
        return self.action != "unchanged"

    @property
    def event_id(self) -> uuid.UUID:
        """Stable per (tenant, flag, version): emitting it twice is one event downstream."""
        return uuid.uuid5(_EVENT_NAMESPACE, f"{self.tenant_id}/{self.flag_id}/{self.version}")

    def payload(self) -> dict[str, Any]:
        """The event payload: enough to correlate a metric shift with this change.

        Example:
            >>> change.payload()["changes"][0]["description"]  # doctest: +SKIP
            'flag \\'checkout\\': state changed from "ENABLED" to "DISABLED"'
        """
        return {
            "product_id": self.product_id,
            "flag": self.key,
            "action": self.action,
            "version": self.version,
            "actor": self.actor,
            "reason": self.reason,
            "changed_at": self.changed_at.isoformat(),
            "changes": [change.to_dict() for change in self.changes],
        }


# --- reading -------------------------------------------------------------------------------


def list_flags(session: StoreSession, product: Product) -> list[StoredFlag]:
    """The product's live flags, by key.

    Example:
        >>> [flag.key for flag in list_flags(session, product)]  # doctest: +SKIP
        ['banner-text', 'new-checkout']
    """
    rows = session.scalars(
        select(Flag).where(Flag.product_id == product.id).order_by(Flag.key)
    ).all()
    return [_stored(row) for row in rows if _is_live(row)]


def get_flag(session: StoreSession, product: Product, key: str) -> StoredFlag:
    """One live flag of the product.

    Raises:
        NotFoundError: no such flag (never created, deleted, or another product's).

    Example:
        >>> get_flag(session, product, "new-checkout").version  # doctest: +SKIP
        3
    """
    row = _row(session, product, key)
    if row is None or not _is_live(row):
        raise NotFoundError(f"no flag '{key}' in product {product.id}")
    return _stored(row)


def flag_history(session: StoreSession, product: Product, key: str) -> list[FlagHistoryEntry]:
    """Every change of a flag, newest first; a deleted flag keeps its history.

    Raises:
        NotFoundError: the product never had this flag.

    Example:
        >>> [(entry.version, entry.action) for entry in flag_history(session, product, "f")]
        ... # doctest: +SKIP
        [(2, 'updated'), (1, 'created')]
    """
    row = _row(session, product, key)
    if row is None:
        raise NotFoundError(f"no flag '{key}' in product {product.id}")
    changes = session.scalars(
        select(FlagChangeRow)
        .where(FlagChangeRow.flag_id == row.id)
        .order_by(FlagChangeRow.version.desc(), FlagChangeRow.id.desc())
    ).all()
    return [
        FlagHistoryEntry(
            version=change.version,
            action=str(change.diff.get("action", "updated")),
            actor=change.actor,
            reason=change.reason,
            changed_at=change.changed_at,
            changes=tuple(_change_of(item) for item in change.diff.get("changes", [])),
            definition=dict(change.definition) or None,
        )
        for change in changes
    ]


def product_document(session: StoreSession, product: Product) -> tuple[FlagDocument, str]:
    """All of the product's live flags as one validated flagd document, and its version token.

    The token hashes every flag row's id, version and definition, deleted ones included,
    so it changes with every create, update and delete and never comes back. The document
    carries it as ``metadata.version`` (and the product's slug as ``flagSetId``), which
    flagd and OFREP report with every evaluation. Validated documents are cached per
    token: evaluating needs flagd-core to load the flags, which costs far more than the
    query.

    Example:
        >>> document, token = product_document(session, product)  # doctest: +SKIP
        >>> document.metadata["version"] == token  # doctest: +SKIP
        True
    """
    rows = session.execute(
        select(Flag.id, Flag.version, Flag.key, Flag.definition)
        .where(Flag.product_id == product.id)
        .order_by(Flag.key)
    ).all()
    token = _version_token(product, rows)
    cached = _DOCUMENTS.get((product.id, token))
    if cached is not None:
        return cached, token
    document = validate_document(
        {
            "$schema": FLAGD_SCHEMA,
            "flags": {row.key: row.definition for row in rows if row.definition},
            "metadata": {"flagSetId": product.slug, "version": token},
        }
    )
    _DOCUMENTS.put((product.id, token), document)
    return document, token


# --- writing -------------------------------------------------------------------------------


def create_flag(
    session: StoreSession,
    product: Product,
    key: str,
    definition: Mapping[str, Any],
    actor: str,
    reason: str = "",
) -> FlagChanged:
    """Add a flag to the product (version 1, or the next version of a deleted key).

    Args:
        session: a tenant session.
        product: the product (of the session's tenant).
        key: letters, digits, ``.``, ``_`` and ``-``; at most 200 characters.
        definition: a flagd flag definition.
        actor: who is creating it (recorded in the audit trail).
        reason: why (recorded too).

    Raises:
        ValidationError: a bad key or definition; the message names the flag and the problem.
        ConflictError: the product already has a live flag with this key.

    Example:
        >>> change = create_flag(session, product, "dark-mode", {"state": "ENABLED",
        ...     "variants": {"on": True, "off": False}, "defaultVariant": "off"}, "ann", "beta")
        ... # doctest: +SKIP
        >>> (change.action, change.version)  # doctest: +SKIP
        ('created', 1)
    """
    session.require_tenant()
    _check_key(key)
    normalised = _validated_definition(key, definition)
    actor, reason = _who_and_why(actor, reason)
    row = _row(session, product, key)
    if row is not None and _is_live(row):
        raise ConflictError(f"flag '{key}' already exists (version {row.version})")
    now = utcnow()
    if row is None:
        row = Flag(product_id=product.id, key=key, definition=normalised, version=1)
        row.created_at = row.updated_at = now
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            # Another writer created the key between our read and our insert.
            raise ConflictError(f"flag '{key}' was just created by someone else") from None
    else:
        _compare_and_set(session, row, row.version, normalised, now)
    return _record(session, product, row, "created", actor, reason, {}, now)


def update_flag(
    session: StoreSession,
    product: Product,
    key: str,
    definition: Mapping[str, Any],
    actor: str,
    reason: str = "",
    *,
    expected_version: int | None = None,
) -> FlagChanged:
    """Replace a flag's definition; the version grows by one unless nothing changed.

    Args:
        expected_version: the version the caller read (optimistic concurrency); ``None``
            overwrites whatever is there.

    Raises:
        NotFoundError: no such live flag.
        StaleFlagError: the flag is not at ``expected_version``, or another writer changed
            it concurrently (a :class:`ConflictError`; the API answers 412).
        ValidationError: a bad definition.

    Example:
        >>> change = update_flag(session, product, "dark-mode", definition, "ann", "on for all",
        ...                      expected_version=1)  # doctest: +SKIP
        >>> [c.describe() for c in change.changes]  # doctest: +SKIP
        ['flag \\'dark-mode\\': defaultVariant changed from "off" to "on"']
    """
    session.require_tenant()
    normalised = _validated_definition(key, definition)
    actor, reason = _who_and_why(actor, reason)
    row = _live_row(session, product, key)
    if expected_version is not None and expected_version != row.version:
        raise StaleFlagError(key, row.version, expected_version)
    previous = dict(row.definition)
    if _canonical(previous) == _canonical(normalised):
        return _result(product, row, "unchanged", actor, reason, (), utcnow())
    now = utcnow()
    _compare_and_set(session, row, row.version, normalised, now)
    return _record(session, product, row, "updated", actor, reason, previous, now)


def delete_flag(
    session: StoreSession,
    product: Product,
    key: str,
    actor: str,
    reason: str = "",
    *,
    expected_version: int | None = None,
) -> FlagChanged:
    """Remove a flag from the product's document, keeping its history (a tombstone).

    Raises:
        NotFoundError: no such live flag.
        StaleFlagError: the flag is not at ``expected_version``.

    Example:
        >>> delete_flag(session, product, "dark-mode", "ann", "shipped").action  # doctest: +SKIP
        'deleted'
    """
    session.require_tenant()
    actor, reason = _who_and_why(actor, reason)
    row = _live_row(session, product, key)
    if expected_version is not None and expected_version != row.version:
        raise StaleFlagError(key, row.version, expected_version)
    previous = dict(row.definition)
    now = utcnow()
    _compare_and_set(session, row, row.version, {}, now)
    return _record(session, product, row, "deleted", actor, reason, previous, now)


# --- announcing ----------------------------------------------------------------------------


def announce(emitter: EventEmitter | None, change: FlagChanged) -> bool:
    """Emit ``productpilot.flag.changed`` for a committed change; never raises.

    The event is about the product's resource (``productpilot.product.<id>``, labelled with
    the tenant and the flag), so the flows that correlate metric shifts and notify people
    match it like every other product event. An emitter failure is logged and answered
    ``False``: the change itself is stored and its audit row is the durable record; the
    event id is stable, so emitting it again later is safe.

    Args:
        emitter: where events go; ``None`` announces nothing.
        change: what a write returned, after its transaction committed.

    Returns:
        True when the event was emitted.

    Example:
        >>> announce(emitter, change)  # doctest: +SKIP
        True
    """
    if emitter is None or not change.is_change:
        return False
    try:
        emitter.emit(
            FLAG_CHANGED_EVENT,
            product_resource_id(change.product_id),
            change.payload(),
            change.event_id,
            labels={TENANT_LABEL: str(change.tenant_id), FLAG_LABEL: change.key},
            occurred=change.changed_at,
        )
    except Exception as exc:  # any emitter failure: the change stands, the event is lost
        logger.warning(
            "could not announce flag '%s' version %s of product %s: %s: %s",
            change.key,
            change.version,
            change.product_id,
            type(exc).__name__,
            exc,
        )
        return False
    return True


# --- helpers -------------------------------------------------------------------------------


class _DocumentCache:
    """A small thread-safe LRU of validated documents by (product id, version token)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, str], FlagDocument] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> FlagDocument | None:
        with self._lock:
            document = self._entries.get(key)
            if document is not None:
                self._entries.move_to_end(key)
            return document

    def put(self, key: tuple[int, str], document: FlagDocument) -> None:
        with self._lock:
            self._entries[key] = document
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_DOCUMENTS = _DocumentCache(_DOCUMENT_CACHE_SIZE)


def _row(session: StoreSession, product: Product, key: str) -> Flag | None:
    return session.scalar(select(Flag).where(Flag.product_id == product.id, Flag.key == key))


def _live_row(session: StoreSession, product: Product, key: str) -> Flag:
    row = _row(session, product, key)
    if row is None or not _is_live(row):
        raise NotFoundError(f"no flag '{key}' in product {product.id}")
    return row


def _is_live(row: Flag) -> bool:
    return bool(row.definition)  # a tombstone's definition is {}


def _stored(row: Flag) -> StoredFlag:
    return StoredFlag(
        product_id=row.product_id,
        key=row.key,
        version=row.version,
        definition=dict(row.definition),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not _FLAG_KEY.match(key):
        raise ValidationError(
            f"invalid flag key {key!r}: use 1-200 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def _validated_definition(key: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(definition, Mapping):
        raise ValidationError(f"flag '{key}': the definition must be a JSON object")
    size = len(json.dumps(definition, default=str))
    if size > MAX_DEFINITION_BYTES:
        raise ValidationError(
            f"flag '{key}': the definition is {size} bytes, more than {MAX_DEFINITION_BYTES}"
        )
    document = validate_document({"flags": {key: definition}})
    return document.flags[key].to_json()


def _who_and_why(actor: str, reason: str) -> tuple[str, str]:
    actor = (actor or "").strip()
    if not actor:
        raise ValidationError("a flag change needs an actor (who made it)")
    if len(actor) > 200:
        raise ValidationError("the actor is longer than 200 characters")
    return actor, (reason or "").strip()


def _compare_and_set(
    session: StoreSession, row: Flag, version: int, definition: dict[str, Any], now: datetime
) -> None:
    """Write the next version only if nobody wrote since we read ``version``."""
    result = session.execute(
        update(Flag)
        .where(Flag.id == row.id, Flag.version == version)
        .values(definition=definition, version=version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.expire(row)
        current = session.scalar(select(Flag.version).where(Flag.id == row.id))
        raise StaleFlagError(row.key, current or version, version)
    session.refresh(row)


def _record(
    session: StoreSession,
    product: Product,
    row: Flag,
    action: Action,
    actor: str,
    reason: str,
    previous: dict[str, Any],
    now: datetime,
) -> FlagChanged:
    """Append the audit row of the version ``row`` is now at."""
    before = {"flags": {row.key: previous}} if previous else {"flags": {}}
    after = {"flags": {row.key: row.definition}} if row.definition else {"flags": {}}
    changes = tuple(diff(before, after))
    session.add(
        FlagChangeRow(
            flag_id=row.id,
            version=row.version,
            actor=actor,
            reason=reason,
            diff={"action": action, "changes": [_change_json(change) for change in changes]},
            definition=dict(row.definition),
            changed_at=now,
        )
    )
    session.flush()
    return _result(product, row, action, actor, reason, changes, now)


def _result(
    product: Product,
    row: Flag,
    action: Action,
    actor: str,
    reason: str,
    changes: tuple[Change, ...],
    now: datetime,
) -> FlagChanged:
    return FlagChanged(
        tenant_id=product.tenant_id,
        product_id=product.id,
        flag_id=row.id,
        key=row.key,
        version=row.version,
        action=action,
        actor=actor,
        reason=reason,
        changed_at=now if action != "unchanged" else row.updated_at,
        changes=changes,
        flag=_stored(row) if _is_live(row) else None,
    )


def _change_json(change: Change) -> dict[str, Any]:
    data = change.to_dict()
    data.pop("description")  # derived: rebuilt from the fields when read
    return data


def _change_of(data: Mapping[str, Any]) -> Change:
    return Change(
        flag=data.get("flag"),
        action=data.get("action", "changed"),
        field=data.get("field"),
        before=data.get("before"),
        after=data.get("after"),
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _version_token(product: Product, rows: Sequence[Row[Any]]) -> str:
    # Row versions make the token change with every write; the content in the hash makes
    # equal tokens mean equal documents, so the cache is right even across databases.
    material = _canonical(
        [product.id, product.slug, [[row.id, row.version, row.key, row.definition] for row in rows]]
    )
    return hashlib.sha256(material.encode()).hexdigest()[:24]
