"""Dispatching the configured GitHub Actions suites for a stored GitHub delivery.

One task per triggering delivery: it reads the stored webhook, works out which workflows its
labelled pull request or deployment calls for (:mod:`productpilot.quality.dispatch`), claims
each ``(workflow, commit, environment)`` in the store, dispatches it through the product's
GitHub block, and records the outcome. Claims are serialised per product with a Prefect
global concurrency limit, so a redelivery racing the original cannot dispatch twice.
"""

from __future__ import annotations

from typing import Any

from prefect import task

from integrations.channels import load_block
from integrations.github.client import GitHubHook
from productpilot.db.models import Product
from productpilot.products import current_configuration
from productpilot.products.configuration import IntegrationMapping
from productpilot.quality.dispatch import (
    claim_dispatch,
    complete_dispatches,
    mark_dispatched,
    mark_failed,
    plan_dispatches,
    trigger_from_webhook,
)
from productpilot.vendors import RateLimitedError, TransientVendorError, VendorError
from productpilot.webhooks.deliveries import StoredDelivery, find_delivery
from tasks.concurrency import exclusive
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import products_in_scope, task_store

#: Extra :meth:`GitHubHook.from_credentials` options (tests turn PyGithub's pacing off).
github_hook_options: dict[str, Any] = {}
#: How long a run waits for another run of the same product to finish dispatching.
CLAIM_WAIT_SECONDS = 60.0


class DispatchBusyError(Exception):
    """Another run held the product's dispatch slot too long: try again shortly."""


def concurrency_name(product_id: int) -> str:
    """The global concurrency limit serialising one product's dispatch claims."""
    return f"productpilot-test-dispatch-{product_id}"


def stored_delivery(
    product_id: int, vendor: str, delivery_id: str
) -> tuple[Product, StoredDelivery] | None:
    """The product and its stored delivery ``delivery_id`` of ``vendor``, or ``None`` when
    either is unknown (a product deleted since, another tenant's delivery)."""
    store = task_store()
    found = products_in_scope(store, [product_id])
    if not found:
        return None
    delivery = find_delivery(store, found[0].tenant_id, vendor, delivery_id)
    if delivery is None or delivery.product_id != product_id:
        return None
    return found[0], delivery


def github_hook(mapping: IntegrationMapping, load: Any = load_block) -> GitHubHook | None:
    """The hook of the product's GitHub block, ``None`` without one."""
    name = mapping.blocks.get("github")
    if not name:
        return None
    from prefect_github import GitHubCredentials

    options = {"base_url": mapping.api_urls["github"]} if "github" in mapping.api_urls else {}
    return GitHubHook.from_credentials(
        load(GitHubCredentials, name), block_name=name, **options, **github_hook_options
    )


@task(
    name="dispatch-test-suites",
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_jitter_factor=0.5,
    # A failed dispatch is recorded as failed and claimed again by the retry.
    retry_condition_fn=retry_on(
        *TRANSIENT_STORE_ERRORS, TransientVendorError, RateLimitedError, DispatchBusyError
    ),
)
def dispatch_test_suites(product_id: int, delivery_id: str) -> dict[str, Any]:
    """Dispatch the workflows the GitHub delivery ``delivery_id`` of the product calls for.

    Safe to retry and to run again for the same delivery: a dispatch already made (or
    claimed by a run still at it) is reported as a duplicate and not made again.

    Returns:
        ``dispatched``, ``duplicates``, ``failed`` (each a list of dispatches) and
        ``skipped`` (rules that matched but could not run, with the reason), or ``reason``
        when the delivery calls for nothing.

    Raises:
        VendorError: after recording every outcome, the first retryable GitHub failure
            (so the task retries what may succeed next time).
    """
    found = stored_delivery(product_id, "github", delivery_id)
    if found is None:
        return {"reason": f"no stored GitHub delivery {delivery_id!r} for product {product_id}"}
    product, delivery = found
    store = task_store()
    with store.tenant_session(product.tenant_id) as session:
        configuration = current_configuration(session, session.get(Product, product_id))
    trigger = trigger_from_webhook(delivery.kind, delivery.payload)
    if trigger is None:
        return {"reason": f"a {delivery.kind} delivery starts no test suite"}
    planned, skipped = plan_dispatches(configuration.design_and_testing.test_dispatch, trigger)
    report: dict[str, Any] = {
        "dispatched": [],
        "duplicates": [],
        "failed": [],
        "skipped": [vars(s) for s in skipped],
    }
    if not planned:
        report["reason"] = f"no dispatch rule applies to {trigger.describe()}"
        return report
    hook = github_hook(configuration.integrations)
    if hook is None:
        report["reason"] = "the product has no GitHub credentials block (integrations.blocks)"
        report["skipped"] += [
            {"rule": p.rule, "workflow": p.workflow, "reason": report["reason"]} for p in planned
        ]
        return report
    source = {"vendor": "github", "delivery": delivery_id}
    retryable: VendorError | None = None
    with exclusive(concurrency_name(product_id), CLAIM_WAIT_SECONDS) as mine:
        if not mine:
            raise DispatchBusyError(f"another run is dispatching for product {product_id}")
        for dispatch in planned:
            with store.tenant_session(product.tenant_id) as session:
                owned = session.get(Product, product_id)
                record = claim_dispatch(session, owned, dispatch, source=source)
            if record is None:
                report["duplicates"].append(dispatch.to_dict())
                continue
            try:
                hook.dispatch_workflow(
                    dispatch.repository, dispatch.workflow, dispatch.ref, dispatch.inputs
                )
            except VendorError as error:
                with store.tenant_session(product.tenant_id) as session:
                    mark_failed(session, record.id, str(error))
                report["failed"].append({**dispatch.to_dict(), "error": str(error)})
                retryable = retryable or (error if error.retryable else None)
                continue
            with store.tenant_session(product.tenant_id) as session:
                mark_dispatched(session, record.id)
            report["dispatched"].append(dispatch.to_dict())
    if retryable is not None:
        raise retryable
    return report


@task(
    name="complete-test-suites",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def complete_test_suites(product_id: int, delivery_id: str) -> dict[str, Any]:
    """Mark the dispatch a completed ``workflow_run`` delivery reports on as completed, with
    the run's conclusion (the quality-gate flow turns the same delivery into gate facts).

    Returns:
        ``completed``: the dispatches it completed (none for a run ProductPilot did not
        dispatch, or a redelivery), or ``reason`` when the delivery is unknown.
    """
    found = stored_delivery(product_id, "github", delivery_id)
    if found is None:
        return {"reason": f"no stored GitHub delivery {delivery_id!r} for product {product_id}"}
    product, delivery = found
    if delivery.kind != "workflow_run":
        return {"reason": f"a {delivery.kind} delivery reports no test suite result"}
    with task_store().tenant_session(product.tenant_id) as session:
        owned = session.get(Product, product_id)
        completed = complete_dispatches(session, owned, delivery.payload)
        return {
            "completed": [
                {**record.parameters, "conclusion": record.result.get("conclusion")}
                for record in completed
            ]
        }
