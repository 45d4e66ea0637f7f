"""Performance rules checked over a sliding window: breaches become events for reaction flows.

Each :class:`~productpilot.products.configuration.PerformanceRule` compares its signal over
the last ``window_minutes`` with its thresholds and with the window before (rate of change).
A breach is emitted as ``productpilot.performance.degraded`` with a deterministic id per
product, rule and window, so checking again within the same window emits the same event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from productpilot.analytics.kpis import numeric_property
from productpilot.products.configuration import PerformanceRule

EVENT_NAME = "productpilot.performance.degraded"
#: Namespace of performance event ids (uuid5). Never change it: ids would stop matching.
NAMESPACE = uuid.UUID("5b7d0a52-9f0e-4c39-8d7e-3f6f2c1a9e44")


@dataclass(frozen=True, slots=True)
class Breach:
    rule: str
    signal: str
    value: float
    previous: float | None
    reasons: tuple[str, ...]
    window_start: datetime
    window_end: datetime

    def event_id(self, product_id: int) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{product_id}:{self.rule}:{self.window_end.isoformat()}")

    def payload(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "signal": self.signal,
            "value": self.value,
            "previous": self.previous,
            "reasons": list(self.reasons),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
        }


def window_end(now: datetime, rule: PerformanceRule) -> datetime:
    """``now`` floored to the rule's window, so runs within one window agree on it."""
    size = timedelta(minutes=rule.window_minutes)
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    return epoch + ((now - epoch) // size) * size


def _signal(events: pd.DataFrame, rule: PerformanceRule) -> float | None:
    if rule.signal == "usage":
        return float(len(events))
    if len(events) < rule.min_events:
        return None  # too few requests to judge
    measured = rule.measured_property()
    assert measured is not None
    values = numeric_property(events, measured).dropna()
    if values.empty:
        return None
    if rule.signal == "latency":
        return float(values.quantile(rule.percentile / 100))
    return float(values.mean())


def _change(value: float, previous: float | None, rule: PerformanceRule) -> float | None:
    """How much worse than before (positive = worse), or None without a usable baseline."""
    if previous is None or previous <= 0:
        return None
    if rule.signal == "usage":
        return (previous - value) / previous
    return (value - previous) / previous


def evaluate_rule(events: pd.DataFrame, rule: PerformanceRule, now: datetime) -> Breach | None:
    """Check one rule against ``rule.event`` events (``timestamp``, ``properties`` columns)."""
    end = window_end(now, rule)
    size = timedelta(minutes=rule.window_minutes)
    selected = events[events["event"] == rule.event] if "event" in events else events
    current = selected[(selected["timestamp"] > end - size) & (selected["timestamp"] <= end)]
    before = selected[
        (selected["timestamp"] > end - 2 * size) & (selected["timestamp"] <= end - size)
    ]
    value = _signal(current, rule)
    if value is None:
        return None
    previous = _signal(before, rule)
    if rule.signal == "usage" and len(before) < rule.min_events:
        previous = None  # a quiet window before is no baseline for a drop
    reasons = []
    if rule.above is not None and value > rule.above:
        reasons.append(f"{rule.signal} {value:.4g} is above {rule.above:g}")
    if rule.below is not None and value < rule.below:
        reasons.append(f"{rule.signal} {value:.4g} is below {rule.below:g}")
    change = _change(value, previous, rule)
    if rule.max_change is not None and change is not None and change > rule.max_change:
        reasons.append(
            f"{rule.signal} is {change:.0%} worse than the previous {rule.window_minutes} minutes"
        )
    if not reasons:
        return None
    return Breach(rule.name, rule.signal, value, previous, tuple(reasons), end - size, end)


def evaluate_rules(
    events: pd.DataFrame, rules: Sequence[PerformanceRule], now: datetime
) -> list[Breach]:
    """Every breached rule at ``now``."""
    return [b for rule in rules if (b := evaluate_rule(events, rule, now)) is not None]
