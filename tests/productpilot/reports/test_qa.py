"""The weekly QA report as HTML (one embedded chart grid), its markdown and its digest entry."""

from __future__ import annotations

from pathlib import Path

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.quality.qa_report import build_qa_report, qa_report_finding
from productpilot.reports.qa import render_qa_html, write_qa_report
from tests.productpilot.quality.test_qa_report import REPORT_WEEK, SETTINGS, record_history


def test_the_report_renders_with_charts_and_a_digest_finding(
    store: Store, tenant_id: int, product: Product, tmp_path: Path
) -> None:
    with store.tenant_session(tenant_id) as session:
        record_history(session, product)
        report = build_qa_report(session, session.get(Product, product.id), SETTINGS, REPORT_WEEK)
    path = write_qa_report(report, tmp_path)
    html = path.read_text()
    assert path.name == "qa-2026-11-23.html"
    assert "Reduce the change failure rate" in html
    assert "data:image/png;base64," in html  # deployments have two weeks of values
    assert "<script" not in render_qa_html(report)
    markdown = report.markdown()
    assert "| Change failure rate | 50% | 0% | worse |" in markdown
    finding = qa_report_finding(report, path.as_uri())
    assert (finding.kind, finding.severity) == ("productpilot.report.qa", "info")
    assert finding.dedupe_key == "qa-report:2026-11-23"
    assert "Recommended: Fix 1 open critical security finding." in finding.text
    assert report.summary()["defects"]["closed_keys"] == ["local:B-1"]
