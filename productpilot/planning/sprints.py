"""Sprint planning: a schedule cut into the team's sprints, within its measured velocity.

Sprint ``k`` (numbered from 1) covers working days ``(k - 1) L .. k L - 1`` for a sprint
length of ``L`` working days. Items are taken in schedule order (start, end, dependencies)
and each goes into the sprint in which the schedule finishes it, or later when that sprint
is full (over velocity) or a predecessor landed later. What does not fit, or only fits late,
is named with its reason.

Example:
    >>> from datetime import date
    >>> from productpilot.planning.scheduling import Problem, Resource, WorkItem, solve
    >>> items = (WorkItem("a", 3, {"dev": 1}), WorkItem("b", 4, {"dev": 1}, ("a",)))
    >>> problem = Problem(items, (Resource("dev", 1),))
    >>> plan = cut_sprints(problem, solve(problem), sprint_length=5, velocity=5,
    ...                    start=date(2026, 8, 3))
    >>> plan.sprint_of, [issue.reason for issue in plan.issues]
    ({'a': 1, 'b': 2}, [])
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from productpilot.errors import ValidationError
from productpilot.planning.scheduling import Problem, Schedule, working_days

Reason = Literal["over_velocity", "predecessor_later", "past_deadline", "beyond_horizon"]


@dataclass(frozen=True, slots=True)
class Sprint:
    """One sprint of the plan.

    Attributes:
        number: 1, 2, ...
        first_day: its first working-day index.
        last_day: its last working-day index.
        start: date of the first day.
        end: date of the last day.
        items: ids committed to it, in schedule order.
        load: their summed size (points or days).
        velocity: the capacity it was filled against.
    """

    number: int
    first_day: int
    last_day: int
    start: date
    end: date
    items: tuple[str, ...]
    load: float
    velocity: float


@dataclass(frozen=True, slots=True)
class SprintIssue:
    """Why an item is not (or not on time) in the sprint the schedule puts it in.

    Attributes:
        item: the work item.
        reason: ``"over_velocity"`` (bigger than a sprint's velocity, or its sprint was
            full), ``"predecessor_later"`` (a predecessor landed in a later sprint, or in
            none), ``"past_deadline"`` (its sprint ends after its deadline) or
            ``"beyond_horizon"`` (no sprint of the horizon has room).
        message: one line for people.
        scheduled_sprint: the sprint in which the schedule finishes it.
        sprint: the sprint it was committed to, ``None`` when left out.
    """

    item: str
    reason: Reason
    message: str
    scheduled_sprint: int
    sprint: int | None


@dataclass(frozen=True, slots=True)
class SprintPlan:
    sprints: tuple[Sprint, ...]
    issues: tuple[SprintIssue, ...]
    sprint_of: Mapping[str, int]
    unplanned: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sprints": [
                {
                    "number": s.number,
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                    "items": list(s.items),
                    "load": s.load,
                    "velocity": s.velocity,
                }
                for s in self.sprints
            ],
            "issues": [
                {
                    "item": i.item,
                    "reason": i.reason,
                    "message": i.message,
                    "scheduled_sprint": i.scheduled_sprint,
                    "sprint": i.sprint,
                }
                for i in self.issues
            ],
            "unplanned": list(self.unplanned),
        }


def measured_velocity(
    completed: Sequence[float], *, last: int = 3, method: Literal["mean", "median"] = "mean"
) -> float:
    """The team's velocity: mean or median of the last ``last`` sprints' completed totals.

    Args:
        completed: points (or days) completed per sprint, oldest first.
        last: how many of the most recent sprints count.
        method: ``"mean"`` or ``"median"`` (robust to one unusual sprint).

    Raises:
        ValidationError: no sprints, a negative total, ``last < 1`` or an unknown method.

    Example:
        >>> measured_velocity([30, 18, 21, 24])
        21.0
        >>> measured_velocity([30, 18, 21, 40], method="median")
        21
    """
    if not completed:
        raise ValidationError("the velocity needs at least one completed sprint")
    if last < 1:
        raise ValidationError(f"last must be at least 1, got {last}")
    if any(not math.isfinite(v) or v < 0 for v in completed):
        raise ValidationError("completed totals must be finite and >= 0")
    recent = list(completed)[-last:]
    if method == "mean":
        return statistics.fmean(recent)
    if method == "median":
        return statistics.median(recent)
    raise ValidationError(f"unknown velocity method {method!r}; use mean or median")


def cut_sprints(
    problem: Problem,
    schedule: Schedule,
    *,
    sprint_length: int,
    velocity: float,
    start: date,
    sprints: int | None = None,
    sizes: Mapping[str, float] | None = None,
    holidays: Iterable[date] = (),
) -> SprintPlan:
    """Commit the scheduled items to sprints without exceeding ``velocity``.

    Each item, in schedule order, goes to the first sprint that is not before the sprint in
    which the schedule finishes it, nor before any predecessor's sprint, and still has room
    for its size. A sprint whose end is after an item's deadline flags it (the commitment
    is the sprint's end).

    Args:
        problem: the scheduled problem (dependencies, deadlines, durations).
        schedule: its schedule (day 0 is the first working day from ``start``).
        sprint_length: working days per sprint.
        velocity: size completed per sprint (points with ``sizes``, else working days).
        start: date of day 0 (the first sprint starts on its first working day).
        sprints: planning horizon in sprints; by default the sprints the schedule spans.
        sizes: size per item (story points); an item missing from it, or every item
            without it, counts its duration in days.
        holidays: dates that are not working days.

    Returns:
        The sprints, the issues (one per reason per item) and the items left out.

    Raises:
        ValidationError: a non-positive length, velocity or horizon, a negative size, or a
            schedule that does not match the problem.

    Example:
        >>> from productpilot.planning.scheduling import Problem, WorkItem, solve
        >>> problem = Problem((WorkItem("epic", 8),))
        >>> plan = cut_sprints(problem, solve(problem), sprint_length=5, velocity=5,
        ...                    start=date(2026, 8, 3))
        >>> plan.unplanned, plan.issues[0].reason
        (('epic',), 'over_velocity')
    """
    if sprint_length < 1 or not velocity > 0:
        raise ValidationError("the sprint length and the velocity must be positive")
    items = {item.id: item for item in problem.items}
    if {row.id for row in schedule.items} != set(items):
        raise ValidationError("the schedule does not cover the problem's items")
    horizon = (
        sprints if sprints is not None else max(1, math.ceil(schedule.makespan / sprint_length))
    )
    if horizon < 1:
        raise ValidationError(f"the horizon must be at least one sprint, got {horizon}")
    size = {
        item_id: float(sizes.get(item_id, item.duration) if sizes else item.duration)
        for item_id, item in items.items()
    }
    if any(value < 0 for value in size.values()):
        raise ValidationError("item sizes must be >= 0")

    topological = _topological_index(problem)
    order = sorted(schedule.items, key=lambda row: (row.start, row.end, topological[row.id]))
    load = [0.0] * horizon
    members: list[list[str]] = [[] for _ in range(horizon)]
    sprint_of: dict[str, int] = {}
    issues: list[SprintIssue] = []
    unplanned: list[str] = []
    for row in order:
        item = items[row.id]
        last_day = row.end - 1 if row.end > row.start else row.start
        scheduled = last_day // sprint_length  # 0-based sprint finishing it
        need = size[row.id]

        def issue(reason: Reason, message: str, sprint: int | None) -> None:
            issues.append(SprintIssue(item.id, reason, message, scheduled + 1, sprint))  # noqa: B023

        if need > velocity:
            issue(
                "over_velocity",
                f"{row.id} needs {need:g}, more than the velocity "
                f"{velocity:g} per sprint: split it",
                None,
            )
            unplanned.append(row.id)
            continue
        missing = [p for p in item.predecessors if p not in sprint_of]
        if missing:
            issue(
                "predecessor_later",
                f"{row.id} waits for {', '.join(missing)}, which fit in no sprint",
                None,
            )
            unplanned.append(row.id)
            continue
        earliest = max([scheduled, *(sprint_of[p] - 1 for p in item.predecessors)])
        if earliest >= horizon:
            issue(
                "beyond_horizon",
                f"{row.id} is scheduled for sprint {earliest + 1}, after the {horizon} planned",
                None,
            )
            unplanned.append(row.id)
            continue
        target = earliest
        while target < horizon and load[target] + need > velocity:
            target += 1
        if target >= horizon:
            issue(
                "beyond_horizon",
                f"{row.id} ({need:g}) finds no room in sprints {earliest + 1}..{horizon}",
                None,
            )
            unplanned.append(row.id)
            continue
        if earliest > scheduled:
            late = [p for p in item.predecessors if sprint_of[p] - 1 == earliest]
            issue(
                "predecessor_later",
                f"{row.id} moves to sprint {earliest + 1} after {', '.join(late)}",
                target + 1,
            )
        if target > earliest:
            issue(
                "over_velocity",
                f"sprint {earliest + 1} is full ({load[earliest]:g} of "
                f"{velocity:g}); {row.id} moves to sprint {target + 1}",
                target + 1,
            )
        sprint_end = (target + 1) * sprint_length
        if item.deadline is not None and sprint_end > item.deadline:
            issue(
                "past_deadline",
                f"{row.id} is due by day {item.deadline} but sprint "
                f"{target + 1} ends on day {sprint_end}",
                target + 1,
            )
        load[target] += need
        members[target].append(row.id)
        sprint_of[row.id] = target + 1

    dates = working_days(start, horizon * sprint_length, holidays)
    return SprintPlan(
        sprints=tuple(
            Sprint(
                number=k + 1,
                first_day=k * sprint_length,
                last_day=(k + 1) * sprint_length - 1,
                start=dates[k * sprint_length],
                end=dates[(k + 1) * sprint_length - 1],
                items=tuple(members[k]),
                load=load[k],
                velocity=velocity,
            )
            for k in range(horizon)
        ),
        issues=tuple(issues),
        sprint_of=sprint_of,
        unplanned=tuple(unplanned),
    )


def _topological_index(problem: Problem) -> dict[str, int]:
    """Position in a dependency order that otherwise keeps the problem's item order, to
    break ties between items scheduled on the same days (a milestone before its work)."""
    position = {item.id: k for k, item in enumerate(problem.items)}
    waiting = {item.id: len(set(item.predecessors)) for item in problem.items}
    after: dict[str, list[str]] = {item.id: [] for item in problem.items}
    for item in problem.items:
        for p in set(item.predecessors):
            after[p].append(item.id)
    ready = [position[i] for i, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    index: dict[str, int] = {}
    while ready:
        item_id = problem.items[heapq.heappop(ready)].id
        index[item_id] = len(index)
        for s in after[item_id]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, position[s])
    if len(index) != len(waiting):
        raise ValidationError("the problem has a dependency cycle")
    return index
