"""Performance regressions: when a degradation started, and what changed just before.

A ``productpilot.performance.degraded`` event says a rule is breached *now*. To act on it,
people need to know *when it started* and *what changed then*:

1. :func:`signal_series` cuts the rule's events over the look-back into buckets of the
   rule's window and measures the rule's signal in each (the p-th percentile of latency, the
   mean error rate, the count of events), as the performance monitor does.
2. :func:`find_onset` finds the start of the regression: the split of the series (ending at
   the breached window) into a *before* and an *after* segment with the smallest squared
   error around the two means (a single mean shift, the least-squares change point), where
   the after segment is worse. The onset is the first bucket of the after segment; the
   *suspect window* runs from the start of the bucket before it (a change that landed late
   in a good bucket shows in the next) to the onset bucket's end.
3. :func:`suspects` lists what changed in the suspect window: production deployments of
   releases (``launches``, ``plan.kind == "release"``) and feature-flag changes
   (``flag_changes``), nearest to the onset first.
4. :func:`regression_finding` is the evidence as one ticket-opening finding, keyed by the
   rule so a lasting regression (a breach every window) is one ticket.

Example:
    >>> from productpilot.products.configuration import PerformanceRule
    >>> rule = PerformanceRule(name="p95", signal="latency", above=500, window_minutes=10,
    ...                        min_events=1)
    >>> t0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
    >>> series = [Bucket(t0 + i * timedelta(minutes=10), t0 + (i + 1) * timedelta(minutes=10),
    ...                  v, 50) for i, v in enumerate([200, 210, 190, 800, 820, 790])]
    >>> onset = find_onset(series, rule)
    >>> (onset.onset_start.strftime("%H:%M"), onset.before, onset.after)
    ('12:30', 200.0, 803.3333333333334)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import select

from productpilot.analytics.kpis import numeric_property
from productpilot.analytics.queries import load_events
from productpilot.db.models import Flag, FlagChange, Launch
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.notify.message import Finding
from productpilot.products.configuration import PerformanceRule

FINDING_KIND = "productpilot.performance.regression"
#: The most suspects the evidence lists (nearest first).
MAX_SUSPECTS = 10


@dataclass(frozen=True, slots=True)
class Bucket:
    """The rule's signal over ``[start, end)``; ``value`` ``None`` with too few events."""

    start: datetime
    end: datetime
    value: float | None
    events: int


def signal_series(
    events: pd.DataFrame, rule: PerformanceRule, start: datetime, end: datetime
) -> list[Bucket]:
    """The rule's signal per window-sized bucket, the last bucket ending at ``end``.

    Args:
        events: ``timestamp`` (UTC) and ``properties`` columns of the rule's events.
        rule: the breached rule.
        start: the look-back's start (rounded to whole buckets before ``end``).
        end: the breached window's end.
    """
    size = timedelta(minutes=rule.window_minutes)
    count = max(1, math.ceil((end - start) / size))
    first = end - count * size
    measured = rule.measured_property()
    if events.empty:
        frame = pd.DataFrame({"bucket": pd.Series(dtype=int), "value": pd.Series(dtype=float)})
    else:
        timestamps = pd.to_datetime(events["timestamp"], utc=True)
        inside = (timestamps > first) & (timestamps <= end)
        selected = events[inside]
        # A bucket is (start, end], as the monitor's windows are.
        offsets = (timestamps[inside] - first) / size
        index = offsets.map(lambda o: max(0, math.ceil(o) - 1)).astype(int)
        values = (
            numeric_property(selected, measured)
            if measured is not None
            else pd.Series(1.0, index=selected.index)
        )
        frame = pd.DataFrame({"bucket": index.to_numpy(), "value": values.to_numpy()})
    buckets = []
    for i in range(count):
        values = frame.loc[frame["bucket"] == i, "value"]
        buckets.append(
            Bucket(first + i * size, first + (i + 1) * size, _signal(values, rule), len(values))
        )
    return buckets


def _signal(values: pd.Series, rule: PerformanceRule) -> float | None:
    if rule.signal == "usage":
        return float(len(values))
    if len(values) < rule.min_events:
        return None  # too few requests to judge, as the monitor decides
    numbers = values.dropna()
    if numbers.empty:
        return None
    if rule.signal == "latency":
        return float(numbers.quantile(rule.percentile / 100))
    return float(numbers.mean())


@dataclass(frozen=True, slots=True)
class Onset:
    """Where the regression started.

    Attributes:
        onset_start: the first worse bucket's start.
        onset_end: its end.
        suspect_start: the start of the bucket before it (changes from here on are suspects).
        before: the signal's mean before the onset (``None``: no earlier data).
        after: its mean from the onset on.
        buckets: the measured buckets (before and after).
        found: whether an earlier, better segment was found; otherwise the onset is the
            breached window itself.
    """

    onset_start: datetime
    onset_end: datetime
    suspect_start: datetime
    before: float | None
    after: float | None
    buckets: int
    found: bool


def find_onset(series: Sequence[Bucket], rule: PerformanceRule) -> Onset:
    """The least-squares mean-shift change point of ``series`` where the signal got worse.

    Raises:
        ValidationError: the series is empty.
    """
    if not series:
        raise ValidationError("no buckets to look for a regression in")
    measured = [b for b in series if b.value is not None]
    last = series[-1]
    size = last.end - last.start
    worse_up = rule.signal != "usage"  # latency and errors rise, usage drops
    best: tuple[float, int] | None = None
    values = [float(b.value) for b in measured]  # type: ignore[arg-type]
    for split in range(1, len(values)):
        before, after = values[:split], values[split:]
        mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
        if (mean_after <= mean_before) if worse_up else (mean_after >= mean_before):
            continue
        cost = sum((v - mean_before) ** 2 for v in before) + sum(
            (v - mean_after) ** 2 for v in after
        )
        if best is None or cost < best[0]:
            best = (cost, split)
    if best is None:
        after_mean = values[-1] if values else None
        return Onset(last.start, last.end, last.start - size, None, after_mean, len(values), False)
    split = best[1]
    onset = measured[split]
    before, after = values[:split], values[split:]
    return Onset(
        onset.start,
        onset.end,
        onset.start - (onset.end - onset.start),
        sum(before) / len(before),
        sum(after) / len(after),
        len(values),
        True,
    )


# --- what changed ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suspect:
    """A change in the suspect window.

    Attributes:
        kind: ``release`` (a production deployment) or ``flag`` (a flag change).
        name: the release (``release v1.2.0``) or flag key.
        at: when it took effect (deployment success, flag change).
        detail: who, what and why, in one line.
        reference: the release id or ``<flag key>@<version>``.
    """

    kind: Literal["release", "flag"]
    name: str
    at: datetime
    detail: str
    reference: str


def suspects(
    changes: Sequence[Suspect], onset: Onset, *, until: datetime | None = None
) -> list[Suspect]:
    """The changes from the suspect window's start to the onset's end (or ``until``),
    nearest to the onset first."""
    end = until or onset.onset_end
    inside = [c for c in changes if onset.suspect_start <= c.at <= end]
    return sorted(inside, key=lambda c: (abs((c.at - onset.onset_start).total_seconds()), c.name))[
        :MAX_SUSPECTS
    ]


def load_release_changes(
    session: StoreSession, product_id: int, start: datetime, end: datetime, environment: str
) -> list[Suspect]:
    """Successful deployments of releases to ``environment`` in ``[start, end]``."""
    found = []
    launches = session.scalars(
        select(Launch).where(
            Launch.product_id == product_id,
            Launch.started_at <= end,
            Launch.started_at >= start - timedelta(days=2),  # a release runs for a while
        )
    )
    for launch in launches:
        plan = launch.plan or {}
        if plan.get("kind") != "release":
            continue
        for entry in (launch.result or {}).get("deployments", []):
            if entry.get("environment") != environment:
                continue
            for status in entry.get("statuses", []):
                moment = _parse(status.get("at"))
                if status.get("state") == "success" and moment and start <= moment <= end:
                    found.append(
                        Suspect(
                            "release",
                            launch.name,
                            moment,
                            f"{launch.name} ({str(entry.get('sha') or plan.get('sha'))[:12]}) "
                            f"reached {environment}",
                            str(launch.id),
                        )
                    )
    return found


def load_flag_changes(
    session: StoreSession, product_id: int, start: datetime, end: datetime
) -> list[Suspect]:
    """The product's flag changes in ``[start, end]``."""
    rows = session.execute(
        select(
            Flag.key,
            FlagChange.version,
            FlagChange.actor,
            FlagChange.reason,
            FlagChange.diff,
            FlagChange.changed_at,
        )
        .join(Flag, Flag.id == FlagChange.flag_id)
        .where(Flag.product_id == product_id, FlagChange.changed_at.between(start, end))
    )
    found = []
    for key, version, actor, reason, diff, changed_at in rows:
        fields = sorted({str(c.get("field") or "flag") for c in (diff or {}).get("changes", [])})
        action = (diff or {}).get("action", "updated")
        what = f"{action} {', '.join(fields)}" if fields else str(action)
        why = f": {reason}" if reason else ""
        found.append(
            Suspect(
                "flag",
                key,
                changed_at,
                f"{key} v{version} {what} by {actor}{why}",
                f"{key}@{version}",
            )
        )
    return found


# --- the investigation ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Investigation:
    """A breach, when it started, and what changed then."""

    product_id: int
    rule: PerformanceRule
    breach: Mapping[str, Any]
    onset: Onset
    suspects: tuple[Suspect, ...]

    def to_dict(self) -> dict[str, Any]:
        onset = self.onset
        return {
            "product_id": self.product_id,
            "rule": self.rule.name,
            "onset_start": onset.onset_start.isoformat(),
            "suspect_start": onset.suspect_start.isoformat(),
            "onset_found": onset.found,
            "before": onset.before,
            "after": onset.after,
            "suspects": [
                {
                    "kind": s.kind,
                    "name": s.name,
                    "at": s.at.isoformat(),
                    "detail": s.detail,
                    "reference": s.reference,
                }
                for s in self.suspects
            ],
        }


def investigate(
    session: StoreSession,
    product_id: int,
    rules: Sequence[PerformanceRule],
    breach: Mapping[str, Any],
    *,
    lookback: timedelta,
    environment: str = "production",
) -> Investigation:
    """Find the onset of the breached rule's regression and the changes around it.

    Args:
        session: a tenant session.
        product_id: the product.
        rules: its configured performance rules (the breach names one).
        breach: the ``productpilot.performance.degraded`` payload (``rule``,
            ``window_end``...).
        lookback: how far before the breached window to look for the onset.
        environment: the deployment environment whose releases are suspects.

    Raises:
        ValidationError: the payload names no configured rule or has no ``window_end``.
    """
    rule = next((r for r in rules if r.name == breach.get("rule")), None)
    if rule is None:
        raise ValidationError(f"the product has no performance rule {breach.get('rule')!r}")
    end = _parse(breach.get("window_end"))
    if end is None:
        raise ValidationError("the degraded event has no window_end")
    start = end - lookback
    events = load_events(session, product_id, [rule.event], start, end, properties=True)
    onset = find_onset(signal_series(events, rule, start, end), rule)
    changes = load_release_changes(session, product_id, onset.suspect_start, end, environment)
    changes += load_flag_changes(session, product_id, onset.suspect_start, end)
    return Investigation(product_id, rule, dict(breach), onset, tuple(suspects(changes, onset)))


def regression_finding(investigation: Investigation) -> Finding:
    """The evidence as a critical, ticket-opening finding keyed by product and rule."""
    onset, rule = investigation.onset, investigation.rule
    when = onset.onset_start.strftime("%Y-%m-%d %H:%M UTC")
    if onset.found:
        started = (
            f"{rule.signal} moved from {_number(onset.before)} to {_number(onset.after)} "
            f"(means of the {rule.window_minutes}-minute windows before and after {when})."
        )
    else:
        started = f"No better period was found before the breached window ({when})."
    if investigation.suspects:
        listed = "; ".join(f"{s.at.strftime('%H:%M')} {s.detail}" for s in investigation.suspects)
        changed = f"Changes from {onset.suspect_start.strftime('%H:%M')} on: {listed}."
    else:
        changed = "No release or flag change in that window: look at traffic and dependencies."
    facts = [
        ("rule", rule.name),
        ("onset", when),
        ("before", _number(onset.before)),
        ("after", _number(onset.after)),
    ]
    facts += [(f"suspect {i}", s.detail) for i, s in enumerate(investigation.suspects[:3], 1)]
    return Finding(
        kind=FINDING_KIND,
        severity="critical",
        product_id=investigation.product_id,
        subject=f"{rule.name} regressed from {when}"
        + (f": {len(investigation.suspects)} suspect change(s)" if investigation.suspects else ""),
        text=f"{started} {changed}",
        dedupe_key=f"performance-regression:{rule.name}",
        facts=tuple(facts),
        occurred_at=onset.onset_start,
        ticket=True,
    )


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.4g}"
