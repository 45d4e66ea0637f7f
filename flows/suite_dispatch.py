"""The test-dispatch flow: a labelled pull request or a deployment starts the product's
integration and performance suites in GitHub Actions."""

from __future__ import annotations

from typing import Any

from prefect import flow

from productpilot.errors import ValidationError
from productpilot.eventbus import product_id_of
from productpilot.quality.dispatch import dispatch_failure_finding
from tasks.fairness import fair_share
from tasks.notify import deliver_through_vendors, route_findings
from tasks.suite_dispatch import complete_test_suites, dispatch_test_suites

#: The event whose deliveries report a suite's result rather than call for one.
WORKFLOW_RUN_COMPLETED = "productpilot.github.workflow_run.completed"


@flow(name="dispatch-test-suites", log_prints=True)
@fair_share
def dispatch_test_suites_flow(
    product: str | None = None, delivery_id: str | None = None, event: str | None = None
) -> dict[str, Any]:
    """Dispatch the ``workflow_dispatch`` workflows the product's
    ``design_and_testing.test_dispatch`` rules name for one GitHub delivery (a
    ``pull_request`` labelled or pushed to, a ``deployment`` or ``deployment_status``), at
    most once per workflow, commit and environment.

    Their results come back as ``workflow_run`` webhooks, which the quality-gate flow turns
    into gate facts; for a completed one (``event`` is
    ``productpilot.github.workflow_run.completed``) this flow marks the dispatch it belongs
    to completed, so the store knows which suites are still outstanding. Dispatches GitHub
    refused are routed to the team as warnings.

    Args:
        product: The product, as its id or event resource id (``productpilot.product.<id>``).
        delivery_id: The stored delivery's id (``{{ event.payload.delivery.id }}``).
        event: The triggering event's name (``{{ event.event }}``).
    """
    if product is None or not delivery_id:
        raise ValidationError("dispatch-test-suites needs product and delivery_id")
    product_id = product_id_of(product)
    if event == WORKFLOW_RUN_COMPLETED:
        completed = complete_test_suites(product_id, delivery_id)
        for suite in completed.get("completed", []):
            print(f"{suite['workflow']} for {suite['sha'][:7]}: {suite['conclusion']}")
        return completed
    report = dispatch_test_suites(product_id, delivery_id)
    for dispatched in report.get("dispatched", []):
        print(f"dispatched {dispatched['workflow']} on {dispatched['ref']}: {dispatched['reason']}")
    for skipped in report.get("skipped", []):
        print(f"skipped {skipped['workflow']}: {skipped['reason']}")
    if report.get("reason"):
        print(report["reason"])
    if report.get("failed"):
        route_findings([dispatch_failure_finding(product_id, f) for f in report["failed"]])
        deliver_through_vendors([product_id])
    return report
