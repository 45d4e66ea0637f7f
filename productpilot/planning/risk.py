"""Delivery risk of backlog items: a 0-100 score, a level and the reasons behind it.

Five factors, each a measured value turned into a severity between 0 and 1: 0 at or below
its threshold, rising linearly to 1 at its saturation point:

* ``dependency_depth``: the longest chain of unfinished dependencies below the item (an item
  waiting on A, which waits on B, has depth 2); every link can slip.
* ``estimate_uncertainty``: ``(high - low) / estimate`` of the item's estimate range.
* ``team_load``: planned work over capacity of the item's team in the item's period; above
  85% queues build up and everything waits.
* ``slip_rate``: the share of the team's past items that finished after their planned date.
* ``estimate_overrun``: the median ratio of actual to estimated days of the team's past items.

The score is ``100 * sum(weight * severity) / sum(weight)`` over the factors that could be
measured; a factor without data is listed as not assessed and left out of both sums (so a
missing history neither hides nor inflates risk). The level is ``low`` below 30, ``medium``
below 60, ``high`` from 60, ``unknown`` when no factor could be measured. The score never
decreases when any factor's value increases.

Example:
    >>> items = [RiskItem("A", estimate_days=5, estimate_low=3, estimate_high=12,
    ...                   depends_on=("B",)), RiskItem("B")]
    >>> risk = assess_risks(items)["A"]
    >>> risk.score, risk.level  # 100 * 0.25 * (1.8 - 0.5) / 1.5 / (0.2 + 0.25)
    (48.1, 'medium')
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from productpilot.errors import ValidationError

Level = Literal["low", "medium", "high", "unknown"]
MIN_HISTORY = 5  # fewer past items than this say nothing about a team's slip rate


@dataclass(frozen=True, slots=True)
class FactorRule:
    """How one factor's value becomes a severity.

    Attributes:
        threshold: the value above which the factor counts as a risk (severity 0 at it).
        saturation: the value at which severity reaches 1.
        weight: the factor's weight in the score.
    """

    threshold: float
    saturation: float
    weight: float

    def severity(self, value: float) -> float:
        if value <= self.threshold:
            return 0.0
        return min(1.0, (value - self.threshold) / (self.saturation - self.threshold))


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Thresholds, saturation points, weights and level boundaries.

    Attributes:
        rules: factor name -> its rule.
        medium_from: scores from this are ``medium``.
        high_from: scores from this are ``high``.
        min_history: past items a team needs before slip factors are assessed.
    """

    rules: Mapping[str, FactorRule] = field(
        default_factory=lambda: {
            "dependency_depth": FactorRule(threshold=1, saturation=4, weight=0.2),
            "estimate_uncertainty": FactorRule(threshold=0.5, saturation=2.0, weight=0.25),
            "team_load": FactorRule(threshold=0.85, saturation=1.2, weight=0.25),
            "slip_rate": FactorRule(threshold=0.2, saturation=0.6, weight=0.15),
            "estimate_overrun": FactorRule(threshold=1.2, saturation=2.0, weight=0.15),
        }
    )
    medium_from: float = 30.0
    high_from: float = 60.0
    min_history: int = MIN_HISTORY

    def __post_init__(self) -> None:
        for name, rule in self.rules.items():
            if name not in FACTORS:
                raise ValidationError(f"unknown risk factor {name!r} (known: {FACTORS})")
            if rule.saturation <= rule.threshold or rule.weight < 0:
                raise ValidationError(
                    f"risk factor {name}: saturation must exceed threshold, weight be >= 0"
                )
        if not 0 <= self.medium_from <= self.high_from <= 100:
            raise ValidationError("risk levels need 0 <= medium_from <= high_from <= 100")


FACTORS = (
    "dependency_depth",
    "estimate_uncertainty",
    "team_load",
    "slip_rate",
    "estimate_overrun",
)


@dataclass(frozen=True, slots=True)
class RiskItem:
    """A backlog item as risk assessment sees it.

    Attributes:
        key: the item's key.
        estimate_days: the most likely estimate.
        estimate_low: the optimistic end of the estimate range.
        estimate_high: the pessimistic end of the estimate range.
        depends_on: keys of items this one waits for.
        done: finished items are no risk to the items that depend on them.
        team: the team doing it (selects load and history).
        period: the sprint or month it is planned in (selects the team's load).
    """

    key: str
    estimate_days: float | None = None
    estimate_low: float | None = None
    estimate_high: float | None = None
    depends_on: tuple[str, ...] = ()
    done: bool = False
    team: str | None = None
    period: str | None = None


@dataclass(frozen=True, slots=True)
class TeamLoad:
    """A team's planned work and capacity in one period (both in person-days)."""

    team: str
    period: str
    planned_days: float
    capacity_days: float


@dataclass(frozen=True, slots=True)
class PastItem:
    """A finished item of a team's history."""

    planned_finish: date | None
    finished: date
    estimate_days: float | None = None
    actual_days: float | None = None


@dataclass(frozen=True, slots=True)
class RiskReason:
    """One factor's part in a score.

    Attributes:
        factor: the factor's name.
        value: the measured value, ``None`` when not assessed.
        threshold: above this the factor counts as a risk.
        weight: its weight in the score.
        severity: 0..1, ``None`` when not assessed.
        points: its share of the 0..100 score.
        sentence: the reason in words.
    """

    factor: str
    value: float | None
    threshold: float
    weight: float
    severity: float | None
    points: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "value": self.value,
            "threshold": self.threshold,
            "weight": self.weight,
            "severity": self.severity,
            "points": self.points,
            "sentence": self.sentence,
        }


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """An item's risk: score 0..100 (1 decimal), level and one reason per factor."""

    key: str
    score: float
    level: Level
    reasons: tuple[RiskReason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "score": self.score,
            "level": self.level,
            "reasons": [reason.to_dict() for reason in self.reasons],
        }


def dependency_depths(items: Sequence[RiskItem]) -> dict[str, int]:
    """The longest chain of unfinished dependencies below each item.

    Raises:
        ValidationError: a dependency names an unknown item, or dependencies form a cycle.

    Example:
        >>> dependency_depths([RiskItem("A", depends_on=("B",)),
        ...                    RiskItem("B", depends_on=("C",)), RiskItem("C")])
        {'A': 2, 'B': 1, 'C': 0}
    """
    by_key = {item.key: item for item in items}
    waits_for: dict[str, list[str]] = {}
    for item in items:
        for needed in item.depends_on:
            if needed not in by_key:
                raise ValidationError(f"{item.key} depends on unknown item {needed}")
        waits_for[item.key] = [needed for needed in item.depends_on if not by_key[needed].done]
    # Kahn's algorithm from the items that wait for nothing: no recursion limit on long chains.
    waiting = {key: len(needed) for key, needed in waits_for.items()}
    needed_by: dict[str, list[str]] = {key: [] for key in by_key}
    for key, needed in waits_for.items():
        for other in needed:
            needed_by[other].append(key)
    depths = dict.fromkeys(by_key, 0)
    ready = [key for key, count in waiting.items() if count == 0]
    while ready:
        key = ready.pop()
        for dependant in needed_by[key]:
            depths[dependant] = max(depths[dependant], depths[key] + 1)
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                ready.append(dependant)
    stuck = [key for key, count in waiting.items() if count > 0]
    if stuck:
        raise ValidationError(f"dependency cycle: {' -> '.join(_cycle(stuck, waits_for))}")
    return {item.key: depths[item.key] for item in items}


def _cycle(stuck: Sequence[str], waits_for: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle among the items Kahn's algorithm could not order.

    Each of them waits for at least one other of them, so following those links repeats.
    """
    stuck_set = set(stuck)
    key, path, seen = stuck[0], [stuck[0]], {stuck[0]: 0}
    while True:
        key = next(needed for needed in waits_for[key] if needed in stuck_set)
        if key in seen:
            return [*path[seen[key] :], key]
        seen[key] = len(path)
        path.append(key)


def assess_risks(
    items: Sequence[RiskItem],
    *,
    loads: Sequence[TeamLoad] = (),
    histories: Mapping[str, Sequence[PastItem]] | None = None,
    config: RiskConfig | None = None,
) -> dict[str, RiskAssessment]:
    """Assess every item; dependencies are resolved within ``items``.

    Args:
        items: the backlog (done items too, so dependencies resolve).
        loads: teams' planned work and capacity per period.
        histories: team -> its finished items.
        config: thresholds, weights and levels.

    Returns:
        Item key -> its assessment, in the order of ``items``.

    Example:
        >>> loads = [TeamLoad("core", "2026-S1", planned_days=45, capacity_days=40)]
        >>> risk = assess_risks([RiskItem("A", team="core", period="2026-S1")], loads=loads)
        >>> risk["A"].reasons[2].sentence
        'team core is planned at 112% of capacity in 2026-S1 (risky above 85%)'
    """
    config = config or RiskConfig()
    histories = histories or {}
    load_by = {}
    for load in loads:
        if load.capacity_days <= 0:
            raise ValidationError(
                f"team {load.team} in {load.period}: capacity must be positive, "
                f"got {load.capacity_days}"
            )
        load_by[load.team, load.period] = load
    depths = dependency_depths(items)
    return {item.key: _assess(item, depths[item.key], load_by, histories, config) for item in items}


def _assess(
    item: RiskItem,
    depth: int,
    loads: Mapping[tuple[str, str], TeamLoad],
    histories: Mapping[str, Sequence[PastItem]],
    config: RiskConfig,
) -> RiskAssessment:
    measured = {
        "dependency_depth": _depth_factor(item, depth),
        "estimate_uncertainty": _uncertainty_factor(item),
        "team_load": _load_factor(item, loads),
        **_slip_factors(item, histories, config.min_history),
    }
    rules = config.rules
    known_weight = sum(
        rules[name].weight for name, (value, _) in measured.items() if value is not None
    )
    reasons = []
    total = 0.0
    for name in FACTORS:
        rule = rules[name]
        value, sentence = measured[name]
        if value is None or known_weight == 0:
            reasons.append(RiskReason(name, None, rule.threshold, rule.weight, None, 0.0, sentence))
            continue
        sentence += f" (risky above {_THRESHOLD_FORMAT[name](rule.threshold)})"
        severity = rule.severity(value)
        points = 100 * rule.weight * severity / known_weight
        total += points
        reasons.append(
            RiskReason(
                name, value, rule.threshold, rule.weight, severity, round(points, 1), sentence
            )
        )
    score = round(total, 1)
    if known_weight == 0:
        level: Level = "unknown"
    elif score >= config.high_from:
        level = "high"
    elif score >= config.medium_from:
        level = "medium"
    else:
        level = "low"
    return RiskAssessment(item.key, score, level, tuple(reasons))


Measured = tuple[float | None, str]
_THRESHOLD_FORMAT = {
    "dependency_depth": lambda t: f"{t:g}",
    "estimate_uncertainty": lambda t: f"{t:.0%}",
    "team_load": lambda t: f"{t:.0%}",
    "slip_rate": lambda t: f"{t:.0%}",
    "estimate_overrun": lambda t: f"{t:g}x",
}


def _depth_factor(item: RiskItem, depth: int) -> Measured:
    if depth == 0:
        return 0.0, "waits for no unfinished item"
    return float(depth), (f"waits on a chain of {depth} unfinished item{'s' if depth > 1 else ''}")


def _uncertainty_factor(item: RiskItem) -> Measured:
    low, high, value = item.estimate_low, item.estimate_high, item.estimate_days
    if low is None or high is None or value is None:
        return None, "not assessed: no estimate range (low, most likely, high)"
    if value <= 0:
        raise ValidationError(f"{item.key}: estimate_days must be positive, got {value}")
    if not low <= value <= high:
        raise ValidationError(
            f"{item.key}: the estimate range needs low <= estimate <= high, "
            f"got {low} <= {value} <= {high}"
        )
    spread = (high - low) / value
    return spread, (
        f"estimate {low:g}-{high:g} days around {value:g}: spread {spread:.0%} of the estimate"
    )


def _load_factor(item: RiskItem, loads: Mapping[tuple[str, str], TeamLoad]) -> Measured:
    if item.team is None or item.period is None:
        return None, "not assessed: the item has no team or period"
    load = loads.get((item.team, item.period))
    if load is None:
        return None, f"not assessed: no capacity known for team {item.team} in {item.period}"
    ratio = load.planned_days / load.capacity_days
    return ratio, (f"team {item.team} is planned at {ratio:.0%} of capacity in {item.period}")


def _slip_factors(
    item: RiskItem, histories: Mapping[str, Sequence[PastItem]], min_history: int
) -> dict[str, Measured]:
    if item.team is None or item.team not in histories:
        why = "the item has no team" if item.team is None else f"no history for {item.team}"
        return {
            "slip_rate": (None, f"not assessed: {why}"),
            "estimate_overrun": (None, f"not assessed: {why}"),
        }
    past = histories[item.team]
    planned = [p for p in past if p.planned_finish is not None]
    if len(planned) < min_history:
        slip: Measured = (
            None,
            f"not assessed: {len(planned)} past items with a planned date (need {min_history})",
        )
    else:
        late = sum(p.finished > p.planned_finish for p in planned)  # type: ignore[operator]
        rate = late / len(planned)
        slip = (
            rate,
            (
                f"team {item.team} finished {late} of its last {len(planned)} items after the "
                f"planned date ({rate:.0%})"
            ),
        )
    ratios = [
        p.actual_days / p.estimate_days
        for p in past
        if p.estimate_days and p.estimate_days > 0 and p.actual_days is not None
    ]
    if len(ratios) < min_history:
        overrun: Measured = (
            None,
            f"not assessed: {len(ratios)} past items with estimate and actual (need {min_history})",
        )
    else:
        median = statistics.median(ratios)
        overrun = (
            median,
            (
                f"team {item.team}'s items took a median {median:.2f}x their estimate over "
                f"{len(ratios)} items"
            ),
        )
    return {"slip_rate": slip, "estimate_overrun": overrun}
