"""Specification of the generated backlog: structure, dependency graph and delivery history."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from productpilot.synthetic import SyntheticConfig, generate

FIELDS = {
    "key",
    "title",
    "description",
    "item_type",
    "status",
    "feature",
    "team",
    "story_points",
    "estimate_days",
    "labels",
    "depends_on",
    "created_at",
    "started_at",
    "completed_at",
}
CONFIG = SyntheticConfig(seed=4, users=2000, days=120, backlog_items=200, anomalies=0)


def _time(stamp: str | None) -> datetime | None:
    return None if stamp is None else datetime.fromisoformat(stamp)


def _ranks(values: list[float]) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks


def _spearman(a: list[float], b: list[float]) -> float:
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


@pytest.fixture(scope="module")
def items() -> list[dict[str, Any]]:
    return generate(CONFIG).backlog()


def test_backlog_has_the_requested_number_of_items_with_all_fields(
    items: list[dict[str, Any]],
) -> None:
    assert len(items) == 200
    assert [item["key"] for item in items] == [f"PP-{n}" for n in range(1, 201)]
    for item in items:
        assert set(item) == FIELDS
        assert item["item_type"] in {"story", "bug", "task", "spike"}
        assert item["status"] in {"done", "in_progress", "todo"}
        assert item["feature"] is None or item["feature"] in CONFIG.features
        assert isinstance(item["team"], str)
        assert item["team"]
        assert item["title"]
        assert item["estimate_days"] > 0
        assert all(isinstance(label, str) for label in item["labels"])


def test_default_backlog_size_scales_with_users_and_days() -> None:
    demo = SyntheticConfig.preset("demo")
    assert 40 <= len(generate(demo).backlog()) <= 80
    assert SyntheticConfig(users=20000, days=180).backlog_size > 2 * demo.backlog_size
    assert SyntheticConfig(users=100, days=30).backlog_size >= 20


def test_story_points_are_fibonacci_and_every_type_appears(items: list[dict[str, Any]]) -> None:
    assert {item["story_points"] for item in items} <= {1, 2, 3, 5, 8, 13}
    types = Counter(item["item_type"] for item in items)
    assert set(types) == {"story", "bug", "task", "spike"}
    assert types["story"] > types["bug"] > types["spike"]


def test_dependencies_reference_existing_items_and_form_a_dag(
    items: list[dict[str, Any]],
) -> None:
    keys = {item["key"] for item in items}
    graph = {item["key"]: item["depends_on"] for item in items}
    assert sum(bool(deps) for deps in graph.values()) > 10
    for key, deps in graph.items():
        assert set(deps) <= keys
        assert key not in deps
        assert len(set(deps)) == len(deps)
    # Kahn's algorithm consumes every node only if there is no cycle.
    indegree = {key: len(deps) for key, deps in graph.items()}
    dependants: dict[str, list[str]] = {key: [] for key in graph}
    for key, deps in graph.items():
        for dep in deps:
            dependants[dep].append(key)
    ready = [key for key, degree in indegree.items() if degree == 0]
    visited = 0
    while ready:
        key = ready.pop()
        visited += 1
        for child in dependants[key]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    assert visited == len(graph)


def test_dates_are_ordered_and_match_the_status(items: list[dict[str, Any]]) -> None:
    end = datetime(*CONFIG.end.timetuple()[:3], tzinfo=UTC)
    for item in items:
        created, started, completed = (
            _time(item["created_at"]),
            _time(item["started_at"]),
            _time(item["completed_at"]),
        )
        assert created is not None
        assert created < end
        if item["status"] == "done":
            assert started is not None
            assert completed is not None
            assert created <= started <= completed < end
        elif item["status"] == "in_progress":
            assert started is not None
            assert completed is None
            assert created <= started < end
        else:
            assert started is None
            assert completed is None


def test_items_start_only_after_their_dependencies_are_done(
    items: list[dict[str, Any]],
) -> None:
    by_key = {item["key"]: item for item in items}
    for item in items:
        if item["started_at"] is None:
            continue
        for dep in item["depends_on"]:
            completed = _time(by_key[dep]["completed_at"])
            assert completed is not None
            assert completed <= _time(item["started_at"])


def test_backlog_has_a_mix_of_statuses(items: list[dict[str, Any]]) -> None:
    statuses = Counter(item["status"] for item in items)
    assert statuses["done"] > len(items) / 2
    assert statuses["todo"] > 0
    assert statuses["in_progress"] > 0


def test_cycle_time_grows_with_story_points_but_with_noise(items: list[dict[str, Any]]) -> None:
    done = [item for item in items if item["status"] == "done"]
    points = [float(item["story_points"]) for item in done]
    cycle_days = [
        (_time(item["completed_at"]) - _time(item["started_at"])) / timedelta(days=1)
        for item in done
    ]
    correlation = _spearman(points, cycle_days)
    assert 0.4 < correlation < 0.95
    small = np.median([c for p, c in zip(points, cycle_days, strict=True) if p <= 2])
    large = np.median([c for p, c in zip(points, cycle_days, strict=True) if p >= 8])
    assert large > 3 * small


def test_estimates_and_description_length_track_story_points(
    items: list[dict[str, Any]],
) -> None:
    points = [float(item["story_points"]) for item in items]
    assert _spearman(points, [item["estimate_days"] for item in items]) > 0.8
    assert _spearman(points, [float(len(item["description"])) for item in items]) > 0.4


def test_completions_are_spread_over_the_period(items: list[dict[str, Any]]) -> None:
    start = datetime(*CONFIG.start.timetuple()[:3], tzinfo=UTC)
    weeks = Counter(
        (_time(item["completed_at"]) - start).days // 7
        for item in items
        if item["completed_at"] is not None
    )
    in_period = [weeks[w] for w in range(CONFIG.days // 7)]
    assert sum(1 for count in in_period if count > 0) >= 0.8 * len(in_period)
    assert max(in_period) < 0.25 * sum(in_period)


def test_backlog_does_not_depend_on_user_events() -> None:
    # Separate random streams: changing anomalies must not reshuffle the backlog.
    noisy = SyntheticConfig(seed=4, users=2000, days=120, backlog_items=200, anomalies=5)
    assert generate(noisy).backlog() == generate(CONFIG).backlog()
