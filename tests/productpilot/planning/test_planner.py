"""The planning pipeline on a small backlog whose right answers are plain to see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from productpilot.planning.planner import (
    BacklogRecord,
    deadline_index,
    estimate,
    plan,
    schedule,
    score,
    team_velocity,
)
from productpilot.products.configuration import PlanningSettings, TeamCapacity

MONDAY = date(2026, 11, 2)


def finished(key: str, title: str, days: float, ago: int, team: str = "core") -> BacklogRecord:
    """A finished item: ``days`` of work that ended ``ago`` days before MONDAY."""
    end = datetime.combine(MONDAY, datetime.min.time(), UTC) - timedelta(days=ago)
    return BacklogRecord(
        key=key,
        title=title,
        status="done",
        team=team,
        created_at=end - timedelta(days=days + 5),
        started_at=end - timedelta(days=days),
        completed_at=end,
    )


def todo(key: str, title: str, **fields) -> BacklogRecord:
    return BacklogRecord(key=key, title=title, team=fields.pop("team", "core"), **fields)


HISTORY = [
    finished(
        f"H-{i}",
        f"{'Migrate the database' if i % 2 else 'Fix a typo'} #{i}",
        8 if i % 2 else 1,
        3 * i,
    )
    for i in range(1, 13)
]


def settings(**overrides) -> PlanningSettings:
    return PlanningSettings(min_history=10, time_limit_seconds=5, **overrides)


def test_a_persons_estimate_wins_and_the_model_fills_the_gaps_with_a_range() -> None:
    records = [
        *HISTORY,
        todo("A", "Migrate the database #99"),
        todo("B", "Fix a typo #99", estimate_days=2),
    ]
    estimates = estimate(records, settings())
    assert estimates["A"].value > 4  # like the past migrations, not the typo fixes
    assert estimates["A"].low <= estimates["A"].value <= estimates["A"].high
    assert estimates["B"].value == 2
    assert estimates["B"].low <= 2 <= estimates["B"].high
    assert "the team's estimate (2 days)" in estimates["B"].explanation


def test_reach_from_live_usage_ranks_the_busier_features_work_first() -> None:
    records = [
        *HISTORY,
        todo("A", "Add export", feature="reports", estimate_days=3),
        todo("B", "Add export", feature="alerts", estimate_days=3),
        todo("C", "Add export", estimate_days=3),  # no feature: no reach to score it by
    ]
    estimates = estimate(records, settings())
    ranked = score(records, settings(), estimates, {"reports": 50, "alerts": 500})
    assert [s.key for s in ranked] == ["B", "A", "C"]
    assert ranked[0].score == pytest.approx(500 * 1 * 0.8 / (3 / 21))
    assert ranked[2].score is None
    assert ranked[2].reason == "missing required inputs: reach"
    reach = next(i for i in ranked[0].explanation.inputs if i.name == "reach")
    assert (reach.value, reach.source) == (500, "live usage")


def test_the_schedule_keeps_dependencies_and_team_capacity_and_favours_high_scores() -> None:
    records = [
        *HISTORY,
        todo("LOW", "Low value", feature="rare", estimate_days=2),
        todo("HIGH", "High value", feature="busy", estimate_days=2),
        todo("AFTER", "Needs high", feature="busy", estimate_days=1, depends_on=("HIGH",)),
    ]
    config = settings(teams=[TeamCapacity(name="core", people=1)])
    estimates = estimate(records, config)
    scores = score(records, config, estimates, {"busy": 1000, "rare": 10})
    timeline = schedule(records, config, estimates, scores, MONDAY)
    start = {item.id: item.start for item in timeline.schedule.items}
    end = {item.id: item.end for item in timeline.schedule.items}
    assert start["HIGH"] == 0  # one person: the valuable item goes first
    assert start["AFTER"] >= end["HIGH"]
    assert timeline.schedule.makespan == 5  # one person, 2 + 1 + 2 days, back to back
    assert timeline.dates["HIGH"] == (MONDAY, MONDAY + timedelta(days=1))


def test_deadlines_that_cannot_all_be_met_are_reported_and_lateness_is_minimised() -> None:
    friday = MONDAY + timedelta(days=4)
    records = [
        *HISTORY,
        todo("X", "First urgent thing", feature="busy", estimate_days=3, deadline=friday),
        todo("Y", "Second urgent thing", feature="busy", estimate_days=3, deadline=friday),
    ]
    config = settings(teams=[TeamCapacity(name="core", people=1)])
    estimates = estimate(records, config)
    scores = score(records, config, estimates, {"busy": 100})
    timeline = schedule(records, config, estimates, scores, MONDAY)
    assert timeline.conflicts  # six days of work for one person in a five-day week
    assert timeline.schedule.objective == "lateness"
    assert sorted(item.end for item in timeline.schedule.items) == [3, 6]


def test_a_deadline_counts_working_days_through_its_own_day() -> None:
    assert deadline_index(MONDAY, MONDAY) == 1
    assert deadline_index(MONDAY, MONDAY + timedelta(days=6)) == 5  # Sunday: the week's 5
    assert deadline_index(MONDAY, MONDAY - timedelta(days=1)) == 0


def test_velocity_is_configured_or_measured_from_the_teams_recent_sprints() -> None:
    assert (
        team_velocity(
            HISTORY, settings(teams=[TeamCapacity(name="core", velocity=7)]), "core", MONDAY
        )
        == 7
    )
    measured = team_velocity(HISTORY, settings(), "core", MONDAY)
    assert 0 < measured < 2 * 10  # what was finished, not people x days
    assert team_velocity(HISTORY, settings(), "nobody", MONDAY) == 2 * 10


def test_the_whole_plan_ranks_schedules_sprints_assesses_forecasts_and_sets_criteria() -> None:
    records = [
        *HISTORY,
        todo("A", "Migrate the database #100", feature="busy"),
        todo("B", "Fix a typo #100", feature="rare", depends_on=("A",)),
        todo("C", "Fix a typo #101"),
    ]
    result = plan(records, settings(), MONDAY, {"busy": 200, "rare": 20})
    keys = [row["key"] for row in result.rows()]
    assert keys[:2] == ["A", "B"]
    assert set(keys) == {"A", "B", "C"}
    assert result.timeline is not None
    assert result.timeline.schedule.start("B") >= result.timeline.schedule.end("A")
    assert set(result.risks) == {"A", "B", "C"}
    assert result.risks["B"].score >= 0
    assert result.forecast is not None  # twelve items finished over the last five weeks
    assert result.forecast.percentiles[50] <= result.forecast.percentiles[85]
    criteria = {c.key: c for c in result.criteria}
    assert set(criteria) == {"A", "B"}  # C names no feature: no KPI to move
    assert (criteria["A"].kpi, criteria["A"].baseline, criteria["A"].target) == (
        "feature_users:busy",
        200.0,
        220.0,
    )
    assert criteria["A"].due == result.timeline.dates["A"][1] + timedelta(days=30)
    summary = result.summary()
    assert summary["items"] == 3
    assert summary["unscored"] == 1


def test_a_backlog_without_history_is_planned_with_clear_defaults_and_no_forecast() -> None:
    result = plan([todo("A", "Something new", feature="f")], settings(), MONDAY, {"f": 5})
    assert result.estimates["A"].method == "default"
    assert result.estimates["A"].value == 3.0
    assert result.forecast is None
    assert result.cleaning is not None


def test_rices_effort_comes_from_the_estimate_and_says_so() -> None:
    records = [*HISTORY, todo("A", "Add export", feature="reports", estimate_days=3)]
    estimates = estimate(records, settings())
    [scored] = score(records, settings(), estimates, {"reports": 10})
    effort = next(i for i in scored.explanation.inputs if i.name == "effort")
    assert (effort.value, effort.source) == (pytest.approx(3 / 21), "estimate")
    assert effort.detail == "the effort estimate, 3 days"
