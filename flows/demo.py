"""The embedded demo: the whole product, as it stands, on synthetic data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.analytics import daily_analysis_flow, realtime_rollup_flow
from flows.development import replay_pull_requests
from flows.ingestion import import_events_flow
from flows.planning import backlog_planning_flow
from flows.quality import qa_report_flow
from flows.releases import release_flow
from flows.rollouts import demo_rollout
from flows.strategic import market_opportunity_flow, monthly_review_flow
from productpilot.demo import DEMO_REPOSITORY
from productpilot.launch.simulate import DEMO_FLAG
from productpilot.settings import get_settings
from productpilot.synthetic.pull_requests import (
    merged_pull_requests,
    pull_request_history,
    release_candidate,
)
from tasks.demo import generate_synthetic_data, load_backlog, prepare_demo_product


def _notifications(notifications: dict[str, Any]) -> str:
    routed, delivered = notifications["routed"], notifications["delivered"]
    return (
        f"{routed['findings']} findings routed: {delivered['sent']} sent to the outbox, "
        f"{delivered['held']} held for credentials, {routed['suppressed']} duplicates folded "
        "(`productpilot outbox list`)"
    )


def _summary_markdown(summary: dict[str, Any]) -> str:
    imported = summary["import"]
    lines = [
        "# ProductPilot demo",
        "",
        f"Product **{summary['product_id']}** of tenant **{summary['tenant_id']}**.",
        "",
        "| step | result |",
        "|---|---|",
        f"| events imported | {imported['inserted']:,} new, {imported['duplicates']:,} "
        f"already there, {imported['rejected']:,} rejected |",
        f"| rollup | {summary['rollup']['events']:,} events folded into daily rollups |",
        f"| daily analysis | {sum(summary['daily']['metric_values'].values()):,} KPI values "
        f"stored, report for {summary['daily']['day']} |",
        f"| notifications | {_notifications(summary['daily']['notifications'])} |",
        f"| backlog | {summary['backlog']['created']} created, "
        f"{summary['backlog']['updated']} updated, "
        f"{summary['backlog']['dependencies']} dependencies |",
        f"| planning | {summary['plan']['items']} items scheduled over "
        f"{summary['plan']['makespan_days']} working days, P85 "
        f"{summary['plan']['forecast'].get('p85', 'n/a')} |",
    ]
    development, release, rollout = summary["development"], summary["release"], summary["rollout"]
    verdicts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(development["verdicts"].items()))
    lines += [
        f"| pull requests | {development['deliveries']} webhooks replayed, gate verdicts: "
        f"{verdicts} |",
        f"| release | {release['name']}: {release['status']} ({release['outcome']}) |",
        f"| rollout | {rollout['flag']}: {rollout['status']} at {rollout['percentage']:g}% |",
        f"| QA report | {summary['qa']['recommendations']} ranked recommendations |",
    ]
    lines += ["", "Files:", ""] + [f"- {name}: `{path}`" for name, path in summary["files"].items()]
    return "\n".join(lines)


@flow(name="productpilot-demo", log_prints=True)
def demo_flow(preset: str = "demo", seed: int = 7, data_dir: str | None = None) -> dict[str, Any]:
    """Set up the demo product, generate its data and run every ProductPilot flow on it.

    Args:
        preset: Size of the synthetic dataset (see ``productpilot.synthetic``).
        seed: Seed of the synthetic dataset; the same seed gives the same data.
        data_dir: Where to write the generated files (default: ``<home>/demo``).
    """
    home = get_settings().home
    directory = Path(data_dir) if data_dir else home / "demo"
    product = prepare_demo_product()
    files = generate_synthetic_data(preset, seed, str(directory))
    imported = import_events_flow(
        product["product_id"], files["events"], str(directory / "events.rejected.jsonl")
    )
    backlog = load_backlog(product["product_id"], files["backlog"])
    # Everything was just imported, so nothing needs to settle.
    [rollup] = realtime_rollup_flow([product["product_id"]], settle_seconds=0)
    # Report on the dataset's last day, computing KPIs over its whole period.
    period = orjson.loads(Path(files["manifest"]).read_bytes())["period"]
    first_day = date.fromisoformat(period["start"])
    last_day = date.fromisoformat(period["end"]) - timedelta(days=1)
    daily = daily_analysis_flow(
        [product["product_id"]], day=last_day, backfill_days=(last_day - first_day).days + 1
    )
    [monthly] = monthly_review_flow([product["product_id"]], month=last_day.replace(day=1))
    [market] = market_opportunity_flow(
        [product["product_id"]], start=last_day - timedelta(days=27), end=last_day
    )
    # Plan the open backlog from the day after the data ends, as if planning that Monday.
    [plan] = backlog_planning_flow([product["product_id"]], as_of=last_day + timedelta(days=1))
    # Development and launch happen now: the last days' pull requests, today's release of
    # the last one that passed its gates, and a progressive rollout of a flag.
    history = pull_request_history(DEMO_REPOSITORY, datetime.now(UTC) - timedelta(days=5))
    replayed = replay_pull_requests(product["product_id"], history)
    candidate = release_candidate(history)
    release = release_flow(
        str(product["product_id"]),
        version="1.4.0",
        ref=candidate,
        changes=merged_pull_requests(history),
    )
    rollout = demo_rollout(product["product_id"], regression_stage=3)
    [qa] = qa_report_flow([product["product_id"]], week_start=datetime.now(UTC).date())

    summary: dict[str, Any] = {
        "tenant_id": product["tenant_id"],
        "product_id": product["product_id"],
        "api_key": product["api_key"],
        "flow_run_id": str(flow_run.get_id()),
        "import": imported,
        "backlog": backlog,
        "rollup": rollup,
        "daily": daily,
        "plan": plan["summary"],
        "development": {
            "deliveries": len(replayed),
            "verdicts": dict(Counter(r["gate"].get("outcome", "skipped") for r in replayed)),
        },
        "release": release,
        "rollout": {**rollout, "flag": DEMO_FLAG},
        "qa": qa,
        "files": files,
    }
    summary_path = directory / "summary.json"
    public = {k: v for k, v in summary.items() if k != "api_key"}
    summary_path.write_bytes(
        orjson.dumps(public, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    summary["files"]["summary"] = str(summary_path)
    for report in daily["reports"]:
        summary["files"]["daily report"] = report["path"]
    summary["files"]["monthly review"] = monthly["path"]
    summary["files"]["market opportunities"] = market["path"]
    summary["files"]["plan"] = plan["report"]
    summary["files"]["gantt chart"] = plan["chart"]
    if release.get("notes"):
        summary["files"]["release notes"] = release["notes"]["file"]
        summary["files"]["changelog"] = release["notes"]["changelog"]
    summary["files"]["launch report"] = rollout["report"]
    summary["files"]["QA report"] = qa["path"]
    create_markdown_artifact(_summary_markdown(summary), key="productpilot-demo")
    return summary
