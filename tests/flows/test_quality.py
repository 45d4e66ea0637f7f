"""The quality flows on the Prefect test server: the weekly QA report (DORA metrics checked
against the hand-computed history), the daily security scan with the local runner and GitHub
alerts, and the performance-optimisation reaction to a degraded-performance event."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect_github import GitHubCredentials
from pydantic import SecretStr
from sqlalchemy import select

from flows.quality import performance_optimisation_flow, qa_report_flow, security_scan_flow
from productpilot.db.models import Notification, QualityGateResult, Report, SecurityFinding
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tests.fakes.server import serving
from tests.integrations.github.fake import TOKEN, FakeGitHub
from tests.productpilot.quality.test_qa_report import REPORT_WEEK, record_history
from tests.productpilot.quality.test_regression import BREACH, MINUTE, RULE, T0, record_regression

OUTBOX = {"channel": "outbox", "recipients": ["qa"], "group_wait_minutes": 0}


def test_the_weekly_report_records_the_hand_computed_dora_metrics(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "QA Co")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session,
            "Shop",
            configuration={"notification_routes": [OUTBOX], "quality": {"trend_weeks": 1}},
        )
        record_history(session, product)
        product_id = product.id

    [written] = qa_report_flow([product_id], week_start=REPORT_WEEK + timedelta(days=2))

    assert Path(written["path"]).name == "qa-2026-11-23.html"  # the Monday of that week
    with store.tenant_session(tenant.id) as session:
        [report] = session.scalars(select(Report).where(Report.kind == "qa", Report.path != ""))
        dora = report.summary["dora"]
        # The values worked out by hand in tests/productpilot/quality/test_qa_report.py.
        assert (dora["deployments"], dora["failed_deployments"]) == (3, 1)
        assert dora["change_failure_rate"] == 0.5
        assert dora["lead_time_median_hours"] == pytest.approx(41.0)
        assert dora["time_to_restore_median_hours"] == pytest.approx(4.0)
        assert report.summary["defects"]["reopen_rate"] == 0.5
        assert report.summary["nps"]["score"] == 40.0
        [note] = session.scalars(select(Notification).where(Notification.digest_id.is_(None)))
        assert note.kind == "productpilot.report.qa"
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"qa-report-product-{product_id}"])
            ),
            # The session's Prefect server holds other tests' products with this id too.
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert "| Change failure rate | 50% |" in artifact.data

    # A re-run of the same week replaces the report instead of adding one.
    qa_report_flow([product_id], week_start=REPORT_WEEK)
    with store.tenant_session(tenant.id) as session:
        assert len(session.scalars(select(Report).where(Report.path != "")).all()) == 1


PIP_AUDIT = {
    "dependencies": [
        {
            "name": "requests",
            "version": "2.5.0",
            "vulns": [
                {"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "aliases": ["CVE-2018-18074"]}
            ],
        }
    ]
}
TEST_COMMAND = (
    "import json, pathlib; p = pathlib.Path('.');"
    "(p / 'junit.xml').write_text('<testsuite><testcase name=\"ok\"/></testsuite>');"
    "ms = float((p / 'latency.txt').read_text());"
    "(p / 'bench.json').write_text(json.dumps({'p95_ms': ms}))"
)


def test_a_daily_scan_records_findings_once_and_tickets_only_new_ones(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkouts" / "shop"
    checkout.mkdir(parents=True)
    (checkout / "latency.txt").write_text("100")
    monkeypatch.setenv("PRODUCTPILOT_RUNNER_ROOTS", str(tmp_path / "checkouts"))
    GitHubCredentials(token=SecretStr(TOKEN)).save("qa-github", overwrite=True)
    fake = FakeGitHub()
    fake.add_repository("acme/shop")
    fake.add_code_scanning_alert("acme/shop", security_severity_level="critical")
    fake.add_dependabot_alert("acme/shop", severity="medium")
    store = open_store()
    tenant, _ = create_tenant(store, "Scan Co")
    scanner = [sys.executable, "-c", f"import json; print(json.dumps({PIP_AUDIT!r}))"]
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session,
            "Shop",
            configuration={
                "notification_routes": [OUTBOX],
                "integrations": {
                    "github_repository": "acme/shop",
                    "blocks": {"github": "qa-github"},
                    "api_urls": {"github": fake.url},
                },
                "quality": {
                    "checkout": str(checkout),
                    "ticket_severity": "high",
                    "scanners": [{"name": "deps", "format": "pip-audit", "argv": scanner}],
                    "tests": [
                        {
                            "name": "perf",
                            "argv": [sys.executable, "-c", TEST_COMMAND],
                            "junit_xml": "junit.xml",
                            "performance_results": "bench.json",
                        }
                    ],
                },
            },
        )
        product_id = product.id
        create_product(session, "Nothing configured")

    with serving(fake):
        [first] = security_scan_flow()
        assert first["findings"]["local"]["new"] == 1
        assert first["findings"]["github"]["new"] == 2
        assert first["problems"] == []
        (checkout / "latency.txt").write_text("150")  # 50% slower than the baseline
        [second] = security_scan_flow([product_id])

    assert first["product_id"] == product_id  # the product with nothing configured is skipped
    assert second["findings"]["local"] == {
        "new": 0,
        "reopened": 0,
        "fixed": 0,
        "still_open": 1,
        "dismissed": 0,
    }
    with store.tenant_session(tenant.id) as session:
        findings = {f.source: f for f in session.scalars(select(SecurityFinding))}
        assert set(findings) == {"pip-audit", "CodeQL", "dependabot"}
        assert findings["pip-audit"].rule == "CVE-2018-18074"
        notes = session.scalars(select(Notification).order_by(Notification.id)).all()
        # pip-audit's high and CodeQL's critical finding, once each; the medium Dependabot
        # alert is under the ticket severity. Then the performance regression.
        assert [n.kind for n in notes] == [
            "productpilot.security.finding",
            "productpilot.security.finding",
            "productpilot.performance.test_regressed",
        ]
        runs = session.scalars(
            select(QualityGateResult)
            .where(QualityGateResult.gate == "performance:perf")
            .order_by(QualityGateResult.id)
        ).all()
        assert [r.passed for r in runs] == [True, False]
        assert runs[1].details["performance_comparison"]["regression_percent"] == {"p95_ms": 50.0}


def test_without_the_workers_permission_commands_are_skipped_not_run(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODUCTPILOT_RUNNER_ROOTS", raising=False)
    marker = tmp_path / "ran"
    store = open_store()
    tenant, _ = create_tenant(store, "Locked Co")
    with store.tenant_session(tenant.id) as session:
        create_product(
            session,
            "Shop",
            configuration={
                "quality": {
                    "checkout": str(tmp_path),
                    "tests": [
                        {"name": "t", "argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]}
                    ],
                }
            },
        )
    [result] = security_scan_flow()
    assert not marker.exists()
    assert "PRODUCTPILOT_RUNNER_ROOTS" in result["problems"][0]


def test_a_degraded_event_opens_one_ticket_with_the_evidence(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Perf Co")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session,
            "Shop",
            configuration={
                "notification_routes": [OUTBOX],
                "performance_rules": [json.loads(RULE.model_dump_json())],
                "quality": {"regression_lookback_hours": 2},
            },
        )
        record_regression(session, product)
        product_id = product.id

    found = performance_optimisation_flow(
        product=f"productpilot.product.{product_id}",
        rule=BREACH["rule"],
        signal="latency",
        value="600.0",  # as the trigger's template renders it
        window_start=BREACH["window_start"],
        window_end=BREACH["window_end"],
    )
    assert found is not None
    assert found["onset_start"] == (T0 + 30 * MINUTE).isoformat()
    assert [s["name"] for s in found["suspects"]] == ["release v1.3.0", "new-search"]
    # The next window's breach is the same regression: folded into the first ticket.
    later = (T0 + 125 * MINUTE).isoformat()
    performance_optimisation_flow(product=str(product_id), rule=BREACH["rule"], window_end=later)
    with store.tenant_session(tenant.id) as session:
        [note] = session.scalars(select(Notification))
        assert note.kind == "productpilot.performance.regression"
        assert note.dedupe_key.endswith(":performance-regression:api-p95")
        assert note.suppressed == 1
        assert "release v1.3.0" in json.dumps(note.body)

    assert (
        performance_optimisation_flow(product=str(product_id), rule="unknown", window_end=later)
        is None
    )


def test_an_event_without_a_product_is_ignored() -> None:
    assert performance_optimisation_flow(rule="x", window_end="2026-11-30T12:00:00+00:00") is None


def test_the_default_week_is_the_last_complete_one(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Week Co")
    with store.tenant_session(tenant.id) as session:
        product_id = create_product(session, "Shop").id
    [written] = qa_report_flow(product=f"productpilot.product.{product_id}")
    monday = date.fromisoformat(written["summary"]["week_start"])
    assert monday.weekday() == 0
    assert date.today() - timedelta(days=13) <= monday <= date.today() - timedelta(days=7)
