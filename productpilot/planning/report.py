"""A plan for people: the ranked backlog as Markdown, the Gantt chart as a PNG, and the
summary as a finding for the notification router."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from productpilot.notify.message import Finding
from productpilot.reports.charts import Bar, gantt_chart

PLAN_PUBLISHED = "productpilot.plan.published"
#: Rows of the chart: the top of the ranking (a chart of 500 bars is unreadable).
CHART_ROWS = 40


def gantt_bars(document: dict[str, Any], teams: dict[str, str]) -> list[Bar]:
    """Bars of the plan's schedule in rank order (the ``CHART_ROWS`` best ranked items)."""
    scheduled = {item["key"]: item for item in (document.get("schedule") or {}).get("items", [])}
    bars = []
    for row in document["rows"]:
        item = scheduled.get(row["key"])
        if item is None:
            continue
        bars.append(
            Bar(
                label=f"{row['rank']}. {row['key']}",
                start=date.fromisoformat(item["start"]),
                end=date.fromisoformat(item["end"]),
                group=teams.get(row["key"], ""),
                late=row["key"] in document.get("late", []),
            )
        )
        if len(bars) == CHART_ROWS:
            break
    return bars


def write_gantt(document: dict[str, Any], teams: dict[str, str], path: Path, title: str) -> Path:
    """The plan's Gantt chart as a PNG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    as_of = date.fromisoformat(document["summary"]["as_of"])
    path.write_bytes(gantt_chart(title, gantt_bars(document, teams), today=as_of))
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value).replace("|", "\\|")


def markdown(product: str, document: dict[str, Any], chart: Path | None = None) -> str:
    """The plan as Markdown: the outlook, then the ranked backlog table."""
    summary = document["summary"]
    outlook = summary.get("forecast") or {}
    lines = [
        f"# Plan for {product}, {summary['as_of']}",
        "",
        f"- **{summary['items']} open items**, {summary['unscored']} without a score",
        f"- **Schedule**: {summary['makespan_days']} working days ({summary['schedule_status']})",
    ]
    if outlook:
        lines.append(
            "- **All done by** (Monte Carlo on recent throughput): "
            + ", ".join(f"{p.upper()} {d}" for p, d in outlook.items())
        )
    for conflict in summary.get("conflicts", []):
        lines.append(f"- **Deadline conflict**: {conflict}; scheduled for least lateness")
    if summary.get("high_risk"):
        lines.append(f"- **High risk**: {', '.join(summary['high_risk'])}")
    if summary.get("left_out"):
        lines.append(f"- **Not in a sprint**: {', '.join(summary['left_out'])}")
    if chart is not None:
        lines += ["", f"Gantt chart: `{chart}`"]
    lines += [
        "",
        "| # | key | title | score | estimate (days) | start | end | sprint | risk |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in document["rows"]:
        estimate = (
            f"{row['estimate_days']:.1f} ({row['estimate_range']})"
            if row["estimate_days"] is not None
            else "-"
        )
        risk = f"{row['risk']:.0f} {row['risk_level']}" if row["risk"] is not None else "-"
        cells = [
            row["rank"],
            row["key"],
            row["title"],
            row["score"],
            estimate,
            row["start"],
            row["end"],
            row["sprint"],
            risk,
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def plan_finding(product_id: int, product: str, document: dict[str, Any], link: str) -> Finding:
    """The plan's summary as an ``info`` finding (it joins the recipients' digests)."""
    summary = document["summary"]
    outlook = summary.get("forecast") or {}
    top = [row["key"] for row in document["rows"][:3]]
    return Finding(
        kind=PLAN_PUBLISHED,
        severity="info",
        product_id=product_id,
        subject=f"Plan for {product}: {summary['items']} items, P85 {outlook.get('p85', 'n/a')}",
        text=(
            f"Top of the backlog: {', '.join(top) or 'nothing open'}. "
            f"{len(summary.get('high_risk', []))} high-risk items, "
            f"{len(summary.get('left_out', []))} not in a sprint."
        ),
        dedupe_key=f"plan:{summary['as_of']}",
        facts=tuple(
            (label, str(value))
            for label, value in (
                ("items", summary["items"]),
                ("makespan (working days)", summary["makespan_days"]),
                *((f"done by ({p.upper()})", d) for p, d in outlook.items()),
            )
        ),
        link=link,
        ticket=False,
    )
