"""The planning pipeline: score, estimate, schedule, cut into sprints, assess risk, forecast.

Each step is a function over :class:`BacklogRecord` values (what the store, or a source
tool, knows about an item), so the planning flow runs them in turn and the CLI runs any one
of them (``productpilot plan score|estimate|schedule|risk``). Nothing here reads the store;
:mod:`productpilot.planning.store` does.

Units: estimates and durations are working days of one person; a team of ``people`` works
on that many items at once. RICE's ``effort`` is person-months (days / 21).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from productpilot.errors import ValidationError
from productpilot.planning import estimation, forecast, risk, scheduling, sprints
from productpilot.planning.scoring import Score, Scorer, ScoringItem, rank
from productpilot.products.configuration import PlanningSettings

DONE_STATUSES = frozenset({"done", "closed", "released", "resolved"})
WORKING_DAYS_PER_MONTH = 21
#: Integer weights for the weighted-completion objective: scores scaled to 1..WEIGHT_SCALE.
WEIGHT_SCALE = 100
UNASSIGNED_TEAM = "unassigned"
#: The planning horizon's limit, in sprints (a year of two-week sprints).
MAX_SPRINTS = 26


@dataclass(frozen=True, slots=True)
class BacklogRecord:
    """One backlog item as planning sees it.

    Attributes:
        key: the item's key in its source (``PROJ-42``).
        inputs: its own scoring inputs (``{"impact": 2}``), from the source tool's fields.
        estimate_days: a person's estimate, which wins over the model's.
        depends_on: keys of items it waits for.
    """

    key: str
    title: str
    description: str = ""
    item_type: str = "story"
    status: str = "todo"
    labels: tuple[str, ...] = ()
    feature: str | None = None
    team: str | None = None
    story_points: float | None = None
    estimate_days: float | None = None
    deadline: date | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    depends_on: tuple[str, ...] = ()
    inputs: Mapping[str, float] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES or self.completed_at is not None

    @property
    def actual_days(self) -> float | None:
        """Calendar days from start to finish (at least one), for finished items."""
        if self.started_at is None or self.completed_at is None:
            return None
        return max(1.0, round((self.completed_at - self.started_at).total_seconds() / 86400, 1))

    @property
    def team_name(self) -> str:
        return self.team or UNASSIGNED_TEAM


def open_items(records: Sequence[BacklogRecord]) -> list[BacklogRecord]:
    return [record for record in records if not record.done]


def history(records: Sequence[BacklogRecord]) -> list[BacklogRecord]:
    """Finished items with a start and an end: what estimation and forecasts learn from."""
    return [r for r in records if r.done and r.actual_days is not None]


# --- estimate ------------------------------------------------------------------------------


def _work_item(record: BacklogRecord) -> estimation.WorkItem:
    return estimation.WorkItem(
        key=record.key,
        title=record.title,
        description=record.description or "",
        item_type=record.item_type,
        labels=record.labels,
        feature=record.feature,
        team=record.team,
    )


def estimate(
    records: Sequence[BacklogRecord], settings: PlanningSettings
) -> dict[str, estimation.Estimate]:
    """The model's effort estimate (working days) for each open item, learnt from the
    finished ones; a person's ``estimate_days`` is kept as the value, inside the model's
    range widened to include it.

    Example:
        >>> estimate(records, PlanningSettings())["PP-7"].value  # doctest: +SKIP
        3.0
    """
    past = [
        estimation.HistoricalItem(
            **{f: getattr(_work_item(r), f) for f in estimation.WorkItem.__dataclass_fields__},
            effort=r.actual_days,
            created_at=r.created_at,
        )
        for r in history(records)
    ]
    todo = open_items(records)
    if not todo:
        return {}
    estimates = estimation.estimate_backlog(
        past,
        [_work_item(r) for r in todo],
        min_history=settings.min_history,
        default_effort=settings.default_effort_days,
    )
    # Tenths of a day: the model's quantiles of past actuals carry meaningless decimals.
    by_key = {
        e.key: dataclasses.replace(
            e, value=round(e.value, 1), low=round(e.low, 1), high=round(e.high, 1)
        )
        for e in estimates
    }
    for record in todo:
        person = record.estimate_days
        if person is not None and person > 0:
            model = by_key[record.key]
            by_key[record.key] = estimation.Estimate(
                key=model.key,
                value=float(person),
                low=min(model.low, person),
                high=max(model.high, person),
                method=model.method,
                explanation=f"the team's estimate ({person:g} days); the model says "
                f"{model.value:g} ({model.low:g}-{model.high:g}): {model.explanation}",
                similar=model.similar,
            )
    return by_key


# --- score -----------------------------------------------------------------------------------


def score(
    records: Sequence[BacklogRecord],
    settings: PlanningSettings,
    estimates: Mapping[str, estimation.Estimate],
    reach_by_feature: Mapping[str, int] | None = None,
) -> list[Score]:
    """Every open item scored and ranked (highest first; unscored last, with the reason).

    The formula's ``effort`` (RICE), when the item does not carry one, is the estimate in
    person-months; ``reach`` comes from live usage of the item's feature where there is any.
    """
    scorer = Scorer(settings.scoring)
    wanted = {spec.name for spec in settings.scoring.input_definitions()}
    items = []
    for record in open_items(records):
        values = dict(record.inputs)
        derived: dict[str, tuple[str, str]] = {}
        if "effort" in wanted and "effort" not in values and record.key in estimates:
            days = estimates[record.key].value
            values["effort"] = days / WORKING_DAYS_PER_MONTH
            derived["effort"] = ("estimate", f"the effort estimate, {days:g} days")
        items.append(
            ScoringItem(
                key=record.key,
                title=record.title,
                feature=record.feature,
                values=values,
                derived=derived,
            )
        )
    return rank(scorer.score_all(items, reach_by_feature=reach_by_feature))


# --- schedule --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeline:
    """The schedule in days and dates, and how it was reached."""

    problem: scheduling.Problem
    schedule: scheduling.Schedule
    dates: Mapping[str, tuple[date, date]]
    #: Deadlines that could not all be met (then met as well as possible: least lateness).
    conflicts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.schedule.to_dict().items() if k != "items"},
            "conflicts": list(self.conflicts),
            "items": [
                {
                    "key": item.id,
                    "start_day": item.start,
                    "end_day": item.end,
                    "start": self.dates[item.id][0].isoformat(),
                    "end": self.dates[item.id][1].isoformat(),
                }
                for item in self.schedule.items
            ],
        }


def _weights(scores: Sequence[Score]) -> dict[str, int]:
    values = [s.score for s in scores if s.score is not None and s.score > 0]
    top = max(values, default=0.0)
    return {
        s.key: max(1, round(WEIGHT_SCALE * s.score / top)) if top and s.score else 1 for s in scores
    }


def deadline_index(start: date, deadline: date) -> int:
    """A deadline as the scheduler counts it: the working days from ``start`` through
    ``deadline`` (an item ending by that index finishes on or before the deadline's day).

    Example:
        >>> deadline_index(date(2026, 12, 4), date(2026, 12, 7))  # Friday to Monday
        2
    """
    if deadline < start:
        return 0
    return sum(
        1
        for offset in range((deadline - start).days + 1)
        if date.fromordinal(start.toordinal() + offset).weekday() < 5
    )


def schedule(
    records: Sequence[BacklogRecord],
    settings: PlanningSettings,
    estimates: Mapping[str, estimation.Estimate],
    scores: Sequence[Score],
    start: date,
) -> Timeline:
    """Schedule the open items with CP-SAT: each takes one of its team's people for its
    estimate (rounded up to whole days), after the open items it depends on, by its
    deadline, favouring high scores (``settings.objective``).

    Hard deadlines that cannot all be met are not a dead end: the conflict is recorded and
    the items are scheduled for least weighted lateness instead.
    """
    todo = open_items(records)
    keys = {r.key for r in todo}
    weights = _weights(scores)
    items = tuple(
        scheduling.WorkItem(
            id=r.key,
            duration=max(1, math.ceil(estimates[r.key].value - 1e-9)),
            demands={r.team_name: 1},
            predecessors=tuple(d for d in r.depends_on if d in keys),
            deadline=deadline_index(start, r.deadline) if r.deadline else None,
            weight=weights.get(r.key, 1),
        )
        for r in todo
    )
    teams = sorted({r.team_name for r in todo})
    resources = tuple(scheduling.Resource(team, settings.people(team)) for team in teams)
    problem = scheduling.Problem(items, resources, objective=settings.objective)
    conflicts: tuple[str, ...] = ()
    try:
        solved = scheduling.solve(problem, time_limit=settings.time_limit_seconds)
    except scheduling.InfeasibleScheduleError as infeasible:
        if not any(item.deadline is not None for item in items) or settings.objective == "lateness":
            raise
        conflicts = tuple(c.message for c in infeasible.conflicts)
        problem = scheduling.Problem(items, resources, objective="lateness")
        solved = scheduling.solve(problem, time_limit=settings.time_limit_seconds)
    return Timeline(problem, solved, scheduling.calendar_dates(solved, start), conflicts)


# --- sprints ---------------------------------------------------------------------------------


def team_velocity(
    records: Sequence[BacklogRecord], settings: PlanningSettings, team: str, as_of: date
) -> float:
    """Working days of work a team finishes per sprint: configured, or measured over its
    last sprints of history, or its people times the sprint length when it has none."""
    configured = next((t.velocity for t in settings.teams if t.name == team), None)
    if configured:
        return configured
    length = settings.sprint_length_days
    calendar_days = length * 7 / 5
    done: dict[int, float] = defaultdict(float)
    for r in history(records):
        if r.team_name == team and r.completed_at is not None:
            age = (as_of - r.completed_at.date()).days
            if age >= 0:
                done[int(age // calendar_days)] += r.actual_days or 0
    # The last six sprints, oldest first (sprint 0 is the one ending today).
    totals = [done.get(sprint, 0.0) for sprint in reversed(range(6))]
    if any(totals):
        measured = round(sprints.measured_velocity(totals), 1)
        if measured > 0:
            return measured
    return float(settings.people(team) * length)


@dataclass(frozen=True, slots=True)
class SprintCut:
    """The sprints of each team (teams work in parallel, each against its own velocity)."""

    by_team: Mapping[str, sprints.SprintPlan]

    def sprint_of(self, key: str) -> int | None:
        for plan in self.by_team.values():
            if key in plan.sprint_of:
                return plan.sprint_of[key]
        return None

    def issues(self) -> list[sprints.SprintIssue]:
        return [issue for plan in self.by_team.values() for issue in plan.issues]

    def to_dict(self) -> dict[str, Any]:
        return {team: plan.to_dict() for team, plan in sorted(self.by_team.items())}


def cut_into_sprints(
    records: Sequence[BacklogRecord],
    settings: PlanningSettings,
    timeline: Timeline,
    start: date,
) -> SprintCut:
    """Each team's part of the schedule cut into its sprints against its velocity."""
    by_team: dict[str, sprints.SprintPlan] = {}
    todo = {r.key: r for r in open_items(records)}
    for team in sorted({r.team_name for r in todo.values()}):
        mine = {key for key, r in todo.items() if r.team_name == team}
        items = tuple(
            scheduling.WorkItem(
                id=i.id,
                duration=i.duration,
                demands=i.demands,
                predecessors=tuple(p for p in i.predecessors if p in mine),
                deadline=i.deadline,
                weight=i.weight,
            )
            for i in timeline.problem.items
            if i.id in mine
        )
        problem = scheduling.Problem(
            items, tuple(r for r in timeline.problem.resources if r.name == team)
        )
        velocity = team_velocity(records, settings, team, start)
        work = sum(item.duration for item in items)
        by_team[team] = sprints.cut_sprints(
            problem,
            _restricted(timeline.schedule, mine),
            sprint_length=settings.sprint_length_days,
            velocity=velocity,
            start=start,
            # Enough sprints for the team's work at its pace (the schedule assumes every
            # person full-time; the velocity is what the team really finished), capped.
            sprints=min(MAX_SPRINTS, math.ceil(work / velocity) + 1),
        )
    return SprintCut(by_team)


def _restricted(schedule_: scheduling.Schedule, keys: set[str]) -> scheduling.Schedule:
    items = tuple(item for item in schedule_.items if item.id in keys)
    return scheduling.Schedule(
        items=items,
        objective=schedule_.objective,
        objective_value=schedule_.objective_value,
        best_bound=schedule_.best_bound,
        status=schedule_.status,
        solve_seconds=schedule_.solve_seconds,
        makespan=max((item.end for item in items), default=0),
        lower_bound=schedule_.lower_bound,
        heuristic_makespan=schedule_.heuristic_makespan,
    )


# --- risk and forecast -----------------------------------------------------------------------


def assess(
    records: Sequence[BacklogRecord],
    settings: PlanningSettings,
    estimates: Mapping[str, estimation.Estimate],
    timeline: Timeline,
    cut: SprintCut,
) -> dict[str, risk.RiskAssessment]:
    """Each open item's delivery risk: dependency depth, estimate uncertainty, its team's
    load in its sprint (over 85% of the sprint's capacity), the team's overrun history."""
    todo = open_items(records)
    durations = {i.id: i.duration for i in timeline.problem.items}
    items = [
        risk.RiskItem(
            key=r.key,
            estimate_days=estimates[r.key].value,
            estimate_low=estimates[r.key].low,
            estimate_high=estimates[r.key].high,
            depends_on=r.depends_on,
            done=False,
            team=r.team_name,
            period=_period(cut.sprint_of(r.key)),
        )
        for r in todo
    ]
    # Finished items close the dependency graph (they are no risk to their dependants).
    known = {r.key for r in todo}
    items += [
        risk.RiskItem(key=r.key, done=True, team=r.team_name)
        for r in records
        if r.done and r.key not in known
    ]
    known |= {r.key for r in records}
    items = [
        risk.RiskItem(**{**_fields(i), "depends_on": tuple(d for d in i.depends_on if d in known)})
        for i in items
    ]
    loads = []
    for team, plan in cut.by_team.items():
        capacity = settings.people(team) * settings.sprint_length_days
        for sprint in plan.sprints:
            planned = sum(durations.get(key, 0) for key in sprint.items)
            loads.append(risk.TeamLoad(team, _period(sprint.number), planned, capacity))
    histories: dict[str, list[risk.PastItem]] = defaultdict(list)
    for r in history(records):
        histories[r.team_name].append(
            risk.PastItem(
                planned_finish=None,
                finished=r.completed_at.date(),  # type: ignore[union-attr]
                estimate_days=r.estimate_days,
                actual_days=r.actual_days,
            )
        )
    assessed = risk.assess_risks(items, loads=loads, histories=histories)
    return {r.key: assessed[r.key] for r in todo}


def _fields(item: risk.RiskItem) -> dict[str, Any]:
    return {name: getattr(item, name) for name in risk.RiskItem.__dataclass_fields__}


def _period(sprint: int | None) -> str | None:
    return f"sprint {sprint}" if sprint is not None else None


def delivery_forecast(
    records: Sequence[BacklogRecord], as_of: date, remaining: int | None = None
) -> tuple[forecast.DeliveryForecast | None, forecast.CleaningReport]:
    """When the open items (or ``remaining`` of them) will all be done, by Monte Carlo over
    the last weeks' throughput; ``None`` when the history has no throughput to sample."""
    cleaned = forecast.clean_history(
        [
            forecast.WorkItem(
                r.key,
                finished=r.completed_at.date() if r.completed_at else None,
                started=(r.started_at or r.created_at).date()
                if (r.started_at or r.created_at)
                else None,
            )
            for r in records
            if r.done
        ],
        as_of=as_of,
    )
    count = len(open_items(records)) if remaining is None else remaining
    if count == 0:
        return None, cleaned.report
    try:
        return forecast.forecast_completion(cleaned, count, as_of), cleaned.report
    except ValidationError:
        return None, cleaned.report


# --- the whole plan --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuccessCriterionPlan:
    """The KPI a planned item must move, from its current baseline, by a date."""

    key: str
    kpi: str
    baseline: float | None
    target: float | None
    due: date


@dataclass(frozen=True, slots=True)
class BacklogPlan:
    """Everything one planning run found, ranked by score."""

    as_of: date
    scores: tuple[Score, ...]
    estimates: Mapping[str, estimation.Estimate]
    timeline: Timeline | None
    sprints: SprintCut | None
    risks: Mapping[str, risk.RiskAssessment]
    forecast: forecast.DeliveryForecast | None
    cleaning: forecast.CleaningReport | None
    criteria: tuple[SuccessCriterionPlan, ...]

    def rows(self) -> list[dict[str, Any]]:
        """One row per item for tables and reports, in rank order."""
        rows = []
        for rank_, scored in enumerate(self.scores, start=1):
            key = scored.key
            estimate_ = self.estimates.get(key)
            dates = self.timeline.dates.get(key) if self.timeline else None
            assessed = self.risks.get(key)
            rows.append(
                {
                    "rank": rank_,
                    "key": key,
                    "title": scored.title,
                    "score": None if scored.score is None else round(scored.score, 2),
                    "estimate_days": estimate_.value if estimate_ else None,
                    "estimate_range": f"{estimate_.low:g}-{estimate_.high:g}" if estimate_ else "",
                    "start": dates[0].isoformat() if dates else None,
                    "end": dates[1].isoformat() if dates else None,
                    "sprint": self.sprints.sprint_of(key) if self.sprints else None,
                    "risk": assessed.score if assessed else None,
                    "risk_level": assessed.level if assessed else None,
                }
            )
        return rows

    def summary(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "items": len(self.scores),
            "unscored": sum(1 for s in self.scores if s.score is None),
            "makespan_days": self.timeline.schedule.makespan if self.timeline else None,
            "schedule_status": self.timeline.schedule.status if self.timeline else None,
            "conflicts": list(self.timeline.conflicts) if self.timeline else [],
            "high_risk": sorted(k for k, r in self.risks.items() if r.level == "high"),
            "forecast": {
                f"p{p}": d.isoformat() if d else None
                for p, d in (self.forecast.percentiles.items() if self.forecast else [])
            },
            "left_out": sorted(
                {issue.item for issue in self.sprints.issues() if issue.sprint is None}
            )
            if self.sprints
            else [],
        }


def success_criteria(
    records: Sequence[BacklogRecord],
    settings: PlanningSettings,
    timeline: Timeline | None,
    reach_by_feature: Mapping[str, int],
    as_of: date,
) -> tuple[SuccessCriterionPlan, ...]:
    """For each open item of a feature: the feature's users over the reach window, from its
    current value to ``success_uplift`` more, measured ``success_after_days`` after the item
    is scheduled to be done."""
    criteria = []
    for r in open_items(records):
        if not r.feature:
            continue
        end = timeline.dates[r.key][1] if timeline and r.key in timeline.dates else as_of
        baseline = reach_by_feature.get(r.feature)
        target = None if baseline is None else round(baseline * (1 + settings.success_uplift), 2)
        criteria.append(
            SuccessCriterionPlan(
                key=r.key,
                kpi=f"feature_users:{r.feature}",
                baseline=None if baseline is None else float(baseline),
                target=target,
                due=date.fromordinal(end.toordinal() + settings.success_after_days),
            )
        )
    return tuple(criteria)


def plan(
    records: Sequence[BacklogRecord],
    settings: PlanningSettings,
    as_of: date,
    reach_by_feature: Mapping[str, int] | None = None,
) -> BacklogPlan:
    """The whole pipeline over a product's backlog (open and finished items)."""
    reach = dict(reach_by_feature or {})
    estimates = estimate(records, settings)
    scores = score(records, settings, estimates, reach)
    timeline = schedule(records, settings, estimates, scores, as_of) if estimates else None
    cut = cut_into_sprints(records, settings, timeline, as_of) if timeline else None
    risks = assess(records, settings, estimates, timeline, cut) if timeline and cut else {}
    outlook, cleaning = delivery_forecast(records, as_of)
    return BacklogPlan(
        as_of=as_of,
        scores=tuple(scores),
        estimates=estimates,
        timeline=timeline,
        sprints=cut,
        risks=risks,
        forecast=outlook,
        cleaning=cleaning,
        criteria=success_criteria(records, settings, timeline, reach, as_of),
    )
