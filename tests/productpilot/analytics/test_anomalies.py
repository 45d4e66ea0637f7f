"""The anomaly detector on synthetic series: spikes, level shifts, seasonality, causality."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest

from productpilot.analytics import anomalies as module
from productpilot.analytics.anomalies import (
    Anomaly,
    DetectorConfig,
    anomalies,
    candidate_seasons,
    detect,
)

WEEKDAY_FACTORS = np.array([1.0, 1.02, 1.0, 0.97, 0.9, 0.55, 0.55])


def daily_metric(days: int = 182, seed: int = 0) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """A product metric: weekly seasonality, slow growth, 3% multiplicative noise."""
    stamps = pd.date_range("2026-01-05", periods=days, freq="D")  # a Monday
    rng = np.random.default_rng(seed)
    level = 1000 * (1 + 0.003 * np.arange(days)) * WEEKDAY_FACTORS[stamps.day_of_week]
    return stamps, level * (1 + 0.03 * rng.standard_normal(days))


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_candidate_seasons_are_a_day_and_a_week_in_rows() -> None:
    assert candidate_seasons(pd.date_range("2026-01-01", periods=5, freq="5min")) == (288, 2016)
    assert candidate_seasons(pd.date_range("2026-01-01", periods=5, freq="D")) == (7,)


def test_a_spike_far_outside_the_band_is_flagged() -> None:
    stamps, values = daily_metric()
    values[120] *= 1.6
    result = detect(stamps, values)
    assert result.is_anomaly[120]
    assert values[120] > result.upper[120]
    assert result.score[120] > 0.5


def test_a_drop_below_the_band_is_flagged() -> None:
    stamps, values = daily_metric()
    values[130] *= 0.5
    result = detect(stamps, values)
    assert result.is_anomaly[130]
    assert values[130] < result.lower[130]


def test_a_level_shift_is_flagged_then_absorbed() -> None:
    stamps, values = daily_metric()
    values[100:] *= 1.5
    result = detect(stamps, values)
    assert result.is_anomaly[100]
    assert not result.is_anomaly[130:].any()  # the new level has become the expected one
    inside = (values[130:] >= result.lower[130:]) & (values[130:] <= result.upper[130:])
    assert inside.mean() > 0.9


def test_weekly_seasonality_is_not_flagged() -> None:
    flagged = weekend_flags = 0
    for seed in range(10):
        stamps, values = daily_metric(seed=seed)
        flags = detect(stamps, values).is_anomaly
        assert flags.sum() <= 3
        flagged += int(flags.sum())
        weekend_flags += int(flags[stamps.day_of_week >= 5].sum())
    assert flagged <= 0.01 * 10 * 182  # the odd noise record beyond 3 scales, no pattern
    assert weekend_flags <= flagged * 2 / 7 + 1  # weekends are not singled out


def test_the_band_follows_the_season_and_holds_most_normal_points() -> None:
    stamps, values = daily_metric()
    result = detect(stamps, values)
    warm = 21  # three weeks of learning
    inside = (values[warm:] >= result.lower[warm:]) & (values[warm:] <= result.upper[warm:])
    assert inside.mean() > 0.95
    weekend = stamps[warm:].day_of_week >= 5
    assert result.expected[warm:][weekend].mean() < 0.7 * result.expected[warm:][~weekend].mean()


def test_scores_are_in_the_unit_interval_and_zero_inside_the_band() -> None:
    stamps, values = daily_metric()
    values[[60, 90]] = [3000.0, 10.0]
    result = detect(stamps, values)
    assert ((result.score >= 0) & (result.score < 1)).all()
    inside = (values >= result.lower) & (values <= result.upper)
    assert (result.score[inside] == 0).all()


def test_causal_appending_points_never_changes_the_past() -> None:
    stamps, values = daily_metric()
    values[150] *= 2
    full = detect(stamps, values)
    for cut in (30, 90, 149):
        part = detect(stamps[:cut], values[:cut])
        for name in ("score", "expected", "lower", "upper"):
            np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[:cut])


def test_deterministic() -> None:
    stamps, values = daily_metric()
    first, second = detect(stamps, values), detect(stamps, values.copy())
    np.testing.assert_array_equal(first.score, second.score)
    np.testing.assert_array_equal(first.expected, second.expected)


def test_missing_values_are_never_anomalous() -> None:
    stamps, values = daily_metric()
    values[[50, 51, 120]] = np.nan
    result = detect(stamps, values)
    assert not result.is_anomaly[[50, 51, 120]].any()
    assert np.isfinite(result.expected[60:]).all()


def test_a_flat_series_flags_its_first_change() -> None:
    stamps = pd.date_range("2026-01-01", periods=200, freq="5min")
    values = np.full(200, 5.0)
    values[150] = 6.0
    result = detect(stamps, values, season=0)
    assert np.flatnonzero(result.is_anomaly).tolist() == [150]


def test_anomalies_carry_their_band_and_serialise() -> None:
    stamps, values = daily_metric()
    values[120] *= 1.6
    found = anomalies(stamps, values)
    spike = next(a for a in found if a.at == stamps[120].to_pydatetime())
    assert isinstance(spike, Anomaly)
    assert spike.lower < spike.expected < spike.upper < spike.value
    payload = json.loads(json.dumps(spike.to_dict(), allow_nan=False))
    assert payload["at"] == "2026-05-05T00:00:00"


def test_threshold_and_config_are_honoured() -> None:
    stamps, values = daily_metric()
    values[120] *= 1.6
    strict = detect(stamps, values, threshold=0.99)
    assert not strict.is_anomaly.any()
    narrow = detect(stamps, values, config=DetectorConfig(band_z=1.0))
    assert (narrow.upper - narrow.expected)[30:].mean() < (
        detect(stamps, values).upper - detect(stamps, values).expected
    )[30:].mean()


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="timestamps"):
        detect(pd.date_range("2026-01-01", periods=3, freq="D"), [1.0, 2.0])
