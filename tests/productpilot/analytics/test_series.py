"""Metric series helpers."""

from __future__ import annotations

from datetime import date, timedelta

from productpilot.analytics.series import Point, observed, period_start, periods

START = date(2026, 6, 1)


def test_days_before_a_product_had_data_are_not_history() -> None:
    points = [Point(START + timedelta(days=i), v) for i, v in enumerate([0, 0, 3, 0, 5])]
    assert [p.value for p in observed(points)] == [3, 0, 5]
    assert observed([Point(START, 0.0)]) == []


def test_periods_start_on_monday_and_on_the_first() -> None:
    assert period_start(date(2026, 8, 9), "week") == date(2026, 8, 3)  # a Sunday
    assert period_start(date(2026, 8, 9), "month") == date(2026, 8, 1)
    assert periods(date(2026, 1, 30), date(2026, 3, 2), "month") == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
