"""Development flows, started by GitHub webhooks: the quality gates of a commit, reported as
a check run, and the issue transitions of pull-request and release events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from prefect import flow

from productpilot.eventbus import product_id_of
from productpilot.webhooks import mark_emitted, record_delivery
from tasks.development import (
    evaluate_and_record,
    gather_gate_facts,
    plan_and_record_transitions,
    post_check_run,
)
from tasks.events import emit_findings
from tasks.fairness import fair_share
from tasks.notify import deliver_through_vendors, route_findings
from tasks.store import products_in_scope, task_store


@flow(name="quality-gate", log_prints=True)
@fair_share
def quality_gate_flow(product: str | None = None, delivery_id: str | None = None) -> dict[str, Any]:
    """Evaluate the gates of the commit a GitHub delivery is about; post the verdict as a
    check run, store it, and tell people when it fails (``productpilot.gate.failed``) or
    passes again after failing (in the same thread).

    Args:
        product: The product's id or event resource id (``productpilot.product.<id>``).
        delivery_id: The stored delivery (``X-GitHub-Delivery``; the event's
            ``payload.delivery.id``): its full payload is read from ``webhook_deliveries``.
    """
    if product is None or delivery_id is None:
        raise ValueError("quality-gate needs a product and a delivery_id")
    return gate_delivery(product_id_of(product), delivery_id)


def gate_delivery(product_id: int, delivery_id: str) -> dict[str, Any]:
    """The ``quality-gate`` flow's stages for one delivery, inside the calling run."""
    gathered = gather_gate_facts(product_id, delivery_id)
    evaluated = evaluate_and_record(gathered)
    if "skipped" in evaluated:
        print(f"delivery {delivery_id}: {evaluated['skipped']}")
        return evaluated
    posted = post_check_run(evaluated)
    if evaluated["events"]:
        emit_findings(evaluated["events"])
    if evaluated["notifications"]:
        route_findings(evaluated["notifications"])
        deliver_through_vendors([product_id])
    print(
        f"{evaluated['repository']}@{evaluated['sha'][:12]}: {evaluated['outcome']} "
        f"(before: {evaluated['previous_outcome']}); check run: "
        f"{posted.get('action') or posted.get('skipped')}"
    )
    return {
        **{k: v for k, v in evaluated.items() if k not in ("notifications", "check_run")},
        "check_run": posted,
    }


@flow(name="workflow-transitions", log_prints=True)
@fair_share
def workflow_transitions_flow(
    product: str | None = None, delivery_id: str | None = None
) -> dict[str, Any]:
    """Move the issues a pull request or release mentions, by the product's workflow rules
    (``development.workflow_rules``): each move once, however often the event arrives.

    Args:
        product: The product's id or event resource id (``productpilot.product.<id>``).
        delivery_id: The stored GitHub delivery (the event's ``payload.delivery.id``).
    """
    if product is None or delivery_id is None:
        raise ValueError("workflow-transitions needs a product and a delivery_id")
    return transition_delivery(product_id_of(product), delivery_id)


def transition_delivery(product_id: int, delivery_id: str) -> dict[str, Any]:
    """The ``workflow-transitions`` flow's stages for one delivery, inside the calling run."""
    report = plan_and_record_transitions(product_id, delivery_id)
    if report.get("recorded"):
        deliver_through_vendors([product_id])
    print(
        report.get("skipped")
        or f"{report['recorded']} transition(s) recorded, {report['duplicates']} seen before"
    )
    return report


@flow(name="replay-pull-requests", log_prints=True)
def replay_pull_requests(
    product_id: int, deliveries: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Feed recorded GitHub webhooks through the development flows, in order, as if they
    had just arrived: each is stored as a delivery (its id, or a hash of its content, so a
    replay is idempotent), then gated and, for pull-request and release events,
    transitioned. Without a ``github`` block nothing is fetched or posted: verdicts are
    stored, transitions and alerts wait in the outbox (the demo runs it offline).

    Args:
        product_id: The product.
        deliveries: ``{"kind": <X-GitHub-Event>, "payload": {...}, "id": <optional>}``.

    Example:
        >>> replay_pull_requests(product_id, [{"kind": "pull_request",  # doctest: +SKIP
        ...     "payload": json.loads(Path("opened.payload.json").read_text())}])
    """
    store = task_store()
    [product] = products_in_scope(store, [product_id])
    results = []
    for delivery in deliveries:
        payload = dict(delivery["payload"])
        kind = str(delivery["kind"])
        delivery_id = str(
            delivery.get("id")
            or hashlib.sha256(json.dumps([kind, payload], sort_keys=True).encode()).hexdigest()[:40]
        )
        recorded = record_delivery(
            store,
            tenant_id=product.tenant_id,
            product_id=product.id,
            vendor="github",
            delivery_id=delivery_id,
            kind=kind,
            payload=payload,
            headers={"x-github-event": kind, "x-github-delivery": delivery_id},
        )
        # The two flows' stages in this run: a subflow per delivery would cost more than
        # the work it does.
        gate = gate_delivery(product.id, delivery_id)
        moved = transition_delivery(product.id, delivery_id)
        # Handled here: the reconciler must not emit it as a pending delivery.
        mark_emitted(store, recorded.delivery)
        results.append({"delivery_id": delivery_id, "kind": kind, "gate": gate, "moved": moved})
    return results
