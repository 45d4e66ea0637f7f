"""The weekly QA report: delivery (DORA), defects, satisfaction, security and success
criteria for one week, their trends over the weeks before, and ranked recommendations.

Where the numbers come from (all from the store, so the report works offline):

* **Deployments**: releases in ``launches`` (``plan.kind == "release"``, see
  :mod:`productpilot.launch.releases`): every recorded deployment to the measured
  environment, its last ``success`` / ``failure`` / ``error`` status deciding it; plus GitHub
  ``deployment_status`` webhooks in ``webhook_deliveries`` for deployments no release
  recorded (a release's GitHub deployment is counted once).
* **Changes**: merged pull requests (``pull_request`` webhooks), from creation to the
  deployment that shipped them.
* **Incidents**: backlog items whose type or labels say incident (created → completed),
  and releases rolled back (the release caused a failure; restored when the rollback
  reached the environment).
* **Defects**: backlog items of the bug types: inflow (created in the week), outflow
  (completed in it), open at the end of the week, escaped defects (bugs with an escaped
  label, e.g. ``production``) and the reopen rate (bugs closed in the previous week's
  report that are open again).
* **Satisfaction**: NPS and CSAT of the survey events in the week, with intervals.
* **Security**: the product's ``security_findings``.
* **Success criteria**: ``success_criteria`` against the KPI's current value.

Example:
    >>> week = date(2026, 11, 30)
    >>> report = build_qa_report(session, product, settings, week)  # doctest: +SKIP
    >>> [r.title for r in report.recommendations][:1]  # doctest: +SKIP
    ['Fix 2 open critical security findings']
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import select

from productpilot.analytics.queries import load_events
from productpilot.db.models import (
    BacklogItem,
    Launch,
    MetricValue,
    Product,
    Report,
    SuccessCriterion,
    WebhookDelivery,
)
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.notify.message import Finding
from productpilot.planning.usage import reach_by_feature
from productpilot.quality.dora import (
    Change,
    Deployment,
    DoraMetrics,
    Incident,
    change_from_pull_request,
    deployment_from_webhook,
    dora_metrics,
)
from productpilot.quality.findings_store import FindingsSummary, findings_summary
from productpilot.quality.satisfaction import CustomerSatisfaction, NetPromoterScore, csat, nps
from productpilot.quality.settings import QualitySettings

REPORT_KIND = "qa"
FINDING_KIND = "productpilot.report.qa"
WEEK = timedelta(days=7)
#: How far before the first reported week deployments and changes are read: a change
#: started weeks before it shipped still has its lead time measured.
LEAD_TIME_HORIZON = timedelta(days=90)
#: Recommendations the digest entry quotes (the report has them all).
DIGEST_RECOMMENDATIONS = 3


# --- defects --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkItem:
    """What the defect metrics read of a backlog item."""

    key: str
    item_type: str
    status: str
    labels: tuple[str, ...]
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DefectMetrics:
    """A week's defect flow.

    Attributes:
        inflow: bugs created in the week.
        outflow: bugs completed in the week.
        open_at_end: bugs created before the week's end and not completed by then.
        escaped: bugs created in the week carrying an escaped label.
        escaped_ratio: ``escaped / inflow`` (``None`` without inflow).
        reopened: bugs closed in the previous week that are open again.
        reopen_rate: ``reopened`` over the bugs closed in the previous week (``None``
            without a previous report or closed bugs).
        closed_keys: the bugs completed in the week (next week's reopen base).
    """

    inflow: int
    outflow: int
    open_at_end: int
    escaped: int
    escaped_ratio: float | None
    reopened: int | None
    reopen_rate: float | None
    closed_keys: tuple[str, ...] = ()


def defect_metrics(
    items: Iterable[WorkItem],
    start: datetime,
    end: datetime,
    *,
    bug_types: Collection[str],
    escaped_labels: Collection[str],
    previously_closed: Collection[str] | None = None,
) -> DefectMetrics:
    """Bug inflow and outflow, open bugs, escaped defects and reopen rate over ``[start, end)``.

    Args:
        items: the backlog (bugs and everything else; other types are ignored).
        start: the week's start.
        end: its end (exclusive).
        bug_types: item types that are bugs (case-insensitive).
        escaped_labels: labels that mark an escaped defect (case-insensitive).
        previously_closed: the keys the previous week's report counted as closed
            (``None``: no previous report, no reopen rate).

    Example:
        >>> t = datetime(2026, 11, 2, tzinfo=UTC)
        >>> bugs = [WorkItem("B-1", "bug", "done", ("production",), t, t + timedelta(days=1)),
        ...         WorkItem("B-2", "Bug", "todo", (), t + timedelta(days=2), None),
        ...         WorkItem("B-0", "bug", "todo", (), t - WEEK, None)]
        >>> m = defect_metrics(bugs, t, t + WEEK, bug_types={"bug"},
        ...                    escaped_labels={"production"}, previously_closed={"B-0"})
        >>> (m.inflow, m.outflow, m.open_at_end, m.escaped, m.reopened, m.reopen_rate)
        (2, 1, 2, 1, 1, 1.0)
    """
    types = {t.lower() for t in bug_types}
    escaped_words = {label.lower() for label in escaped_labels}
    bugs = [item for item in items if item.item_type.lower() in types]
    created = [b for b in bugs if start <= b.created_at < end]
    closed = [b for b in bugs if b.completed_at is not None and start <= b.completed_at < end]
    open_at_end = [
        b for b in bugs if b.created_at < end and (b.completed_at is None or b.completed_at >= end)
    ]
    escaped = [b for b in created if escaped_words & {label.lower() for label in b.labels}]
    reopened = reopen_rate = None
    if previously_closed is not None:
        by_key = {b.key: b for b in bugs}
        reopened = sum(
            1
            for key in previously_closed
            if key in by_key and by_key[key].completed_at is None and by_key[key].status != "done"
        )
        reopen_rate = reopened / len(previously_closed) if previously_closed else None
    return DefectMetrics(
        inflow=len(created),
        outflow=len(closed),
        open_at_end=len(open_at_end),
        escaped=len(escaped),
        escaped_ratio=len(escaped) / len(created) if created else None,
        reopened=reopened,
        reopen_rate=reopen_rate,
        closed_keys=tuple(sorted(b.key for b in closed)),
    )


# --- success criteria -----------------------------------------------------------------------

CriterionState = Literal["met", "on_track", "behind", "missed", "no_data"]


@dataclass(frozen=True, slots=True)
class CriterionStatus:
    """A success criterion against the KPI's current value.

    Attributes:
        kpi: the KPI (``feature_users:<feature>`` for planned features).
        baseline: its value when planned.
        target: the value to reach.
        due: when it is judged.
        current: its value now (``None``: not measured).
        progress: ``(current - baseline) / (target - baseline)`` (``None`` without both).
        state: ``met`` (target reached), ``missed`` (due and not reached), ``behind``
            (progress under the share of its time elapsed), ``on_track``, or ``no_data``.
    """

    kpi: str
    baseline: float | None
    target: float
    due: date | None
    current: float | None
    progress: float | None
    state: CriterionState


def criterion_status(
    kpi: str,
    baseline: float | None,
    target: float,
    due: date | None,
    current: float | None,
    *,
    planned_on: date,
    today: date,
) -> CriterionStatus:
    """Judge one criterion: is the KPI where it should be by now?

    The expected progress is the share of the time from ``planned_on`` to ``due`` that has
    passed; a KPI that moved less than that is behind.

    Example:
        >>> criterion_status("feature_users:alerts", 100, 110, date(2026, 12, 31), 103,
        ...                  planned_on=date(2026, 12, 1), today=date(2026, 12, 16)).state
        'behind'
    """
    rising = baseline is None or target >= baseline
    progress = None
    if current is not None and baseline is not None and target != baseline:
        progress = (current - baseline) / (target - baseline)
    if current is None:
        state: CriterionState = "no_data"
    elif (current >= target) if rising else (current <= target):
        state = "met"
    elif due is not None and today > due:
        state = "missed"
    elif due is not None and progress is not None and due > planned_on:
        elapsed = (today - planned_on).days / (due - planned_on).days
        state = "behind" if progress < min(1.0, elapsed) else "on_track"
    else:
        state = "on_track"
    return CriterionStatus(kpi, baseline, target, due, current, progress, state)


# --- trends and recommendations -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekMetrics:
    """One week's measurements."""

    start: datetime
    end: datetime
    dora: DoraMetrics
    defects: DefectMetrics
    nps: NetPromoterScore | None = None
    csat: CustomerSatisfaction | None = None

    def values(self) -> dict[str, float | None]:
        """The trended metrics by key (see :data:`METRICS`)."""
        d, q = self.dora, self.defects
        return {
            "deployments_per_week": d.deployments_per_week,
            "lead_time_hours": _hours(d.lead_time_median),
            "change_failure_rate": d.change_failure_rate,
            "time_to_restore_hours": _hours(d.time_to_restore_median),
            "bug_inflow": float(q.inflow),
            "bug_outflow": float(q.outflow),
            "open_bugs": float(q.open_at_end),
            "escaped_defects": float(q.escaped),
            "reopen_rate": q.reopen_rate,
            "nps": None if self.nps is None else self.nps.score,
            "csat": None if self.csat is None else self.csat.score,
        }


@dataclass(frozen=True, slots=True)
class MetricSpec:
    key: str
    label: str
    better: Literal["higher", "lower"]
    unit: str = ""


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("deployments_per_week", "Deployments per week", "higher"),
    MetricSpec("lead_time_hours", "Lead time for changes (median)", "lower", "h"),
    MetricSpec("change_failure_rate", "Change failure rate", "lower", "%"),
    MetricSpec("time_to_restore_hours", "Time to restore (median)", "lower", "h"),
    MetricSpec("bug_inflow", "Bugs opened", "lower"),
    MetricSpec("bug_outflow", "Bugs closed", "higher"),
    MetricSpec("open_bugs", "Open bugs", "lower"),
    MetricSpec("escaped_defects", "Escaped defects", "lower"),
    MetricSpec("reopen_rate", "Reopen rate", "lower", "%"),
    MetricSpec("nps", "NPS", "higher"),
    MetricSpec("csat", "CSAT", "higher", "%"),
)


@dataclass(frozen=True, slots=True)
class MetricTrend:
    """A metric this week against the weeks before.

    Attributes:
        spec: which metric.
        values: per week, oldest first; the last is the report's week.
        previous_mean: the mean of the earlier weeks that have a value.
        change: ``latest - previous_mean`` (``None`` without both).
        direction: ``better``, ``worse``, ``steady`` (within 5% of the earlier mean) or
            ``unknown``.
    """

    spec: MetricSpec
    values: tuple[float | None, ...]
    previous_mean: float | None
    change: float | None
    direction: Literal["better", "worse", "steady", "unknown"]

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None


def metric_trends(weeks: Sequence[WeekMetrics]) -> list[MetricTrend]:
    """Every metric of :data:`METRICS` across ``weeks`` (oldest first).

    Example:
        >>> [t.direction for t in metric_trends([])]  # doctest: +ELLIPSIS
        ['unknown', ...]
    """
    per_week = [week.values() for week in weeks]
    trends = []
    for spec in METRICS:
        values = tuple(values[spec.key] for values in per_week)
        earlier = [v for v in values[:-1] if v is not None]
        latest = values[-1] if values else None
        mean = sum(earlier) / len(earlier) if earlier else None
        change = None if latest is None or mean is None else latest - mean
        direction: Literal["better", "worse", "steady", "unknown"] = "unknown"
        if change is not None and mean is not None:
            if abs(change) <= 0.05 * abs(mean) or change == 0:
                direction = "steady"
            else:
                improved = change > 0 if spec.better == "higher" else change < 0
                direction = "better" if improved else "worse"
        trends.append(MetricTrend(spec, values, mean, change, direction))
    return trends


@dataclass(frozen=True, slots=True)
class QaRecommendation:
    """What to do next, and why.

    Attributes:
        title: what to do.
        area: ``security``, ``delivery``, ``defects``, ``satisfaction`` or ``outcomes``.
        priority: the ranking score (higher first).
        reasons: the facts behind it, with numbers.
    """

    title: str
    area: str
    priority: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "area": self.area,
            "priority": round(self.priority, 2),
            "reasons": list(self.reasons),
        }


def recommend(
    weeks: Sequence[WeekMetrics],
    security: FindingsSummary,
    criteria: Sequence[CriterionStatus],
) -> list[QaRecommendation]:
    """Ranked recommendations from the week's metrics, their trends, the open security
    findings and the success criteria.

    Priorities weigh how much is at stake (security and failing changes first, then
    restores, escaped defects and satisfaction, then flow) by how far the number is from
    a good one; each rule is explained in its reasons.

    Example:
        >>> recommend([], FindingsSummary({"critical": 2}), [])[0].title
        'Fix 2 open critical security findings'
    """
    found: list[QaRecommendation] = []
    critical = security.open_by_severity.get("critical", 0)
    high = security.open_by_severity.get("high", 0)
    if critical or high:
        reasons = [f"{critical} critical and {high} high findings are open"]
        if security.oldest_open_days is not None:
            reasons.append(f"the oldest has been open {security.oldest_open_days:.0f} days")
        if security.opened > security.resolved:
            reasons.append(f"{security.opened} opened and {security.resolved} fixed this week")
        worst = "critical" if critical else "high"
        count = critical or high
        found.append(
            QaRecommendation(
                f"Fix {count} open {worst} security finding{'s' if count > 1 else ''}",
                "security",
                100.0 + 10 * critical + 2 * high,
                tuple(reasons),
            )
        )
    if weeks:
        found += _delivery_and_defects(weeks)
        found += _satisfaction(weeks)
    for criterion in criteria:
        if criterion.state in ("behind", "missed"):
            progress = "no progress" if criterion.progress is None else f"{criterion.progress:.0%}"
            found.append(
                QaRecommendation(
                    f"Review {criterion.kpi}: {criterion.state} its target",
                    "outcomes",
                    35.0 if criterion.state == "missed" else 25.0,
                    (
                        f"{_fmt(criterion.current)} against a target of {_fmt(criterion.target)} "
                        f"(baseline {_fmt(criterion.baseline)}, due {criterion.due}); "
                        f"progress {progress}",
                    ),
                )
            )
    return sorted(found, key=lambda r: (-r.priority, r.title))


def _delivery_and_defects(weeks: Sequence[WeekMetrics]) -> list[QaRecommendation]:
    found = []
    week = weeks[-1]
    trends = {t.spec.key: t for t in metric_trends(weeks)}
    dora = week.dora
    if dora.change_failure_rate is not None and dora.change_failure_band in ("medium", "low"):
        found.append(
            QaRecommendation(
                "Reduce the change failure rate",
                "delivery",
                # Below security's 100 whatever the rate: a known hole comes first.
                80.0 + 15 * dora.change_failure_rate,
                (
                    f"{dora.change_failure_rate:.0%} of this week's deployments failed or "
                    f"caused an incident ({dora.change_failure_band} band)",
                    _trend_reason(trends["change_failure_rate"]),
                ),
            )
        )
    if dora.time_to_restore_band in ("medium", "low") and dora.time_to_restore_median:
        found.append(
            QaRecommendation(
                "Shorten the time to restore service",
                "delivery",
                70.0,
                (
                    f"median {_hours(dora.time_to_restore_median):.1f} h over "
                    f"{dora.restores_measured} restores ({dora.time_to_restore_band} band)",
                ),
            )
        )
    defects = week.defects
    if defects.escaped and defects.escaped_ratio is not None and defects.escaped_ratio >= 0.2:
        found.append(
            QaRecommendation(
                "Catch defects before production",
                "defects",
                60.0 + 40 * defects.escaped_ratio,
                (
                    f"{defects.escaped} of {defects.inflow} new bugs escaped to production "
                    f"({defects.escaped_ratio:.0%})",
                    _trend_reason(trends["escaped_defects"]),
                ),
            )
        )
    if defects.reopen_rate is not None and defects.reopen_rate >= 0.1:
        found.append(
            QaRecommendation(
                "Verify bug fixes before closing them",
                "defects",
                45.0 + 50 * defects.reopen_rate,
                (
                    f"{defects.reopened} of last week's closed bugs were reopened "
                    f"({defects.reopen_rate:.0%})",
                ),
            )
        )
    growing = [w for w in weeks[-2:] if w.defects.inflow > w.defects.outflow]
    if len(weeks) >= 2 and len(growing) == 2:
        found.append(
            QaRecommendation(
                "Stop the bug backlog growing",
                "defects",
                50.0,
                (
                    f"more bugs opened than closed two weeks running "
                    f"({weeks[-2].defects.inflow}/{weeks[-2].defects.outflow}, "
                    f"{defects.inflow}/{defects.outflow}); {defects.open_at_end} open",
                ),
            )
        )
    lead = trends["lead_time_hours"]
    if dora.lead_time_band in ("medium", "low") or (
        lead.direction == "worse"
        and lead.previous_mean
        and lead.change
        and lead.change / lead.previous_mean > 0.25
    ):
        found.append(
            QaRecommendation(
                "Shorten the lead time for changes",
                "delivery",
                40.0,
                (
                    f"median {_fmt(lead.latest)} h ({dora.lead_time_band or 'no'} band) over "
                    f"{dora.changes_measured} changes",
                    _trend_reason(lead),
                ),
            )
        )
    # Without any deployment on record the data is missing, not the deployments.
    recorded = any(w.dora.deployments or w.dora.failed_deployments for w in weeks)
    if recorded and dora.deployment_frequency_band in ("medium", "low"):
        found.append(
            QaRecommendation(
                "Deploy smaller changes more often",
                "delivery",
                30.0,
                (
                    f"{dora.deployments} deployments this week "
                    f"({dora.deployment_frequency_band} band)",
                    _trend_reason(trends["deployments_per_week"]),
                ),
            )
        )
    return found


def _satisfaction(weeks: Sequence[WeekMetrics]) -> list[QaRecommendation]:
    found = []
    week = weeks[-1]
    earlier = next((w for w in reversed(weeks[:-1]) if w.nps is not None), None)
    # A drop counts when the intervals do not overlap: noise from a few answers is not news.
    if (
        week.nps is not None
        and earlier is not None
        and earlier.nps is not None
        and week.nps.high < earlier.nps.low
    ):
        found.append(
            QaRecommendation(
                "Find out why NPS dropped",
                "satisfaction",
                55.0 + (earlier.nps.score - week.nps.score) / 2,
                (
                    f"NPS {week.nps.score:.0f} ({week.nps.low:.0f} to {week.nps.high:.0f}, "
                    f"{week.nps.n} answers) against {earlier.nps.score:.0f} "
                    f"({earlier.nps.low:.0f} to {earlier.nps.high:.0f}) the week of "
                    f"{earlier.start.date()}",
                ),
            )
        )
    earlier_csat = next((w for w in reversed(weeks[:-1]) if w.csat is not None), None)
    if (
        week.csat is not None
        and earlier_csat is not None
        and earlier_csat.csat is not None
        and week.csat.high < earlier_csat.csat.low
    ):
        found.append(
            QaRecommendation(
                "Find out why customer satisfaction dropped",
                "satisfaction",
                55.0 + 50 * (earlier_csat.csat.score - week.csat.score),
                (
                    f"CSAT {week.csat.score:.0%} ({week.csat.low:.0%} to "
                    f"{week.csat.high:.0%}, {week.csat.n} answers) against "
                    f"{earlier_csat.csat.score:.0%} the week of {earlier_csat.start.date()}",
                ),
            )
        )
    return found


def _trend_reason(trend: MetricTrend) -> str:
    if trend.previous_mean is None or trend.latest is None:
        return "no earlier weeks to compare with"
    weeks = len([v for v in trend.values[:-1] if v is not None])
    how = "steady against" if trend.direction == "steady" else f"{trend.direction} than"
    return (
        f"{how} the {weeks} week{'s' if weeks > 1 else ''} before "
        f"(mean {_fmt(trend.previous_mean)}, now {_fmt(trend.latest)})"
    )


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QaReport:
    """The weekly QA report of one product.

    Attributes:
        product: its name.
        product_id: its id.
        week_start: the Monday (UTC) the week starts.
        weeks: the report's week and the weeks before it, oldest first.
        security: its security findings.
        criteria: its success criteria.
        recommendations: ranked, highest priority first.
        notes: what could not be measured, and why.
    """

    product: str
    product_id: int
    week_start: date
    weeks: tuple[WeekMetrics, ...]
    security: FindingsSummary
    criteria: tuple[CriterionStatus, ...] = ()
    recommendations: tuple[QaRecommendation, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def week(self) -> WeekMetrics:
        return self.weeks[-1]

    @property
    def week_end(self) -> date:
        return self.week_start + WEEK

    def trends(self) -> list[MetricTrend]:
        return metric_trends(self.weeks)

    def summary(self) -> dict[str, Any]:
        """JSON for the ``reports`` row (and next week's reopen base)."""
        week = self.week
        return {
            "week_start": self.week_start.isoformat(),
            "dora": week.dora.to_dict(),
            "defects": {
                "inflow": week.defects.inflow,
                "outflow": week.defects.outflow,
                "open": week.defects.open_at_end,
                "escaped": week.defects.escaped,
                "escaped_ratio": week.defects.escaped_ratio,
                "reopened": week.defects.reopened,
                "reopen_rate": week.defects.reopen_rate,
                "closed_keys": list(week.defects.closed_keys),
            },
            "nps": None if week.nps is None else _nps_dict(week.nps),
            "csat": None if week.csat is None else _csat_dict(week.csat),
            "security": self.security.to_dict(),
            "criteria": {
                state: sum(c.state == state for c in self.criteria)
                for state in ("met", "on_track", "behind", "missed", "no_data")
            },
            "recommendations": [r.to_dict() for r in self.recommendations],
        }

    def markdown(self) -> str:
        """The metrics table and the recommendations, for a Prefect markdown artifact."""
        lines = [
            f"# {self.product}: QA report for the week of {self.week_start.isoformat()}",
            "",
            "| metric | this week | earlier weeks (mean) | trend |",
            "|---|---|---|---|",
        ]
        for trend in self.trends():
            lines.append(
                f"| {trend.spec.label} | {format_value(trend.spec, trend.latest)} | "
                f"{format_value(trend.spec, trend.previous_mean)} | {trend.direction} |"
            )
        lines += [
            "",
            f"Security: {self.security.open_total} open findings "
            f"({', '.join(f'{n} {s}' for s, n in self.security.open_by_severity.items() if n)}"
            f"{'' if self.security.open_total else 'none'}); "
            f"{self.security.opened} new and {self.security.resolved} fixed this week.",
        ]
        if self.criteria:
            lines += [
                "",
                "| success criterion | current | target | due | state |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {c.kpi} | {_fmt(c.current)} | {_fmt(c.target)} | {c.due or '-'} | {c.state} |"
                for c in self.criteria
            ]
        if self.recommendations:
            lines += ["", "## Recommendations", ""]
            lines += [
                f"{rank}. **{r.title}** ({r.area}): {'; '.join(r.reasons)}"
                for rank, r in enumerate(self.recommendations, start=1)
            ]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def format_value(spec: MetricSpec, value: float | None) -> str:
    """A metric value for people: shares as percentages, hours with one decimal."""
    if value is None:
        return "-"
    if spec.unit == "%":
        return f"{value:.0%}"
    if spec.unit == "h":
        return f"{value:.1f} h"
    return _fmt(value)


def qa_report_finding(report: QaReport, link: str) -> Finding:
    """The report as an ``info`` finding for the digest: what got worse, and what to do."""
    worse = [t.spec.label for t in report.trends() if t.direction == "worse"]
    lines = [
        f"Worse than the weeks before: {', '.join(worse)}."
        if worse
        else "No metric got worse than the weeks before."
    ]
    lines += [f"Recommended: {r.title}." for r in report.recommendations[:DIGEST_RECOMMENDATIONS]]
    week = report.week
    return Finding(
        kind=FINDING_KIND,
        severity="info",
        product_id=report.product_id,
        subject=f"QA report for {report.product}, week of {report.week_start.isoformat()}",
        text=" ".join(lines),
        dedupe_key=f"qa-report:{report.week_start.isoformat()}",
        facts=(
            ("deployments", str(week.dora.deployments)),
            ("change failure rate", format_value(METRICS[2], week.dora.change_failure_rate)),
            ("bugs opened / closed", f"{week.defects.inflow} / {week.defects.outflow}"),
            ("open security findings", str(report.security.open_total)),
        ),
        link=link,
        occurred_at=datetime.combine(report.week_end, time.min, UTC),
    )


# --- reading the store ----------------------------------------------------------------------


def week_start_of(day: date) -> date:
    """The Monday of ``day``'s ISO week.

    Example:
        >>> week_start_of(date(2026, 12, 2))
        datetime.date(2026, 11, 30)
    """
    return day - timedelta(days=day.weekday())


def build_qa_report(
    session: StoreSession,
    product: Product,
    settings: QualitySettings,
    week_start: date,
    *,
    today: date | None = None,
    reach_window_days: int = 30,
) -> QaReport:
    """The QA report of the week starting ``week_start`` (a Monday), with
    ``settings.trend_weeks`` weeks before it.

    Raises:
        ValidationError: ``week_start`` is not a Monday.
    """
    if week_start.weekday() != 0:
        raise ValidationError(f"a QA week starts on a Monday, {week_start} is not one")
    first = _instant(week_start - settings.trend_weeks * WEEK)
    end = _instant(week_start + WEEK)
    deployments = load_deployments(session, product.id, first - LEAD_TIME_HORIZON, end)
    changes = load_changes(session, product.id, first - LEAD_TIME_HORIZON, end)
    incidents = load_incidents(session, product.id, settings, first - LEAD_TIME_HORIZON, end)
    items = load_work_items(session, product.id)
    closed_before = _closed_keys_by_week(session, product.id)
    weeks = []
    for index in range(settings.trend_weeks + 1):
        start = first + index * WEEK
        stop = start + WEEK
        dora = dora_metrics(
            deployments,
            changes,
            incidents,
            start=start,
            end=stop,
            environments=(settings.environment,),
        )
        defects = defect_metrics(
            items,
            start,
            stop,
            bug_types=settings.bug_types,
            escaped_labels=settings.escaped_labels,
            previously_closed=closed_before.get((start - WEEK).date()),
        )
        nps_result, csat_result = _satisfaction_of(session, product.id, settings, start, stop)
        weeks.append(WeekMetrics(start, stop, dora, defects, nps_result, csat_result))
    security = findings_summary(session, product.id, end - WEEK, end)
    criteria = load_criteria(
        session, product.id, today or (week_start + WEEK), reach_window_days=reach_window_days
    )
    notes = []
    if not deployments:
        notes.append(
            "No deployments recorded: releases (productpilot release) or GitHub deployment "
            "webhooks feed the DORA metrics."
        )
    if weeks[-1].defects.reopen_rate is None:
        notes.append("Reopen rate: needs last week's QA report (the bugs it saw closed).")
    return QaReport(
        product=product.name,
        product_id=product.id,
        week_start=week_start,
        weeks=tuple(weeks),
        security=security,
        criteria=tuple(criteria),
        recommendations=tuple(recommend(weeks, security, criteria)),
        notes=tuple(notes),
    )


def load_deployments(
    session: StoreSession, product_id: int, start: datetime, end: datetime
) -> list[Deployment]:
    """The deployments releases recorded, and those only GitHub's webhooks told of."""
    found: dict[str, Deployment] = {}
    launches = session.scalars(
        select(Launch).where(
            Launch.product_id == product_id,
            Launch.started_at >= start,
            Launch.started_at < end,
        )
    )
    for launch in launches:
        if (launch.plan or {}).get("kind") != "release":
            continue
        for index, entry in enumerate((launch.result or {}).get("deployments", [])):
            deployment = _release_deployment(launch, index, entry)
            found[deployment.id] = deployment
    webhooks = session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.product_id == product_id,
            WebhookDelivery.vendor == "github",
            WebhookDelivery.kind.in_(("deployment", "deployment_status")),
            WebhookDelivery.received_at >= start,
            WebhookDelivery.received_at < end,
        )
        .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
    )
    from_github: dict[str, Deployment] = {}
    for delivery in webhooks:
        try:
            deployment = deployment_from_webhook(delivery.kind, delivery.payload)
        except ValidationError:
            continue  # a malformed delivery is not a deployment
        if deployment is None or deployment.id in found:
            continue
        earlier = from_github.get(deployment.id)
        # The last finished status decides; a later "in_progress" does not undo a failure.
        if earlier is None or deployment.status != "pending" or earlier.status == "pending":
            from_github[deployment.id] = deployment
    return [*found.values(), *from_github.values()]


def _release_deployment(launch: Launch, index: int, entry: Mapping[str, Any]) -> Deployment:
    finished = [s for s in entry.get("statuses", []) if s.get("state") in _FINISHED_STATES]
    status = "pending"
    finished_at = None
    if finished:
        last = finished[-1]
        status = "success" if last["state"] == "success" else "failure"
        finished_at = _parse(last.get("at"))
    identifier = entry.get("deployment_id")
    return Deployment(
        id=str(identifier) if identifier is not None else f"release-{launch.id}-{index}",
        environment=str(entry.get("environment")),
        sha=str(entry.get("sha") or launch.plan.get("sha") or ""),
        status=status,  # type: ignore[arg-type]
        finished_at=finished_at,
        started_at=_parse(entry.get("created_at")),
    )


_FINISHED_STATES = frozenset({"success", "failure", "error"})


def load_changes(
    session: StoreSession, product_id: int, start: datetime, end: datetime
) -> list[Change]:
    """Merged pull requests from GitHub's ``pull_request`` webhooks (each once)."""
    deliveries = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.product_id == product_id,
            WebhookDelivery.vendor == "github",
            WebhookDelivery.kind == "pull_request",
            WebhookDelivery.received_at >= start,
            WebhookDelivery.received_at < end,
        )
    )
    changes: dict[str, Change] = {}
    for delivery in deliveries:
        if (delivery.payload or {}).get("action") != "closed":
            continue
        try:
            change = change_from_pull_request(delivery.payload)
        except ValidationError:
            continue
        if change is not None:
            changes[change.id] = change
    return list(changes.values())


def load_incidents(
    session: StoreSession,
    product_id: int,
    settings: QualitySettings,
    start: datetime,
    end: datetime,
) -> list[Incident]:
    """Incident items of the backlog, and releases that were rolled back."""
    types = {t.lower() for t in settings.incident_types}
    labels = {label.lower() for label in settings.incident_labels}
    incidents = []
    for item in session.scalars(
        select(BacklogItem).where(
            BacklogItem.product_id == product_id,
            BacklogItem.created_at >= start,
            BacklogItem.created_at < end,
        )
    ):
        item_labels = {label.lower() for label in item.labels or []}
        if item.item_type.lower() in types or item_labels & labels:
            incidents.append(
                Incident(f"{item.source}:{item.external_key}", item.created_at, item.completed_at)
            )
    launches = list(
        session.scalars(
            select(Launch).where(Launch.product_id == product_id, Launch.started_at >= start)
        )
    )
    rollbacks = {
        launch.plan.get("from_release"): launch
        for launch in launches
        if (launch.plan or {}).get("kind") == "rollback"
        and launch.plan.get("environment") == settings.environment
    }
    for launch in launches:
        if (launch.plan or {}).get("kind") != "release" or launch.status != "rolled_back":
            continue
        production = [
            (i, e)
            for i, e in enumerate((launch.result or {}).get("deployments", []))
            if e.get("environment") == settings.environment
        ]
        if not production:
            continue
        index, entry = production[-1]
        caused_by = _release_deployment(launch, index, entry)
        rollback = rollbacks.get(launch.id)
        opened = rollback.started_at if rollback is not None else launch.finished_at
        restored = _rollback_restored(rollback, settings.environment)
        if opened is not None:
            incidents.append(Incident(f"rollback-of-{launch.id}", opened, restored, caused_by.id))
    return incidents


def _rollback_restored(rollback: Launch | None, environment: str) -> datetime | None:
    if rollback is None:
        return None
    for entry in reversed((rollback.result or {}).get("deployments", [])):
        if entry.get("environment") == environment:
            done = [s for s in entry.get("statuses", []) if s.get("state") == "success"]
            if done:
                return _parse(done[0].get("at"))
    return None


def load_work_items(session: StoreSession, product_id: int) -> list[WorkItem]:
    """The product's backlog as the defect metrics read it."""
    rows = session.execute(
        select(
            BacklogItem.source,
            BacklogItem.external_key,
            BacklogItem.item_type,
            BacklogItem.status,
            BacklogItem.labels,
            BacklogItem.created_at,
            BacklogItem.completed_at,
        ).where(BacklogItem.product_id == product_id)
    )
    return [
        WorkItem(f"{source}:{key}", item_type, status, tuple(labels or ()), created, completed)
        for source, key, item_type, status, labels, created, completed in rows
    ]


def _closed_keys_by_week(session: StoreSession, product_id: int) -> dict[date, list[str]]:
    reports = session.scalars(
        select(Report).where(Report.product_id == product_id, Report.kind == REPORT_KIND)
    )
    found = {}
    for report in reports:
        if report.period_start is None:
            continue
        closed = ((report.summary or {}).get("defects") or {}).get("closed_keys")
        if isinstance(closed, list):
            found[report.period_start.date()] = [str(key) for key in closed]
    return found


def _satisfaction_of(
    session: StoreSession,
    product_id: int,
    settings: QualitySettings,
    start: datetime,
    end: datetime,
) -> tuple[NetPromoterScore | None, CustomerSatisfaction | None]:
    events = load_events(
        session,
        product_id,
        [settings.nps_event, settings.csat_event],
        start,
        end - timedelta(microseconds=1),  # load_events' range is inclusive
        properties=True,
    )
    answers: dict[str, list[int]] = {settings.nps_event: [], settings.csat_event: []}
    bounds = {settings.nps_event: (0, 10), settings.csat_event: (1, 5)}
    for name, properties in zip(events.get("event", []), events.get("properties", []), strict=True):
        value = (properties or {}).get(settings.score_property)
        low, high = bounds[name]
        # A malformed answer (text, out of range) is not an answer; it is not guessed at.
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and float(value).is_integer()
            and low <= value <= high
        ):
            answers[name].append(int(value))
    nps_answers, csat_answers = answers[settings.nps_event], answers[settings.csat_event]
    return (nps(nps_answers) if nps_answers else None, csat(csat_answers) if csat_answers else None)


def load_criteria(
    session: StoreSession, product_id: int, today: date, *, reach_window_days: int = 30
) -> list[CriterionStatus]:
    """The product's success criteria against the KPIs' current values: feature users over
    the reach window for ``feature_users:<feature>``, else the latest daily metric value."""
    rows = list(
        session.scalars(
            select(SuccessCriterion)
            .where(SuccessCriterion.product_id == product_id)
            .order_by(SuccessCriterion.due, SuccessCriterion.id)
        )
    )
    if not rows:
        return []
    reach = None
    statuses = []
    for row in rows:
        if row.kpi.startswith("feature_users:"):
            if reach is None:
                reach = reach_by_feature(session, product_id, today, reach_window_days)
            current = reach.get(row.kpi.removeprefix("feature_users:"))
            current = None if current is None else float(current)
        else:
            current = session.scalar(
                select(MetricValue.value)
                .where(
                    MetricValue.product_id == product_id,
                    MetricValue.metric == row.kpi,
                    MetricValue.granularity == "day",
                    MetricValue.segment == "",
                    MetricValue.period_start <= _instant(today),
                )
                .order_by(MetricValue.period_start.desc())
                .limit(1)
            )
        planned_on = row.created_at.date() if row.created_at else today
        statuses.append(
            criterion_status(
                row.kpi,
                row.baseline,
                row.target,
                row.due,
                current,
                planned_on=planned_on,
                today=today,
            )
        )
    return statuses


def _instant(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 3600


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _nps_dict(result: NetPromoterScore) -> dict[str, Any]:
    return {"n": result.n, "score": result.score, "low": result.low, "high": result.high}


def _csat_dict(result: CustomerSatisfaction) -> dict[str, Any]:
    return {"n": result.n, "score": result.score, "low": result.low, "high": result.high}
