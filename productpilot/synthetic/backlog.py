"""The product backlog: items with text, size, dependencies and a simulated delivery history.

Items arrive over the period (plus four weeks of history before it), wait for triage and for
their dependencies, and are worked on by a fixed number of people per team. Cycle time grows
with story points, with log-normal noise, so delivery-forecasting and estimation models have a
learnable but noisy signal; the description's wording also grows with the item's size.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Final

from numpy.random import Generator

from productpilot.synthetic.clock import DAY_US, HOUR_US, iso_seconds
from productpilot.synthetic.config import SyntheticConfig
from productpilot.synthetic.features import FeatureSpec
from productpilot.synthetic.rng import Stream, stream

KEY_PREFIX: Final = "PP"
HISTORY_DAYS: Final = 28  # backlog items created before the period, for a warm history
FIBONACCI_POINTS: Final[tuple[int, ...]] = (1, 2, 3, 5, 8, 13)
ITEM_TYPES: Final[tuple[str, ...]] = ("story", "bug", "task", "spike")
ITEM_TYPE_WEIGHTS: Final[tuple[float, ...]] = (0.50, 0.25, 0.15, 0.10)
POINT_WEIGHTS: Final[dict[str, tuple[float, ...]]] = {
    "story": (0.05, 0.15, 0.25, 0.28, 0.19, 0.08),
    "bug": (0.25, 0.30, 0.25, 0.13, 0.05, 0.02),
    "task": (0.20, 0.30, 0.25, 0.15, 0.08, 0.02),
    "spike": (0.00, 0.30, 0.40, 0.30, 0.00, 0.00),
}
# Calendar days of cycle time per point**0.9, by type (bugs are usually well understood).
CYCLE_DAYS_PER_POINT: Final[dict[str, float]] = {
    "story": 1.1,
    "bug": 0.8,
    "task": 0.9,
    "spike": 1.0,
}
CYCLE_NOISE_SIGMA: Final = 0.5
TRIAGE_MEAN_DAYS: Final = 3.0
# Some items are "nice to have": they sit in the backlog for weeks before anyone looks at them,
# which is what leaves a realistic pile of to-do items at the end of the period.
LOW_PRIORITY_SHARE: Final = 0.2
LOW_PRIORITY_WAIT_DAYS: Final = (14.0, 45.0)  # minimum wait, then exponential mean
TARGET_UTILISATION: Final = 0.9
FEATURE_ITEM_SHARE: Final = 0.7
GENERIC_TEAMS: Final[tuple[str, ...]] = ("platform", "growth")
GENERIC_AREAS: Final[tuple[str, ...]] = (
    "billing",
    "onboarding",
    "settings",
    "login",
    "notifications",
    "search",
)

_STORY_OBJECTS: Final = (
    "bulk editing",
    "shareable links",
    "CSV import",
    "saved filters",
    "scheduled delivery",
    "role-based permissions",
    "an audit log",
    "templates",
    "full-text search",
    "keyboard shortcuts",
    "usage limits",
    "email digests",
    "webhooks",
    "custom date ranges",
)
_STORY_VERBS: Final = ("Add", "Support", "Build", "Improve", "Enable")
_PERSONAS: Final = ("team admin", "analyst", "product manager", "developer", "new user")
_BENEFITS: Final = (
    "I can save time every week",
    "my team sees the same numbers",
    "we can meet compliance requirements",
    "I do not need to ask engineering",
    "I can react faster to incidents",
)
_BUG_SYMPTOMS: Final = (
    "a crash when saving",
    "timeouts on large accounts",
    "wrong totals",
    "broken pagination",
    "duplicate notifications",
    "a timezone offset error",
    "stale cached data",
    "a layout glitch on mobile",
    "a memory leak",
    "a race condition on concurrent edits",
)
_TASK_TEMPLATES: Final = (
    "Upgrade dependencies of {area}",
    "Add monitoring for {area}",
    "Clean up stale feature flags in {area}",
    "Migrate {area} jobs to the new queue",
    "Rotate credentials used by {area}",
    "Improve test coverage of {area}",
)
_SPIKE_TEMPLATES: Final = (
    "Investigate options to speed up {area}",
    "Evaluate a vendor for {area}",
    "Prototype a new approach to {area}",
    "Research customer requests around {area}",
)
# Detail sentences by complexity tier, each tagged with the label it implies. Larger items
# draw from higher tiers and get more sentences, so text length and vocabulary track size.
_DETAILS: Final[tuple[tuple[tuple[str, str], ...], ...]] = (
    (
        ("Small, isolated change.", "quick-win"),
        ("Copy and styling only; no backend work.", "frontend"),
        ("One-line config change plus a test.", "backend"),
        ("Single component, no API changes.", "frontend"),
        ("Follows an existing pattern.", "quick-win"),
    ),
    (
        ("Touches the API and the UI.", "api"),
        ("Needs a new endpoint with validation.", "api"),
        ("Add unit and integration tests.", "testing"),
        ("Update the docs and the changelog.", "docs"),
        ("Requires a change to the permission checks.", "backend"),
    ),
    (
        ("Requires a database migration and a backfill of existing records.", "database"),
        ("Spans the web app, the API and the background worker.", "backend"),
        ("Roll out behind a feature flag with a staged rollout.", "release"),
        ("Needs load testing at ten times current traffic.", "performance"),
        ("Coordinate with the mobile team for iOS and Android.", "mobile"),
    ),
    (
        ("Cross-team effort that needs a security review.", "security"),
        ("Redesign of the data model across several services.", "architecture"),
        ("Zero-downtime migration plan for enterprise tenants.", "database"),
        ("Depends on a third-party integration with unclear limits.", "integration"),
        ("Multiple unknowns; break it down further after discovery.", "discovery"),
    ),
)
_TIER_BY_POINTS: Final[dict[int, int]] = {1: 0, 2: 0, 3: 1, 5: 2, 8: 2, 13: 3}


def generate_backlog(
    config: SyntheticConfig, features: tuple[FeatureSpec, ...]
) -> list[dict[str, Any]]:
    """Generate ``config.backlog_size`` backlog items with a simulated delivery history.

    Args:
        config: The dataset config (seed, period, size).
        features: The period's features; items reference them and their owning teams.

    Returns:
        Items ordered by key (creation order); see docs/synthetic-data.md for the fields.

    Example:
        >>> from productpilot.synthetic.features import feature_specs
        >>> config = SyntheticConfig(backlog_items=5, anomalies=0)
        >>> [item["key"] for item in generate_backlog(config, feature_specs(config))]
        ['PP-1', 'PP-2', 'PP-3', 'PP-4', 'PP-5']
    """
    count = config.backlog_size
    if count == 0:
        return []
    rng = stream(config.seed, Stream.BACKLOG)
    end_us = config.days * DAY_US
    items = [_draft(rng, config, features, index) for index in range(count)]
    items.sort(key=lambda item: (item["_created"], item["_index"]))
    for position, item in enumerate(items):
        item["key"] = f"{KEY_PREFIX}-{position + 1}"
    _link_dependencies(rng, items)
    _schedule(items, config)
    return [_publish(item, config, end_us) for item in items]


def _draft(
    rng: Generator, config: SyntheticConfig, features: tuple[FeatureSpec, ...], index: int
) -> dict[str, Any]:
    # Every item draws the same numbers in the same order, so an item's type or feature never
    # shifts what later items get.
    (u_type, u_feature, u_points, u_created, u_hour, u_area, u_title, u_title2, u_estimate) = (
        rng.random(9).tolist()
    )
    detail_draws = rng.random(12).tolist()
    cycle_noise = float(rng.lognormal(0.0, CYCLE_NOISE_SIGMA))
    triage = float(rng.exponential(TRIAGE_MEAN_DAYS))
    extra_labels = rng.random(2).tolist()
    u_priority, backlog_wait = float(rng.random()), float(rng.exponential(1.0))
    start_jitter = float(rng.random())
    if u_priority < LOW_PRIORITY_SHARE:
        triage += LOW_PRIORITY_WAIT_DAYS[0] + LOW_PRIORITY_WAIT_DAYS[1] * backlog_wait

    item_type = ITEM_TYPES[_pick(ITEM_TYPE_WEIGHTS, u_type)]
    points = FIBONACCI_POINTS[_pick(POINT_WEIGHTS[item_type], u_points)]
    spec: FeatureSpec | None = None
    if u_feature < FEATURE_ITEM_SHARE:
        spec = features[int(u_feature / FEATURE_ITEM_SHARE * len(features))]
    team = spec.team if spec else GENERIC_TEAMS[int(u_area * len(GENERIC_TEAMS))]
    area = spec.label if spec else GENERIC_AREAS[int(u_area * len(GENERIC_AREAS))]

    first_day, last_day = -HISTORY_DAYS, config.days - 1
    if spec is not None and -HISTORY_DAYS <= spec.release_day < config.days:
        # Work on a new feature clusters around its launch.
        first_day = max(first_day, spec.release_day - 40)
        last_day = min(last_day, spec.release_day + 20)
    day = first_day + int(u_created * (last_day - first_day + 1))
    created = day * DAY_US + int((9 + 9 * u_hour) * HOUR_US)

    title, intro = _title(item_type, area, u_title, u_title2)
    tier = _TIER_BY_POINTS[points]
    sentences = [intro]
    labels: set[str] = set()
    # Bigger items get longer descriptions drawn mostly from their own tier, sometimes from a
    # neighbouring one, so text predicts size without giving it away.
    n_details = 1 + tier + int(detail_draws[0] < 0.4)
    for k in range(n_details):
        shift = -1 if detail_draws[1 + k] < 0.15 else (1 if detail_draws[1 + k] > 0.9 else 0)
        level = min(3, max(0, tier + shift))
        pool = _DETAILS[level]
        text, label = pool[int(detail_draws[6 + k % 6] * len(pool))]
        if text not in sentences:
            sentences.append(text)
            labels.add(label)
    if extra_labels[0] < 0.15:
        labels.add("customer-request")
    if item_type == "task" and extra_labels[1] < 0.5:
        labels.add("tech-debt")
    estimate = max(0.5, round(points * 0.6 * math.exp(0.25 * (2 * u_estimate - 1)) * 2) / 2)
    base_days = CYCLE_DAYS_PER_POINT[item_type] * points**0.9
    return {
        "_index": index,
        "_created": created,
        "_cycle_us": int(max(0.1, base_days * cycle_noise) * DAY_US),
        "_triage_us": int(triage * DAY_US),
        "_start_jitter": start_jitter,
        "title": title,
        "description": " ".join(sentences),
        "item_type": item_type,
        "feature": spec.name if spec else None,
        "team": team,
        "story_points": points,
        "estimate_days": estimate,
        "labels": sorted(labels),
    }


def _pick(weights: tuple[float, ...], u: float) -> int:
    total = sum(weights)
    acc = 0.0
    for index, weight in enumerate(weights):
        acc += weight / total
        if u < acc:
            return index
    return max(i for i, w in enumerate(weights) if w > 0)


def _title(item_type: str, area: str, u1: float, u2: float) -> tuple[str, str]:
    """A title and an opening sentence for the description."""
    if item_type == "story":
        verb = _STORY_VERBS[int(u1 * len(_STORY_VERBS))]
        thing = _STORY_OBJECTS[int(u2 * len(_STORY_OBJECTS))]
        persona = _PERSONAS[int(u1 * 7919) % len(_PERSONAS)]
        benefit = _BENEFITS[int(u2 * 7907) % len(_BENEFITS)]
        return f"{verb} {thing} in {area}", f"As a {persona}, I want {thing} so that {benefit}."
    if item_type == "bug":
        symptom = _BUG_SYMPTOMS[int(u1 * len(_BUG_SYMPTOMS))]
        return f"Fix {symptom} in {area}", f"Customers report {symptom} in {area}."
    templates = _TASK_TEMPLATES if item_type == "task" else _SPIKE_TEMPLATES
    title = templates[int(u1 * len(templates))].format(area=area)
    return title, f"{title}."


def _link_dependencies(rng: Generator, items: list[dict[str, Any]]) -> None:
    """Each item may depend on 1-2 earlier items of the same feature or team.

    Only earlier items (by creation) can be dependencies, so the graph is acyclic by
    construction.
    """
    for position, item in enumerate(items):
        u_has, u_two, u_a, u_b = rng.random(4).tolist()
        chance = 0.3 if item["item_type"] in ("story", "task") else 0.1
        item["depends_on"] = []
        if position == 0 or u_has >= chance:
            continue
        window = items[max(0, position - 30) : position]
        related = [
            other
            for other in window
            if (item["feature"] is not None and other["feature"] == item["feature"])
            or (item["feature"] is None and other["team"] == item["team"])
        ]
        if not related:
            continue
        chosen = {related[int(u_a * len(related))]["key"]}
        if u_two < 0.3:
            chosen.add(related[int(u_b * len(related))]["key"])
        item["depends_on"] = sorted(chosen, key=lambda key: int(key.split("-")[1]))


def _schedule(items: list[dict[str, Any]], config: SyntheticConfig) -> None:
    """Simulate each team working through its items.

    Whenever someone on a team becomes free they pick, among items that are triaged and whose
    dependencies are done, the one that can start first (ties: oldest item). Team size is set
    so the team runs at ~90% utilisation. Dependencies never cross teams (they share a feature
    or, for feature-less items, a team), so teams are simulated independently.
    """
    span_days = config.days + HISTORY_DAYS
    by_team: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_team.setdefault(item["team"], []).append(item)
    for team in sorted(by_team):
        team_items = by_team[team]
        load = sum(item["_cycle_us"] for item in team_items) / DAY_US
        people = max(1, round(load / (span_days * TARGET_UTILISATION)))
        _schedule_team(team_items, people)


def _schedule_team(items: list[dict[str, Any]], people: int) -> None:
    free_at = [-HISTORY_DAYS * DAY_US] * people
    heapq.heapify(free_at)
    done: dict[str, int] = {}
    remaining = list(items)  # creation order, so the first remaining item is always startable
    while remaining:
        now = heapq.heappop(free_at)
        best: tuple[int, int] | None = None
        for position, item in enumerate(remaining):
            if any(key not in done for key in item["depends_on"]):
                continue
            ready = max(
                [item["_created"] + item["_triage_us"]] + [done[k] for k in item["depends_on"]]
            )
            candidate = (max(ready, now), position)
            if best is None or candidate < best:
                best = candidate
        if best is None:  # impossible: the oldest remaining item's dependencies are done
            raise RuntimeError("backlog dependencies are not ordered by creation")
        started, position = best
        item = remaining.pop(position)
        # Work starts in office hours: move a night-time start to the next morning.
        hour = (started % DAY_US) / HOUR_US
        if not 9 <= hour < 18:
            next_morning = (started // DAY_US + int(hour >= 18)) * DAY_US + 9 * HOUR_US
            started = next_morning + int(item["_start_jitter"] * 2 * HOUR_US)
        completed = started + item["_cycle_us"]
        heapq.heappush(free_at, completed)
        item["_started"], item["_completed"] = started, completed
        done[item["key"]] = completed


def _publish(item: dict[str, Any], config: SyntheticConfig, end_us: int) -> dict[str, Any]:
    started = item["_started"] if item["_started"] < end_us else None
    completed = item["_completed"] if item["_completed"] < end_us else None
    if completed is not None:
        status = "done"
    elif started is not None:
        status = "in_progress"
    else:
        # Work that has not started by the end of the period is unknown, not "scheduled".
        status = "todo"

    def iso(offset: int | None) -> str | None:
        return None if offset is None else iso_seconds(config.start, offset)

    return {
        "key": item["key"],
        "title": item["title"],
        "description": item["description"],
        "item_type": item["item_type"],
        "status": status,
        "feature": item["feature"],
        "team": item["team"],
        "story_points": item["story_points"],
        "estimate_days": item["estimate_days"],
        "labels": item["labels"],
        "depends_on": item["depends_on"],
        "created_at": iso(item["_created"]),
        "started_at": iso(started),
        "completed_at": iso(completed),
    }
