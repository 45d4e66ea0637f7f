"""Tests of productpilot.analytics.reviews."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from productpilot.analytics.reviews import (
    annual_plan,
    drivers,
    monthly_review,
    quarterly_assessment,
)
from productpilot.products.configuration import KPI


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _piecewise(days: list[date], by_month: dict[int, float]) -> list[float]:
    return [by_month[d.month] for d in days]


JULY_AUG = _days(date(2026, 7, 1), date(2026, 8, 31))
SIGNUPS = KPI(name="signups", metric="signups", target=110.0)
ERRORS = KPI(name="error_rate", metric="error_rate", target=0.02, direction="decrease")


def test_monthly_review_against_previous_month_and_target() -> None:
    series = {
        "signups": (JULY_AUG, _piecewise(JULY_AUG, {7: 100.0, 8: 120.0})),
        "error_rate": (JULY_AUG, _piecewise(JULY_AUG, {7: 0.01, 8: 0.025})),
    }
    review = monthly_review([SIGNUPS, ERRORS], series, month=date(2026, 8, 17))
    assert review.month == date(2026, 8, 1)
    assert review.previous_month == date(2026, 7, 1)
    signups, errors = review.kpis
    assert (signups.current, signups.previous, signups.change) == (120.0, 100.0, 20.0)
    assert signups.relative_change == pytest.approx(0.2)
    assert signups.attained is True
    assert signups.gap == -10.0
    assert signups.days == 31
    assert errors.attained is False
    assert errors.gap == pytest.approx(0.005)
    assert errors.relative_change == pytest.approx(1.5)


def test_monthly_review_missing_data_and_no_target() -> None:
    kpi = KPI(name="dau", metric="dau")
    only_aug = _days(date(2026, 8, 1), date(2026, 8, 10))
    review = monthly_review([kpi, SIGNUPS], {"dau": (only_aug, [5.0] * 10)}, month=date(2026, 8, 1))
    dau, signups = review.kpis
    assert dau.current == 5.0
    assert dau.previous is None
    assert dau.change is None
    assert dau.attained is None
    assert dau.gap is None
    assert dau.days == 10
    assert signups.current is None
    assert signups.days == 0
    assert signups.attained is None
    nan_values = [float("nan")] * 5 + [7.0] * 5
    assert (
        monthly_review([kpi], {"dau": (only_aug, nan_values)}, month=date(2026, 8, 1))
        .kpis[0]
        .current
        == 7.0
    )


def test_drivers_of_additive_metric() -> None:
    # Total goes from 100 to 120 a day: ios +15, web +10, android -5.
    breakdown = {
        "ios": (JULY_AUG, _piecewise(JULY_AUG, {7: 30.0, 8: 45.0})),
        "web": (JULY_AUG, _piecewise(JULY_AUG, {7: 50.0, 8: 60.0})),
        "android": (JULY_AUG, _piecewise(JULY_AUG, {7: 20.0, 8: 15.0})),
    }
    series = {"signups": (JULY_AUG, _piecewise(JULY_AUG, {7: 100.0, 8: 120.0}))}
    review = monthly_review(
        [SIGNUPS], series, month=date(2026, 8, 1), breakdowns={"signups": breakdown}
    )
    ranked = review.kpis[0].drivers
    assert [d.segment for d in ranked] == ["ios", "web", "android"]
    assert [d.contribution for d in ranked] == pytest.approx([0.75, 0.5, -0.25])
    assert sum(d.effect for d in ranked) == pytest.approx(review.kpis[0].change)
    assert ranked[0].weight is None


def test_drivers_new_segment_counts_from_zero() -> None:
    aug = _days(date(2026, 8, 1), date(2026, 8, 31))
    ranked = drivers(
        {"old": (JULY_AUG, [10.0] * len(JULY_AUG)), "new": (aug, [4.0] * len(aug))},
        month=date(2026, 8, 1),
    )
    assert [(d.segment, d.previous, d.change, d.contribution) for d in ranked] == [
        ("new", None, 4.0, 1.0),
        ("old", 10.0, 0.0, 0.0),
    ]


def test_drivers_of_ratio_metric_are_weighted_changes() -> None:
    rates = {
        "ios": (JULY_AUG, _piecewise(JULY_AUG, {7: 0.10, 8: 0.20})),
        "web": (JULY_AUG, _piecewise(JULY_AUG, {7: 0.30, 8: 0.25})),
    }
    users = {
        "ios": (JULY_AUG, [100.0] * len(JULY_AUG)),
        "web": (JULY_AUG, [300.0] * len(JULY_AUG)),
    }
    ranked = drivers(rates, month=date(2026, 8, 1), ratio=True, weights=users)
    # effects: ios 0.25 * 0.10 = 0.025, web 0.75 * -0.05 = -0.0375; total -0.0125
    by_segment = {d.segment: d for d in ranked}
    assert by_segment["ios"].weight == pytest.approx(0.25)
    assert by_segment["ios"].effect == pytest.approx(0.025)
    assert by_segment["web"].effect == pytest.approx(-0.0375)
    assert by_segment["web"].contribution == pytest.approx(3.0)
    assert ranked[0].segment == "web"  # drove the (negative) change
    equal = drivers(rates, month=date(2026, 8, 1), ratio=True)
    assert {d.segment: d.weight for d in equal} == {"ios": 0.5, "web": 0.5}


def test_quarterly_assessment() -> None:
    days = _days(date(2025, 1, 1), date(2026, 9, 30))
    rng = np.random.default_rng(0)
    values = [100.0 + 0.1 * i + rng.normal(0, 2) for i in range(len(days))]
    q3 = _days(date(2026, 7, 1), date(2026, 9, 30))
    series = {"signups": (days, values)}
    result = quarterly_assessment([SIGNUPS], series, quarter_start=date(2026, 8, 20))
    assert result.quarter == date(2026, 7, 1)
    assert result.previous_quarter == date(2026, 4, 1)
    assert result.next_quarter == date(2026, 10, 1)
    row = result.kpis[0]
    q3_values = values[-len(q3) :]
    assert row.current == pytest.approx(np.mean(q3_values))
    assert row.days == 92
    assert row.days_meeting_target == pytest.approx(np.mean([v >= 110.0 for v in q3_values]))
    assert row.attained == (row.current >= 110.0)
    assert row.change is not None
    assert row.change > 0
    assert [p.day for p in row.forecast.points] == [
        date(2026, 10, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]
    assert row.forecast.method == "ets"
    assert row.next_lower < row.next_mean < row.next_upper
    assert row.next_mean > row.current  # the trend goes on
    # data after the quarter does not change the assessment
    later = _days(date(2025, 1, 1), date(2026, 12, 31))
    extended = {"signups": (later, values + [0.0] * (len(later) - len(days)))}
    assert quarterly_assessment([SIGNUPS], extended, quarter_start=date(2026, 7, 1)) == result
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


def test_annual_plan() -> None:
    days = _days(date(2024, 1, 1), date(2025, 12, 31))
    values = [50.0 + 0.05 * i + 5 * np.sin(i * 2 * np.pi / 365) for i in range(len(days))]
    plan = annual_plan({"dau": (days, values), "empty": ([], [])}, year_start=date(2026, 1, 15))
    assert plan.year_start == date(2026, 1, 1)
    dau, empty = plan.metrics
    assert dau.history_months == 24
    assert [p.day for p in dau.forecast.points] == [date(2026, m, 1) for m in range(1, 13)]
    assert all(p.lower <= p.mean <= p.upper for p in dau.forecast.points)
    assert dau.growth is not None
    assert dau.growth > 0
    assert dau.previous_year_mean == pytest.approx(
        np.mean(
            [
                np.mean(
                    [v for d, v in zip(days, values, strict=True) if (d.year, d.month) == (2025, m)]
                )
                for m in range(1, 13)
            ]
        )
    )
    assert empty.forecast.points == ()
    assert empty.growth is None
    assert empty.history_months == 0
    assert json.loads(json.dumps(plan.to_dict())) == plan.to_dict()


def test_annual_plan_history_gap_is_forecast_over() -> None:
    days = _days(date(2025, 1, 1), date(2025, 9, 30))  # ends three months before the year
    plan = annual_plan(
        {"m": (days, [float(i) for i in range(len(days))])}, year_start=date(2026, 1, 1)
    )
    points = plan.metrics[0].forecast.points
    assert len(points) == 12
    assert points[0].day == date(2026, 1, 1)
