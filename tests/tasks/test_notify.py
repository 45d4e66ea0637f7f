"""Delivery inside a flow: one task per vendor with something due, tagged ``vendor:<name>``
so the vendor tag limits of ``productpilot setup`` cap the sends to each vendor."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.context import get_run_context

from productpilot.notify.router import route
from productpilot.products import create_product, update_configuration
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tasks.notify import deliver_through_vendors
from tests.productpilot.notify.conftest import finding


def test_each_vendor_with_something_due_gets_its_own_tagged_delivery_task(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Vendors")
    routes = [
        {"channel": channel, "recipients": [recipient], "group_wait_minutes": 0}
        for channel, recipient in (("slack", "#alerts"), ("outbox", "pm"))
    ]
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Vendors")
        update_configuration(session, product, {"notification_routes": routes}, actor="test")
        session.flush()
        critical = finding(severity="critical", product_id=product.id)
        route(session, product, [critical], now=datetime.now(UTC))
        product_id = product.id

    @flow
    def deliver() -> tuple[str, dict]:
        report = deliver_through_vendors([product_id], datetime.now(UTC))
        return str(get_run_context().flow_run.id), report

    run_id, report = deliver()
    # No Slack credentials are configured: the Slack alert is held, the outbox one "sent".
    assert (report["sent"], report["held"]) == (1, 1)
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    tagged = {run.name.rsplit("-", 1)[0]: sorted(run.tags) for run in task_runs}
    assert tagged["deliver-slack"] == ["vendor:slack"]
    assert tagged["deliver-outbox"] == []
    assert not any(name.startswith(("deliver-jira", "deliver-email")) for name in tagged)
