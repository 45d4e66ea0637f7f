"""Specification of SyntheticConfig: defaults, presets, validation and event-count scaling."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import pytest

from productpilot.synthetic import SyntheticConfig, generate


def test_config_is_a_frozen_hashable_value_with_a_fixed_default_start() -> None:
    config = SyntheticConfig(seed=7, users=2000, days=90, start=date(2026, 8, 1))
    assert config == SyntheticConfig(seed=7, users=2000, days=90)
    assert hash(config) == hash(SyntheticConfig(seed=7, users=2000, days=90))
    assert SyntheticConfig().start == date(2026, 8, 1)
    assert config.end == date(2026, 10, 30)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 8  # type: ignore[misc]


def test_features_given_as_a_list_are_stored_as_a_tuple() -> None:
    config = SyntheticConfig(features=["dashboards", "alerts"])  # type: ignore[arg-type]
    assert config.features == ("dashboards", "alerts")


def test_to_dict_is_json_ready() -> None:
    data = SyntheticConfig(seed=3).to_dict()
    assert data["start"] == "2026-08-01"
    assert data["features"] == list(SyntheticConfig().features)
    assert data["seed"] == 3


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("tiny", 200, 5_000), ("demo", 50_000, 150_000), ("large", 850_000, 1_150_000)],
)
def test_presets_produce_the_advertised_number_of_events(name: str, low: int, high: int) -> None:
    total = sum(generate(SyntheticConfig.preset(name)).event_counts().values())
    assert low < total < high


def test_preset_accepts_overrides_and_rejects_unknown_names() -> None:
    assert SyntheticConfig.preset("tiny", seed=5).seed == 5
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        SyntheticConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown config fields: colour"):
        SyntheticConfig.preset("tiny", colour="red")


def test_for_event_count_hits_the_target_within_15_percent() -> None:
    config = SyntheticConfig.for_event_count(20_000, seed=2, days=60)
    total = sum(generate(config).event_counts().values())
    assert abs(total - 20_000) <= 0.15 * 20_000
    assert config.seed == 2
    assert config.days == 60


def test_for_event_count_scales_users_with_the_target() -> None:
    small = SyntheticConfig.for_event_count(10_000, seed=1, days=60, anomalies=0)
    large = SyntheticConfig.for_event_count(40_000, seed=1, days=60, anomalies=0)
    assert 3 < large.users / small.users < 5


def test_for_event_count_rejects_users_and_tiny_targets() -> None:
    with pytest.raises(ValueError, match="calibrates users"):
        SyntheticConfig.for_event_count(10_000, users=5)
    with pytest.raises(ValueError, match="events must be >= 100"):
        SyntheticConfig.for_event_count(10)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"users": 0}, "users must be >= 1"),
        ({"users": 2.5}, "users must be an int"),
        ({"users": True}, "users must be an int"),
        ({"days": 0}, "days must be >= 1"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"anomalies": -1}, "anomalies must be >= 0"),
        ({"backlog_items": -3}, "backlog_items must be >= 0"),
        ({"start": "2026-08-01"}, "start must be a datetime.date"),
        ({"start": datetime(2026, 8, 1)}, "start must be a datetime.date"),
        ({"features": ()}, "at least one feature"),
        ({"features": "dashboards"}, "not a single string"),
        ({"features": ("dashboards", "dashboards")}, "features must be unique"),
        ({"features": ("Dash Boards",)}, "lowercase snake_case"),
        ({"growth": 0}, "growth must be > 0"),
        ({"growth": float("nan")}, "growth must be a finite number"),
        ({"weekend_factor": 1.5}, r"weekend_factor must be in \(0, 1\]"),
        ({"days": 20}, "too short for 5 anomalies"),
    ],
)
def test_invalid_config_raises_a_clear_value_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**changes)


def test_short_periods_are_fine_without_anomalies() -> None:
    config = SyntheticConfig(days=7, users=50, anomalies=0)
    assert generate(config).anomalies() == []
    assert sum(generate(config).event_counts().values()) > 0


def test_custom_feature_names_get_releases_and_usage() -> None:
    config = SyntheticConfig(
        users=400, days=40, anomalies=0, features=("dashboards", "workflows", "billing_portal")
    )
    dataset = generate(config)
    assert [spec.name for spec in dataset.features] == list(config.features)
    used = {e["properties"]["feature"] for e in dataset.events() if e["event"] == "feature_used"}
    assert used == {"dashboards", "workflows", "billing_portal"}
