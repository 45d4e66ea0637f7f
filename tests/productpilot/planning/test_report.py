"""The plan for people: Markdown, a Gantt chart, a digest entry."""

from __future__ import annotations

from pathlib import Path

from productpilot.planning.report import (
    PLAN_PUBLISHED,
    gantt_bars,
    markdown,
    plan_finding,
    write_gantt,
)

DOCUMENT = {
    "summary": {
        "as_of": "2026-11-02",
        "items": 2,
        "unscored": 1,
        "makespan_days": 4,
        "schedule_status": "OPTIMAL",
        "conflicts": ["X and Y cannot both end by day 5"],
        "high_risk": ["B"],
        "forecast": {"p50": "2026-11-20", "p85": "2026-12-01"},
        "left_out": ["B"],
    },
    "rows": [
        {
            "rank": 1,
            "key": "A",
            "title": "Exports | CSV",
            "score": 12.5,
            "estimate_days": 2.0,
            "estimate_range": "1-3",
            "start": "2026-11-02",
            "end": "2026-11-03",
            "sprint": 1,
            "risk": 20.0,
            "risk_level": "low",
        },
        {
            "rank": 2,
            "key": "B",
            "title": "Polish",
            "score": None,
            "estimate_days": 2.0,
            "estimate_range": "1-4",
            "start": "2026-11-04",
            "end": "2026-11-05",
            "sprint": None,
            "risk": 70.0,
            "risk_level": "high",
        },
    ],
    "schedule": {
        "items": [
            {"key": "A", "start": "2026-11-02", "end": "2026-11-03"},
            {"key": "B", "start": "2026-11-04", "end": "2026-11-05"},
        ]
    },
}


def test_the_markdown_leads_with_the_outlook_and_lists_the_ranked_backlog() -> None:
    text = markdown("Web App", DOCUMENT)
    assert text.startswith("# Plan for Web App, 2026-11-02")
    assert "P50 2026-11-20, P85 2026-12-01" in text
    assert "**Deadline conflict**: X and Y cannot both end by day 5" in text
    assert "**High risk**: B" in text
    assert (
        "| 1 | A | Exports \\| CSV | 12.5 | 2.0 (1-3) | 2026-11-02 | 2026-11-03 | 1 | 20 low |"
        in text
    )
    assert "| 2 | B | Polish | - |" in text


def test_the_gantt_chart_is_a_png_with_one_bar_per_scheduled_item(tmp_path: Path) -> None:
    bars = gantt_bars(DOCUMENT, {"A": "core", "B": "web"})
    assert [(b.label, b.group) for b in bars] == [("1. A", "core"), ("2. B", "web")]
    path = write_gantt(DOCUMENT, {}, tmp_path / "plans" / "plan.png", "Web App")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_finding_is_an_info_digest_entry_without_a_ticket() -> None:
    finding = plan_finding(7, "Web App", DOCUMENT, "/reports/plan.md")
    assert (finding.kind, finding.severity, finding.ticket) == (PLAN_PUBLISHED, "info", False)
    assert finding.subject == "Plan for Web App: 2 items, P85 2026-12-01"
    assert "1 high-risk items, 1 not in a sprint" in finding.text
    assert ("done by (P85)", "2026-12-01") in finding.facts
    assert finding.dedupe_key == "plan:2026-11-02"
