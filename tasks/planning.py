"""Planning tasks: plan every product's backlog, then publish the plans.

Coarse, like the analytics tasks: one task plans all the products of a run (each in its
tenant's session), one publishes them (artifacts, charts, report files).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from integrations.backlog import backlog_hooks, sync_backlog, write_back
from productpilot.db.models import Product, Tenant
from productpilot.db.tenancy import StoreSession
from productpilot.planning import planner
from productpilot.planning.report import markdown, plan_finding, write_gantt
from productpilot.planning.store import load_records, save_plan
from productpilot.planning.usage import reach_by_feature
from productpilot.products import current_configuration
from productpilot.products.configuration import ProductConfiguration
from productpilot.settings import get_settings
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import products_in_scope, task_store


@task(
    name="plan-backlogs",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def plan_backlogs(product_ids: list[int] | None = None, as_of: date | None = None) -> list[dict]:
    """Sync each product's backlog from the Jira project, Linear team and GitHub repository
    its configuration names; score, estimate, schedule, cut into sprints, assess and forecast
    it; store the results (item scores, ranges and risks; the plan; the success criteria);
    and, with ``planning.write_back``, push scores, estimates and priorities back to the
    source tools. Products without open items are skipped.

    Safe to retry: syncs upsert, a plan is a new ``plans`` row, item fields are overwritten,
    and write-back sends only what changed.
    """
    day = as_of or datetime.now(UTC).date()
    store = task_store()
    planned = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            configuration = current_configuration(session, session.get(Product, product.id))
        with backlog_hooks(configuration.integrations) as hooks:
            # The sync in its own transaction: vendor calls are slow, and a plan that fails
            # later keeps what was synced.
            with store.tenant_session(product.tenant_id) as session:
                synced = sync_backlog(
                    session, session.get(Product, product.id), configuration, hooks
                )
            with store.tenant_session(product.tenant_id) as session:
                result = _plan_one(session, session.get(Product, product.id), configuration, day)
            if result is None:
                continue
            with store.tenant_session(product.tenant_id) as session:
                owned = session.get(Product, product.id)
                result["write_back"] = write_back(session, owned, configuration, hooks).to_dict()
        planned.append({**result, "sync": synced.to_dict()})
    return planned


def _plan_one(
    session: StoreSession, product: Product, configuration: ProductConfiguration, day: date
) -> dict[str, Any] | None:
    settings = configuration.planning
    records = load_records(session, product)
    if not planner.open_items(records):
        return None
    reach = reach_by_feature(session, product.id, day, settings.scoring.reach_window_days)
    saved = save_plan(
        session, product, planner.plan(records, settings, day, reach), {"as_of": day.isoformat()}
    )
    return {
        "product_id": product.id,
        "product": product.name,
        "tenant": session.get(Tenant, product.tenant_id).slug,
        "slug": product.slug,
        "plan_id": saved.id,
        "document": saved.result,
        "teams": {r.key: r.team_name for r in planner.open_items(records)},
    }


@task(name="publish-plans")
def publish_plans(plans: list[dict]) -> list[dict[str, Any]]:
    """For each plan: the Gantt chart (PNG) and the report (Markdown) under
    ``<home>/reports/<tenant>/<product>/``, the ranked backlog as a table artifact and the
    report as a Markdown artifact; returns what was written and a finding to route."""
    published = []
    for planned in plans:
        document = planned["document"]
        as_of = document["summary"]["as_of"]
        folder = get_settings().home / "reports" / planned["tenant"] / planned["slug"]
        chart = write_gantt(
            document,
            planned["teams"],
            folder / f"plan-{as_of}.png",
            f"{planned['product']}: plan of {as_of}",
        )
        text = markdown(planned["product"], document, chart.absolute())
        report = folder / f"plan-{as_of}.md"
        report.write_text(text)
        create_table_artifact(
            document["rows"],
            key=f"backlog-product-{planned['product_id']}",
            description=f"Ranked backlog of {planned['product']}, {as_of}",
        )
        create_markdown_artifact(
            text,
            key=f"plan-product-{planned['product_id']}",
            description=f"Plan for {planned['product']}, {as_of}",
        )
        published.append(
            {
                "product_id": planned["product_id"],
                "plan_id": planned["plan_id"],
                "chart": str(chart.absolute()),
                "report": str(report.absolute()),
                "summary": document["summary"],
                "notification": plan_finding(
                    planned["product_id"], planned["product"], document, str(report.absolute())
                ),
            }
        )
    return published
