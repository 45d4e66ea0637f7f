"""Specification of Monte Carlo delivery forecasts and the cleaning of real histories."""

from __future__ import annotations

import doctest
from datetime import date, timedelta

import numpy as np
import pytest

from productpilot.errors import ValidationError
from productpilot.planning import forecast as module
from productpilot.planning.forecast import (
    AFTER_AS_OF,
    DUPLICATE,
    MISSING_FINISH,
    NEGATIVE,
    ThroughputSample,
    WorkItem,
    clean_history,
    forecast_completion,
    forecast_item,
    simulate_completion,
    throughput_sample,
)

START = date(2026, 3, 2)  # a Monday


def daily_history(per_day: int, days: int = 84, end: date = START) -> list[WorkItem]:
    """``per_day`` items finished on each of the ``days`` days before ``end``."""
    first = end - timedelta(days=days)
    return [
        WorkItem(f"{first}+{d}-{i}", first + timedelta(days=d), started=first + timedelta(days=d))
        for d in range(days)
        for i in range(per_day)
    ]


# --- constant throughput gives exact dates -----------------------------------------------------


@pytest.mark.parametrize("period", ["day", "week"])
def test_constant_throughput_gives_the_exact_date_at_every_percentile(period: str) -> None:
    history = clean_history(daily_history(per_day=2))
    forecast = forecast_completion(history, 30, START, period=period, trials=500)
    # Two a day: items 29 and 30 are done on day 15, i.e. START + 14.
    expected = START + timedelta(days=14)
    assert (forecast.p50, forecast.p85, forecast.p95) == (expected, expected, expected)
    assert forecast.probability_by(expected) == 1.0
    assert forecast.probability_by(expected - timedelta(days=1)) == 0.0
    assert forecast.sample_mean == (2 if period == "day" else 14)


def test_weekly_throughput_spreads_the_last_week_evenly() -> None:
    sample = ThroughputSample(np.array([7]), "week", START - timedelta(days=7), START)
    # 7 a week: the 7th item on day 7 (offset 6), the 8th on day 8, the 14th on day 14.
    assert simulate_completion(sample, 7, trials=2).tolist() == [6.0, 6.0]
    assert simulate_completion(sample, 8, trials=2).tolist() == [7.0, 7.0]
    assert simulate_completion(sample, 14, trials=2).tolist() == [13.0, 13.0]


def test_zero_weeks_count_and_slow_the_forecast() -> None:
    # Weeks of 10 or 0 items, even odds: 10 items are done at the end of the first 10-week,
    # after k empty weeks with probability 1/2 ** (k + 1).
    sample = ThroughputSample(np.array([10, 0]), "week", START - timedelta(days=14), START)
    offsets = simulate_completion(sample, 10, trials=4000, seed=1)
    assert (offsets % 7 == 6).all()
    assert np.mean(offsets == 6.0) == pytest.approx(0.5, abs=0.03)
    assert np.mean(offsets == 13.0) == pytest.approx(0.25, abs=0.03)


def test_percentiles_are_ordered_and_seeded() -> None:
    rng = np.random.default_rng(0)
    items = [
        WorkItem(f"T{i}", START - timedelta(days=int(d)))
        for i, d in enumerate(rng.integers(1, 84, 60))
    ]
    history = clean_history(items)
    first = forecast_completion(history, 20, START, trials=2000, seed=7)
    again = forecast_completion(history, 20, START, trials=2000, seed=7)
    assert first.p50 <= first.p85 <= first.p95
    assert first.percentiles == again.percentiles
    assert first.to_dict()["percentiles"]["p85"] == first.p85.isoformat()


def test_the_window_uses_only_recent_weeks() -> None:
    # Fast long ago (5 a day), slow in the last 4 weeks (1 a day).
    old = daily_history(per_day=5, days=56, end=START - timedelta(days=28))
    recent = daily_history(per_day=1, days=28)
    history = clean_history(old + recent)
    forecast = forecast_completion(history, 28, START, window_weeks=4, trials=200)
    assert forecast.p50 == START + timedelta(days=27)


def test_only_items_finished_before_the_start_are_used() -> None:
    history = clean_history(
        daily_history(per_day=1) + daily_history(per_day=9, days=7, end=START + timedelta(7))
    )
    sample = throughput_sample(history, START, window_weeks=2)
    assert sample.counts.tolist() == [7, 7]


def test_history_start_keeps_days_before_the_team_out_of_the_window() -> None:
    history = clean_history(daily_history(per_day=1, days=14))
    assert throughput_sample(history, START, window_weeks=12).counts.tolist() == [7, 7]
    padded = throughput_sample(
        history, START, window_weeks=4, history_start=START - timedelta(days=28)
    )
    assert padded.counts.tolist() == [0, 0, 7, 7]


def test_no_throughput_is_a_clear_error() -> None:
    history = clean_history(daily_history(per_day=1, days=7, end=START - timedelta(days=100)))
    with pytest.raises(ValidationError, match="throughput is zero"):
        forecast_completion(history, 5, START, window_weeks=4)
    with pytest.raises(ValidationError, match="no items finished before"):
        forecast_completion(clean_history([]), 5, START)


def test_bad_arguments_are_refused() -> None:
    history = clean_history(daily_history(per_day=1))
    with pytest.raises(ValidationError, match="items must be at least 1"):
        forecast_completion(history, 0, START)
    with pytest.raises(ValidationError, match="percentiles must be between 0 and 100"):
        forecast_completion(history, 3, START, percentiles=(100,))
    with pytest.raises(ValidationError, match="block must be at least 1"):
        forecast_completion(history, 3, START, block=0)


def test_block_bootstrap_keeps_runs_of_weeks_together() -> None:
    # Blocks as long as the sample are rotations of it: the first 4 weeks always hold all 20
    # items, so every trial is done within 4 weeks. Single weeks drawn independently can
    # pick the empty weeks again and again.
    sample = ThroughputSample(np.array([10, 10, 0, 0]), "week", START - timedelta(28), START)
    blocks = simulate_completion(sample, 20, trials=2000, seed=3, block=4)
    single = simulate_completion(sample, 20, trials=2000, seed=3, block=1)
    assert blocks.max() <= 27
    assert (single > 27).mean() > 0.2
    assert (blocks % 7 == 6).all()  # 10 a week: the 20th item lands on a week's last day


# --- one item -----------------------------------------------------------------------------------


def test_a_queued_item_is_done_when_its_position_in_the_queue_is() -> None:
    history = clean_history(daily_history(per_day=1))
    forecast = forecast_item(history, START, position=5, trials=200)
    assert forecast.basis == "throughput"
    assert forecast.p85 == START + timedelta(days=4)


def test_a_started_item_uses_cycle_times_at_least_its_age() -> None:
    items = [
        WorkItem(f"T{i}", START - timedelta(days=30 - i), started=START - timedelta(days=40))
        for i in range(10)
    ]  # cycle times 10..19 days
    history = clean_history(items)
    forecast = forecast_item(history, START, started_on=START - timedelta(days=18), trials=1000)
    assert forecast.basis == "cycle time"
    assert forecast.sample_size == 2  # only the 18- and 19-day items lived that long
    assert forecast.p95 == START + timedelta(days=1)
    with pytest.raises(ValidationError, match="older than all 10 past items"):
        forecast_item(history, START, started_on=START - timedelta(days=25))
    with pytest.raises(ValidationError, match="exactly one of"):
        forecast_item(history, START)


# --- cleaning -----------------------------------------------------------------------------------


def test_cleaning_report_counts_each_reason() -> None:
    day = date(2026, 1, 10)
    items = [
        WorkItem("ok", day, started=day - timedelta(days=3)),
        WorkItem("same-day", day, started=day),
        WorkItem("negative", day, started=day + timedelta(days=1)),
        WorkItem("open", None, started=day),
        WorkItem("ok", day),  # a duplicate key
        WorkItem("future", date(2026, 6, 1), started=day),
        WorkItem("no-start", day),
    ]
    history = clean_history(items, as_of=date(2026, 2, 1))
    report = history.report
    assert report.total == 7
    assert report.kept == 3
    assert report.dropped == {MISSING_FINISH: 1, DUPLICATE: 1, AFTER_AS_OF: 1, NEGATIVE: 1}
    assert report.same_day == 1
    assert report.without_cycle_time == 1
    assert sorted(history.cycle_time_sample().tolist()) == [0.0, 3.0]
    assert report.lines()[0] == "kept 3 of 7 items for throughput"


def test_negative_cycle_times_can_be_kept_for_throughput_only() -> None:
    day = date(2026, 1, 10)
    items = [WorkItem("a", day, started=day + timedelta(days=1)), WorkItem("b", day, day)]
    history = clean_history(items, negative="throughput only")
    assert history.report.kept == 2
    assert history.report.negative_kept_for_throughput == 1
    assert history.cycle_time_sample().tolist() == [0.0]


def test_cycle_time_outliers_leave_the_sample_but_count_as_throughput() -> None:
    day = date(2026, 1, 10)
    items = [WorkItem(f"T{i}", day, started=day - timedelta(days=2 + i % 3)) for i in range(20)]
    items.append(WorkItem("stale", day, started=day - timedelta(days=900)))
    history = clean_history(items)
    assert history.report.kept == 21
    assert history.report.cycle_time_outliers == 1
    assert history.report.outlier_fence_days is not None
    assert history.report.outlier_fence_days < 900
    assert history.cycle_time_sample().max() == 4


def test_module_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
