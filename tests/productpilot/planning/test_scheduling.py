"""Specification of the CP-SAT scheduler: objectives, capacity, infeasibility, calendar."""

from __future__ import annotations

import doctest
import itertools
import random
import time
from datetime import date

import pytest

from productpilot.errors import ValidationError
from productpilot.planning import scheduling as module
from productpilot.planning.scheduling import (
    InfeasibleScheduleError,
    Problem,
    Resource,
    WorkItem,
    calendar_dates,
    explain_infeasibility,
    solve,
    working_day,
    working_days,
)

DEV = Resource("dev", 1)


def item(name: str, days: int, *after: str, **fields: object) -> WorkItem:
    demands = fields.pop("demands", {"dev": 1})
    return WorkItem(name, days, demands, predecessors=after, **fields)  # type: ignore[arg-type]


def conflicts_of(problem: Problem) -> list[module.Conflict]:
    with pytest.raises(InfeasibleScheduleError) as raised:
        solve(problem, time_limit=5)
    assert list(raised.value.conflicts) == list(explain_infeasibility(problem))
    return list(raised.value.conflicts)


# --- Objectives ------------------------------------------------------------------------------


def test_one_developer_does_everything_in_a_row_respecting_dependencies() -> None:
    problem = Problem((item("a", 2), item("b", 3, "a"), item("c", 1)), (DEV,))
    plan = solve(problem)
    assert (plan.makespan, plan.status, plan.objective_value, plan.best_bound) == (
        6,
        "OPTIMAL",
        6,
        6,
    )
    assert plan.start("b") >= plan.end("a")
    days = sorted((row.start, row.end) for row in plan.items)
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(days))


def test_two_teams_work_in_parallel_until_a_dependency_joins_them() -> None:
    problem = Problem(
        (
            item("api", 4, demands={"backend": 1}),
            item("ui", 3, demands={"frontend": 1}),
            item("integrate", 2, "api", "ui", demands={"backend": 1, "frontend": 1}),
        ),
        (Resource("backend", 1), Resource("frontend", 1)),
    )
    plan = solve(problem)
    assert (plan.start("api"), plan.start("ui"), plan.start("integrate")) == (0, 0, 4)
    assert plan.makespan == 6


def test_capacity_two_runs_two_items_at_once_but_not_three() -> None:
    problem = Problem(tuple(item(f"t{k}", 2) for k in range(3)), (Resource("dev", 2),))
    assert solve(problem).makespan == 4


def test_weighted_completion_puts_heavy_short_items_first() -> None:
    # Smith's rule: order by duration / weight. big: 4/1, urgent: 1/5, medium: 2/2.
    problem = Problem(
        (item("big", 4), item("urgent", 1, weight=5), item("medium", 2, weight=2)),
        (DEV,),
        "weighted_completion",
    )
    plan = solve(problem)
    assert [row.id for row in plan.items] == ["urgent", "medium", "big"]
    assert plan.objective_value == 5 * 1 + 2 * 3 + 1 * 7
    assert plan.status == "OPTIMAL"


def test_lateness_keeps_the_heavier_deadline_when_both_cannot_be_met() -> None:
    problem = Problem(
        (item("contract", 2, deadline=2, weight=3), item("nice", 2, deadline=2, weight=1)),
        (DEV,),
        "lateness",
    )
    plan = solve(problem)
    assert plan.end("contract") == 2
    assert plan.objective_value == 1 * (4 - 2)  # "nice" is two days late


def test_hard_deadline_reorders_items_under_the_makespan_objective() -> None:
    problem = Problem((item("first", 3), item("due", 1, deadline=1)), (DEV,))
    plan = solve(problem)
    assert (plan.start("due"), plan.start("first"), plan.makespan) == (0, 1, 4)


def test_release_day_and_milestone() -> None:
    problem = Problem(
        (
            item("kickoff", 0, demands={}),
            item("work", 2, "kickoff", release=3),
            item("launch", 0, "work", demands={}),
        ),
        (DEV,),
    )
    plan = solve(problem)
    assert (plan.start("work"), plan.end("work"), plan.start("launch"), plan.end("launch")) == (
        3,
        5,
        5,
        5,
    )


def test_per_day_capacity_skips_holidays() -> None:
    # The one developer is off on days 1 and 2: a two-day item cannot start on day 0.
    problem = Problem((item("task", 2),), (Resource("dev", 1, (1, 0, 0)),))
    plan = solve(problem)
    assert (plan.start("task"), plan.end("task")) == (3, 5)


def test_per_day_capacity_above_the_standing_capacity_is_used() -> None:
    # Two people only this week: two 2-day items run together now, not one after the other.
    problem = Problem((item("a", 2), item("b", 2)), (Resource("dev", 1, (2, 2, 2)),))
    assert solve(problem).makespan == 2


def brute_force_makespan(problem: Problem, horizon: int) -> int:
    items = problem.items
    best = horizon + 1
    for starts in itertools.product(range(horizon), repeat=len(items)):
        at = dict(zip((i.id for i in items), starts, strict=True))
        if any(
            at[p] + next(x.duration for x in items if x.id == p) > at[i.id]
            for i in items
            for p in i.predecessors
        ):
            continue
        ok = all(
            sum(i.demands.get(r.name, 0) for i in items if at[i.id] <= day < at[i.id] + i.duration)
            <= r.capacity
            for r in problem.resources
            for day in range(horizon)
        )
        if ok:
            best = min(best, max(at[i.id] + i.duration for i in items))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_makespan_matches_brute_force_on_small_random_instances(seed: int) -> None:
    rng = random.Random(seed)
    items = []
    for k in range(4):
        after = tuple(f"j{p}" for p in range(k) if rng.random() < 0.3)
        items.append(
            WorkItem(
                f"j{k}",
                rng.randint(1, 3),
                {"a": rng.randint(0, 2), "b": rng.randint(0, 2)},
                predecessors=after,
            )
        )
    problem = Problem(tuple(items), (Resource("a", 2), Resource("b", 3)))
    plan = solve(problem)
    assert plan.status == "OPTIMAL"
    assert plan.makespan == brute_force_makespan(problem, sum(i.duration for i in items))
    assert plan.lower_bound <= plan.makespan <= plan.heuristic_makespan


def random_instance(seed: int, size: int = 12) -> Problem:
    rng = random.Random(seed)
    items = [
        WorkItem(
            f"j{k}",
            rng.randint(0, 4),
            {"a": rng.randint(0, 3), "b": rng.randint(0, 3)},
            predecessors=tuple(f"j{p}" for p in range(k) if rng.random() < 0.2),
        )
        for k in range(size)
    ]
    return Problem(tuple(items), (Resource("a", 3), Resource("b", 4)))


def assert_feasible(problem: Problem, start: list[int]) -> None:
    at = {item.id: s for item, s in zip(problem.items, start, strict=True)}
    for entry in problem.items:
        for before in entry.predecessors:
            duration = next(i.duration for i in problem.items if i.id == before)
            assert at[before] + duration <= at[entry.id]
    for resource in problem.resources:
        for day in range(max(s + i.duration for i, s in zip(problem.items, start, strict=True))):
            used = sum(
                i.demands.get(resource.name, 0)
                for i, s in zip(problem.items, start, strict=True)
                if s <= day < s + i.duration
            )
            assert used <= resource.capacity


def compiled(problem: Problem) -> module._Instance:
    inst = module._Instance.of(problem)
    assert module._cheap_conflicts(inst, hard_deadlines=True) == []
    return inst


@pytest.mark.parametrize("seed", range(3))
def test_crossover_children_are_precedence_feasible_permutations(seed: int) -> None:
    inst = compiled(random_instance(seed))
    rng = random.Random(seed)
    mother = module._priority_list(inst, [rng.random() for _ in range(inst.n)])
    father = module._priority_list(inst, [rng.random() for _ in range(inst.n)])
    for child in [*module._crossover(mother, father, rng), module._mutate(inst, mother, rng, 0.5)]:
        assert sorted(child) == list(range(inst.n))
        position = {item: k for k, item in enumerate(child)}
        assert all(position[p] < position[i] for i in range(inst.n) for p in inst.preds[i])


@pytest.mark.parametrize("seed", range(3))
def test_double_justification_keeps_schedules_feasible_and_never_longer(seed: int) -> None:
    problem = random_instance(seed)
    inst = compiled(problem)
    decoder = module._ListDecoder(inst, [[r.capacity] * 60 for r in problem.resources])
    order = module._priority_list(inst, [random.Random(seed).random() for _ in range(inst.n)])
    start, improved_order = decoder.justified(order)  # type: ignore[misc]
    assert_feasible(problem, start)
    assert module._makespan(inst, start) <= module._makespan(inst, decoder.forward(order))
    assert decoder.forward(improved_order) == start  # the list reproduces its schedule


@pytest.mark.parametrize("seed", range(3))
def test_genetic_search_never_worsens_the_priority_rule_schedule(seed: int) -> None:
    problem = random_instance(seed, size=16)
    inst = compiled(problem)
    horizon = inst.trivial_horizon()
    plain = module._heuristic(inst, horizon, seed)
    bred = module._heuristic(
        inst, horizon, seed, genetic_until=time.perf_counter() + 0.3, lower_bound=0
    )
    assert plain is not None
    assert bred is not None
    assert_feasible(problem, bred)
    assert module._makespan(inst, bred) <= module._makespan(inst, plain)


def test_makespan_with_a_holiday_after_the_work_keeps_the_calendar() -> None:
    # The after-makespan interval is left out of a resource with per-day capacity: the
    # holiday on days 4-5 lies beyond the makespan and must not make the problem infeasible.
    problem = Problem((item("a", 2), item("b", 2)), (Resource("dev", 1, (1, 1, 1, 1, 0, 0)),))
    plan = solve(problem)
    assert (plan.makespan, plan.status) == (4, "OPTIMAL")


# --- Infeasibility ---------------------------------------------------------------------------


def test_a_dependency_cycle_is_named() -> None:
    problem = Problem(
        (item("a", 1, "c"), item("b", 1, "a"), item("c", 1, "b"), item("d", 1)), (DEV,)
    )
    [conflict] = conflicts_of(problem)
    assert conflict.kind == "cycle"
    assert set(conflict.items) == {"a", "b", "c"}
    assert "a -> b -> c -> a" in conflict.message


def test_a_demand_above_capacity_is_named() -> None:
    problem = Problem(
        (item("a", 1), item("migration", 2, demands={"dev": 3})), (Resource("dev", 2),)
    )
    [conflict] = conflicts_of(problem)
    assert (conflict.kind, conflict.items) == ("demand_over_capacity", ("migration",))
    assert "needs 3 dev per day but its capacity is 2" in conflict.message


def test_a_deadline_shorter_than_the_dependency_chain_is_named_with_the_chain() -> None:
    problem = Problem(
        (item("spec", 3), item("build", 4, "spec"), item("ship", 1, "build", deadline=6)), (DEV,)
    )
    [conflict] = conflicts_of(problem)
    assert conflict.kind == "critical_path"
    assert conflict.items == ("spec", "build", "ship")
    assert "ends on day 8 at the earliest via spec -> build -> ship" in conflict.message


def test_two_deadlines_that_cannot_both_hold_are_named_and_a_loose_one_is_not() -> None:
    problem = Problem(
        (
            item("alpha", 2, deadline=3),
            item("beta", 2, deadline=3),
            item("gamma", 1, deadline=30),
            item("free", 2),
        ),
        (DEV,),
    )
    [conflict] = conflicts_of(problem)
    assert conflict.kind == "deadlines"
    assert conflict.items == ("alpha", "beta")
    assert "alpha (day 3), beta (day 3)" in conflict.message
    assert "dev" in conflict.message


def test_deadlines_are_soft_under_the_lateness_objective() -> None:
    problem = Problem(
        (item("alpha", 2, deadline=2), item("beta", 2, deadline=2)), (DEV,), "lateness"
    )
    assert explain_infeasibility(problem) == ()
    assert solve(problem).objective_value == 2


def test_a_feasible_problem_has_no_explanation() -> None:
    assert explain_infeasibility(Problem((item("a", 2, deadline=2),), (DEV,))) == ()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: WorkItem("a", -1), "duration of a"),
        (lambda: WorkItem("a", 1, {"dev": 1.5}), "demand of a for dev"),
        (lambda: WorkItem("", 1), "non-empty"),
        (lambda: Resource("dev", 1, (1, -1)), "capacity of dev on day 1"),
        (lambda: Problem((WorkItem("a", 1), WorkItem("a", 2))), "more than once"),
        (lambda: Problem((WorkItem("a", 1, predecessors=("zz",)),)), "'zz', which is not"),
        (lambda: Problem((WorkItem("a", 1, {"qa": 1}),)), "'qa', which is not a resource"),
        (lambda: Problem((), (), "fastest"), "unknown objective"),  # type: ignore[arg-type]
    ],
)
def test_malformed_input_is_a_validation_error(build: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()  # type: ignore[operator]


# --- Calendar --------------------------------------------------------------------------------


def test_working_days_skip_weekends_and_holidays() -> None:
    friday = date(2026, 8, 7)
    assert working_days(friday, 3) == [date(2026, 8, 7), date(2026, 8, 10), date(2026, 8, 11)]
    assert working_days(date(2026, 8, 8), 1) == [date(2026, 8, 10)]  # Saturday -> Monday
    assert working_day(friday, 1, holidays=[date(2026, 8, 10)]) == date(2026, 8, 11)
    with pytest.raises(ValidationError):
        working_days(friday, -1)


def test_calendar_dates_span_a_weekend() -> None:
    plan = solve(
        Problem((item("a", 3), item("b", 2, "a"), item("gate", 0, "b", demands={})), (DEV,))
    )
    dates = calendar_dates(plan, date(2026, 8, 6))  # a Thursday
    assert dates["a"] == (date(2026, 8, 6), date(2026, 8, 10))  # Thu, Fri, Mon
    assert dates["b"] == (date(2026, 8, 11), date(2026, 8, 12))
    assert dates["gate"] == (date(2026, 8, 13), date(2026, 8, 13))


def test_schedule_serialises() -> None:
    data = solve(Problem((item("a", 2),), (DEV,))).to_dict()
    assert data["items"] == [{"id": "a", "start": 0, "end": 2}]
    assert data["status"] == "OPTIMAL"


def test_docstring_examples() -> None:
    assert doctest.testmod(module).failed == 0
