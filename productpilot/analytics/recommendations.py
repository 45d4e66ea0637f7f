"""Ranked optimisation recommendations from KPI trends, anomalies and adoption changes.

Each rule turns one finding into a :class:`Recommendation` with human-readable evidence, an
expected impact in the metric's own units (and how it was estimated), and a priority score
that ranks recommendations across rules:

``priority = 100 * weight(kind) * size * confidence``

where ``size`` is the finding's relative size capped at 1 (gap to target over the target,
relative adoption drop, anomaly deviation over the expected value, surplus over target) and
``confidence`` is ``1 - p_value`` for statistical findings or the anomaly score. Weights:
``investigate`` 3, ``fix_adoption`` 2.5, ``explain_anomaly`` 2, ``raise_target`` 0.5 (so
raising a target ranks below any other finding of similar size).

Example:
    >>> from types import SimpleNamespace as KPI
    >>> kpi = KPI(name="Activation", metric="activation_rate", target=0.4, direction="increase")
    >>> trend = {"direction": "decreasing", "p_value": 0.01, "slope_per_day": -0.002,
    ...          "n": 30, "start": "2026-08-01", "end": "2026-08-30"}
    >>> [r.title for r in recommend(trends={"activation_rate": trend}, anomalies=[],
    ...   adoption_changes=[], kpis=[kpi], latest={"activation_rate": 0.3})]
    ['Investigate the falling Activation (activation_rate)']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import pandas as pd

from productpilot.analytics.activity import json_float

Kind = Literal["investigate", "fix_adoption", "explain_anomaly", "raise_target"]
WEIGHTS: dict[str, float] = {
    "investigate": 3.0,
    "fix_adoption": 2.5,
    "explain_anomaly": 2.0,
    "raise_target": 0.5,
}
_KIND_ORDER = {kind: i for i, kind in enumerate(WEIGHTS)}


class KPILike(Protocol):
    """What :func:`recommend` reads of a KPI (e.g. ``products.configuration.KPI``)."""

    name: str
    metric: str
    target: float | None
    direction: str  # "increase" (higher is better) or "decrease"


@dataclass(frozen=True, slots=True)
class ExpectedImpact:
    """What acting on a recommendation is expected to bring.

    Attributes:
        value: the size, in ``unit`` (always >= 0).
        unit: the unit (a metric name, ``"users"``...).
        basis: how the number was estimated, in one sentence.
    """

    value: float
    unit: str
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": json_float(self.value), "unit": self.unit, "basis": self.basis}


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One ranked recommendation.

    Attributes:
        title: what to do, in a few words.
        kind: ``investigate``, ``fix_adoption``, ``explain_anomaly`` or ``raise_target``.
        priority: the ranking score (higher first), ``>= 0``.
        evidence: facts with numbers behind it.
        expected_impact: the expected gain and how it was estimated.
        related_metric: the KPI metric, or ``feature_adoption:<feature>``.
        segment: ``{property: value}`` when the finding is about one segment, else ``None``.
    """

    title: str
    kind: Kind
    priority: float
    evidence: tuple[str, ...]
    expected_impact: ExpectedImpact
    related_metric: str
    segment: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "kind": self.kind,
            "priority": json_float(self.priority),
            "evidence": list(self.evidence),
            "expected_impact": self.expected_impact.to_dict(),
            "related_metric": self.related_metric,
            "segment": dict(self.segment) if self.segment else None,
        }


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _p(value: float | None) -> str:
    return "n/a" if value is None else ("p < 0.001" if value < 0.001 else f"p = {value:.3f}")


def _priority(kind: str, size: float, confidence: float) -> float:
    size = min(max(size, 0.0), 1.0)
    confidence = min(max(confidence, 0.0), 1.0)
    return round(100 * WEIGHTS[kind] * size * confidence, 6)


def _relative(amount: float, reference: float | None) -> float:
    """``amount / |reference|`` capped at 1; 1 when the reference is 0 or unknown."""
    if not reference:
        return 1.0 if amount > 0 else 0.0
    return min(abs(amount) / abs(reference), 1.0)


def _moment(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def recommend(
    *,
    trends: Mapping[str, Mapping[str, Any]],
    anomalies: Sequence[Mapping[str, Any]],
    adoption_changes: Sequence[Any],
    kpis: Sequence[KPILike],
    latest: Mapping[str, float],
    alpha: float = 0.05,
    as_of: datetime | None = None,
    recent: timedelta = timedelta(days=7),
) -> list[Recommendation]:
    """Turn findings into recommendations, ranked by priority (highest first).

    Inputs:

    * ``trends``: metric name -> ``trends.Trend.to_dict()`` (reads ``direction``,
      ``p_value``, ``slope_per_day``, ``n``, ``start``, ``end``, ``week_over_week``).
    * ``anomalies``: dicts ``{"metric", "at" (ISO 8601 or datetime), "value", "expected",
      "lower", "upper", "score"}`` (``anomalies.Anomaly.to_dict()`` plus the metric name).
    * ``adoption_changes``: :class:`~productpilot.analytics.adoption.AdoptionChange`
      objects or their ``to_dict()``.
    * ``kpis``: objects with ``name``, ``metric``, ``target`` (``None``: no target) and
      ``direction`` (``"increase"``: higher is better, ``"decrease"``: lower is better).
    * ``latest``: metric name -> its latest value (compared with the KPI's target).

    Rules:

    a. **investigate**: a KPI off target (latest worse than target) whose trend moves the
       wrong way significantly (``direction`` against the KPI's and ``p_value < alpha``).
       Impact: the gap to target, in the metric's units.
    b. **fix_adoption**: a feature whose adoption fell significantly (``p_value < alpha``,
       negative change) in one segment value while no other value of that segment fell
       significantly: "Fix <feature> adoption in <segment>"; when it fell in several
       segment values (or the changes are not segmented), one recommendation per
       (feature, value) titled "Fix falling <feature> adoption". Impact: the users lost,
       ``(previous_rate - current_rate) * current_active``.
    c. **explain_anomaly**: anomalies on a KPI's metric at or after ``as_of - recent``; one
       recommendation per metric, led by the anomaly with the largest ``|value - expected|``
       (ties: the latest). Impact: that deviation, with the expected band as evidence.
    d. **raise_target**: a KPI past its target whose trend improves significantly. Impact:
       the surplus over the target.

    ``as_of`` defaults to the latest anomaly's ``at``. Ranking: priority descending, then
    kind (in the order above), then title, so equal inputs give equal output.

    Raises:
        ValueError: ``alpha`` outside ``(0, 1)``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    found: list[Recommendation] = []
    for kpi in kpis:
        found.extend(_kpi_rules(kpi, trends.get(kpi.metric), latest.get(kpi.metric), alpha))
    found.extend(_adoption_rules(adoption_changes, alpha))
    found.extend(_anomaly_rules(anomalies, kpis, as_of, recent))
    found.sort(key=lambda r: (-r.priority, _KIND_ORDER[r.kind], r.title, r.related_metric))
    return found


def _kpi_rules(
    kpi: KPILike, trend: Mapping[str, Any] | None, value: float | None, alpha: float
) -> list[Recommendation]:
    if kpi.target is None or value is None or trend is None:
        return []
    p_value = trend.get("p_value")
    if p_value is None or p_value >= alpha:
        return []
    higher_is_better = kpi.direction != "decrease"
    good, bad = ("increasing", "decreasing") if higher_is_better else ("decreasing", "increasing")
    target = float(kpi.target)
    shortfall = (target - value) if higher_is_better else (value - target)
    label = f"{kpi.name} ({kpi.metric})"
    slope = trend.get("slope_per_day")
    facts = [
        f"{kpi.name} is {_num(value)} against a target of {_num(target)} "
        f"({'higher' if higher_is_better else 'lower'} is better).",
        f"Mann-Kendall trend over {trend.get('n')} points ({trend.get('start')} to "
        f"{trend.get('end')}): {trend.get('direction')}, {_p(p_value)}, "
        f"Theil-Sen slope {_num(slope)} per day.",
    ]
    if trend.get("week_over_week") is not None:
        facts.append(f"Week over week: {trend['week_over_week']:+.1%}.")
    if trend.get("direction") == bad and shortfall > 0:
        if slope is not None:
            facts.append(f"At this slope the gap grows by {_num(abs(slope) * 30)} in 30 days.")
        return [
            Recommendation(
                title=f"Investigate the falling {label}"
                if higher_is_better
                else f"Investigate the rising {label}",
                kind="investigate",
                priority=_priority("investigate", _relative(shortfall, target), 1 - p_value),
                evidence=tuple(facts),
                expected_impact=ExpectedImpact(
                    shortfall,
                    kpi.metric,
                    f"gap between the latest value {_num(value)} and the target {_num(target)}",
                ),
                related_metric=kpi.metric,
            )
        ]
    if trend.get("direction") == good and shortfall < 0:
        surplus = -shortfall
        return [
            Recommendation(
                title=f"Raise the target of {label} and double down",
                kind="raise_target",
                priority=_priority("raise_target", _relative(surplus, target), 1 - p_value),
                evidence=tuple(facts),
                expected_impact=ExpectedImpact(
                    surplus,
                    kpi.metric,
                    f"surplus of the latest value {_num(value)} over the target {_num(target)}",
                ),
                related_metric=kpi.metric,
            )
        ]
    return []


def _adoption_rules(changes: Sequence[Any], alpha: float) -> list[Recommendation]:
    by_feature: dict[tuple[str, str | None], list[Any]] = {}
    for change in changes:
        by_feature.setdefault((_get(change, "feature"), _get(change, "segment")), []).append(change)
    found = []
    for (feature, segment), group in sorted(by_feature.items(), key=lambda kv: str(kv[0])):
        group.sort(key=lambda c: str(_get(c, "segment_value")))
        fell = [
            c
            for c in group
            if _get(c, "p_value") is not None
            and _get(c, "p_value") < alpha
            and (_get(c, "absolute_change") or 0) < 0
        ]
        isolated = segment is not None and len(fell) == 1 and len(group) > 1
        for change in fell:
            value = _get(change, "segment_value")
            before, now = _get(change, "previous_rate"), _get(change, "current_rate")
            active = _get(change, "current_active")
            lost = (before - now) * active
            where = f"{segment} = {value}" if segment is not None else "all users"
            facts = [
                f"{feature} adoption among {where}: {_pct(before)} "
                f"({_get(change, 'previous_users')} of {_get(change, 'previous_active')}) -> "
                f"{_pct(now)} ({_get(change, 'current_users')} of {active}), "
                f"{_get(change, 'relative_change') or 0:+.1%}, {_p(_get(change, 'p_value'))} "
                "(two-proportion z-test).",
            ]
            if segment is not None:
                others = [c for c in group if c is not change]
                holding = ", ".join(
                    f"{_get(c, 'segment_value')} {_pct(_get(c, 'previous_rate'))} -> "
                    f"{_pct(_get(c, 'current_rate'))}"
                    for c in others
                )
                if holding:
                    facts.append(
                        ("Holding elsewhere: " if isolated else "Also in: ") + holding + "."
                    )
            title = (
                f"Fix {feature} adoption in {segment} = {value}"
                if isolated
                else f"Fix falling {feature} adoption"
                + (f" ({segment} = {value})" if segment is not None else "")
            )
            found.append(
                Recommendation(
                    title=title,
                    kind="fix_adoption",
                    priority=_priority(
                        "fix_adoption",
                        _relative(before - now, before),
                        1 - _get(change, "p_value"),
                    ),
                    evidence=tuple(facts),
                    expected_impact=ExpectedImpact(
                        lost,
                        "users",
                        f"{where} users who would use {feature} if its adoption returned "
                        f"to the previous {_pct(before)}: ({_pct(before)} - {_pct(now)}) x "
                        f"{active} active users",
                    ),
                    related_metric=f"feature_adoption:{feature}",
                    segment={segment: str(value)} if segment is not None else None,
                )
            )
    return found


def _anomaly_rules(
    anomalies: Sequence[Mapping[str, Any]],
    kpis: Sequence[KPILike],
    as_of: datetime | None,
    recent: timedelta,
) -> list[Recommendation]:
    names = {}
    for kpi in kpis:
        names.setdefault(kpi.metric, kpi.name)
    dated = [(a, _moment(a.get("at"))) for a in anomalies if a.get("metric") in names]
    dated = [(a, at) for a, at in dated if at is not None]
    if not dated:
        return []
    now = _moment(as_of) if as_of is not None else max(at for _, at in dated)
    since = now - pd.Timedelta(recent)
    by_metric: dict[str, list[tuple[Mapping[str, Any], pd.Timestamp]]] = {}
    for anomaly, at in dated:
        if since <= at <= now:
            by_metric.setdefault(anomaly["metric"], []).append((anomaly, at))
    found = []
    for metric, items in sorted(by_metric.items()):
        items.sort(key=lambda item: (abs(item[0]["value"] - item[0]["expected"]), item[1]))
        lead, lead_at = items[-1]
        deviation = abs(lead["value"] - lead["expected"])
        facts = [
            f"{names[metric]} ({metric}) was {_num(a['value'])} at {at.isoformat()}, expected "
            f"{_num(a['expected'])} (band {_num(a['lower'])} to {_num(a['upper'])}), "
            f"anomaly score {a['score']:.2f}."
            for a, at in sorted(items, key=lambda item: item[1])[-5:]
        ]
        if len(items) > 5:
            facts.append(f"{len(items)} anomalies on {metric} since {since.isoformat()}.")
        side = "above" if lead["value"] > lead["expected"] else "below"
        found.append(
            Recommendation(
                title=f"Explain the anomaly in {names[metric]} ({metric}) on "
                f"{lead_at.date().isoformat()}",
                kind="explain_anomaly",
                priority=_priority(
                    "explain_anomaly", _relative(deviation, lead["expected"]), lead["score"]
                ),
                evidence=tuple(facts),
                expected_impact=ExpectedImpact(
                    deviation,
                    metric,
                    f"deviation of the largest recent anomaly from its expected value "
                    f"({side} the band {_num(lead['lower'])} to {_num(lead['upper'])})",
                ),
                related_metric=metric,
            )
        )
    return found
