"""Specification of the generated product events: format, ordering and realistic behaviour."""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from productpilot.synthetic import EVENT_NAMES, SyntheticConfig, SyntheticDataset, generate

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
DAY_S = 86_400.0


@dataclass(frozen=True)
class Rows:
    """The events of a dataset, materialised once per module for cheap statistics."""

    dataset: SyntheticDataset
    events: list[dict[str, Any]]
    seconds: np.ndarray  # seconds since the period start, per event

    def day(self, index: int) -> int:
        return int(self.seconds[index] // DAY_S)

    def of(self, name: str) -> list[int]:
        return [i for i, e in enumerate(self.events) if e["event"] == name]


def _rows(config: SyntheticConfig) -> Rows:
    dataset = generate(config)
    events = list(dataset.events())
    origin = datetime(config.start.year, config.start.month, config.start.day, tzinfo=UTC)
    seconds = np.array(
        [(datetime.fromisoformat(e["timestamp"]) - origin).total_seconds() for e in events]
    )
    return Rows(dataset, events, seconds)


@pytest.fixture(scope="module")
def rows() -> Rows:
    # 9 weeks: long enough for day-30 retention and a feature launched mid-period.
    return _rows(SyntheticConfig(seed=5, users=1500, days=63, anomalies=0))


@pytest.fixture(scope="module")
def tiny() -> Rows:
    return _rows(SyntheticConfig.preset("tiny"))


def test_tiny_preset_is_small_but_covers_every_event_name(tiny: Rows) -> None:
    names = Counter(e["event"] for e in tiny.events)
    assert 500 < len(tiny.events) < 5000
    assert set(names) == set(EVENT_NAMES)


def test_events_have_exactly_the_public_keys_and_types(tiny: Rows) -> None:
    for event in tiny.events:
        assert set(event) == {"uuid", "event", "distinct_id", "timestamp", "properties"}
        assert event["event"] in EVENT_NAMES
        assert isinstance(event["distinct_id"], str)
        assert event["distinct_id"].startswith("usr_")
        assert TIMESTAMP.fullmatch(event["timestamp"])
        assert isinstance(event["properties"], dict)


def test_uuids_are_unique_version_4(rows: Rows) -> None:
    ids = [e["uuid"] for e in rows.events]
    assert len(set(ids)) == len(ids)
    for text in ids[:2000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert str(parsed) == text


def test_events_are_time_ordered_within_the_period(rows: Rows) -> None:
    assert np.all(np.diff(rows.seconds) >= 0)
    assert rows.seconds.min() >= 0
    assert rows.seconds.max() < rows.dataset.config.days * DAY_S


def test_every_event_carries_the_users_fixed_segment(rows: Rows) -> None:
    segments: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for event in rows.events:
        p = event["properties"]
        segments[event["distinct_id"]].add((p["plan"], p["country"], p["platform"]))
    assert all(len(seen) == 1 for seen in segments.values())
    plans = Counter(next(iter(seen))[0] for seen in segments.values())
    assert plans["free"] > plans["pro"] > plans["enterprise"] > 0


def test_session_events_share_the_session_start_uuid_as_session_id(rows: Rows) -> None:
    starts = {e["uuid"]: e["distinct_id"] for e in rows.events if e["event"] == "session_start"}
    for event in rows.events:
        p = event["properties"]
        if event["event"] == "session_start":
            assert p["session_id"] == event["uuid"]
        elif event["event"] in ("signup", "activate", "convert"):
            assert "session_id" not in p
        else:
            assert starts[p["session_id"]] == event["distinct_id"]


def test_signups_grow_over_the_period(rows: Rows) -> None:
    weeks = Counter(rows.day(i) // 7 for i in rows.of("signup"))
    first, last = weeks[0] + weeks[1], weeks[7] + weeks[8]
    # growth=3.0 means ~2.5x more signups in the last two weeks than the first two.
    assert last > 1.8 * first


def test_weekdays_are_busier_than_weekends(rows: Rows) -> None:
    start_weekday = rows.dataset.config.start.weekday()
    per_day = Counter(rows.day(i) for i in rows.of("session_start"))
    signups = Counter(rows.day(i) for i in rows.of("signup"))
    weekend = [d for d in range(rows.dataset.config.days) if (start_weekday + d) % 7 >= 5]
    weekday = [d for d in range(rows.dataset.config.days) if (start_weekday + d) % 7 < 5]
    assert np.mean([per_day[d] for d in weekday]) > 1.4 * np.mean([per_day[d] for d in weekend])
    assert np.mean([signups[d] for d in weekday]) > 1.3 * np.mean([signups[d] for d in weekend])


def test_activity_follows_a_daytime_cycle(rows: Rows) -> None:
    hours = Counter(int(rows.seconds[i] % DAY_S // 3600) for i in rows.of("session_start"))
    # Most users are in Europe and the Americas: UTC afternoons are busy, 3-5 am UTC quiet.
    assert hours[15] > 2.5 * hours[4]


def test_funnel_counts_are_monotonic(rows: Rows) -> None:
    signed = {rows.events[i]["distinct_id"] for i in rows.of("signup")}
    activated = {rows.events[i]["distinct_id"] for i in rows.of("activate")}
    converted = {rows.events[i]["distinct_id"] for i in rows.of("convert")}
    assert len(signed) == len(rows.of("signup"))  # one signup per user
    assert len(activated) == len(rows.of("activate"))
    assert len(converted) == len(rows.of("convert"))
    assert converted <= activated <= signed
    assert len(signed) > len(activated) > len(converted) > 0
    assert 0.25 < len(activated) / len(signed) < 0.75


def test_each_user_signs_up_before_any_other_event_and_activates_before_converting(
    rows: Rows,
) -> None:
    first_seen: dict[str, int] = {}
    funnel_time: dict[tuple[str, str], float] = {}
    for i, event in enumerate(rows.events):
        first_seen.setdefault(event["distinct_id"], i)
        if event["event"] in ("signup", "activate", "convert"):
            funnel_time[(event["distinct_id"], event["event"])] = rows.seconds[i]
    for user, index in first_seen.items():
        assert rows.events[index]["event"] == "signup", user
        signup = funnel_time[(user, "signup")]
        activate = funnel_time.get((user, "activate"))
        convert = funnel_time.get((user, "convert"))
        if activate is not None:
            assert activate > signup
        if convert is not None:
            assert activate is not None
            assert convert > activate


def test_conversion_rate_depends_on_plan(rows: Rows) -> None:
    signups = Counter(rows.events[i]["properties"]["plan"] for i in rows.of("signup"))
    converts = Counter(rows.events[i]["properties"]["plan"] for i in rows.of("convert"))
    rate = {plan: converts[plan] / signups[plan] for plan in signups}
    assert rate["enterprise"] > 2 * rate["free"]
    assert rate["pro"] > 2 * rate["free"]


def test_retention_decreases_from_day_1_to_day_7_to_day_30(rows: Rows) -> None:
    signup_day = {rows.events[i]["distinct_id"]: rows.day(i) for i in rows.of("signup")}
    active: dict[str, set[int]] = defaultdict(set)
    for i in rows.of("session_start"):
        active[rows.events[i]["distinct_id"]].add(rows.day(i))
    cohort = [user for user, day in signup_day.items() if day < 28]

    def retention(k: int) -> float:
        return float(np.mean([signup_day[u] + k in active[u] for u in cohort]))

    d1, d7, d30 = retention(1), retention(7), retention(30)
    assert d1 > 1.5 * d7 > 0
    assert d7 > 1.2 * d30 > 0
    assert 0.15 < d1 < 0.6


def test_some_churned_users_come_back(rows: Rows) -> None:
    active: dict[str, set[int]] = defaultdict(set)
    for i in rows.of("session_start"):
        active[rows.events[i]["distinct_id"]].add(rows.day(i))
    # A comeback: active again after more than three silent weeks. Merely infrequent users
    # rarely go that long (well under 1%), so most of these are churned users returning.
    returning = [
        user for user, days in active.items() if any(b - a > 21 for a, b in pairwise(sorted(days)))
    ]
    assert 0.015 < len(returning) / len(active) < 0.2


def test_feature_events_never_precede_the_release(rows: Rows) -> None:
    release = {f.name: f.release_us / 1e6 for f in rows.dataset.features}
    used = rows.of("feature_used")
    assert {rows.events[i]["properties"]["feature"] for i in used} == set(release)
    for i in used:
        assert rows.seconds[i] >= release[rows.events[i]["properties"]["feature"]]


def test_a_new_feature_is_adopted_along_an_s_curve(rows: Rows) -> None:
    spec = next(f for f in rows.dataset.features if f.name == "ai_assistant")
    assert 0 < spec.release_day < rows.dataset.config.days - 21

    def share_of_active_users(first_day: int) -> float:
        window = range(first_day, first_day + 7)
        active, adopters = set(), set()
        for i in rows.of("session_start"):
            if rows.day(i) in window:
                active.add(rows.events[i]["distinct_id"])
        for i in rows.of("feature_used"):
            if rows.day(i) in window and rows.events[i]["properties"]["feature"] == spec.name:
                adopters.add(rows.events[i]["distinct_id"])
        return len(adopters) / len(active)

    week1, week2, week3 = (share_of_active_users(spec.release_day + 7 * k) for k in range(3))
    assert week1 < week2 < week3
    assert week3 > 2 * week1


def test_enterprise_only_feature_is_used_only_by_enterprise_accounts(rows: Rows) -> None:
    plans = {
        rows.events[i]["properties"]["plan"]
        for i in rows.of("feature_used")
        if rows.events[i]["properties"]["feature"] == "sso"
    }
    assert plans == {"enterprise"}


def test_api_requests_have_realistic_latency_and_error_rate(rows: Rows) -> None:
    requests = [rows.events[i]["properties"] for i in rows.of("api_request")]
    errors = np.array([p["error"] for p in requests])
    statuses = np.array([p["status"] for p in requests])
    assert 0.005 <= errors.mean() <= 0.02
    assert np.array_equal(errors, statuses >= 500)
    assert set(statuses.tolist()) <= {
        200,
        201,
        400,
        401,
        403,
        404,
        409,
        422,
        429,
        500,
        502,
        503,
        504,
    }
    latency: dict[str, list[float]] = defaultdict(list)
    for p in requests:
        latency[f"{p['method']} {p['endpoint']}"].append(p["latency_ms"])
    fast = np.median(latency["POST /api/v1/events"])
    slow = np.median(latency["GET /api/v1/reports"])
    assert 30 < fast < 70
    assert slow > 5 * fast
    # Log-normal: a long right tail, p99 well above the median.
    reports = np.array(latency["GET /api/v1/reports"])
    assert np.percentile(reports, 99) > 3 * np.median(reports)


def test_nps_scores_are_0_to_10_and_mostly_promoters_or_passives(rows: Rows) -> None:
    answers = [rows.events[i]["properties"] for i in rows.of("nps_response")]
    scores = np.array([a["score"] for a in answers])
    assert len(scores) > 50
    assert set(scores.tolist()) <= set(range(11))
    assert np.mean(scores >= 7) > 0.6
    nps = 100 * (np.mean(scores >= 9) - np.mean(scores <= 6))
    assert 0 < nps < 70
    comments = [a["comment"] for a in answers if "comment" in a]
    assert 0.15 < len(comments) / len(answers) < 0.6
    assert all(isinstance(c, str) and c for c in comments)


def test_convert_events_carry_revenue_that_grows_with_plan(rows: Rows) -> None:
    revenue: dict[str, list[float]] = defaultdict(list)
    for i in rows.of("convert"):
        p = rows.events[i]["properties"]
        assert p["seats"] >= 1
        assert p["days_since_signup"] > 0
        revenue[p["plan"]].append(p["mrr_usd"])
    assert np.mean(revenue["enterprise"]) > np.mean(revenue["pro"]) > np.mean(revenue["free"])


def test_activation_happens_hours_to_days_after_signup(rows: Rows) -> None:
    hours = np.array(
        [rows.events[i]["properties"]["hours_since_signup"] for i in rows.of("activate")]
    )
    assert 2 < np.median(hours) < 24
    assert np.percentile(hours, 95) > 24
