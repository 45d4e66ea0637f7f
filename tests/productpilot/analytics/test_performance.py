"""Performance rules: thresholds and rates of change over sliding windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pydantic
import pytest

from productpilot.analytics.performance import evaluate_rule, evaluate_rules, window_end
from productpilot.products.configuration import PerformanceRule

NOW = datetime(2026, 8, 3, 12, 7, tzinfo=UTC)  # windows of 15 minutes end at 12:00


def requests(start: datetime, count: int, latency: float, error_every: int = 0) -> list[dict]:
    step = timedelta(minutes=15) / count
    return [
        {
            "event": "api_request",
            "timestamp": start + step * (i + 0.5),
            "properties": {
                "latency_ms": latency,
                "error": bool(error_every and i % error_every == 0),
            },
        }
        for i in range(count)
    ]


def frame(*groups: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for group in groups for row in group])


CURRENT = datetime(2026, 8, 3, 11, 45, tzinfo=UTC)
BEFORE = CURRENT - timedelta(minutes=15)


def rule(**options: object) -> PerformanceRule:
    return PerformanceRule(name="guard", **options)


def test_latency_above_its_threshold_is_a_breach_with_its_reason() -> None:
    events = frame(requests(BEFORE, 100, 200), requests(CURRENT, 100, 900))
    breach = evaluate_rule(events, rule(signal="latency", above=500), NOW)
    assert breach is not None
    assert breach.value == 900
    assert breach.reasons == ("latency 900 is above 500",)
    assert (breach.window_start, breach.window_end) == (CURRENT, CURRENT + timedelta(minutes=15))


def test_a_sharp_rise_is_a_breach_even_under_the_threshold() -> None:
    events = frame(requests(BEFORE, 100, 200), requests(CURRENT, 100, 320))
    breach = evaluate_rule(events, rule(signal="latency", above=500, max_change=0.5), NOW)
    assert breach is not None
    assert breach.previous == 200
    assert breach.reasons == ("latency is 60% worse than the previous 15 minutes",)


def test_a_healthy_window_is_no_breach() -> None:
    events = frame(requests(BEFORE, 100, 200), requests(CURRENT, 100, 210))
    assert evaluate_rule(events, rule(signal="latency", above=500, max_change=0.5), NOW) is None


def test_too_few_requests_give_no_verdict() -> None:
    events = frame(requests(CURRENT, 10, 5000))
    assert evaluate_rule(events, rule(signal="latency", above=500), NOW) is None


def test_the_error_rate_is_the_share_of_errors() -> None:
    events = frame(requests(CURRENT, 100, 100, error_every=10))  # 10 of 100
    breach = evaluate_rule(events, rule(signal="error_rate", above=0.05), NOW)
    assert breach is not None
    assert breach.value == pytest.approx(0.1)


def test_a_usage_drop_is_a_breach_and_a_quiet_baseline_is_not() -> None:
    drop = frame(requests(BEFORE, 200, 100), requests(CURRENT, 50, 100))
    breach = evaluate_rule(drop, rule(signal="usage", max_change=0.5), NOW)
    assert breach is not None
    assert breach.reasons == ("usage is 75% worse than the previous 15 minutes",)
    quiet = frame(requests(BEFORE, 5, 100), requests(CURRENT, 1, 100))
    assert evaluate_rule(quiet, rule(signal="usage", max_change=0.5), NOW) is None


def test_runs_within_one_window_agree_on_it_and_on_the_event_id() -> None:
    guard = rule(signal="latency", above=1)
    assert window_end(NOW, guard) == window_end(NOW + timedelta(minutes=7), guard)
    events = frame(requests(CURRENT, 100, 900))
    first = evaluate_rules(events, [guard], NOW)[0]
    again = evaluate_rules(events, [guard], NOW + timedelta(minutes=5))[0]
    assert first.event_id(7) == again.event_id(7) != first.event_id(8)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"signal": "latency"}, "needs above, below or max_change"),
        ({"signal": "usage", "above": 10}, "use below"),
        ({"signal": "latency", "below": 10}, "use above"),
    ],
)
def test_rules_that_cannot_fire_are_refused(options: dict, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        rule(**options)
