"""Specification of sprint cutting: velocity, schedule order and the reasons items slip."""

from __future__ import annotations

import doctest
from datetime import date

import pytest

from productpilot.errors import ValidationError
from productpilot.planning import sprints as module
from productpilot.planning.scheduling import (
    Problem,
    Resource,
    Schedule,
    ScheduledItem,
    WorkItem,
    solve,
)
from productpilot.planning.sprints import cut_sprints, measured_velocity

MONDAY = date(2026, 8, 3)


def schedule_of(problem: Problem, days: dict[str, int]) -> Schedule:
    """A schedule with the given start days (items' own durations), as a solver returns."""
    rows = tuple(
        ScheduledItem(item.id, days[item.id], days[item.id] + item.duration)
        for item in problem.items
    )
    end = max(row.end for row in rows)
    return Schedule(rows, "makespan", end, end, "OPTIMAL", 0.0, end, end, end)


def test_velocity_is_the_mean_or_median_of_the_last_sprints() -> None:
    assert measured_velocity([40, 20, 22, 24]) == 22
    assert measured_velocity([40, 20, 22, 24], last=4) == 26.5
    assert measured_velocity([10, 30, 12, 50], method="median") == 30
    for bad in ({"completed": []}, {"completed": [1, -2]}, {"completed": [3], "last": 0}):
        with pytest.raises(ValidationError):
            measured_velocity(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown velocity method"):
        measured_velocity([1.0], method="mode")  # type: ignore[arg-type]


def test_items_land_in_the_sprint_the_schedule_finishes_them_in() -> None:
    problem = Problem(
        (
            WorkItem("a", 3),
            WorkItem("b", 4, predecessors=("a",)),
            WorkItem("c", 2, predecessors=("b",)),
        )
    )
    plan = cut_sprints(
        problem,
        schedule_of(problem, {"a": 0, "b": 3, "c": 7}),
        sprint_length=5,
        velocity=10,
        start=MONDAY,
    )
    assert plan.sprint_of == {"a": 1, "b": 2, "c": 2}  # b ends on day 6, in sprint 2
    assert plan.issues == ()
    assert plan.unplanned == ()
    first, second = plan.sprints
    assert (first.start, first.end, first.items, first.load) == (
        date(2026, 8, 3),
        date(2026, 8, 7),
        ("a",),
        3.0,
    )
    assert (second.start, second.end) == (date(2026, 8, 10), date(2026, 8, 14))  # weekend skipped
    assert second.items == ("b", "c")


def test_a_full_sprint_pushes_the_next_item_on_with_over_velocity() -> None:
    problem = Problem((WorkItem("x", 1), WorkItem("y", 1), WorkItem("z", 1)), (Resource("dev", 3),))
    plan = cut_sprints(
        problem,
        schedule_of(problem, {"x": 0, "y": 0, "z": 0}),
        sprint_length=5,
        velocity=8,
        start=MONDAY,
        sprints=2,
        sizes={"x": 5, "y": 3, "z": 2},
    )
    assert plan.sprint_of == {"x": 1, "y": 1, "z": 2}
    [issue] = plan.issues
    assert (issue.item, issue.reason, issue.scheduled_sprint, issue.sprint) == (
        "z",
        "over_velocity",
        1,
        2,
    )
    assert "sprint 1 is full (8 of 8)" in issue.message


def test_an_item_bigger_than_the_velocity_is_left_out_and_so_are_its_dependents() -> None:
    problem = Problem((WorkItem("epic", 2), WorkItem("after", 1, predecessors=("epic",))))
    plan = cut_sprints(
        problem,
        schedule_of(problem, {"epic": 0, "after": 2}),
        sprint_length=5,
        velocity=8,
        start=MONDAY,
        sizes={"epic": 13, "after": 1},
    )
    assert plan.unplanned == ("epic", "after")
    assert [(i.item, i.reason, i.sprint) for i in plan.issues] == [
        ("epic", "over_velocity", None),
        ("after", "predecessor_later", None),
    ]
    assert "split it" in plan.issues[0].message


def test_a_successor_follows_a_predecessor_that_slipped() -> None:
    problem = Problem(
        (WorkItem("filler", 1), WorkItem("big", 1), WorkItem("dep", 1, predecessors=("big",))),
        (Resource("dev", 2),),
    )
    # filler (first on ties) takes sprint 1's room, big slips to sprint 2, dep follows it.
    plan = cut_sprints(
        problem,
        schedule_of(problem, {"filler": 0, "big": 0, "dep": 1}),
        sprint_length=5,
        velocity=5,
        start=MONDAY,
        sprints=3,
        sizes={"filler": 3, "big": 3, "dep": 1},
    )
    assert plan.sprint_of == {"filler": 1, "big": 2, "dep": 2}
    reasons = {(i.item, i.reason) for i in plan.issues}
    assert reasons == {("big", "over_velocity"), ("dep", "predecessor_later")}
    dep = next(i for i in plan.issues if i.item == "dep")
    assert (dep.scheduled_sprint, dep.sprint) == (1, 2)
    assert "after big" in dep.message


def test_a_sprint_ending_after_the_deadline_is_flagged() -> None:
    problem = Problem((WorkItem("due", 2, deadline=3), WorkItem("ok", 1, deadline=10)))
    plan = cut_sprints(
        problem,
        schedule_of(problem, {"due": 0, "ok": 2}),
        sprint_length=5,
        velocity=10,
        start=MONDAY,
    )
    [issue] = plan.issues
    assert (issue.item, issue.reason, issue.sprint) == ("due", "past_deadline", 1)
    assert "due by day 3 but sprint 1 ends on day 5" in issue.message


def test_work_beyond_the_horizon_is_named() -> None:
    problem = Problem((WorkItem("now", 2), WorkItem("later", 2, predecessors=("now",))))
    late = cut_sprints(
        problem,
        schedule_of(problem, {"now": 0, "later": 7}),
        sprint_length=5,
        velocity=10,
        start=MONDAY,
        sprints=1,
    )
    assert late.unplanned == ("later",)
    assert late.issues[0].reason == "beyond_horizon"
    full = cut_sprints(
        problem,
        schedule_of(problem, {"now": 0, "later": 2}),
        sprint_length=5,
        velocity=3,
        start=MONDAY,
        sprints=1,
    )
    assert (full.unplanned, full.issues[0].reason) == (("later",), "beyond_horizon")
    assert "finds no room in sprints 1..1" in full.issues[0].message


def test_days_are_the_size_without_points_and_a_solved_schedule_can_be_cut() -> None:
    problem = Problem(
        tuple(WorkItem(f"t{k}", 2, {"dev": 1}) for k in range(4)), (Resource("dev", 2),)
    )
    plan = cut_sprints(problem, solve(problem), sprint_length=2, velocity=4, start=MONDAY)
    assert [s.load for s in plan.sprints] == [4.0, 4.0]
    assert plan.to_dict()["sprints"][0]["start"] == "2026-08-03"


def test_bad_arguments_are_validation_errors() -> None:
    problem = Problem((WorkItem("a", 1),))
    schedule = schedule_of(problem, {"a": 0})
    with pytest.raises(ValidationError):
        cut_sprints(problem, schedule, sprint_length=0, velocity=5, start=MONDAY)
    with pytest.raises(ValidationError):
        cut_sprints(problem, schedule, sprint_length=5, velocity=0, start=MONDAY)
    with pytest.raises(ValidationError, match="does not cover"):
        cut_sprints(
            Problem((WorkItem("b", 1),)), schedule, sprint_length=5, velocity=5, start=MONDAY
        )
    with pytest.raises(ValidationError, match="sizes"):
        cut_sprints(problem, schedule, sprint_length=5, velocity=5, start=MONDAY, sizes={"a": -1})


def test_docstring_examples() -> None:
    assert doctest.testmod(module).failed == 0
