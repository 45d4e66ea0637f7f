"""Specification of stickiness: daily DAU/MAU and the days-active histogram."""

from __future__ import annotations

import doctest
import json
from collections import Counter, defaultdict
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from productpilot.analytics import stickiness as module
from productpilot.analytics.stickiness import Stickiness, StickinessDay, stickiness
from productpilot.synthetic import SyntheticConfig, generate


def aug(day: int) -> date:
    return date(2026, 8, day)


def frame(rows: list[tuple[date, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["day", "distinct_id"])


ROWS = [
    (date(2026, 7, 5), "a"),  # 27 days before Aug 1: in the MAU of Aug 1-3, not of Aug 4
    (aug(1), "b"), (aug(2), "b"), (aug(4), "b"), (aug(4), "b"),  # duplicate tolerated
    (aug(2), "c"),
    (aug(5), "d"),  # after end: ignored
]  # fmt: skip


def test_worked_by_hand() -> None:
    result = stickiness(frame(ROWS), start=aug(1), end=aug(4))
    # The MAU window of Aug 1 is Jul 3 - Aug 1; of Aug 4, Jul 6 - Aug 4 (a drops out).
    # DAU: {b}, {b, c}, {}, {b}.  MAU: {a, b}, {a, b, c}, {a, b, c}, {b, c}.
    assert result.days == (
        StickinessDay(aug(1), 1, 2, 0.5),
        StickinessDay(aug(2), 2, 3, 2 / 3),
        StickinessDay(aug(3), 0, 3, 0.0),
        StickinessDay(aug(4), 1, 2, 0.5),
    )
    assert result.mean_dau_mau == pytest.approx((0.5 + 2 / 3 + 0 + 0.5) / 4)
    # Over Aug 1-4: c active on 1 day, b on 3 days (a was active before, d after).
    assert result.histogram == (1, 0, 1, 0)
    assert result.users == 2


def test_window_edges() -> None:
    # A user active on day d is in the MAU of days d .. d + 29 exactly.
    rows = frame([(aug(1), "a")])
    result = stickiness(rows, start=date(2026, 7, 31), end=aug(31))
    mau = {day.day: day.mau for day in result.days}
    assert mau[date(2026, 7, 31)] == 0
    assert mau[aug(1)] == mau[aug(30)] == 1
    assert mau[aug(31)] == 0
    short = stickiness(rows, start=aug(1), end=aug(3), mau_window=2)
    assert [day.mau for day in short.days] == [1, 1, 0]


def test_window_of_one_day_makes_mau_equal_dau() -> None:
    result = stickiness(frame(ROWS), start=aug(1), end=aug(4), mau_window=1)
    assert [d.mau for d in result.days] == [d.dau for d in result.days]
    assert [d.dau_mau for d in result.days] == [1.0, 1.0, None, 1.0]


@pytest.mark.parametrize("empty", [pd.DataFrame({"day": [], "distinct_id": []}), pd.DataFrame()])
def test_empty_activity_is_zero_filled(empty: pd.DataFrame) -> None:
    result = stickiness(empty, start=aug(1), end=aug(3))
    assert result.days == tuple(StickinessDay(aug(i), 0, 0, None) for i in (1, 2, 3))
    assert result.histogram == (0, 0, 0)
    assert result.users == 0
    assert result.mean_dau_mau is None


def test_a_single_day() -> None:
    result = stickiness(frame(ROWS), start=aug(2), end=aug(2))
    assert result.days == (StickinessDay(aug(2), 2, 3, 2 / 3),)
    assert result.histogram == (2,)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="after end"):
        stickiness(frame(ROWS), start=aug(4), end=aug(1))
    with pytest.raises(ValueError, match="mau_window"):
        stickiness(frame(ROWS), start=aug(1), end=aug(4), mau_window=0)
    with pytest.raises(ValueError, match="day"):
        stickiness(pd.DataFrame({"distinct_id": ["a"]}), start=aug(1), end=aug(4))


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_definition_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    origin = date(2026, 6, 1)
    rows = [
        (origin + timedelta(days=int(day)), f"u{int(user)}")
        for day, user in zip(rng.integers(0, 90, 600), rng.integers(0, 60, 600), strict=True)
    ]
    start, end = date(2026, 7, 1), date(2026, 8, 10)
    result = stickiness(frame(rows), start=start, end=end)

    users_on: dict[date, set[str]] = defaultdict(set)
    for day, user in rows:
        users_on[day].add(user)
    n_days = (end - start).days + 1
    for i, found in enumerate(result.days):
        day = start + timedelta(days=i)
        month = set().union(*(users_on[day - timedelta(days=k)] for k in range(30)))
        assert found.day == day
        assert (found.dau, found.mau) == (len(users_on[day]), len(month))
        assert found.dau <= found.mau
        assert found.dau_mau is None or 0.0 <= found.dau_mau <= 1.0
    days_active = Counter(
        user for i in range(n_days) for user in users_on[start + timedelta(days=i)]
    )
    counts = Counter(days_active.values())
    assert result.histogram == tuple(counts.get(k, 0) for k in range(1, n_days + 1))
    # Each active user-day is counted once by the histogram and once by DAU.
    assert sum(k * n for k, n in enumerate(result.histogram, 1)) == sum(d.dau for d in result.days)


def test_to_dict_is_json() -> None:
    result = stickiness(frame(ROWS), start=aug(1), end=aug(4))
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["days"][0] == {"day": "2026-08-01", "dau": 1, "mau": 2, "dau_mau": 0.5}
    assert document["histogram"][2] == {"days": 3, "users": 1}
    assert len(document["histogram"]) == 4
    assert document["users"] == 2
    assert document["mau_window"] == 30
    empty = stickiness(frame([]), start=aug(1), end=aug(1)).to_dict()
    assert empty["days"][0]["dau_mau"] is None
    assert empty["mean_dau_mau"] is None


def test_synthetic_stickiness_is_sensible() -> None:
    config = SyntheticConfig.preset("tiny", seed=1)
    events = pd.DataFrame(generate(config).events(), columns=["distinct_id", "timestamp"])
    days = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None).dt.normalize()
    activity = pd.DataFrame({"day": days, "distinct_id": events["distinct_id"]})
    start = config.start + timedelta(days=7)
    end = config.start + timedelta(days=config.days - 1)
    result = stickiness(activity, start=start, end=end)
    assert isinstance(result, Stickiness)
    assert len(result.days) == config.days - 7
    assert all(d.dau_mau is not None and 0 <= d.dau_mau <= 1 for d in result.days)
    in_range = activity[(activity["day"] >= pd.Timestamp(start))]
    assert result.users == in_range["distinct_id"].nunique()
    assert [d.dau for d in result.days] == [
        in_range.loc[in_range["day"] == pd.Timestamp(d.day), "distinct_id"].nunique()
        for d in result.days
    ]
    # Activity decays after signup and users churn, so DAU is a small share of MAU.
    assert result.mean_dau_mau is not None
    assert 0.05 < result.mean_dau_mau < 0.6
    # More users come on few days than on nearly every day.
    assert result.histogram[0] > result.histogram[-1]


def test_docstring_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
