"""Specification of the user lifecycle: new, returning, resurrected, dormant per period.

August 2026: the 1st is a Saturday, so weeks (Monday start) begin Jul 20, Jul 27, Aug 3, Aug 10,
Aug 17, Aug 24.
"""

from __future__ import annotations

import doctest
import itertools
import json
from collections import defaultdict
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from productpilot.analytics import lifecycle as module
from productpilot.analytics.lifecycle import LifecyclePeriod, lifecycle
from productpilot.synthetic import SyntheticConfig, generate


def aug(day: int) -> date:
    return date(2026, 8, day)


def frame(rows: list[tuple[date, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["day", "distinct_id"])


ROWS = [
    (date(2026, 7, 28), "a"), (aug(4), "a"), (aug(12), "a"),
    (date(2026, 7, 20), "b"), (aug(5), "b"),
    (aug(6), "c"), (aug(6), "c"), (aug(20), "c"),  # duplicate tolerated
    (aug(11), "d"), (aug(18), "d"),
    (date(2026, 7, 29), "e"),
    (aug(25), "f"),  # after end: ignored
]  # fmt: skip


def test_weeks_worked_by_hand() -> None:
    result = lifecycle(frame(ROWS), start=aug(3), end=aug(23), period="week")
    # Week Aug 3: c is new; a returns (active the week of Jul 27); b is resurrected (last seen
    #   the week of Jul 20); e, active the week before, goes dormant.
    # Week Aug 10: d is new; a returns; b and c go dormant.
    # Week Aug 17: d returns; c is resurrected; a goes dormant.
    assert result == [
        LifecyclePeriod(aug(3), new=1, returning=1, resurrected=1, dormant=1, active=3),
        LifecyclePeriod(aug(10), new=1, returning=1, resurrected=0, dormant=2, active=2),
        LifecyclePeriod(aug(17), new=0, returning=1, resurrected=1, dormant=1, active=2),
    ]


def test_periods_are_whole_weeks_overlapping_the_range() -> None:
    # Wed Aug 5 .. Tue Aug 18 overlaps the weeks of Aug 3, 10 and 17; the week of Aug 17 is
    # known up to Aug 18 only, so c (back on Aug 20) is not counted and d (Aug 18) is.
    result = lifecycle(frame(ROWS), start=aug(5), end=aug(18), period="week")
    assert [p.period for p in result] == [aug(3), aug(10), aug(17)]
    assert result[0] == lifecycle(frame(ROWS), start=aug(3), end=aug(9))[0]
    assert result[2] == LifecyclePeriod(aug(17), 0, 1, 0, 1, 1)


def test_months() -> None:
    rows = frame(
        [
            (date(2026, 6, 30), "a"),
            (aug(1), "a"),
            (date(2026, 7, 15), "b"),
            (aug(31), "b"),
            (date(2026, 9, 1), "c"),
            (date(2026, 9, 2), "a"),
        ]
    )
    result = lifecycle(rows, start=date(2026, 7, 1), end=date(2026, 9, 30), period="month")
    # July: b new, a (June) dormant.  August: a resurrected, b returning.
    # September: c new, a returning, b dormant.
    assert result == [
        LifecyclePeriod(date(2026, 7, 1), 1, 0, 0, 1, 1),
        LifecyclePeriod(date(2026, 8, 1), 0, 1, 1, 0, 2),
        LifecyclePeriod(date(2026, 9, 1), 1, 1, 0, 1, 2),
    ]


def test_days() -> None:
    rows = frame([(aug(1), "a"), (aug(3), "a"), (aug(3), "b"), (aug(4), "b")])
    result = lifecycle(rows, start=aug(1), end=aug(4), period="day")
    assert [(p.new, p.returning, p.resurrected, p.dormant) for p in result] == [
        (1, 0, 0, 0),  # Aug 1: a new
        (0, 0, 0, 1),  # Aug 2: a dormant
        (1, 0, 1, 0),  # Aug 3: b new, a resurrected
        (0, 1, 0, 1),  # Aug 4: b returning, a dormant
    ]


def test_users_seen_before_start_are_never_new() -> None:
    rows = frame([(date(2025, 1, 1), "old"), (aug(4), "old")])
    (week,) = lifecycle(rows, start=aug(3), end=aug(9))
    assert (week.new, week.resurrected) == (0, 1)


@pytest.mark.parametrize("empty", [pd.DataFrame({"day": [], "distinct_id": []}), pd.DataFrame()])
def test_empty_activity_is_zero_filled(empty: pd.DataFrame) -> None:
    result = lifecycle(empty, start=aug(1), end=aug(16))
    assert result == [LifecyclePeriod(monday, 0, 0, 0, 0, 0) for monday in (date(2026, 7, 27),
                      aug(3), aug(10))]  # fmt: skip


def test_a_single_day() -> None:
    (day,) = lifecycle(frame(ROWS), start=aug(4), end=aug(4), period="day")
    # a was last seen Jul 28: resurrected. Aug 3 had no activity: nobody goes dormant.
    assert day == LifecyclePeriod(aug(4), 0, 0, 1, 0, 1)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="after end"):
        lifecycle(frame(ROWS), start=aug(9), end=aug(3))
    with pytest.raises(ValueError, match="period"):
        lifecycle(frame(ROWS), start=aug(3), end=aug(9), period="year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="distinct_id"):
        lifecycle(pd.DataFrame({"day": [aug(3)]}), start=aug(3), end=aug(9))


def bucket(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def shift(start: date, period: str, n: int) -> date:
    if period == "month":
        months = start.year * 12 + start.month - 1 + n
        return date(months // 12, months % 12 + 1, 1)
    return start + (timedelta(weeks=n) if period == "week" else timedelta(days=n))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_matches_the_definition_on_random_data(seed: int, period: str) -> None:
    rng = np.random.default_rng(seed)
    origin = date(2026, 3, 1)
    rows = [
        (origin + timedelta(days=int(day)), f"u{int(user)}")
        for day, user in zip(rng.integers(0, 200, 500), rng.integers(0, 50, 500), strict=True)
    ]
    start, end = date(2026, 5, 3), date(2026, 8, 20)
    result = lifecycle(frame(rows), start=start, end=end, period=period)  # type: ignore[arg-type]

    active: dict[date, set[str]] = defaultdict(set)
    first: dict[str, date] = {}
    for day, user in rows:
        if day <= end:
            active[bucket(day, period)].add(user)
            first[user] = min(first.get(user, day), day)
    seen = {u for u, d in first.items() if bucket(d, period) < bucket(start, period)}
    previous = active[shift(bucket(start, period), period, -1)]
    for found in result:
        now = active[found.period]
        new = {u for u in now if bucket(first[u], period) == found.period}
        assert found.new == len(new)
        assert found.returning == len(now & previous)
        assert found.resurrected == len((now - previous - new) & seen)
        assert found.dormant == len(previous - now)
        assert found.active == len(now)  # active = new + returning + resurrected
        assert found.active == found.new + found.returning + found.resurrected
        seen |= now
        previous = now
    # Periods are consecutive and cover the range.
    assert result[0].period == bucket(start, period)
    assert result[-1].period == bucket(end, period)
    assert all(shift(a.period, period, 1) == b.period for a, b in itertools.pairwise(result))
    # Conservation: who was active last period either stays (returning) or goes dormant.
    for before, after in itertools.pairwise(result):
        assert after.returning + after.dormant == before.active


def test_to_dict_is_json() -> None:
    result = lifecycle(frame(ROWS), start=aug(3), end=aug(23))
    document = json.loads(json.dumps([p.to_dict() for p in result], allow_nan=False))
    assert document[1] == {
        "period": "2026-08-10",
        "new": 1,
        "returning": 1,
        "resurrected": 0,
        "dormant": 2,
        "active": 2,
    }


def test_synthetic_lifecycle_adds_up() -> None:
    config = SyntheticConfig.preset("tiny", seed=1)
    events = pd.DataFrame(generate(config).events(), columns=["distinct_id", "timestamp"])
    days = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None).dt.normalize()
    activity = pd.DataFrame({"day": days, "distinct_id": events["distinct_id"]})
    end = config.start + timedelta(days=config.days - 1)
    result = lifecycle(activity, start=config.start, end=end, period="week")
    weeks = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    distinct = activity.groupby(weeks)["distinct_id"].nunique()
    assert [p.active for p in result] == [int(distinct[pd.Timestamp(p.period)]) for p in result]
    # Everyone signs up in the period: the new users add up to all users, nobody returns in
    # the first week, and after the launch users come back and drop out every week.
    assert sum(p.new for p in result) == activity["distinct_id"].nunique()
    assert result[0].returning == result[0].resurrected == result[0].dormant == 0
    assert all(p.returning > 0 and p.dormant > 0 for p in result[2:])
    assert sum(p.resurrected for p in result) > 0


def test_docstring_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
