"""Configured metrics, computed per period from events."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from productpilot.analytics.kpis import MetricPoint, compute_metrics, needed_events
from productpilot.products.configuration import MetricDefinition


def frame(rows: list[tuple[str, str, str, dict]]) -> pd.DataFrame:
    events = pd.DataFrame(rows, columns=["event", "distinct_id", "timestamp", "properties"])
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    return events


EVENTS = frame(
    [
        ("signup", "a", "2026-08-03T09:00Z", {"plan": "pro"}),
        ("signup", "b", "2026-08-03T10:00Z", {"plan": "free"}),
        ("signup", "c", "2026-08-04T10:00Z", {"plan": "free"}),
        ("activate", "a", "2026-08-03T12:00Z", {}),
        ("activate", "a", "2026-08-03T13:00Z", {}),  # twice: one user
        ("api_request", "a", "2026-08-03T12:00Z", {"latency_ms": 100, "error": False}),
        ("api_request", "b", "2026-08-03T12:00Z", {"latency_ms": 300, "error": True}),
        ("api_request", "b", "2026-08-04T12:00Z", {"latency_ms": "n/a", "error": False}),
        ("nps_response", "a", "2026-08-03T12:00Z", {"score": 10}),
        ("nps_response", "b", "2026-08-03T12:00Z", {"score": 9}),
        ("nps_response", "c", "2026-08-03T12:00Z", {"score": 3}),
        ("nps_response", "d", "2026-08-03T12:00Z", {"score": 7}),
    ]
)


def metric(name: str, kind: str, event: str, **options: object) -> MetricDefinition:
    return MetricDefinition(name=name, kind=kind, event=event, **options)


def values(points: list[MetricPoint], name: str) -> dict[date, float]:
    return {p.period: p.value for p in points if p.metric == name}


AUG3, AUG4 = date(2026, 8, 3), date(2026, 8, 4)


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (metric("signups", "count", "signup"), {AUG3: 2, AUG4: 1}),
        (metric("activators", "unique_users", "activate"), {AUG3: 1}),
        # Aug 3: 1 activating user / 2 signing-up users; Aug 4: 0 / 1.
        (metric("activation", "ratio", "activate", denominator_event="signup"),
         {AUG3: 0.5, AUG4: 0.0}),
        # Booleans count as 0/1; a non-number is left out rather than failing the day.
        (metric("errors", "average", "api_request", property="error"), {AUG3: 0.5, AUG4: 0.0}),
        (metric("p50", "percentile", "api_request", property="latency_ms", percentile=50),
         {AUG3: 200.0}),
        # Promoters 2 of 4, detractors 1 of 4: 50% - 25%.
        (metric("nps", "nps", "nps_response", property="score"), {AUG3: 25.0}),
        (metric("pro", "count", "signup", filters={"plan": "pro"}), {AUG3: 1}),
    ],
)  # fmt: skip
def test_each_kind_of_metric_per_day(definition: MetricDefinition, expected: dict) -> None:
    assert values(compute_metrics(EVENTS, [definition], "day"), definition.name) == expected


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    signups = metric("signups", "count", "signup")
    assert values(compute_metrics(EVENTS, [signups], "week"), "signups") == {AUG3: 3.0}
    assert values(compute_metrics(EVENTS, [signups], "month"), "signups") == {date(2026, 8, 1): 3.0}


def test_counts_are_zero_filled_over_an_asked_range_and_ratios_are_not() -> None:
    definitions = [
        metric("signups", "count", "signup"),
        metric("activation", "ratio", "activate", denominator_event="signup"),
    ]
    points = compute_metrics(EVENTS, definitions, "day", start=AUG3, end=date(2026, 8, 5))
    assert values(points, "signups") == {AUG3: 2, AUG4: 1, date(2026, 8, 5): 0}
    assert date(2026, 8, 5) not in values(points, "activation")


def test_no_events_means_no_values_or_zero_counts() -> None:
    empty = frame([])
    signups = metric("signups", "count", "signup")
    assert compute_metrics(empty, [signups], "day") == []
    points = compute_metrics(empty, [signups], "day", start=AUG3, end=AUG3)
    assert points == [MetricPoint("signups", AUG3, 0.0)]


def test_only_the_events_the_definitions_read_are_needed() -> None:
    definitions = [
        metric("activation", "ratio", "activate", denominator_event="signup"),
        metric("errors", "average", "api_request", property="error"),
    ]
    assert needed_events(definitions) == ["activate", "api_request", "signup"]
