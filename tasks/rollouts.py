"""Rollout tasks: step every active rollout once, then publish the reports of those that
finished.

Coarse like the other tasks: one task steps every active rollout of the run's products
(each step in its own transaction, so one rollout's failure never undoes another's
progress), one publishes the reports.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import select

from integrations.prefect_events import PrefectEventEmitter
from productpilot.db.models import Launch, Product, Tenant
from productpilot.db.types import utcnow
from productpilot.errors import NotFoundError, ProductPilotError
from productpilot.launch.report import report_summary, rollout_report
from productpilot.launch.rollouts import (
    ACTIVE,
    ROLLOUT_KIND,
    Control,
    active_rollout_ids,
    control_rollout,
    create_rollout,
    get_rollout,
    step_rollout,
)
from productpilot.launch.simulate import Regression, simulate_stage, user_ids, write_events
from productpilot.launch.store import (
    announce,
    create_flag,
    flag_history,
    get_flag,
    product_document,
)
from productpilot.notify.router import route
from productpilot.products import locate_product
from productpilot.reports.records import record_report
from productpilot.settings import get_settings
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import task_store

logger = logging.getLogger("productpilot.tasks.rollouts")


@task(
    name="step-rollouts",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def step_rollouts(
    product_ids: list[int] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One step of every running or held rollout of the products (default: all).

    Each step commits on its own and its flag change is announced after the commit.
    A rollout whose step is refused (its flag was deleted, its targeting edited by hand
    into something a rollout cannot move) is reported with the error and left as it is;
    the others go on. Safe to retry: a step re-reads the state it starts from.

    Returns:
        One entry per rollout stepped: the outcome (``to_dict``), plus ``finding`` (a
        :class:`~productpilot.notify.message.Finding` or ``None``) and ``tenant_id``.
    """
    moment = now or datetime.now(UTC)
    store = task_store()
    with store.system_session() as session:
        query = select(Launch.product_id, Launch.tenant_id).where(
            Launch.plan["kind"].as_string() == ROLLOUT_KIND, Launch.status.in_(ACTIVE)
        )
        if product_ids is not None:
            query = query.where(Launch.product_id.in_(product_ids))
        products = sorted({(row.product_id, row.tenant_id) for row in session.execute(query)})
    emitter = PrefectEventEmitter()
    outcomes: list[dict[str, Any]] = []
    for product_id, tenant_id in products:
        with store.tenant_session(tenant_id) as session:
            ids = active_rollout_ids(session, session.get(Product, product_id))
        for rollout_id in ids:
            try:
                with store.tenant_session(tenant_id) as session:
                    outcome = step_rollout(
                        session, session.get(Product, product_id), rollout_id, now=moment
                    )
            except ProductPilotError as exc:
                logger.warning("rollout %s of product %s: %s", rollout_id, product_id, exc)
                outcomes.append(
                    {"rollout_id": rollout_id, "product_id": product_id, "error": str(exc)}
                )
                continue
            if outcome.flag_change is not None:
                announce(emitter, outcome.flag_change)
            outcomes.append(
                {**outcome.to_dict(), "tenant_id": tenant_id, "finding": outcome.finding}
            )
    return outcomes


@task(
    name="publish-rollout-reports",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def publish_rollout_reports(finished: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each finished rollout: its launch report under
    ``<home>/reports/<tenant>/<product>/rollout-<id>.md``, recorded in ``reports`` (kind
    ``rollout``) and published as a Markdown artifact ``rollout-<id>-report``.

    Safe to retry: the file is rewritten and the record replaced.
    """
    store = task_store()
    published = []
    for entry in finished:
        with store.tenant_session(entry["tenant_id"]) as session:
            product = session.get(Product, entry["product_id"])
            tenant = session.get(Tenant, product.tenant_id)
            rollout = get_rollout(session, product, entry["rollout_id"])
            text = rollout_report(rollout, flag_history(session, product, rollout.flag_key))
            folder = get_settings().home / "reports" / tenant.slug / product.slug
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"rollout-{rollout.id}.md"
            path.write_text(text, encoding="utf-8")
            summary = report_summary(rollout)
            record_report(
                session,
                product.id,
                "rollout",
                rollout.started_at,
                rollout.finished_at,
                path=str(path.absolute()),
                summary=summary,
            )
        create_markdown_artifact(
            text,
            key=f"rollout-{rollout.id}-report",
            description=f"Launch report of rollout {rollout.id} ({rollout.name})",
        )
        published.append({**summary, "product_id": product.id, "report": str(path.absolute())})
    return published


@task(name="control-rollout")
def control(
    product_id: int, rollout_id: int, command: Control, actor: str, reason: str = ""
) -> dict[str, Any]:
    """Approve, hold, resume or abort a rollout, as the API does: recorded with who and
    why, stepped at once, a rollback's finding routed in the same transaction and the flag
    change announced after the commit."""
    store = task_store()
    with store.system_session() as session:
        product = session.get(Product, product_id)
        tenant_id = product.tenant_id if product is not None else None
    if tenant_id is None:
        raise NotFoundError(f"no product {product_id}")
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product_id)
        outcome = control_rollout(session, owned, rollout_id, command, actor=actor, reason=reason)
        if outcome.finding is not None:
            route(session, owned, [outcome.finding], now=utcnow())
    if outcome.flag_change is not None:
        announce(PrefectEventEmitter(), outcome.flag_change)
    return outcome.to_dict()


@task(name="start-rollout")
def start_rollout(
    product_id: int,
    flag_key: str,
    name: str,
    plan: dict[str, Any],
    actor: str,
    now: datetime | None = None,
    definition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a rollout of ``flag_key`` (created from ``definition`` first when the product
    has no such flag); its flag changes are announced after commit."""
    store = task_store()
    product = locate_product(store, product_id)
    emitter = PrefectEventEmitter()
    created = None
    with store.tenant_session(product.tenant_id) as session:
        owned = session.get(Product, product_id)
        try:
            get_flag(session, owned, flag_key)
        except NotFoundError:
            if definition is None:
                raise
            created = create_flag(
                session, owned, flag_key, definition, actor, f"created for rollout '{name}'"
            )
        rollout, change = create_rollout(
            session, owned, name=name, flag_key=flag_key, plan=plan, actor=actor, now=now
        )
    for written in (created, change):
        if written is not None:
            announce(emitter, written)
    return {"rollout_id": rollout.id, "tenant_id": product.tenant_id, **rollout.to_dict()}


@task(name="simulate-rollout-traffic")
def simulate_rollout_traffic(
    product_id: int,
    flag_key: str,
    start: datetime,
    end: datetime,
    seed: int,
    users: int = 1000,
    regression: dict[str, float] | None = None,
    lost_exposure_share: float = 0.0,
) -> int:
    """Synthetic traffic of one stage window, bucketed by the flag as it is served now
    (:func:`productpilot.launch.simulate.simulate_stage`); returns the events stored."""
    store = task_store()
    product = locate_product(store, product_id)
    with store.tenant_session(product.tenant_id) as session:
        document, _ = product_document(session, session.get(Product, product_id))
    events = simulate_stage(
        document,
        flag_key,
        users=user_ids(users),
        start=start,
        end=end,
        seed=seed,
        regression=Regression(**regression) if regression is not None else None,
        lost_exposure_share=lost_exposure_share,
    )
    return write_events(store, product.tenant_id, product_id, events)
