"""Quality tasks: the local runner's scans and test runs, GitHub's security alerts, the
performance-regression investigation and the weekly QA report.

Coarse, like the other areas: one task scans every product of a run, one investigates a
breach, one writes every product's QA report. Findings for people come back as
``notification`` entries for the flow to route.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from integrations.channels import BlockLoader, load_block
from productpilot.db.models import Product, QualityGateResult, Tenant
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ProductPilotError
from productpilot.notify.message import Finding
from productpilot.products import current_configuration
from productpilot.products.configuration import IntegrationMapping
from productpilot.quality.findings_store import (
    LOCAL_TOOLS,
    ScanOutcome,
    findings_from_github,
    github_scanned_tools,
    record_scan,
)
from productpilot.quality.junit import PerformanceRun, compare_performance, last_good_baseline
from productpilot.quality.qa_report import WEEK, build_qa_report, qa_report_finding
from productpilot.quality.regression import investigate, regression_finding
from productpilot.quality.runner import ScanRun, TestRun, run_scanner, run_tests
from productpilot.quality.security import Finding as SecurityFinding
from productpilot.quality.security import at_least
from productpilot.quality.settings import (
    QualitySettings,
    RunnerEnvironment,
    ScannerCommand,
    TestCommand,
)
from productpilot.reports.qa import write_qa_report
from productpilot.reports.records import record_report
from productpilot.settings import get_settings
from productpilot.vendors import VendorError
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import products_in_scope, task_store

SECURITY_FINDING_KIND = "productpilot.security.finding"
TESTS_FAILED_KIND = "productpilot.tests.failed"
PERFORMANCE_TEST_KIND = "productpilot.performance.test_regressed"
#: ``quality_gate_results.gate`` prefixes of local runs.
TESTS_GATE, PERFORMANCE_GATE = "local-tests:", "performance:"
#: Performance runs read back for the baseline.
BASELINE_HISTORY = 50

#: ``(repository, mapping) -> (code-scanning alerts, Dependabot alerts)``.
AlertSource = Callable[[str, IntegrationMapping], tuple[list[dict], list[dict]]]


def github_alert_source(load: BlockLoader = load_block) -> AlertSource:
    """Alerts through the product's GitHub block (``integrations.blocks.github``)."""

    def fetch(repository: str, mapping: IntegrationMapping) -> tuple[list[dict], list[dict]]:
        from prefect_github import GitHubCredentials

        from integrations.github.client import GitHubHook

        name = mapping.blocks["github"]
        options = {"base_url": mapping.api_urls["github"]} if "github" in mapping.api_urls else {}
        hook = GitHubHook.from_credentials(
            load(GitHubCredentials, name), block_name=name, **options
        )
        return hook.code_scanning_alerts(repository), hook.dependabot_alerts(repository)

    return fetch


# --- security scans and local test runs ------------------------------------------------------


@task(
    name="run-quality-checks",
    retries=2,
    retry_delay_seconds=[5, 30],
    # Two scans recording the same new finding at once: the retry finds it recorded.
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS, IntegrityError),
)
def run_quality_checks(
    product_ids: list[int] | None = None,
    *,
    include_tests: bool = True,
    alerts: AlertSource | None = None,
    runner: RunnerEnvironment | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """For each product: run its configured scanners (and test commands) with the local
    runner, pull its GitHub code-scanning and Dependabot alerts, record the findings
    across runs, compare performance results with the last good baseline.

    Products with nothing configured are skipped. A scanner that did not complete leaves
    its tool's findings as they were (nothing is marked fixed by a scan that did not run).

    Args:
        product_ids: the products (default: all).
        include_tests: also run the configured test commands.
        alerts: where GitHub alerts come from (default: the product's GitHub block).
        runner: the worker's runner permission (default: ``PRODUCTPILOT_RUNNER_ROOTS``).
        now: the scan's time.
    """
    moment = now or datetime.now(UTC)
    fetch = alerts or github_alert_source()
    environment = runner or RunnerEnvironment.from_environment()
    store = task_store()
    results = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            configuration = current_configuration(session, session.get(Product, product.id))
        settings, mapping = configuration.quality, configuration.integrations
        wants_github = bool(
            settings.github_alerts and mapping.github_repository and mapping.blocks.get("github")
        )
        commands = settings.scanners + (settings.tests if include_tests else [])
        if not commands and not wants_github:
            continue
        problems: list[str] = []
        scans, test_runs = _local_runs(settings, environment, include_tests, problems)
        outcomes: dict[str, ScanOutcome] = {}
        notifications: list[Finding] = []
        completed = [s for s in scans if s.completed]
        if completed:
            found = [f for scan in completed for f in scan.findings]
            tools = {scan.tool for scan in completed}
            with store.tenant_session(product.tenant_id) as session:
                outcomes["local"] = record_scan(
                    session, product.id, found, scanned_tools=tools, now=moment
                )
        if wants_github:
            try:
                code_scanning, dependabot = fetch(str(mapping.github_repository), mapping)
            except (VendorError, ProductPilotError) as error:
                problems.append(f"GitHub alerts: {error}")
            else:
                found = findings_from_github(code_scanning, dependabot)
                with store.tenant_session(product.tenant_id) as session:
                    tools = github_scanned_tools(session, product.id, found) - LOCAL_TOOLS
                    outcomes["github"] = record_scan(
                        session, product.id, found, scanned_tools=tools, now=moment
                    )
        for outcome in outcomes.values():
            notifications += [
                security_finding(product.id, finding, reopened=finding in outcome.reopened)
                for finding in (*outcome.new, *outcome.reopened)
                if at_least(finding.severity, settings.ticket_severity)
            ]
        if test_runs:
            with store.tenant_session(product.tenant_id) as session:
                notifications += _record_test_runs(session, product.id, settings, test_runs, moment)
        results.append(
            {
                "product_id": product.id,
                "scans": [scan.to_dict() for scan in scans],
                "tests": [run.to_dict() for run in test_runs],
                "findings": {source: o.to_dict() for source, o in outcomes.items()},
                "problems": problems,
                "notifications": notifications,
            }
        )
    return results


def _local_runs(
    settings: QualitySettings,
    environment: RunnerEnvironment,
    include_tests: bool,
    problems: list[str],
) -> tuple[list[ScanRun], list[TestRun]]:
    commands = settings.scanners + (settings.tests if include_tests else [])
    if not commands:
        return [], []
    if settings.checkout is None:
        problems.append("commands are configured but quality.checkout is not set")
        return [], []
    scans: list[ScanRun] = []
    test_runs: list[TestRun] = []
    for command in commands:
        try:
            directory = environment.working_directory(settings.checkout, command.directory)
        except ProductPilotError as error:
            problems.append(f"{command.name}: skipped, {error}")
            continue
        if not directory.is_dir():
            problems.append(f"{command.name}: {directory} is not a folder")
            continue
        if isinstance(command, ScannerCommand):
            scans.append(run_scanner(command, directory))
        elif isinstance(command, TestCommand):
            test_runs.append(run_tests(command, directory))
    return scans, test_runs


def security_finding(product_id: int, finding: SecurityFinding, *, reopened: bool) -> Finding:
    """A new (or reopened) serious security finding as a ticket, one per fingerprint."""
    where = finding.package or (f"{finding.file}:{finding.line}" if finding.line else finding.file)
    severity = "critical" if finding.severity == "critical" else "warning"
    return Finding(
        kind=SECURITY_FINDING_KIND,
        severity=severity,
        product_id=product_id,
        subject=f"{'Reopened' if reopened else 'New'} {finding.severity} security finding: "
        f"{finding.title}"[:300],
        text=f"{finding.tool} reports {finding.rule}"
        + (f" in {where}" if where else "")
        + (f". {finding.url}" if finding.url else "."),
        dedupe_key=f"security:{finding.fingerprint}",
        facts=(
            ("tool", finding.tool),
            ("rule", finding.rule),
            ("severity", finding.severity),
            ("where", where or "-"),
        ),
        link=finding.url,
        ticket=True,
    )


def _record_test_runs(
    session: StoreSession,
    product_id: int,
    settings: QualitySettings,
    runs: list[TestRun],
    moment: datetime,
) -> list[Finding]:
    """Store each run (and its performance against the last good baseline) in
    ``quality_gate_results``; returns the findings for failed runs and regressions."""
    subject = f"local-run:{moment.isoformat()}"
    findings = []
    for run in runs:
        details = run.to_dict()
        passed = run.status == "passed"
        if run.performance is not None:
            comparison = _performance_against_baseline(session, product_id, settings, run)
            regressions = [] if comparison is None else list(comparison.regressions)
            details["performance_comparison"] = (
                None
                if comparison is None
                else {
                    "baseline": comparison.baseline_id,
                    "regression_percent": comparison.regression_by_metric(),
                    "regressed": [c.metric for c in regressions],
                }
            )
            session.add(
                QualityGateResult(
                    product_id=product_id,
                    gate=f"{PERFORMANCE_GATE}{run.name}",
                    subject=subject,
                    passed=passed and not regressions,
                    summary="; ".join(
                        f"{c.metric} {c.regression_percent:+.1f}%" for c in regressions
                    )
                    or "within tolerance",
                    details={"metrics": run.performance, **details},
                    evaluated_at=moment,
                )
            )
            if regressions:
                findings.append(_performance_test_finding(product_id, run.name, regressions))
        session.add(
            QualityGateResult(
                product_id=product_id,
                gate=f"{TESTS_GATE}{run.name}",
                subject=subject,
                passed=passed,
                summary=_test_summary(run),
                details=details,
                evaluated_at=moment,
            )
        )
        if not passed:
            findings.append(
                Finding(
                    kind=TESTS_FAILED_KIND,
                    severity="warning",
                    product_id=product_id,
                    subject=f"Local test run {run.name}: {_test_summary(run)}",
                    text="; ".join(
                        [
                            f.name + (f": {f.message}" if f.message else "")
                            for f in (run.tests.failed[:5] if run.tests else ())
                        ]
                        + list(run.problems)
                    )
                    or run.execution.stderr[-500:],
                    dedupe_key=f"local-tests:{run.name}:{moment.date().isoformat()}",
                )
            )
    session.flush()
    return findings


def _performance_against_baseline(
    session: StoreSession, product_id: int, settings: QualitySettings, run: TestRun
) -> Any:
    rows = session.scalars(
        select(QualityGateResult)
        .where(
            QualityGateResult.product_id == product_id,
            QualityGateResult.gate == f"{PERFORMANCE_GATE}{run.name}",
        )
        .order_by(QualityGateResult.evaluated_at.desc())
        .limit(BASELINE_HISTORY)
    )
    history = [
        PerformanceRun(row.subject, row.evaluated_at, row.details.get("metrics") or {}, row.passed)
        for row in rows
    ]
    baseline = last_good_baseline(history)
    if baseline is None or run.performance is None:
        return None  # the first accepted run becomes the baseline
    return compare_performance(
        run.performance,
        baseline,
        threshold_percent=settings.performance_tolerance_percent,
        higher_is_better=settings.higher_is_better,
    )


def _performance_test_finding(product_id: int, name: str, regressions: list[Any]) -> Finding:
    worst = max(regressions, key=lambda c: c.regression_percent)
    return Finding(
        kind=PERFORMANCE_TEST_KIND,
        severity="warning",
        product_id=product_id,
        subject=f"Performance test {name}: {worst.metric} {worst.regression_percent:+.1f}% "
        "against the last good run",
        text="; ".join(
            f"{c.metric} {c.baseline:.4g} -> {c.current:.4g} ({c.regression_percent:+.1f}%)"
            for c in regressions
        ),
        dedupe_key=f"performance-test:{name}",
        facts=tuple((c.metric, f"{c.regression_percent:+.1f}%") for c in regressions),
        ticket=True,
    )


def _test_summary(run: TestRun) -> str:
    if run.tests is not None:
        t = run.tests
        return f"{run.status}: {t.tests} tests, {t.failures} failures, {t.errors} errors"
    if run.status == "timed_out":
        return f"timed out ({run.execution.error})"
    return f"{run.status} (exit {run.execution.exit_code})"


# --- performance regressions -------------------------------------------------------------


@task(
    name="investigate-regression",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def investigate_regression(product_id: int, breach: dict[str, Any]) -> dict[str, Any] | None:
    """Find when the breached rule's regression started and which releases and flag
    changes came just before; returns the evidence and its ticket finding (``None`` when
    the product no longer has the rule)."""
    store = task_store()
    [product] = products_in_scope(store, [product_id]) or [None]
    if product is None:
        return None
    with store.tenant_session(product.tenant_id) as session:
        configuration = current_configuration(session, session.get(Product, product_id))
        if not any(rule.name == breach.get("rule") for rule in configuration.performance_rules):
            return None
        investigation = investigate(
            session,
            product_id,
            configuration.performance_rules,
            breach,
            lookback=timedelta(hours=configuration.quality.regression_lookback_hours),
            environment=configuration.quality.environment,
        )
    return {**investigation.to_dict(), "notification": regression_finding(investigation)}


# --- the weekly QA report ----------------------------------------------------------------


@task(
    name="build-qa-reports",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def build_qa_reports(product_ids: list[int] | None, week_start: date) -> list[dict[str, Any]]:
    """Write each product's QA report for the week from ``week_start`` (HTML under
    ``<home>/reports/<tenant>/<product>/``), record it in ``reports`` (kind ``qa``,
    replaced on a re-run) and publish it as a markdown artifact."""
    store = task_store()
    home = get_settings().home
    written = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            owned = session.get(Product, product.id)
            configuration = current_configuration(session, owned)
            report = build_qa_report(
                session,
                owned,
                configuration.quality,
                week_start,
                reach_window_days=configuration.planning.scoring.reach_window_days,
            )
            tenant = session.get(Tenant, product.tenant_id)
            path = write_qa_report(report, home / "reports" / tenant.slug / product.slug)
            start = datetime.combine(week_start, time.min, UTC)
            record_report(
                session,
                product.id,
                "qa",
                start,
                start + WEEK,
                path=str(path.absolute()),
                summary=report.summary(),
            )
        create_markdown_artifact(
            report.markdown() + f"\n\nFull report: `{Path(path).absolute()}`",
            key=f"qa-report-product-{product.id}",
            description=f"QA report for {product.name}, week of {week_start.isoformat()}",
        )
        written.append(
            {
                "product_id": product.id,
                "path": str(path.absolute()),
                "recommendations": len(report.recommendations),
                "summary": report.summary(),
                "notification": qa_report_finding(report, path.absolute().as_uri()),
            }
        )
    return written
