"""The dead-letter queue: flow runs that failed after their retries, kept to be replayed.

A run that ends Failed or Crashed is recorded once per tenant it served (idempotent by flow
run id), listed and shown by the CLI and the API, and then either replayed (a new run of the
same deployment with the same parameters, linked both ways) or discarded with a reason.

Whose failure is it? Runs the API starts carry a ``tenant:<id>`` tag: that tenant. Scheduled
runs serve every tenant and carry no such tag: the tenants owning the products their
``product_ids`` (or ``product_id``) parameter names, or, when it names none (a run over all
products), every tenant that has a product. Each of those tenants gets its own dead letter,
so each sees and replays it through its own scope.

Example:
    >>> run = FailedRun(
    ...     flow_run_id="0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10", flow_name="daily-analysis",
    ...     deployment_name="daily-analysis", parameters={"product_ids": [7]},
    ...     error="Failed: KeyError('signups')", attempts=3,
    ... )
    >>> run.named_product_ids()
    [7]
    >>> with store.tenant_session(tenant_id) as session:  # doctest: +SKIP
    ...     letter, created = record(session, run)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import select

from productpilot.db.models import DeadLetter, Product, Tenant
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.notify.message import Finding

Status = Literal["open", "replayed", "discarded"]
STATUSES: tuple[Status, ...] = ("open", "replayed", "discarded")
#: The flow that records dead letters; its own failures are never recorded (no loop).
DEAD_LETTER_FLOW = "dead-letter"
#: The event resource id prefix a deployment trigger passes as ``{{ event.resource.id }}``.
FLOW_RUN_RESOURCE_PREFIX = "prefect.flow-run."
#: Same format as the API's run tags (``productpilot.api.prefect_gateway.tenant_tag``).
TENANT_TAG_PREFIX = "tenant:"
REPLAY_TAG_PREFIX = "replay-of:"
FINDING_KIND = "productpilot.run.failed"
#: Longest error text kept: a traceback summary, not a log file.
MAX_ERROR_CHARS = 4000


def normalize_flow_run_id(value: str) -> str:
    """The flow run's UUID, from either a bare id or an event resource id.

    Example:
        >>> normalize_flow_run_id("prefect.flow-run.0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10")
        '0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10'

    Raises:
        ValidationError: neither form holds a UUID.
    """
    raw = value.strip().removeprefix(FLOW_RUN_RESOURCE_PREFIX)
    try:
        return str(UUID(raw))
    except ValueError:
        raise ValidationError(f"not a flow run id: {value!r}") from None


def replay_tag(flow_run_id: str) -> str:
    """The tag a replay carries, naming the run it repeats.

    Example:
        >>> replay_tag("0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10")
        'replay-of:0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10'
    """
    return f"{REPLAY_TAG_PREFIX}{flow_run_id}"


@dataclass(frozen=True)
class FailedRun:
    """A failed flow run as read from Prefect: what a dead letter is made of.

    Attributes:
        flow_run_id: The run's UUID.
        flow_name: The flow's name (``daily-analysis``).
        deployment_name: The deployment's own name, without the flow (None: no deployment,
            so the run cannot be replayed).
        parameters: The run's parameters, replayed as they were.
        error: The final state's type and message.
        attempts: How many times the run ran (1 + its retries).
        tags: The run's tags (``tenant:<id>`` names its tenant).
    """

    flow_run_id: str
    flow_name: str
    deployment_name: str | None
    parameters: dict[str, Any]
    error: str
    attempts: int = 1
    tags: tuple[str, ...] = field(default=())

    def tenant_from_tags(self) -> int | None:
        """The tenant a ``tenant:<id>`` tag names, if any.

        Example:
            >>> run = FailedRun("r", "f", None, {}, "", tags=("productpilot", "tenant:4"))
            >>> run.tenant_from_tags()
            4
        """
        for tag in self.tags:
            if tag.startswith(TENANT_TAG_PREFIX) and tag[len(TENANT_TAG_PREFIX) :].isdigit():
                return int(tag[len(TENANT_TAG_PREFIX) :])
        return None

    def named_product_ids(self) -> list[int] | None:
        """The products the run's parameters name (``product_ids`` or ``product_id``);
        None when it names none, i.e. it ran over all products.

        Example:
            >>> FailedRun("r", "f", None, {"product_id": 3}, "").named_product_ids()
            [3]
            >>> FailedRun("r", "f", None, {"product_ids": None}, "").named_product_ids() is None
            True
        """
        named: set[int] = set()
        ids = self.parameters.get("product_ids")
        if isinstance(ids, list):
            named.update(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
        one = self.parameters.get("product_id")
        if isinstance(one, int) and not isinstance(one, bool):
            named.add(one)
        if not named and not isinstance(ids, list):
            return None
        return sorted(named)


def tenants_of(session: StoreSession, run: FailedRun) -> list[int]:
    """The tenants a failed run served, each of which gets a dead letter.

    Args:
        session: A system session (the run may span tenants).
        run: The failed run.

    Returns:
        The tagged tenant (if it exists); else the owners of the named products; else, for
        a run over all products, every tenant that has a product. Sorted, distinct.
    """
    tagged = run.tenant_from_tags()
    if tagged is not None:
        return [tagged] if session.get(Tenant, tagged) is not None else []
    query = select(Product.tenant_id).distinct().order_by(Product.tenant_id)
    named = run.named_product_ids()
    if named is not None:
        query = query.where(Product.id.in_(named))
    return list(session.scalars(query))


def record(session: StoreSession, run: FailedRun) -> tuple[DeadLetter, bool]:
    """Record ``run`` for the session's tenant, once.

    Args:
        session: The tenant's session; the caller commits.
        run: The failed run.

    Returns:
        The dead letter and whether this call created it (False: it was recorded before,
        and is returned unchanged).
    """
    session.require_tenant()
    existing = session.scalar(select(DeadLetter).where(DeadLetter.flow_run_id == run.flow_run_id))
    if existing is not None:
        return existing, False
    letter = DeadLetter(
        flow_name=run.flow_name,
        deployment_name=run.deployment_name,
        flow_run_id=run.flow_run_id,
        parameters=dict(run.parameters),
        error=run.error[:MAX_ERROR_CHARS],
        attempts=max(run.attempts, 1),
        status="open",
    )
    session.add(letter)
    session.flush()
    return letter, True


def list_dead_letters(
    session: StoreSession, *, status: str | None = None, limit: int = 50
) -> list[DeadLetter]:
    """Dead letters the session can see, newest first.

    Raises:
        ValidationError: an unknown status.
    """
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if status is not None:
        if status not in STATUSES:
            raise ValidationError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        query = query.where(DeadLetter.status == status)
    return list(session.scalars(query))


def get_dead_letter(session: StoreSession, dead_letter_id: int) -> DeadLetter:
    """One dead letter; another tenant's is "not found".

    Raises:
        NotFoundError: no such dead letter in the session's scope.
    """
    letter = session.get(DeadLetter, dead_letter_id)
    if letter is None:
        raise NotFoundError(f"no dead letter {dead_letter_id}")
    return letter


def require_open(letter: DeadLetter, action: str) -> None:
    """Only an open dead letter is replayed or discarded.

    Raises:
        ConflictError: it was already replayed or discarded.
    """
    if letter.status != "open":
        done = f" as {letter.replay_flow_run_id}" if letter.replay_flow_run_id else ""
        raise ConflictError(
            f"cannot {action} dead letter {letter.id}: it was already {letter.status}{done}"
        )


def replay_target(letter: DeadLetter) -> str:
    """The deployment a replay runs, as ``flow-name/deployment-name``.

    Raises:
        ConflictError: the run had no deployment, so there is nothing to run again.
    """
    if not letter.deployment_name:
        raise ConflictError(
            f"cannot replay dead letter {letter.id}: run {letter.flow_run_id} of "
            f"{letter.flow_name} had no deployment"
        )
    return f"{letter.flow_name}/{letter.deployment_name}"


def mark_replayed(
    session: StoreSession, dead_letter_id: int, replay_flow_run_id: str, now: datetime
) -> DeadLetter:
    """Link a dead letter to the run that replayed it.

    Marking it again with the same run is a no-op (a retried replay that found its run
    by idempotency key); with another run it is a conflict.

    Raises:
        NotFoundError: no such dead letter.
        ConflictError: it was discarded, or replayed by another run.
    """
    letter = get_dead_letter(session, dead_letter_id)
    if letter.status == "replayed" and letter.replay_flow_run_id == replay_flow_run_id:
        return letter
    require_open(letter, "replay")
    letter.status = "replayed"
    letter.replay_flow_run_id = replay_flow_run_id
    letter.resolved_at = now
    session.flush()
    return letter


def discard(
    session: StoreSession, dead_letter_id: int, now: datetime, reason: str = ""
) -> DeadLetter:
    """Close a dead letter without replaying it.

    The table has no column for the reason, so it is appended to the error text as a
    ``[discarded]`` line: the record keeps why it was closed next to why it failed.

    Raises:
        NotFoundError: no such dead letter.
        ConflictError: it was already replayed or discarded.
    """
    letter = get_dead_letter(session, dead_letter_id)
    require_open(letter, "discard")
    letter.status = "discarded"
    letter.resolved_at = now
    if reason.strip():
        letter.error = f"{letter.error}\n[discarded] {reason.strip()}"[-MAX_ERROR_CHARS:]
    session.flush()
    return letter


def findings_for(
    letter: DeadLetter, product_ids: Sequence[int], link: str | None = None
) -> list[Finding]:
    """The critical finding to route for each product the failed run named.

    A run over all products names none, so it yields none: telling every product's
    recipients about one scheduled run would be noise; the dead letter itself is listed.

    Example:
        >>> letter = DeadLetter(id=1, flow_name="daily-analysis", deployment_name="daily",
        ...     flow_run_id="r1", parameters={}, error="boom", attempts=3)
        >>> [f.dedupe_key for f in findings_for(letter, [7])]
        ['dead-letter:r1']
    """
    target = f"{letter.flow_name}/{letter.deployment_name or '(no deployment)'}"
    facts = (
        ("flow run", letter.flow_run_id),
        ("deployment", target),
        ("attempts", str(letter.attempts)),
        ("dead letter", str(letter.id)),
    )
    return [
        Finding(
            kind=FINDING_KIND,
            severity="critical",
            product_id=product_id,
            subject=f"Run of {target} failed after {letter.attempts} attempt(s)",
            text=(
                f"{letter.error.splitlines()[0] if letter.error else 'No error message.'}\n"
                f"Replay it with `productpilot dlq replay {letter.id}` once the cause is fixed."
            ),
            dedupe_key=f"dead-letter:{letter.flow_run_id}",
            facts=facts,
            link=link,
        )
        for product_id in product_ids
    ]
