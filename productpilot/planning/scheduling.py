"""Timeline optimisation: a CP-SAT schedule of work items under dependencies and capacity.

Days are working-day indices from 0. An item of ``duration`` d that starts on day ``s``
occupies days ``s .. s + d - 1`` and *ends* on day ``s + d`` (exclusive), so a dependent
item may start on that day. A ``deadline`` is the day the item must have ended by
(``end <= deadline``), a ``release`` the first day it may start. Milestones have duration 0.

The model (one per :class:`Problem`, used for product backlogs and for PSPLIB RCPSP
instances alike) is an interval per item, finish-to-start precedences, one cumulative per
resource (per-day capacity as fixed "absence" intervals), and, because CP-SAT proves
optimality faster with them, redundant parts:

* bounds: the critical path and the resource energy bound below the makespan, the best
  heuristic schedule above it (the horizon): serial schedule-generation-scheme (SGS)
  priority rules and, for makespans, a genetic search over activity lists with double
  justification that gets a share of the time limit;
* for makespans, the days after the makespan as an interval using every unit of each
  resource, so the cumulatives bound the makespan directly;
* start windows from the heads and tails of the dependency graph;
* disjunctive (no-overlap) constraints over cliques of items that can never run together
  because their joint demand exceeds some resource's capacity;
* the heuristic schedule as the search hint.

When no schedule exists, :class:`InfeasibleScheduleError` names the conflicting
constraints: cycles, demands above capacity and deadlines shorter than the dependency
chain are found directly; otherwise CP-SAT assumptions on the deadlines find a small set of
deadlines that cannot all hold.

Example:
    >>> design = WorkItem("design", 2, {"dev": 1})
    >>> build = WorkItem("build", 3, {"dev": 1}, predecessors=("design",))
    >>> docs = WorkItem("docs", 2, {"dev": 1})
    >>> plan = solve(Problem((design, build, docs), (Resource("dev", 1),)))
    >>> plan.makespan, plan.status
    (7, 'OPTIMAL')
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from ortools.sat.python import cp_model

from productpilot.errors import ProductPilotError, ValidationError

Objective = Literal["weighted_completion", "makespan", "lateness"]
OBJECTIVES: tuple[Objective, ...] = ("weighted_completion", "makespan", "lateness")
Status = Literal["OPTIMAL", "FEASIBLE"]
ConflictKind = Literal["cycle", "demand_over_capacity", "critical_path", "deadlines", "capacity"]

# Random-key SGS passes after the priority rules; enough to close most heuristic gaps on
# 30-60 activities while staying well under a tenth of a second.
SAMPLED_SGS_PASSES = 24
FORWARD_BACKWARD_ROUNDS = 4
MIN_SOLVER_SECONDS = 0.05
QUICK_SOLVE_SHARE = 0.05
# The genetic search: a fifth of the time limit (on PSPLIB j30/j60 it then reaches within
# ~1-4 % of the best-known makespans and CP-SAT's neighbourhood search closes most of the
# rest; a larger share found no better j60 schedules). Small problems stop much earlier: at
# the lower bound, or after the schedule budget per item.
GENETIC_TIME_SHARE = 0.2
GENETIC_POPULATION = 30
GENETIC_MUTATION = 0.05
GENETIC_STALL_GENERATIONS = 20  # generations without improvement before a restart
GENETIC_SCHEDULES_PER_ITEM = 1000
# The long makespan solve runs CP-SAT's full search without the LP relaxation. With 2 workers
# CP-SAT runs one full search beside its interleaved neighbourhood searches, by default the
# one with the LP (``default_lp``). Measured on PSPLIB j30 at 10 s and 2 workers: without the
# LP all 480 reached the optimum (479 with it) and 477 were proven (473 with it).
LONG_MAKESPAN_SEARCH = "no_lp"


# --- Inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One schedulable piece of work.

    Attributes:
        id: unique name.
        duration: working days, an integer ``>= 0`` (0 for a milestone).
        demands: units of each resource (a team, a skill) used on every day of the item.
        predecessors: ids that must end before this item starts (finish-to-start).
        deadline: day index the item must end by (hard, or soft for ``"lateness"``).
        release: first day index the item may start.
        weight: priority weight for the weighted objectives, an integer ``>= 0``.
    """

    id: str
    duration: int
    demands: Mapping[str, int] = field(default_factory=dict)
    predecessors: tuple[str, ...] = ()
    deadline: int | None = None
    release: int = 0
    weight: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValidationError(f"a work item id must be a non-empty string, got {self.id!r}")
        _check_int(self.duration, f"duration of {self.id}", minimum=0)
        _check_int(self.release, f"release of {self.id}", minimum=0)
        _check_int(self.weight, f"weight of {self.id}", minimum=0)
        if self.deadline is not None:
            _check_int(self.deadline, f"deadline of {self.id}", minimum=0)
        for name, units in self.demands.items():
            _check_int(units, f"demand of {self.id} for {name}", minimum=0)
        object.__setattr__(self, "demands", dict(self.demands))
        object.__setattr__(self, "predecessors", tuple(self.predecessors))


@dataclass(frozen=True, slots=True)
class Resource:
    """A renewable resource: a team or skill with a number of units per working day.

    Attributes:
        name: unique name, the key of :attr:`WorkItem.demands`.
        capacity: units per day (after the ``daily_capacity`` days).
        daily_capacity: units on days ``0, 1, ...`` (holidays, leave); later days have
            ``capacity``.
    """

    name: str
    capacity: int
    daily_capacity: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_int(self.capacity, f"capacity of {self.name}", minimum=0)
        for day, units in enumerate(self.daily_capacity):
            _check_int(units, f"capacity of {self.name} on day {day}", minimum=0)
        object.__setattr__(self, "daily_capacity", tuple(self.daily_capacity))

    def on(self, day: int) -> int:
        """Units available on ``day``.

        Example:
            >>> Resource("dev", 3, (3, 1)).on(1), Resource("dev", 3, (3, 1)).on(9)
            (1, 3)
        """
        return self.daily_capacity[day] if day < len(self.daily_capacity) else self.capacity

    @property
    def peak(self) -> int:
        return max((self.capacity, *self.daily_capacity))


@dataclass(frozen=True, slots=True)
class Problem:
    """Items, resources and what to optimise.

    Deadlines are hard for ``"makespan"`` and ``"weighted_completion"`` and soft (the
    weighted tardiness is minimised) for ``"lateness"``.
    """

    items: tuple[WorkItem, ...]
    resources: tuple[Resource, ...] = ()
    objective: Objective = "makespan"
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "resources", tuple(self.resources))
        if self.objective not in OBJECTIVES:
            raise ValidationError(
                f"unknown objective {self.objective!r}; use one of {', '.join(OBJECTIVES)}"
            )
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValidationError(f"work item {duplicate!r} appears more than once")
        names = [resource.name for resource in self.resources]
        if len(set(names)) != len(names):
            raise ValidationError("resource names must be unique")
        known = set(ids)
        for item in self.items:
            for predecessor in item.predecessors:
                if predecessor not in known:
                    raise ValidationError(
                        f"{item.id} depends on {predecessor!r}, which is not a work item"
                    )
            for name in item.demands:
                if name not in names:
                    raise ValidationError(f"{item.id} needs {name!r}, which is not a resource")


# --- Results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduledItem:
    id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Schedule:
    """A solved schedule.

    Attributes:
        items: start and end day per item, in start order.
        objective: what was optimised.
        objective_value: its value for this schedule.
        best_bound: the solver's proven lower bound on the objective.
        status: ``"OPTIMAL"`` when value and bound meet, else ``"FEASIBLE"``.
        solve_seconds: wall time including the heuristic and model building.
        makespan: the day the last item ends.
        lower_bound: the static makespan bound (critical path, resource energy).
        heuristic_makespan: makespan of the best SGS heuristic schedule.
    """

    items: tuple[ScheduledItem, ...]
    objective: Objective
    objective_value: int
    best_bound: int
    status: Status
    solve_seconds: float
    makespan: int
    lower_bound: int
    heuristic_makespan: int

    def start(self, item_id: str) -> int:
        return self._get(item_id).start

    def end(self, item_id: str) -> int:
        return self._get(item_id).end

    def _get(self, item_id: str) -> ScheduledItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "objective_value": self.objective_value,
            "best_bound": self.best_bound,
            "status": self.status,
            "solve_seconds": round(self.solve_seconds, 3),
            "makespan": self.makespan,
            "lower_bound": self.lower_bound,
            "heuristic_makespan": self.heuristic_makespan,
            "items": [{"id": i.id, "start": i.start, "end": i.end} for i in self.items],
        }


@dataclass(frozen=True, slots=True)
class Conflict:
    """Constraints that cannot all hold.

    Attributes:
        kind: ``"cycle"``, ``"demand_over_capacity"``, ``"critical_path"``, ``"deadlines"``
            or ``"capacity"`` (no window of the per-day capacity fits).
        items: the work items involved.
        message: one line naming them.
    """

    kind: ConflictKind
    items: tuple[str, ...]
    message: str


class InfeasibleScheduleError(ValidationError):
    """No schedule meets every constraint; :attr:`conflicts` says which ones clash."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = tuple(conflicts)
        super().__init__("no feasible schedule: " + "; ".join(c.message for c in conflicts))


class ScheduleNotFoundError(ProductPilotError):
    """The time limit ran out before any schedule meeting the hard deadlines was found."""


# --- Compiled instance -----------------------------------------------------------------------


@dataclass(slots=True)
class _Instance:
    """Index-based arrays of a problem (items 0..n-1, resources 0..m-1)."""

    problem: Problem
    ids: list[str]
    duration: list[int]
    release: list[int]
    deadline: list[int | None]
    weight: list[int]
    preds: list[list[int]]
    succs: list[list[int]]
    demand: list[list[int]]  # demand[r][i]
    resources: list[Resource]
    order: list[int] = field(default_factory=list)  # topological
    head: list[int] = field(default_factory=list)  # earliest start
    tail: list[int] = field(default_factory=list)  # longest path from start to the end
    ancestors: list[int] = field(default_factory=list)  # bitsets of transitive predecessors
    descendants: list[int] = field(default_factory=list)  # bitsets of transitive successors
    # Heads and tails tightened by resource energy (see _energetic_bounds).
    energy_head: list[int] = field(default_factory=list)
    energy_tail: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, problem: Problem) -> _Instance:
        index = {item.id: i for i, item in enumerate(problem.items)}
        preds = [[index[p] for p in dict.fromkeys(item.predecessors)] for item in problem.items]
        succs: list[list[int]] = [[] for _ in problem.items]
        for i, before in enumerate(preds):
            for p in before:
                succs[p].append(i)
        return cls(
            problem=problem,
            ids=[item.id for item in problem.items],
            duration=[item.duration for item in problem.items],
            release=[item.release for item in problem.items],
            deadline=[item.deadline for item in problem.items],
            weight=[item.weight for item in problem.items],
            preds=preds,
            succs=succs,
            demand=[
                [item.demands.get(resource.name, 0) for item in problem.items]
                for resource in problem.resources
            ],
            resources=list(problem.resources),
        )

    @property
    def n(self) -> int:
        return len(self.ids)

    def trivial_horizon(self) -> int:
        """A horizon every schedule that exists fits in: items one after another after
        every release and every per-day capacity change."""
        calendar = max((len(r.daily_capacity) for r in self.resources), default=0)
        return max(self.release, default=0) + calendar + sum(self.duration)


def _check_int(value: Any, what: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"the {what} must be an integer >= {minimum}, got {value!r}")


def _find_cycle(inst: _Instance) -> list[int] | None:
    """Topological order into ``inst.order``; a dependency cycle instead when there is one."""
    indegree = [len(p) for p in inst.preds]
    ready = [i for i in range(inst.n) if indegree[i] == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for s in inst.succs[i]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    if len(order) == inst.n:
        inst.order = order
        return None
    # Every item left has a predecessor that is left too: walk predecessors until one repeats.
    left = {i for i in range(inst.n) if indegree[i] > 0}
    walk, seen = [next(iter(sorted(left)))], {}
    while walk[-1] not in seen:
        seen[walk[-1]] = len(walk) - 1
        walk.append(next(p for p in inst.preds[walk[-1]] if p in left))
    cycle = walk[seen[walk[-1]] :]
    return cycle[::-1]  # predecessor -> successor direction


def _heads_and_tails(inst: _Instance) -> list[int | None]:
    """Earliest starts (releases and dependencies) and tails; returns, per item, the
    predecessor that sets its earliest start (for explaining a chain)."""
    head = [0] * inst.n
    parent: list[int | None] = [None] * inst.n
    for i in inst.order:
        head[i] = inst.release[i]
        for p in inst.preds[i]:
            if head[p] + inst.duration[p] > head[i]:
                head[i], parent[i] = head[p] + inst.duration[p], p
    tail = [0] * inst.n
    for i in reversed(inst.order):
        tail[i] = inst.duration[i] + max((tail[s] for s in inst.succs[i]), default=0)
    inst.head, inst.tail = head, tail
    _energetic_bounds(inst)
    return parent


def _energetic_bounds(inst: _Instance) -> None:
    """Every ancestor of an item runs before it and every descendant after it, so per
    resource their energy (duration x demand) divided by the peak capacity is a length
    the item's start (or the project's end after it) cannot beat."""
    ancestors, descendants = [0] * inst.n, [0] * inst.n
    for i in inst.order:
        for p in inst.preds[i]:
            ancestors[i] |= ancestors[p] | (1 << p)
    for i in reversed(inst.order):
        for s in inst.succs[i]:
            descendants[i] |= descendants[s] | (1 << s)
    inst.ancestors, inst.descendants = ancestors, descendants
    inst.energy_head = list(inst.head)
    inst.energy_tail = list(inst.tail)
    for r, resource in enumerate(inst.resources):
        if resource.peak == 0:
            continue
        energy = [d * q for d, q in zip(inst.duration, inst.demand[r], strict=True)]
        for i in range(inst.n):
            before = _energy_of(ancestors[i], energy)
            after = _energy_of(descendants[i], energy)
            inst.energy_head[i] = max(inst.energy_head[i], -(-before // resource.peak))
            inst.energy_tail[i] = max(
                inst.energy_tail[i], inst.duration[i] + -(-after // resource.peak)
            )


def _energy_of(members: int, energy: Sequence[int]) -> int:
    total, k = 0, 0
    while members:
        if members & 1:
            total += energy[k]
        members >>= 1
        k += 1
    return total


# --- Cheap explanations ----------------------------------------------------------------------


def _cheap_conflicts(inst: _Instance, hard_deadlines: bool) -> list[Conflict]:
    cycle = _find_cycle(inst)
    if cycle is not None:
        names = [inst.ids[i] for i in cycle]
        path = " -> ".join([*names, names[0]])
        return [Conflict("cycle", tuple(names), f"dependency cycle {path}")]
    conflicts = _capacity_conflicts(inst)
    parent = _heads_and_tails(inst)
    if hard_deadlines:
        for i in inst.order:
            due = inst.deadline[i]
            if due is None or inst.head[i] + inst.duration[i] <= due:
                continue
            chain = [i]
            while parent[chain[-1]] is not None:
                chain.append(parent[chain[-1]])  # type: ignore[arg-type]
            chain.reverse()
            names = tuple(inst.ids[c] for c in chain)
            earliest = inst.head[i] + inst.duration[i]
            start = inst.release[chain[0]]
            via = f" via {' -> '.join(names)}" if len(names) > 1 else ""
            since = f" from its release on day {start}" if start else ""
            conflicts.append(
                Conflict(
                    "critical_path",
                    names,
                    f"{inst.ids[i]} cannot end by its deadline day {due}: it ends on day "
                    f"{earliest} at the earliest{via}{since}",
                )
            )
    return conflicts


def _capacity_conflicts(inst: _Instance) -> list[Conflict]:
    conflicts = []
    for r, resource in enumerate(inst.resources):
        for i in range(inst.n):
            need, days = inst.demand[r][i], inst.duration[i]
            if need == 0 or days == 0 or need <= resource.capacity:
                continue
            if need > resource.peak:
                conflicts.append(
                    Conflict(
                        "demand_over_capacity",
                        (inst.ids[i],),
                        f"{inst.ids[i]} needs {need} {resource.name} per day but its "
                        f"capacity is {resource.peak}",
                    )
                )
            elif not _has_window(resource, need, days, inst.release[i]):
                conflicts.append(
                    Conflict(
                        "demand_over_capacity",
                        (inst.ids[i],),
                        f"{inst.ids[i]} needs {need} {resource.name} on {days} consecutive "
                        f"days from day {inst.release[i]}, but no such window exists "
                        f"(capacity {resource.capacity} after day "
                        f"{len(resource.daily_capacity) - 1})",
                    )
                )
    return conflicts


def _has_window(resource: Resource, need: int, days: int, release: int) -> bool:
    run = 0
    for day in range(release, len(resource.daily_capacity)):
        run = run + 1 if resource.daily_capacity[day] >= need else 0
        if run >= days:
            return True
    return False


# --- Bounds and the SGS heuristic ------------------------------------------------------------


def _capacity_profile(resource: Resource, horizon: int) -> list[int]:
    return [resource.on(day) for day in range(horizon)]


def _lower_bound(inst: _Instance) -> int:
    """Critical path and, per resource, the first day its cumulative capacity covers the
    energy (sum of duration x demand) of the items using it."""
    bound = max((inst.energy_head[i] + inst.energy_tail[i] for i in range(inst.n)), default=0)
    for r, resource in enumerate(inst.resources):
        energy = sum(d * q for d, q in zip(inst.duration, inst.demand[r], strict=True))
        if energy == 0:
            continue
        covered, day = 0, 0
        while covered < energy:
            if day >= len(resource.daily_capacity) and resource.capacity == 0:
                break  # never covered; the capacity checks report it
            covered += resource.on(day)
            day += 1
        bound = max(bound, day)
    return bound


def _serial_sgs(
    inst: _Instance,
    priority: Sequence[float],
    capacity: list[list[int]],
    *,
    reverse: bool = False,
) -> list[int] | None:
    """Serial schedule-generation scheme: repeatedly the eligible item of lowest
    ``priority`` at its earliest resource-feasible start. ``reverse`` schedules the
    mirrored network (successors first, no releases) to right-justify a schedule. ``None``
    when an item finds no room before the end of ``capacity`` (only possible when a demand
    fits some days of a per-day capacity but not the standing one)."""
    preds, succs = (inst.succs, inst.preds) if reverse else (inst.preds, inst.succs)
    horizon = len(capacity[0]) if capacity else 0
    free = [list(c) for c in capacity]
    used = [
        [(r, inst.demand[r][i]) for r in range(len(capacity)) if inst.demand[r][i] > 0]
        for i in range(inst.n)
    ]
    waiting = [len(p) for p in preds]
    ready = [(priority[i], i) for i in range(inst.n) if waiting[i] == 0]
    heapq.heapify(ready)
    start = [0] * inst.n
    while ready:
        _, i = heapq.heappop(ready)
        length = inst.duration[i]
        t = 0 if reverse else inst.release[i]
        for p in preds[i]:
            t = max(t, start[p] + inst.duration[p])
        if length and used[i]:
            fit = _first_fit(free, used[i], t, length, horizon)
            if fit is None:
                return None
            t = fit
            for r, need in used[i]:
                row = free[r]
                for day in range(t, t + length):
                    row[day] -= need
        start[i] = t
        for s in succs[i]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, (priority[s], s))
    return start


def _first_fit(
    free: list[list[int]], used: list[tuple[int, int]], t: int, length: int, horizon: int
) -> int | None:
    """Earliest start from ``t`` where every used resource has room on all ``length`` days
    (the hot loop of every SGS: the slice ``min`` does the common check in C)."""
    while True:
        end = t + length
        if end > horizon:
            return None
        for r, need in used:
            row = free[r]
            if min(row[t:end]) < need:
                day = end - 1
                while row[day] >= need:
                    day -= 1
                t = day + 1  # the last day without room: no start up to it fits
                break
        else:
            return t


def _makespan(inst: _Instance, start: Sequence[int]) -> int:
    return max((s + d for s, d in zip(start, inst.duration, strict=True)), default=0)


def _justify(inst: _Instance, start: list[int], capacity: list[list[int]]) -> list[int]:
    """Forward-backward improvement: right-justify (latest finish first on the mirrored
    network) then left-justify in the order of the right-justified starts."""
    best = start
    for _ in range(FORWARD_BACKWARD_ROUNDS):
        finish = [s + d for s, d in zip(best, inst.duration, strict=True)]
        mirrored = _serial_sgs(inst, [-f for f in finish], _standing(inst), reverse=True)
        if mirrored is None:
            break
        span = _makespan(inst, mirrored)
        right = [span - (s + d) for s, d in zip(mirrored, inst.duration, strict=True)]
        candidate = _serial_sgs(inst, right, capacity)
        if candidate is None or _makespan(inst, candidate) >= _makespan(inst, best):
            break
        best = candidate
    return best


def _standing(inst: _Instance) -> list[list[int]]:
    """The mirrored pass only orders items, so it uses the peak capacity on every day."""
    horizon = sum(inst.duration)
    return [[r.peak] * horizon for r in inst.resources]


def _priority_rules(inst: _Instance) -> list[list[float]]:
    """LFT, LST, MTS, GRPW and minimum slack priorities (lower is scheduled first)."""
    span = max((inst.head[i] + inst.tail[i] for i in range(inst.n)), default=0)
    latest_start = [span - inst.tail[i] for i in range(inst.n)]
    latest_finish = [latest_start[i] + inst.duration[i] for i in range(inst.n)]
    followers = [0] * inst.n  # all (transitive) successors, as bitsets
    for i in reversed(inst.order):
        for s in inst.succs[i]:
            followers[i] |= followers[s] | (1 << s)
    tie = [i / (inst.n + 1) for i in range(inst.n)]  # deterministic tie-break by position
    return [
        [latest_finish[i] + tie[i] for i in range(inst.n)],
        [latest_start[i] + tie[i] for i in range(inst.n)],
        [-followers[i].bit_count() + tie[i] for i in range(inst.n)],
        [
            -(inst.duration[i] + sum(inst.duration[s] for s in inst.succs[i])) + tie[i]
            for i in range(inst.n)
        ],
        [latest_start[i] - inst.head[i] + tie[i] for i in range(inst.n)],
    ]


def _heuristic(
    inst: _Instance,
    horizon: int,
    seed: int,
    *,
    genetic_until: float | None = None,
    lower_bound: int = 0,
    seeds: Sequence[list[int]] = (),
) -> list[int] | None:
    """The best of several SGS schedules: the priority rules and random-key samples around
    LFT, each improved by forward-backward justification, then (with ``genetic_until``, a
    ``perf_counter`` time) bred further by the genetic search. ``None`` if none fits."""
    capacity = [_capacity_profile(r, horizon) for r in inst.resources]
    rules = _priority_rules(inst)
    rng = random.Random(seed)
    latest_finish = rules[0]
    spread = max(1.0, max(latest_finish, default=0) / 4)
    for _ in range(SAMPLED_SGS_PASSES):
        rules.append([lf + rng.uniform(0, spread) for lf in latest_finish])
    found = list(seeds)
    for priority in rules:
        start = _serial_sgs(inst, priority, capacity)
        if start is not None:
            found.append(_justify(inst, start, capacity))
    if not found:
        return None
    best = min(found, key=lambda start: _score(inst, start))
    if genetic_until is None or _makespan(inst, best) <= lower_bound:
        return best
    bred = _genetic(inst, found, capacity, deadline=genetic_until, lower_bound=lower_bound, rng=rng)
    return bred if bred is not None and _score(inst, bred) < _score(inst, best) else best


class _ListDecoder:
    """Serial SGS on activity lists (precedence-feasible orders), the genetic search's
    decoder: the lists are given, so no priority queue, and the per-item resource needs
    are computed once."""

    def __init__(self, inst: _Instance, capacity: list[list[int]]) -> None:
        self.inst = inst
        self.capacity = capacity
        self.standing = _standing(inst)
        self.used = [
            [(r, inst.demand[r][i]) for r in range(len(capacity)) if inst.demand[r][i] > 0]
            for i in range(inst.n)
        ]
        self.decoded = 0
        # Topological positions break ties between items starting (or ending) together, so
        # a sorted schedule is always a precedence-feasible list (milestones included).
        self.position = [0] * inst.n
        for k, i in enumerate(inst.order):
            self.position[i] = k

    def forward(self, order: Sequence[int]) -> list[int] | None:
        inst = self.inst
        return self._decode(order, inst.preds, inst.release, self.capacity)

    def backward(self, order: Sequence[int]) -> list[int] | None:
        """Starts on the mirrored network (``order`` lists successors first)."""
        inst = self.inst
        return self._decode(order, inst.succs, [0] * inst.n, self.standing)

    def _decode(
        self,
        order: Sequence[int],
        preds: list[list[int]],
        release: Sequence[int],
        capacity: list[list[int]],
    ) -> list[int] | None:
        self.decoded += 1
        duration, used = self.inst.duration, self.used
        free = [list(row) for row in capacity]
        horizon = len(capacity[0]) if capacity else 0
        start = [0] * len(duration)
        for i in order:
            t = release[i]
            for p in preds[i]:
                if start[p] + duration[p] > t:
                    t = start[p] + duration[p]
            length = duration[i]
            if length and used[i]:
                fit = _first_fit(free, used[i], t, length, horizon)
                if fit is None:
                    return None
                t, end = fit, fit + length
                for r, need in used[i]:
                    row = free[r]
                    row[t:end] = [units - need for units in row[t:end]]
            start[i] = t
        return start

    def justified(self, order: Sequence[int]) -> tuple[list[int], list[int]] | None:
        """Double justification of the list's schedule: right-justify (latest finish
        first), then left-justify in the order of the right-justified starts. Returns the
        better schedule and its start order (the improved list)."""
        start = self.forward(order)
        if start is None:
            return None
        duration, position, items = self.inst.duration, self.position, range(len(start))
        finish = [s + d for s, d in zip(start, duration, strict=True)]
        mirrored = self.backward(sorted(items, key=lambda i: (-finish[i], -position[i])))
        if mirrored is not None:
            # Mirrored ends, latest first, are the right-justified starts, earliest first.
            ends = [m + d for m, d in zip(mirrored, duration, strict=True)]
            again = self.forward(sorted(items, key=lambda i: (-ends[i], position[i])))
            if again is not None and _score(self.inst, again) <= _score(self.inst, start):
                start = again
        return start, self.start_order(start)

    def start_order(self, start: Sequence[int]) -> list[int]:
        position = self.position
        return sorted(range(len(start)), key=lambda i: (start[i], position[i]))


def _genetic(
    inst: _Instance,
    seeds: Sequence[Sequence[int]],
    capacity: list[list[int]],
    *,
    deadline: float,
    lower_bound: int,
    rng: random.Random,
) -> list[int] | None:
    """Activity-list genetic search (two-point crossover, adjacent-swap mutation, every
    child doubly justified) from the start orders of ``seeds``. Stops at ``deadline``
    (a ``perf_counter`` time), at ``lower_bound``, or when the population stalls."""
    decoder = _ListDecoder(inst, capacity)
    population: list[tuple[tuple[int, int], list[int], list[int]]] = []
    for start in seeds:
        result = decoder.justified(decoder.start_order(start))
        if result is not None:
            population.append((_score(inst, result[0]), result[0], result[1]))
    if not population:
        return None
    population.sort(key=lambda member: member[0])
    latest_finish = _priority_rules(inst)[0]
    spread = max(1.0, max(latest_finish, default=0) / 2)

    def fresh(count: int) -> list[tuple[tuple[int, int], list[int], list[int]]]:
        """Random lists biased towards latest finish first: new material on a restart."""
        members = []
        for _ in range(count):
            noisy = [lf + rng.uniform(0, spread) for lf in latest_finish]
            result = decoder.justified(_priority_list(inst, noisy))
            if result is not None:
                members.append((_score(inst, result[0]), result[0], result[1]))
        return members

    population = sorted(
        population + fresh(GENETIC_POPULATION - len(population)), key=lambda m: m[0]
    )
    best, stalled = population[0][0], 0
    budget = GENETIC_SCHEDULES_PER_ITEM * max(inst.n, 1)
    while time.perf_counter() < deadline and best[1] > lower_bound and decoder.decoded < budget:
        if stalled >= GENETIC_STALL_GENERATIONS:
            # Converged: keep the best and start over around it with fresh lists.
            population = sorted(population[:1] + fresh(GENETIC_POPULATION - 1), key=lambda m: m[0])
            stalled = 0
        children = []
        for _ in range(GENETIC_POPULATION // 2):
            mother, father = (_tournament(population, rng) for _ in range(2))
            for child in _crossover(mother, father, rng):
                result = decoder.justified(_mutate(inst, child, rng, GENETIC_MUTATION))
                if result is not None:
                    children.append((_score(inst, result[0]), result[0], result[1]))
        population = sorted(population + children, key=lambda member: member[0])
        population = _distinct(population)[:GENETIC_POPULATION]
        if population[0][0] < best:
            best, stalled = population[0][0], 0
        else:
            stalled += 1
    return population[0][1]


def _tournament(
    population: list[tuple[tuple[int, int], list[int], list[int]]], rng: random.Random
) -> list[int]:
    """The list of the better of two members drawn at random (with replacement)."""
    return min(rng.choice(population), rng.choice(population), key=lambda m: m[0])[2]


def _priority_list(inst: _Instance, priority: Sequence[float]) -> list[int]:
    """The precedence-feasible list that takes the eligible item of lowest priority next."""
    waiting = [len(p) for p in inst.preds]
    ready = [(priority[i], i) for i in range(inst.n) if waiting[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for s in inst.succs[i]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, (priority[s], s))
    return order


def _crossover(mother: list[int], father: list[int], rng: random.Random) -> list[list[int]]:
    """Two-point crossover of activity lists: the outer parts from one parent, the middle
    in the other parent's order; both children stay precedence-feasible."""
    n = len(mother)
    low, high = sorted(rng.sample(range(n + 1), 2)) if n > 1 else (0, n)
    children = []
    for first, second in ((mother, father), (father, mother)):
        head = first[:low]
        taken = set(head)
        middle = [i for i in second if i not in taken][: high - low]
        taken.update(middle)
        children.append(head + middle + [i for i in first if i not in taken])
    return children


def _mutate(inst: _Instance, order: list[int], rng: random.Random, rate: float) -> list[int]:
    """Swap neighbours with probability ``rate`` unless one directly precedes the other."""
    order = list(order)
    for k in range(len(order) - 1):
        if rng.random() < rate and order[k] not in inst.preds[order[k + 1]]:
            order[k], order[k + 1] = order[k + 1], order[k]
    return order


def _distinct(
    population: list[tuple[tuple[int, int], list[int], list[int]]],
) -> list[tuple[tuple[int, int], list[int], list[int]]]:
    """Drops duplicate schedules so the population keeps its diversity."""
    seen: set[tuple[int, ...]] = set()
    kept = []
    for member in population:
        key = tuple(member[1])
        if key not in seen:
            seen.add(key)
            kept.append(member)
    return kept


def _score(inst: _Instance, start: Sequence[int]) -> tuple[int, int]:
    """Heuristic ranking: missed hard deadlines first, then the makespan."""
    missed = sum(
        1
        for s, d, due in zip(start, inst.duration, inst.deadline, strict=True)
        if due is not None and s + d > due
    )
    return missed, _makespan(inst, start)


# --- The CP-SAT model ------------------------------------------------------------------------


@dataclass(slots=True)
class _Model:
    model: cp_model.CpModel
    starts: list[cp_model.IntVar]
    ends: list[Any]
    objective: Any
    deadline_literals: dict[int, cp_model.IntVar]


def _build_model(
    inst: _Instance,
    horizon: int,
    *,
    objective: Objective | None,
    hard_deadlines: bool,
    deadlines_as_assumptions: bool = False,
    lower_bound: int = 0,
    hint: Sequence[int] | None = None,
) -> _Model:
    model = cp_model.CpModel()
    hard = hard_deadlines
    starts, ends, intervals = [], [], []
    for i in range(inst.n):
        latest = horizon - inst.energy_tail[i]
        due = inst.deadline[i]
        if hard and due is not None and not deadlines_as_assumptions:
            latest = min(latest, due - inst.duration[i])
        if latest < inst.energy_head[i]:
            raise _InfeasibleWindowError  # only with a hard deadline; the explanation finds which
        start = model.new_int_var(inst.energy_head[i], latest, f"start_{i}")
        starts.append(start)
        ends.append(start + inst.duration[i])
        intervals.append(model.new_fixed_size_interval_var(start, inst.duration[i], f"job_{i}"))
    for i in range(inst.n):
        for p in inst.preds[i]:
            model.add(starts[p] + inst.duration[p] <= starts[i])
    for before, after, gap in _energetic_gaps(inst):
        model.add(starts[before] + inst.duration[before] + gap <= starts[after])

    literals: dict[int, cp_model.IntVar] = {}
    if hard:
        for i in range(inst.n):
            due = inst.deadline[i]
            if due is not None and deadlines_as_assumptions:
                literals[i] = model.new_bool_var(f"deadline_{i}")
                model.add(ends[i] <= due).only_enforce_if(literals[i])
        if literals:
            model.add_assumptions(list(literals.values()))

    goal: Any = None
    tail_interval = None
    if objective == "makespan":
        floor = max(lower_bound, 0)
        goal = model.new_int_var(floor, horizon, "makespan")
        for i in range(inst.n):
            if not inst.succs[i]:
                model.add(goal >= ends[i])
        model.minimize(goal)
        # The days from the makespan to the horizon as one interval using every unit (as
        # OR-Tools' RCPSP example does): the cumulatives' energetic reasoning and the LP
        # relaxation then bound the makespan directly.
        tail_size = model.new_int_var(1, horizon + 1 - floor, "after_size")
        tail_interval = model.new_interval_var(
            goal, tail_size, model.new_constant(horizon + 1), "after_makespan"
        )
    for r, resource in enumerate(inst.resources):
        _add_resource(model, inst, r, resource, intervals, horizon, tail_interval)
    _add_disjunctions(model, inst, intervals)

    if objective == "weighted_completion":
        goal = sum(inst.weight[i] * ends[i] for i in range(inst.n))
        model.minimize(goal)
    elif objective == "lateness":
        tardiness = []
        for i in range(inst.n):
            due = inst.deadline[i]
            if due is None or inst.weight[i] == 0:
                continue
            late = model.new_int_var(0, max(0, horizon - due), f"late_{i}")
            model.add(late >= ends[i] - due)
            tardiness.append(inst.weight[i] * late)
        goal = sum(tardiness)
        model.minimize(goal)
    if hint is not None:
        for i, value in enumerate(hint):
            model.add_hint(starts[i], value)
        if objective == "makespan":
            model.add_hint(goal, _makespan(inst, hint))
            if tail_interval is not None:
                model.add_hint(tail_size, horizon + 1 - _makespan(inst, hint))
    return _Model(model, starts, ends, goal, literals)


def _energetic_gaps(inst: _Instance) -> list[tuple[int, int, int]]:
    """Redundant distances ``(i, j, gap)``: the items that are both descendants of ``i`` and
    ancestors of ``j`` run between them, so ``j`` starts at least their energy over the
    capacity after ``i`` ends. Kept only where that beats the longest dependency path."""
    path = [[-1] * inst.n for _ in range(inst.n)]  # longest path, end of i to start of j
    for i in reversed(inst.order):
        row = path[i]
        for s in inst.succs[i]:
            row[s] = max(row[s], 0)
            for j, length in enumerate(path[s]):
                if length >= 0:
                    row[j] = max(row[j], inst.duration[s] + length)
    energies = [
        ([d * q for d, q in zip(inst.duration, inst.demand[r], strict=True)], resource.peak)
        for r, resource in enumerate(inst.resources)
        if resource.peak > 0
    ]
    gaps = []
    for i in range(inst.n):
        for j in range(inst.n):
            if path[i][j] < 0:
                continue
            between = inst.descendants[i] & inst.ancestors[j]
            if between.bit_count() < 2:
                continue
            gap = max((-(-_energy_of(between, e) // c) for e, c in energies), default=0)
            if gap > path[i][j]:
                gaps.append((i, j, gap))
    return gaps


class _InfeasibleWindowError(Exception):
    """Raised while building when a start window is empty."""


def _add_resource(
    model: cp_model.CpModel,
    inst: _Instance,
    r: int,
    resource: Resource,
    intervals: list[Any],
    horizon: int,
    tail_interval: Any = None,
) -> None:
    users = [i for i in range(inst.n) if inst.demand[r][i] > 0 and inst.duration[i] > 0]
    if not users:
        return
    profile = _capacity_profile(resource, horizon)
    if sum(inst.demand[r][i] for i in users) <= min(profile, default=0):
        return  # all of them together fit on every day: the resource never binds
    peak = max(profile)
    tasks = [intervals[i] for i in users]
    demands = [inst.demand[r][i] for i in users]
    if tail_interval is not None and min(profile) == peak:
        # Only on a constant capacity: an absence after the makespan would clash with it.
        tasks.append(tail_interval)
        demands.append(peak)
    # A day with less capacity is a fixed interval using the difference (runs merged).
    day = 0
    while day < horizon:
        missing = peak - profile[day]
        run = day
        while run < horizon and peak - profile[run] == missing:
            run += 1
        if missing > 0:
            tasks.append(model.new_fixed_size_interval_var(day, run - day, f"off_{r}_{day}"))
            demands.append(missing)
        day = run
    model.add_cumulative(tasks, demands, peak)


def _add_disjunctions(model: cp_model.CpModel, inst: _Instance, intervals: list[Any]) -> None:
    """No-overlap over cliques of items that can never run on the same day (their joint
    demand exceeds a resource's peak capacity), leaving out pairs a dependency already
    orders. Redundant with the cumulatives, but propagates much more strongly."""
    ordered = [0] * inst.n  # bitset of transitive successors
    for i in reversed(inst.order):
        for s in inst.succs[i]:
            ordered[i] |= ordered[s] | (1 << s)
    active = [i for i in range(inst.n) if inst.duration[i] > 0]
    clash = dict.fromkeys(active, 0)
    for a, i in enumerate(active):
        for j in active[a + 1 :]:
            if any(
                inst.demand[r][i] + inst.demand[r][j] > resource.peak
                for r, resource in enumerate(inst.resources)
            ):
                clash[i] |= 1 << j
                clash[j] |= 1 << i
    uncovered = {
        (i, j)
        for i in active
        for j in active
        if i < j and clash[i] >> j & 1 and not (ordered[i] >> j & 1 or ordered[j] >> i & 1)
    }
    degree = {i: clash[i].bit_count() for i in active}
    while uncovered:
        i, j = min(uncovered, key=lambda pair: (-degree[pair[0]] - degree[pair[1]], pair))
        clique = [i, j]
        common = clash[i] & clash[j]
        while common:
            k = max((k for k in active if common >> k & 1), key=lambda k: (degree[k], -k))
            clique.append(k)
            common &= clash[k]
        for a in clique:
            for b in clique:
                uncovered.discard((a, b))
        model.add_no_overlap([intervals[k] for k in clique])


# --- Solving ---------------------------------------------------------------------------------


def solve(
    problem: Problem,
    *,
    time_limit: float = 10.0,
    num_workers: int = 2,
    seed: int = 0,
) -> Schedule:
    """The best schedule CP-SAT finds within ``time_limit`` seconds.

    Args:
        problem: items, resources and the objective.
        time_limit: wall-clock seconds for the whole solve (heuristic, model, CP-SAT).
        num_workers: CP-SAT search workers (threads).
        seed: random seed of the heuristic and of CP-SAT, for repeatable runs.

    Returns:
        The schedule, ``"OPTIMAL"`` if proven, else ``"FEASIBLE"`` with the best bound.

    Raises:
        InfeasibleScheduleError: no schedule meets the constraints; says which clash.
        ScheduleNotFoundError: the time ran out before a schedule meeting the deadlines.

    Example:
        >>> urgent = WorkItem("urgent", 1, {"dev": 1}, weight=5)
        >>> big = WorkItem("big", 4, {"dev": 1}, weight=1)
        >>> plan = solve(Problem((big, urgent), (Resource("dev", 1),), "weighted_completion"))
        >>> plan.start("urgent"), plan.start("big"), plan.objective_value
        (0, 1, 10)
    """
    if time_limit <= 0 or num_workers < 1:
        raise ValidationError("the time limit must be positive and num_workers at least 1")
    began = time.perf_counter()
    inst = _Instance.of(problem)
    hard = problem.objective != "lateness"
    conflicts = _cheap_conflicts(inst, hard)
    if conflicts:
        raise InfeasibleScheduleError(conflicts)
    trivial = inst.trivial_horizon()
    lower = _lower_bound(inst)
    makespan = problem.objective == "makespan"
    heuristic = _heuristic(inst, trivial, seed)
    # Makespans first get a short CP-SAT run, which proves most small instances optimal at
    # once; only if it does not, the genetic search breeds a better first schedule (CP-SAT's
    # neighbourhood search then starts from it) and CP-SAT gets the rest of the time.
    quick = began + (QUICK_SOLVE_SHARE if makespan else 1.0) * time_limit
    outcome = _optimise(inst, heuristic, lower, quick, num_workers, seed, time_limit)
    upper, fallback = outcome.upper, heuristic
    if makespan and outcome.status in (cp_model.FEASIBLE, cp_model.UNKNOWN):
        found = [outcome.start] if outcome.start is not None else []
        fallback = _heuristic(
            inst,
            trivial,
            seed,
            genetic_until=began + (QUICK_SOLVE_SHARE + GENETIC_TIME_SHARE) * time_limit,
            lower_bound=max(lower, outcome.bound),
            seeds=found,
        )
        outcome = _optimise(
            inst,
            fallback,
            max(lower, outcome.bound),
            began + time_limit,
            num_workers,
            seed,
            time_limit,
            full_search=LONG_MAKESPAN_SEARCH,
        )
        upper = min(upper, outcome.upper)
    if outcome.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        assert outcome.start is not None
        start, value, bound = outcome.start, outcome.value, outcome.bound
        optimal = outcome.status == cp_model.OPTIMAL
    elif outcome.status == cp_model.INFEASIBLE:
        raise InfeasibleScheduleError(_explain_or_generic(inst, time_limit))
    elif fallback is not None and (not hard or _score(inst, fallback)[0] == 0):
        start, optimal = fallback, False  # CP-SAT found nothing yet; the heuristic stands
        value = _objective_value(inst, problem.objective, fallback)
        bound = lower if makespan else 0
    else:
        raise ScheduleNotFoundError(
            f"no schedule meeting the deadlines was found in {time_limit:g} s; "
            "raise the time limit or relax a deadline"
        )
    return _schedule(inst, start, problem.objective, value, bound, optimal, began, lower, upper)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One CP-SAT run: its status, best schedule (``None`` if none), objective value and
    proven bound, and the makespan of the hint it started from (the horizon)."""

    status: int
    start: list[int] | None
    value: int
    bound: int
    upper: int


def _optimise(
    inst: _Instance,
    hint: list[int] | None,
    lower: int,
    until: float,
    num_workers: int,
    seed: int,
    time_limit: float,
    full_search: str | None = None,
) -> _Outcome:
    """CP-SAT from ``hint`` until the ``perf_counter`` time ``until``; ``full_search``
    names the CP-SAT subsolver that searches the whole problem (the default portfolio's
    first otherwise; the other workers interleave neighbourhood searches)."""
    problem = inst.problem
    hard = problem.objective != "lateness"
    missed, upper = _score(inst, hint) if hint else (inst.n, inst.trivial_horizon())
    # The hint bounds the optimal makespan only if it meets the hard deadlines; the other
    # objectives may prefer a longer schedule, so they keep the trivial horizon.
    fits = missed == 0 or not hard
    horizon = upper if problem.objective == "makespan" and fits else inst.trivial_horizon()
    try:
        built = _build_model(
            inst,
            horizon,
            objective=problem.objective,
            hard_deadlines=hard,
            lower_bound=lower,
            hint=hint,
        )
    except _InfeasibleWindowError:
        raise InfeasibleScheduleError(_explain_or_generic(inst, time_limit)) from None
    # The time limit covers the heuristic and model building too.
    solver = _solver(max(MIN_SOLVER_SECONDS, until - time.perf_counter()), num_workers, seed)
    if problem.objective == "makespan":
        # Tells CP-SAT's scheduling heuristics that a schedule is better packed to the left
        # (the objective is the makespan), as OR-Tools' own RCPSP example does. With the
        # genetic upper bound and the after-makespan interval, the portfolio (one full search
        # plus neighbourhood search) finds and proves more PSPLIB optima on 2 workers than
        # the objective lower-bound search, which proves bounds but finds fewer.
        solver.parameters.push_all_tasks_toward_start = True
        if full_search is not None:
            solver.parameters.subsolvers.append(full_search)
    status = solver.solve(built.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _Outcome(status, None, 0, lower, upper if fits else inst.trivial_horizon())
    return _Outcome(
        status,
        [int(solver.value(s)) for s in built.starts],
        round(solver.objective_value),
        math.ceil(solver.best_objective_bound - 1e-6),
        upper,
    )


def _solver(time_limit: float, num_workers: int, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = num_workers
    solver.parameters.random_seed = seed
    return solver


def _objective_value(inst: _Instance, objective: Objective, start: Sequence[int]) -> int:
    ends = [s + d for s, d in zip(start, inst.duration, strict=True)]
    if objective == "makespan":
        return max(ends, default=0)
    if objective == "weighted_completion":
        return sum(w * e for w, e in zip(inst.weight, ends, strict=True))
    return sum(
        w * max(0, e - due)
        for w, e, due in zip(inst.weight, ends, inst.deadline, strict=True)
        if due is not None
    )


def _schedule(
    inst: _Instance,
    start: Sequence[int],
    objective: Objective,
    value: int,
    bound: int,
    optimal: bool,
    began: float,
    lower: int,
    upper: int,
) -> Schedule:
    rows = sorted(
        (ScheduledItem(inst.ids[i], start[i], start[i] + inst.duration[i]) for i in range(inst.n)),
        key=lambda row: (row.start, row.end, row.id),
    )
    return Schedule(
        items=tuple(rows),
        objective=objective,
        objective_value=value,
        best_bound=value if optimal else min(bound, value),
        status="OPTIMAL" if optimal or bound >= value else "FEASIBLE",
        solve_seconds=time.perf_counter() - began,
        makespan=_makespan(inst, start),
        lower_bound=lower,
        heuristic_makespan=upper,
    )


# --- Explaining infeasibility ----------------------------------------------------------------


def explain_infeasibility(problem: Problem, *, time_limit: float = 10.0) -> tuple[Conflict, ...]:
    """Why ``problem`` has no schedule; empty when it has one.

    Cheap causes first (dependency cycles, a demand above capacity, a deadline shorter than
    the item's dependency chain); then CP-SAT with one assumption literal per hard deadline,
    whose infeasible core is shrunk to a minimal set of deadlines that cannot all be met.

    Example:
        >>> a = WorkItem("a", 2, {"dev": 1}, deadline=2)
        >>> b = WorkItem("b", 2, {"dev": 1}, deadline=2)
        >>> [c.items for c in explain_infeasibility(Problem((a, b), (Resource("dev", 1),)))]
        [('a', 'b')]
    """
    inst = _Instance.of(problem)
    conflicts = _cheap_conflicts(inst, problem.objective != "lateness")
    if conflicts:
        return tuple(conflicts)
    return tuple(_explain(inst, time_limit))


def _explain(inst: _Instance, time_limit: float) -> list[Conflict]:
    hard = inst.problem.objective != "lateness"
    built = _build_model(
        inst,
        inst.trivial_horizon(),
        objective=None,
        hard_deadlines=hard,
        deadlines_as_assumptions=hard,
    )
    # Assumption cores are reported by a single search worker.
    solver = _solver(time_limit, 1, 0)
    status = solver.solve(built.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return []
    if status != cp_model.INFEASIBLE:
        raise ScheduleNotFoundError(f"could not decide feasibility within {time_limit:g} s")
    by_index = {literal.index: i for i, literal in built.deadline_literals.items()}
    core = [by_index[k] for k in solver.sufficient_assumptions_for_infeasibility() if k in by_index]
    if not core:
        return [
            Conflict(
                "capacity",
                (),
                "the per-day capacity leaves no room for every item even without deadlines",
            )
        ]
    core = _shrink_core(inst, sorted(core), time_limit)
    names = tuple(inst.ids[i] for i in core)
    listed = ", ".join(f"{inst.ids[i]} (day {inst.deadline[i]})" for i in core)
    shared = sorted(
        {
            resource.name
            for r, resource in enumerate(inst.resources)
            for i in core
            if inst.demand[r][i] > 0
        }
    )
    using = f" with the {', '.join(shared)} capacity" if shared else ""
    return [
        Conflict(
            "deadlines",
            names,
            f"the deadlines of {listed} cannot all be met{using} and the dependencies",
        )
    ]


def _explain_or_generic(inst: _Instance, time_limit: float) -> list[Conflict]:
    return _explain(inst, time_limit) or [
        Conflict("capacity", (), "the capacity and dependencies leave no room for every item")
    ]


def _shrink_core(inst: _Instance, core: list[int], time_limit: float) -> list[int]:
    """Deletion-based minimisation: drop each deadline whose removal keeps the rest
    infeasible, so every deadline named is needed for the conflict."""
    kept = list(core)
    for i in list(core):
        if len(kept) == 1:
            break
        trial = [k for k in kept if k != i]
        built = _build_model(
            inst,
            inst.trivial_horizon(),
            objective=None,
            hard_deadlines=True,
            deadlines_as_assumptions=True,
        )
        built.model.clear_assumptions()
        built.model.add_assumptions([built.deadline_literals[k] for k in trial])
        if _solver(time_limit, 1, 0).solve(built.model) == cp_model.INFEASIBLE:
            kept = trial
    return kept


# --- Calendar --------------------------------------------------------------------------------


def working_days(start: date, count: int, holidays: Iterable[date] = ()) -> list[date]:
    """The first ``count`` working days from ``start`` (itself if it is one): weekdays
    that are not ``holidays``.

    Example:
        >>> [d.isoformat() for d in working_days(date(2026, 8, 7), 3)]  # a Friday
        ['2026-08-07', '2026-08-10', '2026-08-11']
    """
    if count < 0:
        raise ValidationError(f"the number of working days must be >= 0, got {count}")
    off = set(holidays)
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5 and day not in off:
            days.append(day)
        day += timedelta(days=1)
    return days


def working_day(start: date, index: int, holidays: Iterable[date] = ()) -> date:
    """The date of working day ``index`` (0 is the first working day from ``start``).

    Example:
        >>> working_day(date(2026, 8, 7), 1).isoformat()  # Friday + 1 working day
        '2026-08-10'
    """
    return working_days(start, index + 1, holidays)[-1]


def calendar_dates(
    schedule: Schedule, start: date, holidays: Iterable[date] = ()
) -> dict[str, tuple[date, date]]:
    """First and last working date of each item (a milestone: the date it is reached).

    Example:
        >>> plan = solve(Problem((WorkItem("a", 3), WorkItem("b", 1, predecessors=("a",)))))
        >>> first, last = calendar_dates(plan, date(2026, 8, 6))["a"]  # Thursday
        >>> first.isoformat(), last.isoformat()
        ('2026-08-06', '2026-08-10')
    """
    days = working_days(start, schedule.makespan + 1, holidays)
    return {
        item.id: (days[item.start], days[max(item.start, item.end - 1)]) for item in schedule.items
    }
