"""Quality-assurance flows: the performance-optimisation reaction to a degraded-performance
event, the daily security scan (with the local runner's test runs), and the weekly QA
report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow

from productpilot.eventbus import product_id_of
from productpilot.quality.qa_report import WEEK, week_start_of
from tasks.fairness import fair_share
from tasks.notify import deliver_through_vendors, route_findings
from tasks.quality import build_qa_reports, investigate_regression, run_quality_checks


@flow(name="performance-optimisation", log_prints=True)
@fair_share
def performance_optimisation_flow(
    product: str | None = None,
    rule: str | None = None,
    signal: str | None = None,
    value: float | None = None,
    window_start: str | None = None,
    window_end: str | None = None,
) -> dict[str, Any] | None:
    """Investigate a ``productpilot.performance.degraded`` event: find when the regression
    started, correlate it with the releases and flag changes just before, and open one
    ticket with the evidence (a lasting regression comments on it instead of opening more).

    Args:
        product: The product, as its id or event resource id (``productpilot.product.<id>``).
        rule: The breached performance rule (the event's ``rule``).
        signal: Its signal (``latency``, ``error_rate``, ``usage``).
        value: The signal's value in the breached window.
        window_start: The breached window's start (ISO 8601).
        window_end: Its end (ISO 8601); the look-back ends here.
    """
    if product is None or rule is None or window_end is None:
        print("nothing to investigate: the event names no product, rule or window")
        return None
    product_id = product_id_of(product)
    breach = {
        "rule": rule,
        "signal": signal,
        "value": value,
        "window_start": window_start,
        "window_end": window_end,
    }
    found = investigate_regression(product_id, breach)
    if found is None:
        print(f"product {product_id} has no performance rule {rule!r}: nothing to investigate")
        return None
    route_findings([found["notification"]])
    deliver_through_vendors([product_id])
    print(
        f"product {product_id}: {rule} regressed from {found['onset_start']}; "
        f"{len(found['suspects'])} suspect change(s)"
    )
    return {k: v for k, v in found.items() if k != "notification"}


@flow(name="security-scan", log_prints=True)
@fair_share
def security_scan_flow(
    product_ids: list[int] | None = None,
    include_tests: bool = True,
    product: str | None = None,
) -> list[dict[str, Any]]:
    """Run each product's configured scanners (and test commands) with the local runner and
    pull its GitHub code-scanning and Dependabot alerts; record the findings across runs
    (what the release gates read) and open a ticket for each new serious one.

    Args:
        product_ids: Products to scan (default: all with something configured).
        include_tests: Also run the configured test commands (and compare performance
            results with the last good baseline).
        product: One product, as its id or event resource id.
    """
    if product is not None:
        product_ids = [product_id_of(product)]
    results = run_quality_checks(product_ids, include_tests=include_tests)
    notifications = [n for result in results for n in result["notifications"]]
    if notifications:
        route_findings(notifications)
        deliver_through_vendors(sorted({n.product_id for n in notifications}))
    for result in results:
        problems = "; ".join(result["problems"]) or "no problems"
        print(f"product {result['product_id']}: {result['findings']} ({problems})")
    return [{k: v for k, v in r.items() if k != "notifications"} for r in results]


@flow(name="qa-report", log_prints=True)
@fair_share
def qa_report_flow(
    product_ids: list[int] | None = None,
    week_start: date | None = None,
    product: str | None = None,
) -> list[dict[str, Any]]:
    """Write each product's weekly QA report (DORA metrics, defects, satisfaction, security,
    success criteria, their trends and ranked recommendations), record it and route its
    digest entry.

    Args:
        product_ids: Products to report on (default: all).
        week_start: The Monday of the week reported (default: last week's, so the Monday
            run reports the week just finished).
        product: One product, as its id or event resource id.
    """
    if product is not None:
        product_ids = [product_id_of(product)]
    monday = week_start or week_start_of(datetime.now(UTC).date()) - WEEK
    written = build_qa_reports(product_ids, week_start_of(monday))
    if written:
        route_findings([w["notification"] for w in written])
        deliver_through_vendors([w["product_id"] for w in written])
    for report in written:
        print(
            f"product {report['product_id']}: {report['recommendations']} recommendations; "
            f"report {report['path']}"
        )
    return [{k: v for k, v in w.items() if k != "notification"} for w in written]
